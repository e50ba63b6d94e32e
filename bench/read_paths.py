"""Compare the two ways the store can run the check query, interleaved on one graph.

``python -m bench.read_paths [--edges N] [--rounds R]`` imports a fresh
organisation, then runs the same probes through ``Store.read`` (a managed
transaction: BEGIN, RUN and PULL, then COMMIT) and ``Store.read_query`` (one
auto-commit RUN and PULL) in alternating rounds, so that load from other
processes falls on both alike. It prints wall and client CPU time per check.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

from delegraph.cypher.checks import single_check
from delegraph.engine.checks import bounds, parameters
from delegraph.engine.model import CheckRequest
from delegraph.engine.service import Engine
from neo4j import ManagedTransaction

from bench.generate import Shape, allow_probes, deny_probes, generate
from bench.run import connect, interleave, prepare_graph


def _managed(engine: Engine) -> Callable[[CheckRequest], Any]:
    def run(request: CheckRequest) -> Any:
        text, params = single_check(bounds(engine), parameters(request), engine.clock())

        def work(tx: ManagedTransaction) -> Any:
            return tx.run(text, params).single(strict=True)

        return engine.store.read(work)

    return run


def _auto_commit(engine: Engine) -> Callable[[CheckRequest], Any]:
    def run(request: CheckRequest) -> Any:
        text, params = single_check(bounds(engine), parameters(request), engine.clock())
        return engine.store.read_query(text, params)[0]

    return run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.read_paths", description=__doc__
    )
    parser.add_argument("--edges", type=int, default=10_000, help="graph size in edges")
    parser.add_argument("--rounds", type=int, default=6, help="rounds per path")
    parser.add_argument("--wipe", action="store_true", help="delete a foreign graph")
    args = parser.parse_args(argv)

    connection = connect()
    store = connection.store
    try:
        store.apply_schema()
        prepare_graph(store, args.wipe)
        organisation = generate(Shape(edges=args.edges))
        engine = Engine(store)
        engine.import_document(organisation.document)
        probes = interleave(
            allow_probes(organisation, 200), deny_probes(organisation, 200)
        )
        requests = [probe.request for probe in probes]
        paths = {
            "Store.read (managed transaction)": _managed(engine),
            "Store.read_query (auto-commit)": _auto_commit(engine),
        }
        for run in paths.values():
            for request in requests[:50]:
                run(request)
        wall: dict[str, list[float]] = {name: [] for name in paths}
        cpu: dict[str, list[float]] = {name: [] for name in paths}
        for _ in range(args.rounds):
            for name, run in paths.items():
                wall_start, cpu_start = time.perf_counter(), time.process_time()
                for request in requests:
                    run(request)
                wall[name].append(
                    (time.perf_counter() - wall_start) * 1000 / len(requests)
                )
                cpu[name].append(
                    (time.process_time() - cpu_start) * 1000 / len(requests)
                )
    finally:
        store.close()
    for name in paths:
        print(
            f"{name}: wall {statistics.median(wall[name]):.2f} ms/check (median of "
            f"{args.rounds} rounds of {len(requests)}), client CPU "
            f"{statistics.median(cpu[name]):.2f} ms/check"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
