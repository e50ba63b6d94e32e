"""The check query's plan: an index seek on the subject first, no scans, no Eager."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from delegraph.cypher.checks import Bounds, CheckParameters, batch_check, single_check
from delegraph.cypher.store import Store
from delegraph.engine.model import Decision
from delegraph.engine.service import Engine

BOUNDS = Bounds(max_chain=8, group_depth=8, hierarchy_depth=16, max_candidates=256)
REQUEST = CheckParameters("agent:bot", "read", "document:plan", "document", None)
NOW = datetime(2030, 1, 1, tzinfo=UTC)


def _operators(plan: dict[str, Any]) -> list[tuple[str, str]]:
    """Return (operator, details) of every plan node, leaves in execution order."""
    found: list[tuple[str, str]] = []
    for child in plan.get("children", []):
        found.extend(_operators(child))
    operator = plan["operatorType"].split("@")[0]
    found.append((operator, str(plan.get("args", {}).get("Details", ""))))
    return found


def _explain(
    store: Store, text: str, parameters: dict[str, Any]
) -> list[tuple[str, str]]:
    _, summary, _ = store.driver.execute_query(
        "EXPLAIN " + text, parameters, database_=store.database
    )
    assert summary.plan is not None
    return _operators(summary.plan)


def test_single_check_plan_walks_from_subject_seek(store: Store) -> None:
    text, parameters = single_check(BOUNDS, REQUEST, NOW)
    operators = _explain(store, text, parameters)

    seeks = [details for op, details in operators if op == "NodeUniqueIndexSeek"]
    assert any("s:Principal(ref) WHERE ref = subject_ref" in d for d in seeks), seeks
    trails = [details for op, details in operators if op == "Repeat(Trail)"]
    assert trails == ["(s) (...){0, 8} (holder)"], trails
    names = {op for op, _ in operators}
    assert "AllNodesScan" not in names, operators
    assert "NodeByLabelScan" not in names, operators
    assert "Eager" not in names, operators
    assert "Repeat(Trail)" in names, operators


def test_batch_check_plan_has_no_scan_or_eager(store: Store) -> None:
    text, parameters = batch_check(BOUNDS, [REQUEST, REQUEST], NOW)
    names = {op for op, _ in _explain(store, text, parameters)}

    assert "AllNodesScan" not in names, names
    assert "NodeByLabelScan" not in names, names
    assert "Eager" not in names, names
    assert "NodeUniqueIndexSeek" in names, names


def test_warm_up_records_no_decision(clean_store: Store) -> None:
    decisions: list[Decision] = []
    engine = Engine(clean_store, on_decision=decisions.append)
    engine.warm_up()
    assert decisions == []
