"""Measure how long decision reads take from the JSONL file of the file sink.

The script writes ``--records`` synthetic records with the file sink into a
temporary file. It then times three reads through ``Engine.decisions``: the
first page of 100 with no filter, the first page of 100 for one subject,
and a walk over every page of 1,000. Each read scans the whole file, so the
first two take about the same time.

The Engine is built over a Store that is never queried: file reads do not
use Neo4j, and the driver connects only on the first query.

Usage:
    python scripts/measure_decision_file_read.py --records 100000
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from delegraph.api.settings import Settings
from delegraph.cypher.store import Store
from delegraph.engine.audit import ALLOW, DENY, DecisionRecord, JsonlSink
from delegraph.engine.refs import parse_ref
from delegraph.engine.service import Engine

BATCH = 500
SUBJECTS = 100


def write_records(path: Path, count: int) -> None:
    """Append ``count`` records, one a second, spread over SUBJECTS subjects."""
    sink = JsonlSink(path)
    start = datetime(2030, 1, 1, tzinfo=UTC)
    batch: list[DecisionRecord] = []
    for index in range(count):
        allowed = index % 4 != 0
        batch.append(
            DecisionRecord(
                id=f"dec-{index:08d}",
                at=start + timedelta(seconds=index),
                subject=f"agent:a{index % SUBJECTS}",
                action="read",
                resource=f"document:d{index % 1000}",
                outcome=ALLOW if allowed else DENY,
                reason="allowed by a chain" if allowed else "no chain",
                principals=("user:u1", f"agent:a{index % SUBJECTS}") if allowed else (),
                delegations=(f"del-{index % 50}",) if allowed else (),
                grant_principal="user:u1" if allowed else None,
                grant_resource="folder:f1" if allowed else None,
                request_id=f"req-{index}",
                context_keys=("purpose",),
                context_hash="sha256:" + "0" * 64,
            )
        )
        if len(batch) == BATCH:
            sink.write(batch)
            batch = []
    if batch:
        sink.write(batch)
    sink.close()


def timed(read: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = read()
    return time.perf_counter() - started, result


def walk_all(engine: Engine) -> int:
    """Read every page of 1,000 and return the number of records seen."""
    seen = 0
    token = None
    while True:
        page = engine.decisions(limit=1000, page_token=token)
        seen += len(page.items)
        token = page.next_page_token
        if token is None:
            return seen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    arguments = parser.parse_args()

    settings = Settings()
    uri, user, password = settings.resolved_neo4j()
    store = Store(uri, (user, password), settings.neo4j_database)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "decisions.jsonl"
        write_records(path, arguments.records)
        engine = Engine(store, decision_file=path)
        size_mib = path.stat().st_size / 2**20

        first, page = timed(lambda: engine.decisions(limit=100))
        subject = parse_ref("agent:a7", "subject")
        filtered, _ = timed(lambda: engine.decisions(subject=subject, limit=100))
        walk, seen = timed(lambda: walk_all(engine))
    store.close()

    print(f"records: {arguments.records} ({size_mib:.1f} MiB)")
    print(
        f"machine: {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()}"
    )
    print(f"first page of 100, no filter: {first:.2f} s (newest {page.items[0].id})")
    print(f"first page of 100, one subject: {filtered:.2f} s")
    print(f"every page of 1000 ({seen} records): {walk:.2f} s")


if __name__ == "__main__":
    main()
