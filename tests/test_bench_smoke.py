"""A tiny bench run end to end: it completes and its numbers are sane (never timed)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from delegraph.cypher.store import Store

from bench import api_load, report
from bench.generate import Shape, allow_probes, deny_probes, generate
from bench.run import Plan, run_plan

TINY = Plan(
    mode="quick",
    sizes=(600,),
    probes=40,
    batch_checks=40,
    batch_sizes=(20,),
    explains=10,
    revoke_trials=20,
    profiled_sizes=(600,),
    profiled_probes=3,
)


@pytest.fixture(scope="module")
def results(store: Store) -> dict[str, Any]:
    from conftest import wipe

    wipe(store)
    return run_plan(store, TINY)


@pytest.fixture(scope="module")
def size(results: dict[str, Any]) -> dict[str, Any]:
    assert [entry["size"] for entry in results["sizes"]] == [600]
    entry: dict[str, Any] = results["sizes"][0]
    return entry


def test_import_counts_and_rate(size: dict[str, Any]) -> None:
    imported = size["import"]
    assert imported["edges"] >= 600, imported
    assert imported["all_edges"] > imported["edges"], imported
    assert imported["edges_per_s"] > 0, imported


def test_checks_allow_and_deny(size: dict[str, Any]) -> None:
    check = size["check"]
    assert check["allowed"]["count"] > 0, check
    assert check["denied"]["count"] > 0, check
    assert check["allowed"]["count"] + check["denied"]["count"] == 80, check
    assert check["allowed"]["p50_ms"] > 0, check
    assert check["denied"]["p99_ms"] >= check["denied"]["p50_ms"], check


def test_checks_match_generator(size: dict[str, Any]) -> None:
    check = size["check"]
    assert check["unexpected_count"] == 0, check["unexpected_examples"]


def test_batches_decide_every_request(size: dict[str, Any]) -> None:
    [batch] = size["check_batch"]
    assert batch["checks"] == 40, batch
    assert 0 < batch["allowed"] < 40, batch
    assert batch["checks_per_s"] > 0, batch


def test_explain_measured(size: dict[str, Any]) -> None:
    explain = size["explain"]
    assert explain["allowed"]["count"] + explain["denied"]["count"] == 10, explain


def test_revoke_leaves_no_stale_allow(size: dict[str, Any]) -> None:
    revoke = size["revoke"]
    assert revoke["completed"] == 20, revoke
    assert revoke["not_allowed_before_revoke"] == 0, revoke
    assert revoke["stale_allows"] == 0, revoke["stale_examples"]


def test_profile_counts_db_hits(size: dict[str, Any]) -> None:
    profile = size["profile"]
    assert profile["allowed"]["db_hits_median"] > 0, profile
    assert "Repeat(Trail)" in profile["denied"]["operator_names"], profile


def test_report_writes_plots_and_page(results: dict[str, Any], tmp_path: Path) -> None:
    (tmp_path / "quick.json").write_text(json.dumps(results, default=str))
    page = tmp_path / "benchmarks.md"

    report.write_all(tmp_path, docs_page=page)

    assert (tmp_path / "latency-vs-size.png").stat().st_size > 0
    assert (tmp_path / "latency-vs-depth.png").stat().st_size > 0
    text = page.read_text()
    assert "## Quick run" in text, text
    first = results["sizes"][0]["check"]["allowed"]
    assert f"{first['p50_ms']:.2f}" in text, text


@pytest.mark.parametrize("fallback", [False, True], ids=["found", "httpx"])
def test_http_load_measures_api(
    results: dict[str, Any],
    neo4j_connection: tuple[str, str, str],
    monkeypatch: pytest.MonkeyPatch,
    fallback: bool,
) -> None:
    """The API bench gets 200 for every request, with vegeta if found and with httpx."""
    if fallback:
        monkeypatch.setattr(api_load, "find_vegeta", lambda: None)
    monkeypatch.setattr(api_load, "CONCURRENCY", (1, 4))
    monkeypatch.setattr(api_load, "VEGETA_SECONDS", 1)
    organisation = generate(Shape(edges=600))
    probes = allow_probes(organisation, 100) + deny_probes(organisation, 100)

    http = api_load.measure_http(*neo4j_connection, probes, workers=(1,))

    assert http["status"] == "measured", http
    expected = "httpx" if fallback or api_load.find_vegeta() is None else "vegeta"
    assert http["load_generator"] == expected, http
    assert [level["concurrency"] for level in http["single"]] == [1, 4], http
    for level in http["single"]:
        assert level["requests"] > 0, level
        assert level["errors"] == 0, level
        assert level["status_codes"] == {"200": level["requests"]}, level
        assert level["requests_per_s"] > 0, level
    for batch in http["authzen_batches"]:
        assert batch["errors"] == 0, batch
        assert batch["evaluations_per_s"] > 0, batch
    assert http["memory"]["1"]["rss_mib_after"] > 0, http


def test_driver_floor_measured(size: dict[str, Any]) -> None:
    floor = size["floor"]
    assert floor["count"] == 1_000, floor
    assert 0 < floor["p50_ms"] <= floor["p99_ms"], floor
    assert floor["client_cpu_ms"] > 0, floor
