"""PROFILE of the check query: database hits and rows per operator, from Neo4j itself."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import Any

from delegraph.cypher.checks import single_check
from delegraph.engine.checks import bounds, parameters
from delegraph.engine.service import Engine

from bench.generate import Probe


def _walk(plan: Any) -> list[dict[str, Any]]:
    """Return every operator of a profiled plan as a dict, leaves first."""
    operators: list[dict[str, Any]] = []
    for child in plan.get("children", []):
        operators.extend(_walk(child))
    operators.append(
        {
            "operator": plan["operatorType"].split("@")[0],
            "db_hits": plan.get("dbHits", 0),
            "rows": plan.get("rows", 0),
            "details": str(plan.get("args", {}).get("Details", ""))[:120],
        }
    )
    return operators


def profile_check(engine: Engine, probe: Probe) -> list[dict[str, Any]]:
    """Run the check query of ``probe`` under PROFILE and return its operators."""
    text, params = single_check(
        bounds(engine), parameters(probe.request), engine.clock()
    )
    with engine.store.driver.session(database=engine.store.database) as session:
        result = session.run("PROFILE " + text, params)
        summary = result.consume()
    assert summary.profile is not None
    return _walk(summary.profile)


def profile_probes(engine: Engine, probes: Sequence[Probe]) -> dict[str, Any]:
    """Profile each probe; return db hits per check and the busiest operators of the worst one."""
    hits: list[int] = []
    worst: list[dict[str, Any]] = []
    for probe in probes:
        operators = profile_check(engine, probe)
        total = sum(op["db_hits"] for op in operators)
        if not hits or total > max(hits):
            worst = operators
        hits.append(total)
    if not hits:
        return {"count": 0}
    busiest = sorted(worst, key=lambda op: op["db_hits"], reverse=True)[:6]
    return {
        "count": len(hits),
        "db_hits_median": statistics.median(hits),
        "db_hits_max": max(hits),
        "worst_operators": busiest,
        "operator_names": sorted({op["operator"] for op in worst}),
    }
