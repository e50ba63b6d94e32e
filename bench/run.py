"""Run the benchmarks: ``python -m bench.run --quick`` or ``--full``.

For each graph size the bench empties the database, imports a generated
organisation and measures checks, batches, explain and revoke-to-effect on
it. It writes ``bench/results/<mode>.json``, the PNG plots next to it and
``docs/benchmarks.md``.

It connects to ``NEO4J_URI`` (with ``NEO4J_USER``, ``NEO4J_PASSWORD``) if
set, else to the local server of ``delegraph neo4j start``, which it starts
if needed and stops afterwards if it started it. Because it deletes every
node, it refuses a graph holding nodes it did not create unless ``--wipe``
is given.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from delegraph.api import neo4j_local
from delegraph.cypher.store import Store
from delegraph.engine.service import Engine

from bench import api_load, machine, measure, plans, report
from bench.generate import Probe, Shape, allow_probes, deny_probes, generate

logger = logging.getLogger("delegraph.bench")

RESULTS = Path(__file__).resolve().parent / "results"
MARKER = "DelegraphBench"
WARM_UP_EDGES = 50


@dataclass(frozen=True)
class Plan:
    """How much to measure at each size."""

    mode: str
    sizes: tuple[int, ...]
    probes: int
    batch_checks: int
    batch_sizes: tuple[int, ...]
    explains: int
    revoke_trials: int
    profiled_sizes: tuple[int, ...]
    profiled_probes: int = 20
    http_requests: int = 2_000


PLANS = {
    "quick": Plan(
        "quick", (1_000, 10_000), 1_000, 2_000, (100, 1_000), 200, 1_000, (10_000,)
    ),
    "full": Plan(
        "full",
        (1_000, 10_000, 100_000, 1_000_000),
        3_000,
        5_000,
        (100, 1_000),
        300,
        2_000,
        (10_000, 100_000),
    ),
}


def interleave(first: list[Probe], second: list[Probe]) -> list[Probe]:
    """Alternate the two lists, so load from other processes hits both alike."""
    mixed: list[Probe] = []
    for pair in zip(first, second, strict=False):
        mixed.extend(pair)
    longer = first if len(first) > len(second) else second
    mixed.extend(longer[min(len(first), len(second)) :])
    return mixed


def _count_nodes(store: Store) -> tuple[int, int]:
    """Return the number of nodes (schema marker aside) and of bench markers."""
    records, _, _ = store.driver.execute_query(
        "MATCH (n) WHERE NOT n:DelegraphSchema "
        f"RETURN count(n) AS nodes, count(n:{MARKER}) AS marks",
        database_=store.database,
    )
    return int(records[0]["nodes"]), int(records[0]["marks"])


def prepare_graph(store: Store, allow_wipe: bool) -> None:
    """Empty the graph, refusing one with foreign nodes unless ``allow_wipe``."""
    nodes, marks = _count_nodes(store)
    if nodes and not marks and not allow_wipe:
        raise SystemExit(
            f"the graph at {store.uri} contains {nodes} nodes that the bench did not "
            "create, and the bench deletes every node: point NEO4J_URI at an empty "
            "database, or pass --wipe to delete them"
        )
    measure.wipe(store)
    store.driver.execute_query(f"CREATE (:{MARKER})", database_=store.database)


def warm_up_import(engine: Engine, allow_wipe: bool) -> None:
    """Import a tiny organisation first, so that no timed import pays for planning.

    On a fresh server the first timed import planned the import queries
    itself, which took 5 s for 1,000 edges. The first size wipes it.
    """
    prepare_graph(engine.store, allow_wipe)
    engine.import_document(generate(Shape(edges=WARM_UP_EDGES)).document)


def bench_size(engine: Engine, plan: Plan, size: int) -> dict[str, Any]:
    """Measure everything engine-level on a fresh graph of ``size`` edges."""
    shape = Shape(edges=size, revoke_rigs=plan.revoke_trials)
    organisation = generate(shape)
    logger.info("size=%d generated edges=%d", size, organisation.edges)
    result: dict[str, Any] = {"size": size, "shape": asdict(shape)}
    result["load_average_before"] = machine.load_average()
    result["import"] = measure.measure_import(engine, organisation)
    logger.info("size=%d imported %s", size, result["import"])

    allow = allow_probes(organisation, plan.probes)
    deny = deny_probes(organisation, plan.probes)
    mixed = interleave(allow, deny)
    measure.warm_up(engine, mixed)
    result["check"] = measure.measure_checks(engine, mixed)
    result["check"]["bolt_connections_after"] = measure.bolt_connections(engine.store)
    result["floor"] = measure.measure_floor(engine.store)
    logger.info("size=%d checks done", size)
    result["check_batch"] = [
        measure.measure_batches(engine, mixed[: plan.batch_checks], batch_size)
        for batch_size in plan.batch_sizes
    ]
    result["explain"] = measure.measure_explain(engine, mixed[: plan.explains])
    if size in plan.profiled_sizes:
        result["profile"] = {
            "allowed": plans.profile_probes(engine, allow[: plan.profiled_probes]),
            "denied": plans.profile_probes(engine, deny[: plan.profiled_probes]),
        }
    logger.info("size=%d revoke trials start", size)
    result["revoke"] = measure.measure_revoke(engine, organisation)
    result["load_average_after"] = machine.load_average()
    return result


def run_plan(
    store: Store,
    plan: Plan,
    allow_wipe: bool = False,
    auth: tuple[str, str] | None = None,
) -> dict[str, Any]:
    """Run ``plan`` on ``store`` and return the results (written by the caller).

    With ``auth`` (user, password) the API is started on the last graph and
    measured over HTTP; without it, HTTP is not measured.
    """
    engine = Engine(store)
    started = time.time()
    results: dict[str, Any] = {
        "mode": plan.mode,
        "plan": asdict(plan),
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        "command": f"python -m bench.run --{plan.mode}",
        "machine": machine.describe(store),
        "sizes": [],
        "http": {"status": "not measured: no Neo4j credentials for the API"},
    }
    warm_up_import(engine, allow_wipe)
    for size in plan.sizes:
        prepare_graph(store, allow_wipe)
        results["sizes"].append(bench_size(engine, plan, size))
    if auth is not None:
        results["http"] = measure_http(store, plan, auth)
    results["seconds"] = round(time.time() - started, 1)
    return results


def measure_http(store: Store, plan: Plan, auth: tuple[str, str]) -> dict[str, Any]:
    """Measure the API on the graph of the plan's largest size, which must be loaded."""
    organisation = generate(Shape(edges=plan.sizes[-1]))
    probes = interleave(
        allow_probes(organisation, plan.http_requests // 2),
        deny_probes(organisation, plan.http_requests // 2),
    )
    logger.info("size=%d HTTP measurements start", plan.sizes[-1])
    return api_load.measure_http(store.uri, *auth, probes)


def http_on_loaded_graph(
    connection: Connection, plan: Plan, path: Path
) -> dict[str, Any]:
    """Add HTTP numbers to the results at ``path``, on the graph their run left loaded."""
    results: dict[str, Any] = json.loads(path.read_text())
    expected = results["sizes"][-1]["import"]["nodes"]
    nodes, marks = _count_nodes(connection.store)
    if not marks or nodes < expected:
        raise SystemExit(
            f"the graph has {nodes} nodes, not the {expected} or more that the last "
            f"--{plan.mode} run left: rerun `python -m bench.run --{plan.mode}`"
        )
    results["http"] = measure_http(connection.store, plan, connection.auth)
    results["http"]["command"] = f"python -m bench.run --{plan.mode} --http-only"
    results["http"]["load_average_after"] = machine.load_average()
    return results


@dataclass(frozen=True)
class Connection:
    store: Store
    auth: tuple[str, str]
    started: neo4j_local.LocalNeo4jConfig | None


# The page cache that the full run gives a local server it starts, unless
# DELEGRAPH_NEO4J_PAGECACHE is set. The store files of the largest graph
# took 806 MB, more than the server's default of 512 MiB.
FULL_RUN_PAGE_CACHE = "1500m"


def connect(page_cache: str | None = None) -> Connection:
    """Open the store of NEO4J_URI, or of the local server (started if needed).

    ``page_cache`` sizes a local server that this call starts; a running
    server keeps its own. ``started`` is the local server's config when this
    call started it.
    """
    uri = os.environ.get("NEO4J_URI")
    if uri:
        auth = (
            os.environ.get("NEO4J_USER", "neo4j"),
            os.environ.get("NEO4J_PASSWORD", ""),
        )
        return Connection(Store(uri, auth, query_timeout=300.0), auth, None)
    config = neo4j_local.LocalNeo4jConfig.from_env()
    if page_cache and "DELEGRAPH_NEO4J_PAGECACHE" not in os.environ:
        config = replace(config, page_cache=page_cache)
    started, _ = neo4j_local.start(config)
    if not started:
        logger.info(
            "using the running local Neo4j on port %d with its own memory settings",
            config.bolt_port,
        )
    auth = (neo4j_local.USER, neo4j_local.read_password(config) or "")
    store = Store(config.bolt_uri, auth, query_timeout=300.0)
    return Connection(store, auth, config if started else None)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--quick", action="store_true", help="sizes 10^3 and 10^4 edges")
    mode.add_argument("--full", action="store_true", help="sizes 10^3 to 10^6 edges")
    parser.add_argument(
        "--wipe", action="store_true", help="delete a graph the bench did not create"
    )
    parser.add_argument(
        "--keep-neo4j",
        action="store_true",
        help="leave a local server it started running",
    )
    parser.add_argument(
        "--http-only",
        action="store_true",
        help="measure only the API, on the graph the last run of this mode left, "
        "and add the numbers to its results",
    )
    parser.add_argument(
        "--sizes",
        type=int,
        nargs="+",
        help="run only these sizes (edges) instead of the mode's",
    )
    parser.add_argument("--no-http", action="store_true", help="skip the API")
    parser.add_argument("--out", type=Path, default=RESULTS, help="results folder")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    # One line per revoke trial and per schema statement would bury the progress.
    for noisy in ("delegraph.delegations", "delegraph.store", "neo4j", "httpx"):
        logging.getLogger(noisy).setLevel(logging.WARNING)

    plan = PLANS["quick" if args.quick else "full"]
    if args.sizes:
        plan = replace(plan, sizes=tuple(args.sizes))
    path = args.out / f"{plan.mode}.json"
    try:
        connection = connect(FULL_RUN_PAGE_CACHE if plan.mode == "full" else None)
    except neo4j_local.LocalNeo4jError as error:
        print(f"cannot start the local Neo4j: {error}", file=sys.stderr)
        return int(error.exit_code)
    try:
        connection.store.apply_schema()
        if args.http_only:
            results = http_on_loaded_graph(connection, plan, path)
        else:
            auth = None if args.no_http else connection.auth
            results = run_plan(connection.store, plan, args.wipe, auth)
            results["command"] = " ".join(["python -m bench.run", *sys.argv[1:]])
    finally:
        connection.store.close()
        if connection.started is not None and not args.keep_neo4j:
            neo4j_local.stop(connection.started)

    args.out.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2, default=str) + "\n")
    # Only the default results folder feeds docs/benchmarks.md.
    page = report.DOCS_PAGE if args.out == RESULTS else args.out / "benchmarks.md"
    report.write_all(args.out, docs_page=page)
    print(f"results: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
