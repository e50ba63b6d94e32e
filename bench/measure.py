"""Engine-level measurements: import, check, check_batch, explain, revoke-to-effect.

Every function takes an Engine on a graph the caller prepared and returns a
plain dict for the JSON results. Latencies are wall-clock milliseconds from
``time.perf_counter`` around one engine call, so they include the driver,
the Bolt round trips and the CEL evaluation: the latency a caller of the
engine observes.
"""

from __future__ import annotations

import statistics
import time
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from delegraph.cypher.store import Store
from delegraph.engine.model import CheckRequest, Decision
from delegraph.engine.service import Engine
from neo4j.exceptions import Neo4jError

from bench.generate import Organisation, Probe

WARMUP_CHECKS = 50


def summarise(samples_ms: Sequence[float]) -> dict[str, Any]:
    """Return count, mean and the 50th, 95th and 99th percentiles of ``samples_ms``."""
    if not samples_ms:
        return {"count": 0}
    ordered = sorted(samples_ms)
    if len(ordered) == 1:
        cuts = [ordered[0]] * 99
    else:
        cuts = statistics.quantiles(ordered, n=100, method="inclusive")
    return {
        "count": len(ordered),
        "mean_ms": round(statistics.fmean(ordered), 3),
        "p50_ms": round(cuts[49], 3),
        "p95_ms": round(cuts[94], 3),
        "p99_ms": round(cuts[98], 3),
        "max_ms": round(ordered[-1], 3),
    }


def wipe(store: Store, batch_size: int = 5_000) -> None:
    """Delete every node except the schema marker, one small transaction per batch.

    One ``CALL ... IN TRANSACTIONS`` over a 10^6-edge graph exceeded the
    transaction memory pool of a 768 MiB heap, so each batch is its own query.
    """
    while True:
        records, _, _ = store.driver.execute_query(
            "MATCH (n) WHERE NOT n:DelegraphSchema WITH n LIMIT $size "
            "DETACH DELETE n RETURN count(*) AS deleted",
            size=batch_size,
            database_=store.database,
        )
        if records[0]["deleted"] == 0:
            return


def bolt_connections(store: Store) -> int | None:
    """Return how many Bolt connections the server has open (None if the server does not report them).

    After a run of sequential checks this shows whether the driver reused
    one pooled connection or opened one per check.
    """
    try:
        records, _, _ = store.driver.execute_query(
            "CALL dbms.listConnections() YIELD connector "
            "WHERE connector = 'bolt' RETURN count(*) AS open",
            database_=store.database,
        )
    except Neo4jError:
        return None
    return int(records[0]["open"])


def measure_import(engine: Engine, organisation: Organisation) -> dict[str, Any]:
    """Import the organisation into an empty graph and return edges per second."""
    started = time.perf_counter()
    result = engine.import_document(organisation.document)
    seconds = time.perf_counter() - started
    return {
        "edges": organisation.edges,
        "all_edges": organisation.all_edges,
        "nodes": len(organisation.document.principals)
        + len(organisation.document.resources),
        "counts": dict(result.counts),
        "seconds": round(seconds, 3),
        "edges_per_s": round(organisation.edges / seconds, 1),
        "all_edges_per_s": round(organisation.all_edges / seconds, 1),
    }


FLOOR_QUERIES = 1_000


def measure_floor(store: Store, queries: int = FLOOR_QUERIES) -> dict[str, Any]:
    """Time ``RETURN 1`` through the store's check path: the latency no check can beat.

    The same driver, session and round trip as a check, with no graph work,
    and the client CPU per query beside the wall time.
    """
    for _ in range(WARMUP_CHECKS):
        store.read_query("RETURN 1 AS one", {})
    samples: list[float] = []
    cpu_started = time.process_time()
    for _ in range(queries):
        started = time.perf_counter()
        store.read_query("RETURN 1 AS one", {})
        samples.append((time.perf_counter() - started) * 1000.0)
    cpu_ms = (time.process_time() - cpu_started) * 1000.0 / queries
    return {**summarise(samples), "client_cpu_ms": round(cpu_ms, 3)}


def _timed_check(engine: Engine, request: CheckRequest) -> tuple[Decision, float]:
    started = time.perf_counter()
    decision = engine.check(request)
    return decision, (time.perf_counter() - started) * 1000.0


def warm_up(engine: Engine, probes: Sequence[Probe]) -> None:
    """Run a few checks so that plans are cached and the pool has an open connection."""
    for probe in probes[:WARMUP_CHECKS]:
        engine.check(probe.request)


def measure_checks(engine: Engine, probes: Sequence[Probe]) -> dict[str, Any]:
    """Check each probe once, one after another; split latencies by outcome and depth.

    An allow is filed under the length of its deciding chain, a deny under
    the depth of its subject below the human. ``unexpected`` counts
    decisions that differ from what the generator expected.
    """
    allowed: list[float] = []
    denied: list[float] = []
    allowed_by_depth: dict[int, list[float]] = defaultdict(list)
    denied_by_depth: dict[int, list[float]] = defaultdict(list)
    unexpected: list[dict[str, Any]] = []
    for probe in probes:
        decision, elapsed = _timed_check(engine, probe.request)
        if decision.allowed:
            assert decision.chain is not None
            allowed.append(elapsed)
            allowed_by_depth[len(decision.chain.delegations)].append(elapsed)
        else:
            denied.append(elapsed)
            denied_by_depth[probe.depth].append(elapsed)
        if decision.allowed != probe.expected_allowed:
            unexpected.append(_describe(probe, decision))
    return {
        "allowed": summarise(allowed),
        "denied": summarise(denied),
        "allowed_by_depth": {
            d: summarise(v) for d, v in sorted(allowed_by_depth.items())
        },
        "denied_by_depth": {
            d: summarise(v) for d, v in sorted(denied_by_depth.items())
        },
        "unexpected_count": len(unexpected),
        "unexpected_examples": unexpected[:5],
    }


def _describe(probe: Probe, decision: Decision) -> dict[str, Any]:
    request = probe.request
    return {
        "subject": str(request.subject),
        "action": request.action,
        "resource": str(request.resource),
        "expected_allowed": probe.expected_allowed,
        "allowed": decision.allowed,
        "reason": decision.reason,
    }


def measure_batches(
    engine: Engine, probes: Sequence[Probe], batch_size: int
) -> dict[str, Any]:
    """Send the probes through check_batch in batches; return checks per second."""
    requests = [probe.request for probe in probes]
    batches = [
        requests[start : start + batch_size]
        for start in range(0, len(requests), batch_size)
    ]
    latencies: list[float] = []
    allowed = 0
    started = time.perf_counter()
    for batch in batches:
        batch_started = time.perf_counter()
        decisions = engine.check_batch(batch)
        latencies.append((time.perf_counter() - batch_started) * 1000.0)
        allowed += sum(1 for d in decisions if d.allowed)
    seconds = time.perf_counter() - started
    return {
        "batch_size": batch_size,
        "checks": len(requests),
        "allowed": allowed,
        "seconds": round(seconds, 3),
        "checks_per_s": round(len(requests) / seconds, 1),
        "batch_latency": summarise(latencies),
    }


def measure_explain(engine: Engine, probes: Sequence[Probe]) -> dict[str, Any]:
    """Explain each probe once; latencies split by the decision's outcome."""
    allowed: list[float] = []
    denied: list[float] = []
    for probe in probes:
        started = time.perf_counter()
        explanation = engine.explain(probe.request)
        elapsed = (time.perf_counter() - started) * 1000.0
        (allowed if explanation.allowed else denied).append(elapsed)
    return {"allowed": summarise(allowed), "denied": summarise(denied)}


def measure_revoke(engine: Engine, organisation: Organisation) -> dict[str, Any]:
    """Run one revoke trial per rig and count stale allows.

    A trial creates a delegation through the engine (attenuation checked)
    and checks that the agent below it is allowed. It then revokes the
    delegation and checks the same request again at once, with no
    consistency token, as a PEP that never saw the revoke would. Any allow
    after the revoke is stale.
    """
    engine.import_document(organisation.rig_document)
    stale: list[dict[str, Any]] = []
    not_allowed_before = 0
    revoke_ms: list[float] = []
    effect_ms: list[float] = []
    for rig in organisation.rigs:
        engine.create_delegation(rig.delegation(), created_by=str(rig.human))
        if not engine.check(rig.request()).allowed:
            not_allowed_before += 1
            continue
        started = time.perf_counter()
        engine.revoke(rig.delegation_id, revoked_by="user:bench", reason="bench trial")
        revoked = time.perf_counter()
        after = engine.check(rig.request())
        done = time.perf_counter()
        revoke_ms.append((revoked - started) * 1000.0)
        effect_ms.append((done - started) * 1000.0)
        if after.allowed:
            stale.append(
                {
                    "delegation": rig.delegation_id,
                    "chain": after.chain and after.chain.as_dict(),
                }
            )
    return {
        "trials": len(organisation.rigs),
        "completed": len(revoke_ms),
        "not_allowed_before_revoke": not_allowed_before,
        "stale_allows": len(stale),
        "stale_examples": stale[:5],
        "revoke": summarise(revoke_ms),
        "revoke_to_first_deny": summarise(effect_ms),
    }
