"""Render docs/benchmarks.md from the JSON results: every number comes from a run."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

NOTES = Path(__file__).resolve().parent / "notes.md"

TARGETS = (
    "Targets, on the 2-core development machine: "
    "engine check at 10^6 edges p50 <= 1.5 ms and p99 <= 5 ms for allows and "
    "denies alike, p99 within 25% of its 10^4-edge value; HTTP >= 500 "
    "single-check requests/s and >= 5,000 checks/s through batches; import "
    ">= 20,000 edges/s; zero stale allows after a revoke."
)


def _ms(summary: dict[str, Any], key: str) -> str:
    value = summary.get(key)
    return "-" if value is None else f"{value:.2f}"


def _machine(results: dict[str, Any]) -> list[str]:
    m = results["machine"]
    neo4j = m["neo4j"]
    return [
        f"- CPU: {m['cpu_model']}, {m['cores']} cores visible, shared with other "
        "processes (see the load averages below)",
        f"- Memory: {m['memory_gib']} GiB",
        f"- Neo4j {neo4j.get('version')} {neo4j.get('edition')}, heap max "
        f"{neo4j.get('server.memory.heap.max_size')}, page cache "
        f"{neo4j.get('server.memory.pagecache.size')}, on the same machine, over "
        "Bolt on 127.0.0.1",
        f"- Python {m['python']}, neo4j driver {m['neo4j_driver']}, neo4j-rust-ext "
        f"{m['neo4j_rust_ext']} (loaded: {m['rust_extension_loaded']}), "
        f"common-expression-language {m['cel']}",
        f"- {m['platform']}",
    ]


def _import_rows(results: dict[str, Any]) -> list[str]:
    rows = [
        "| edges (delegation + grant) | all relationships | nodes | seconds | edges/s | all relationships/s |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for entry in results["sizes"]:
        i = entry["import"]
        rows.append(
            f"| {i['edges']:,} | {i['all_edges']:,} | {i['nodes']:,} | {i['seconds']} "
            f"| {i['edges_per_s']:,.0f} | {i['all_edges_per_s']:,.0f} |"
        )
    return rows


def _check_rows(results: dict[str, Any]) -> list[str]:
    rows = [
        "| edges | outcome | checks | p50 ms | p95 ms | p99 ms | max ms | unexpected |",
        "|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for entry in results["sizes"]:
        check = entry["check"]
        for outcome in ("allowed", "denied"):
            s = check[outcome]
            rows.append(
                f"| {entry['size']:,} | {outcome} | {s.get('count', 0)} | "
                f"{_ms(s, 'p50_ms')} | {_ms(s, 'p95_ms')} | {_ms(s, 'p99_ms')} | "
                f"{_ms(s, 'max_ms')} | {check['unexpected_count']} |"
            )
    return rows


def _connection_line(results: dict[str, Any]) -> str:
    counts = [
        f"{entry['check'].get('bolt_connections_after')} at {entry['size']:,} edges"
        for entry in results["sizes"]
        if entry["check"].get("bolt_connections_after") is not None
    ]
    if not counts:
        return "Bolt connections open on the server after the checks: not recorded."
    return (
        "Bolt connections open on the server after the checks, all clients "
        "counted: " + ", ".join(counts) + "."
    )


def _floor_line(results: dict[str, Any]) -> str:
    floors = [
        f"At {e['size']:,} edges: p50 {e['floor']['p50_ms']:.2f} ms, p99 "
        f"{e['floor']['p99_ms']:.2f} ms, {e['floor']['client_cpu_ms']:.2f} ms of "
        "client CPU."
        for e in results["sizes"]
        if e.get("floor")
    ]
    if not floors:
        return "The driver's floor (`RETURN 1` on the check path): not recorded."
    return (
        "The driver's floor is `RETURN 1` through the same store and round trip. "
        "It ran 1,000 times right after the checks of each size. "
        + " ".join(floors)
        + " No check can be faster on this machine with this driver."
    )


def _depth_rows(results: dict[str, Any]) -> list[str]:
    largest = results["sizes"][-1]["check"]
    rows = [
        "| depth | allowed checks | allowed p50 / p99 ms | denied checks | denied p50 / p99 ms |",
        "|---:|---:|---|---:|---|",
    ]
    depths = sorted(
        {int(d) for d in largest["allowed_by_depth"]}
        | {int(d) for d in largest["denied_by_depth"]}
    )
    for depth in depths:
        a = largest["allowed_by_depth"].get(str(depth), {})
        d = largest["denied_by_depth"].get(str(depth), {})
        rows.append(
            f"| {depth} | {a.get('count', 0)} | {_ms(a, 'p50_ms')} / {_ms(a, 'p99_ms')} "
            f"| {d.get('count', 0)} | {_ms(d, 'p50_ms')} / {_ms(d, 'p99_ms')} |"
        )
    return rows


def _batch_rows(results: dict[str, Any]) -> list[str]:
    rows = [
        "| edges | batch size | checks | checks/s | batch p50 ms | batch p99 ms |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for entry in results["sizes"]:
        for b in entry["check_batch"]:
            s = b["batch_latency"]
            rows.append(
                f"| {entry['size']:,} | {b['batch_size']} | {b['checks']} | "
                f"{b['checks_per_s']:,.0f} | {_ms(s, 'p50_ms')} | {_ms(s, 'p99_ms')} |"
            )
    return rows


def _explain_rows(results: dict[str, Any]) -> list[str]:
    rows = [
        "| edges | outcome | explains | p50 ms | p95 ms | p99 ms |",
        "|---:|---|---:|---:|---:|---:|",
    ]
    for entry in results["sizes"]:
        for outcome in ("allowed", "denied"):
            s = entry["explain"][outcome]
            rows.append(
                f"| {entry['size']:,} | {outcome} | {s.get('count', 0)} | "
                f"{_ms(s, 'p50_ms')} | {_ms(s, 'p95_ms')} | {_ms(s, 'p99_ms')} |"
            )
    return rows


def _revoke_rows(results: dict[str, Any]) -> list[str]:
    rows = [
        "| edges | trials | completed | not allowed before revoke | stale allows | revoke p50 / p99 ms | revoke to first deny p50 / p99 ms |",
        "|---:|---:|---:|---:|---:|---|---|",
    ]
    for entry in results["sizes"]:
        r = entry["revoke"]
        rows.append(
            f"| {entry['size']:,} | {r['trials']} | {r['completed']} | "
            f"{r['not_allowed_before_revoke']} | {r['stale_allows']} | "
            f"{_ms(r['revoke'], 'p50_ms')} / {_ms(r['revoke'], 'p99_ms')} | "
            f"{_ms(r['revoke_to_first_deny'], 'p50_ms')} / "
            f"{_ms(r['revoke_to_first_deny'], 'p99_ms')} |"
        )
    return rows


def _profile_rows(results: dict[str, Any]) -> list[str]:
    rows = [
        "| edges | outcome | checks profiled | db hits median | db hits max | busiest operators of the worst check (db hits) |",
        "|---:|---|---:|---:|---:|---|",
    ]
    for entry in results["sizes"]:
        for outcome, p in entry.get("profile", {}).items():
            busiest = ", ".join(
                f"{op['operator']} {op['db_hits']}" for op in p["worst_operators"][:4]
            )
            rows.append(
                f"| {entry['size']:,} | {outcome} | {p['count']} | "
                f"{p['db_hits_median']} | {p['db_hits_max']} | {busiest} |"
            )
    return rows


def _load_rows(results: dict[str, Any]) -> list[str]:
    rows = ["| edges | load average before (1/5/15 min) | after |", "|---:|---|---|"]
    for entry in results["sizes"]:
        before = " / ".join(str(x) for x in entry["load_average_before"])
        after = " / ".join(str(x) for x in entry["load_average_after"])
        rows.append(f"| {entry['size']:,} | {before} | {after} |")
    return rows


def _errors(load: dict[str, Any]) -> str:
    """Return the count of non-200 responses, with their status codes if any."""
    others = {
        code: count
        for code, count in load.get("status_codes", {}).items()
        if code != "200"
    }
    if not others:
        return str(load["errors"])
    listed = ", ".join(f"{count} x {code}" for code, count in sorted(others.items()))
    return f"{load['errors']} ({listed})"


def _http(results: dict[str, Any]) -> list[str]:
    http = results.get("http", {})
    if "single" not in http:
        status = http.get("status", "not measured")
        return [
            "| measure | value |",
            "|---|---|",
            f"| HTTP single check, concurrency 1/4/16/64 | {status} |",
            f"| AuthZEN batch throughput | {status} |",
            f"| API process memory | {status} |",
        ]
    generator = http.get("load_generator", "httpx")
    where = (
        "vegeta (Go, its own process, sending for a fixed time at each setting)"
        if generator == "vegeta"
        else "httpx (async, in the bench process, each request sent once)"
    )
    rows = [
        f"Command: `{http.get('command', results['command'])}`; the API ran under "
        "uvicorn (`--workers` as in the first column) with "
        f"DELEGRAPH_DECISION_LOG={http.get('decision_log')}, on the graph of the "
        f"largest size. Load generator: {where}, on the same cores.",
        "",
        "| workers | concurrency | requests | requests/s | p50 ms | p99 ms | errors |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for level in http["single"]:
        s = level["latency"]
        rows.append(
            f"| {level.get('workers', 1)} | {level['concurrency']} | "
            f"{level['requests']:,} | {level['requests_per_s']:,.0f} | "
            f"{_ms(s, 'p50_ms')} | {_ms(s, 'p99_ms')} | {_errors(level)} |"
        )
    rows += [
        "",
        "AuthZEN `/access/v1/evaluations`:",
        "",
        "| workers | evaluations per request | concurrency | requests | "
        "evaluations/s | p50 ms | p99 ms | errors |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for batch in http.get("authzen_batches", []):
        s = batch.get("latency", {})
        rows.append(
            f"| {batch.get('workers', 1)} | {batch['batch_size']} | "
            f"{batch['concurrency']} | {batch['requests']:,} | "
            f"{batch['evaluations_per_s']:,.0f} | {_ms(s, 'p50_ms')} | "
            f"{_ms(s, 'p99_ms')} | {_errors(batch)} |"
        )
    memory = http.get("memory") or {}
    by_workers = {"1": memory} if "rss_mib_idle" in memory else memory
    for workers, entry in by_workers.items():
        rows.append("")
        rows.append(
            f"API resident memory with {workers} worker(s), uvicorn included: "
            f"{entry['rss_mib_idle']} MiB after start-up, {entry['rss_mib_after']} MiB "
            "after the HTTP runs."
        )
    return rows


def _verdict(met: bool) -> str:
    return "met" if met else "missed"


def _target_rows(results: dict[str, Any]) -> list[str]:
    """Compare the largest graph of the run with each target that it measured."""
    sizes = results["sizes"]
    largest = sizes[-1]
    rows = ["| target | measured | verdict |", "|---|---|---|"]
    for outcome in ("allowed", "denied"):
        s = largest["check"][outcome]
        if s.get("count"):
            rows.append(
                f"| engine check p50 <= 1.5 ms, p99 <= 5 ms ({outcome}) at "
                f"{largest['size']:,} edges | p50 {s['p50_ms']:.2f} ms, p99 "
                f"{s['p99_ms']:.2f} ms | "
                f"{_verdict(s['p50_ms'] <= 1.5 and s['p99_ms'] <= 5.0)} |"
            )

    base = next((e for e in sizes if e["size"] == 10_000), None)
    if base is not None and largest is not base:
        for outcome in ("allowed", "denied"):
            ratio = (
                largest["check"][outcome]["p99_ms"] / base["check"][outcome]["p99_ms"]
            )
            rows.append(
                f"| p99 at {largest['size']:,} within 25% of p99 at 10,000 ({outcome}) "
                f"| ratio {ratio:.2f} | {_verdict(ratio <= 1.25)} |"
            )

    best_import = max(e["import"]["edges_per_s"] for e in sizes)
    rows.append(
        f"| import >= 20,000 edges/s | best {best_import:,.0f} edges/s | "
        f"{_verdict(best_import >= 20_000)} |"
    )

    http_batches = results.get("http", {}).get("authzen_batches", [])
    if http_batches:
        best_http = max(http_batches, key=lambda batch: batch["evaluations_per_s"])
        rate = best_http["evaluations_per_s"]
        rows.append(
            f"| >= 5,000 checks/s through batches (HTTP) | AuthZEN evaluations: best "
            f"{rate:,.0f} checks/s ({best_http.get('workers', 1)} worker(s), "
            f"concurrency {best_http['concurrency']}) | {_verdict(rate >= 5_000)} |"
        )
    else:
        best_batch = max(b["checks_per_s"] for e in sizes for b in e["check_batch"])
        rows.append(
            f"| >= 5,000 checks/s through batches (HTTP) | engine check_batch, no "
            f"HTTP: best {best_batch:,.0f} checks/s | {_verdict(best_batch >= 5_000)} "
            "(engine only) |"
        )

    stale = sum(e["revoke"]["stale_allows"] for e in sizes)
    trials = sum(e["revoke"]["completed"] for e in sizes)
    rows.append(
        f"| zero stale allows after a revoke | {stale} in {trials:,} trials | "
        f"{_verdict(stale == 0)} |"
    )

    http = results.get("http", {})
    if "single" in http:
        best = max(http["single"], key=lambda level: level["requests_per_s"])
        rate = best["requests_per_s"]
        rows.append(
            f"| HTTP >= 500 single-check requests/s | best {rate:,.0f} requests/s "
            f"({best.get('workers', 1)} worker(s), concurrency {best['concurrency']}) | "
            f"{_verdict(rate >= 500)} |"
        )
    else:
        rows.append(
            f"| HTTP >= 500 single-check requests/s | {http.get('status')} | - |"
        )
    return rows


def _section(title: str, results: dict[str, Any]) -> list[str]:
    lines = [
        f"## {title}",
        "",
        f"Command: `{results['command']}` (started {results['started_at']}, "
        f"{results['seconds']} s in all).",
        "",
        *_machine(results),
        "",
        "### Targets",
        "",
        *_target_rows(results),
        "",
        "### Import (bulk, batched UNWIND)",
        "",
        *_import_rows(results),
        "",
        "### Engine check, one request at a time",
        "",
        "`Engine.check` timed around the call, allows and denies interleaved. "
        "Denies ask for a document of another department, so the query walks "
        "the subject's whole chain before it denies. `unexpected` counts "
        "decisions that differ from the generator's expectation.",
        "",
        *_check_rows(results),
        "",
        _floor_line(results),
        "",
        _connection_line(results),
        "",
        f"By depth, at {results['sizes'][-1]['size']:,} edges (allowed: length of "
        "the deciding chain; denied: depth of the subject below its human):",
        "",
        *_depth_rows(results),
        "",
        "### check_batch (one query per batch)",
        "",
        *_batch_rows(results),
        "",
        "### explain",
        "",
        *_explain_rows(results),
        "",
        "### Revoke to effect",
        "",
        "Each trial creates a delegation through the engine, checks the agent "
        "below it (allowed), revokes, then checks again at once without a "
        "consistency token. An allow after the revoke is a stale allow.",
        "",
        *_revoke_rows(results),
        "",
        "### Check query PROFILE (db hits from Neo4j)",
        "",
        *_profile_rows(results),
        "",
        "### HTTP",
        "",
        *_http(results),
        "",
        "### Load on the machine",
        "",
        "The 1-minute load averages bracket each size. The bench itself keeps "
        "Neo4j and one client busy, so a load near 2 fills both cores, and more "
        "than that means other processes were waiting for a core too.",
        "",
        *_load_rows(results),
        "",
    ]
    return lines


def render(
    found: dict[str, dict[str, Any]], plots: dict[str, Path], docs_dir: Path
) -> str:
    """Return the whole page for the results found (``full`` and/or ``quick``)."""
    lines = [
        "# Benchmarks",
        "",
        "This page is written by `python -m bench.run` (`make bench` for the quick "
        "run, `make bench-full` for all sizes); the numbers below come from the "
        "JSON results in `bench/results/`. Rerunning the command rewrites it.",
        "",
        TARGETS,
        "",
    ]
    for name, path in plots.items():
        relative = os.path.relpath(path, docs_dir)
        lines.append(f"![{name.replace('_', ' ')}]({relative})")
        lines.append("")
    if NOTES.exists():
        lines.extend([NOTES.read_text().rstrip(), ""])
    for mode, title in (("full", "Full run"), ("quick", "Quick run")):
        if mode in found:
            lines.extend(_section(title, found[mode]))
    return "\n".join(lines).rstrip() + "\n"
