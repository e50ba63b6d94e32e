"""Store.read_query: one auto-commit read, consistency tokens, fail closed."""

from __future__ import annotations

import socket
import time
from typing import Any

import pytest
from delegraph.cypher.store import READ_ATTEMPTS, Store, StoreUnavailable
from neo4j.exceptions import TransientError


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


def test_read_query_retries_transient_errors(
    clean_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two transient failures, as Transaction.Outdated gives, then the real read."""
    real_read = clean_store._read_once
    attempts: list[int] = []

    def flaky(*args: Any) -> Any:
        attempts.append(len(attempts) + 1)
        if len(attempts) < READ_ATTEMPTS:
            raise TransientError("outdated")
        return real_read(*args)

    monkeypatch.setattr(clean_store, "_read_once", flaky)

    records = clean_store.read_query("RETURN 1 AS one", {})

    assert [r["one"] for r in records] == [1]
    assert attempts == list(range(1, READ_ATTEMPTS + 1))


def test_read_query_gives_up_after_attempts(
    clean_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    attempts: list[int] = []

    def failing(*args: Any) -> Any:
        attempts.append(len(attempts) + 1)
        raise TransientError("outdated")

    monkeypatch.setattr(clean_store, "_read_once", failing)

    with pytest.raises(StoreUnavailable):
        clean_store.read_query("RETURN 1 AS one", {})
    assert len(attempts) == READ_ATTEMPTS


def test_read_query_no_retry_after_timeout(
    clean_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A failure that arrives after query_timeout is not tried again."""
    attempts: list[int] = []

    def slow_failure(*args: Any) -> Any:
        attempts.append(len(attempts) + 1)
        time.sleep(clean_store.query_timeout)
        raise TransientError("outdated")

    monkeypatch.setattr(clean_store, "_read_once", slow_failure)
    monkeypatch.setattr(clean_store, "query_timeout", 0.2)

    with pytest.raises(StoreUnavailable):
        clean_store.read_query("RETURN 1 AS one", {})
    assert attempts == [1]
