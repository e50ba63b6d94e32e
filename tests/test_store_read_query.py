"""Store.read_query: one auto-commit read, consistency tokens, fail closed."""

from __future__ import annotations

import socket

import pytest
from delegraph.cypher.store import Store, StoreUnavailable


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_read_query_returns_records(clean_store: Store) -> None:
    records = clean_store.read_query(
        "UNWIND $values AS value RETURN value ORDER BY value", {"values": [2, 1]}
    )

    assert [r["value"] for r in records] == [1, 2]


def test_read_query_sees_write_of_token(clean_store: Store) -> None:
    written = clean_store.write(
        lambda tx: tx.run("CREATE (:Probe {name: $name})", name="seen").consume()
    )

    records = clean_store.read_query(
        "MATCH (n:Probe) RETURN n.name AS name", {}, written.consistency_token
    )

    assert [r["name"] for r in records] == ["seen"]


def test_read_query_unreachable_raises_unavailable() -> None:
    store = Store(
        f"bolt://127.0.0.1:{_closed_port()}", ("neo4j", "x"), query_timeout=1.0
    )
    try:
        with pytest.raises(StoreUnavailable):
            store.read_query("RETURN 1 AS one", {})
    finally:
        store.close()
