"""Measure how many decisions a hard kill (SIGKILL) loses from the decision log.

Each trial starts a child process that runs checks from several threads as
fast as it can, with the decision log on. After each check returns, the
child writes the check's request id to a pipe; the kernel keeps what was
written even when the child dies. The parent kills the child with SIGKILL
after a while, reads every request id that the child finished, and counts
those the sink does not hold.

Usage (Neo4j from NEO4J_URI or the local server of neo4j-local/):
    python scripts/measure_decision_log_loss.py --trials 5 --seconds 4
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

from delegraph.api.settings import Settings
from delegraph.cypher.queries import query
from delegraph.cypher.store import Store
from delegraph.engine.audit import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_CAPACITY,
    open_decision_log,
)
from delegraph.engine.documents import parse_document
from delegraph.engine.graph import import_document
from delegraph.engine.model import CheckRequest
from delegraph.engine.refs import parse_ref
from delegraph.engine.service import Engine


def open_store() -> Store:
    uri, user, password = Settings().resolved_neo4j()
    return Store(uri, (user, password), query_timeout=30.0)


def load_graph(store: Store, run: str) -> tuple[str, str]:
    """Import a two-hop chain named after ``run``; return (agent, resource) refs."""
    document = {
        "users": [f"{run}-owner"],
        "agents": [
            {"id": f"{run}-a1", "owner": f"user:{run}-owner"},
            {"id": f"{run}-a2", "owner": f"user:{run}-owner"},
        ],
        "resources": [{"ref": f"document:{run}"}],
        "grants": [
            {
                "principal": f"user:{run}-owner",
                "resource": f"document:{run}",
                "actions": ["read"],
            }
        ],
        "delegations": [
            {
                "id": f"{run}-d1",
                "from": f"user:{run}-owner",
                "to": f"agent:{run}-a1",
                "actions": ["read"],
                "max_depth": 1,
            },
            {
                "id": f"{run}-d2",
                "from": f"agent:{run}-a1",
                "to": f"agent:{run}-a2",
                "actions": ["read"],
            },
        ],
    }
    import_document(store, parse_document(document))
    return f"agent:{run}-a2", f"document:{run}"


def child(sink: str, run: str, threads: int) -> None:
    """Run checks until killed; write each finished request id to stdout."""
    store = open_store()
    agent, resource = load_graph(store, run)
    log = open_decision_log(sink, store)
    assert log is not None
    engine = Engine(store, on_decision=log.record)
    out = sys.stdout.fileno()
    os.write(out, b"ready\n")

    def work(worker: int) -> None:
        n = 0
        while True:
            request_id = f"{run}-{worker}-{n}"
            engine.check(
                CheckRequest(
                    subject=parse_ref(agent, "subject"),
                    action="read" if n % 4 else "write",
                    resource=parse_ref(resource, "resource"),
                    request_id=request_id,
                )
            )
            os.write(out, (request_id + "\n").encode())
            n += 1

    for worker in range(threads):
        threading.Thread(target=work, args=(worker,), daemon=True).start()
    threading.Event().wait()


def logged_ids(sink: str, run: str, store: Store) -> set[str]:
    if sink.startswith("file:"):
        path = Path(sink.removeprefix("file:"))
        rows = [json.loads(line) for line in path.read_text().splitlines() if line]
        return {r["request_id"] for r in rows if r["request_id"].startswith(run)}
    text = query("audit.cypher", "decision_request_ids")
    records = store.read(lambda tx: list(tx.run(text, prefix=run + "-")))
    return {r["request_id"] for r in records}


def trial(sink: str, seconds: float, threads: int, store: Store) -> dict[str, float]:
    run = "loss-" + uuid.uuid4().hex[:10]
    process = subprocess.Popen(  # noqa: S603
        [
            sys.executable,
            __file__,
            "--child",
            sink,
            "--run",
            run,
            "--threads",
            str(threads),
        ],
        stdout=subprocess.PIPE,
    )
    assert process.stdout is not None

    first = process.stdout.readline()
    if first.strip() != b"ready":
        raise RuntimeError(f"child process failed to start; it printed {first!r}")

    lines: list[bytes] = []
    reader = threading.Thread(target=lambda: lines.extend(process.stdout or []))
    reader.start()
    time.sleep(seconds)
    process.send_signal(signal.SIGKILL)
    process.wait()
    reader.join()

    finished = {line.decode().strip() for line in lines if line.strip()}
    logged = logged_ids(sink, run, store)
    lost = finished - logged
    return {
        "finished": len(finished),
        "logged": len(logged & finished),
        "lost": len(lost),
        "checks_per_second": len(finished) / seconds,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=5, help="kills per sink")
    parser.add_argument(
        "--seconds", type=float, default=4.0, help="run time before the kill"
    )
    parser.add_argument(
        "--threads", type=int, default=4, help="checking threads in the child"
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--run", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.run, args.threads)
        return

    store = open_store()
    results: dict[str, list[dict[str, float]]] = {}
    with tempfile.TemporaryDirectory() as folder:
        for sink in ("neo4j", f"file:{folder}/decisions.jsonl"):
            name = sink.split(":")[0]
            results[name] = [
                trial(sink, args.seconds, args.threads, store)
                for _ in range(args.trials)
            ]
    store.close()
    for name, rows in results.items():
        lost = [r["lost"] for r in rows]
        print(
            f"{name}: trials={len(rows)} threads={args.threads} seconds={args.seconds} "
            f"checks/s mean={statistics.mean(r['checks_per_second'] for r in rows):.0f} "
            f"lost per kill: {lost} (max {max(lost):.0f}, mean {statistics.mean(lost):.1f}); "
            f"bound capacity+batch={DEFAULT_CAPACITY + DEFAULT_BATCH_SIZE}"
        )
    print(json.dumps(results))


if __name__ == "__main__":
    main()
