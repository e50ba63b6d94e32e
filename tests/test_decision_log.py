"""The decision log against Neo4j: records, links, filters, paging, sinks, load."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from delegraph.cypher.store import Store
from delegraph.engine.audit import (
    DecisionLog,
    DecisionRecord,
    JsonlSink,
    Neo4jSink,
    context_hash,
    open_decision_log,
)
from delegraph.engine.documents import parse_document
from delegraph.engine.errors import InvalidRequest
from delegraph.engine.graph import import_document
from delegraph.engine.model import CheckRequest
from delegraph.engine.refs import parse_ref
from delegraph.engine.service import Engine, utc_now

GRAPH = {
    "users": ["alice", "bob"],
    "agents": [
        {"id": "a1", "owner": "user:alice"},
        {"id": "a2", "owner": "user:alice"},
    ],
    "resources": [
        {"ref": "folder:finance"},
        {"ref": "document:q3", "parent": "folder:finance"},
        {"ref": "document:q4", "parent": "folder:finance"},
    ],
    "grants": [
        {"principal": "user:alice", "resource": "folder:finance", "actions": ["read"]},
        {"principal": "user:bob", "resource": "document:q4", "actions": ["read"]},
    ],
    "delegations": [
        {
            "id": "d1",
            "from": "user:alice",
            "to": "agent:a1",
            "actions": ["read"],
            "max_depth": 1,
        },
        {"id": "d2", "from": "agent:a1", "to": "agent:a2", "actions": ["read"]},
        {"id": "d3", "from": "user:bob", "to": "agent:a1", "actions": ["read"]},
    ],
}


def request(
    subject: str, resource: str, action: str = "read", **extra: Any
) -> CheckRequest:
    on_behalf_of = extra.pop("on_behalf_of", None)
    return CheckRequest(
        subject=parse_ref(subject, "subject"),
        action=action,
        resource=parse_ref(resource, "resource"),
        on_behalf_of=None if on_behalf_of is None else parse_ref(on_behalf_of, "u"),
        **extra,
    )


SINKS = ("neo4j", "file")


def open_logged(
    store: Store,
    sink_name: str,
    tmp_path: Path,
    clock: Callable[[], datetime] = utc_now,
) -> tuple[Engine, DecisionLog]:
    """Return an Engine whose decisions go to the named sink and are read back from it."""
    if sink_name == "neo4j":
        log = DecisionLog(Neo4jSink(store))
        return Engine(store, clock=clock, on_decision=log.record), log
    path = tmp_path / "decisions.jsonl"
    log = DecisionLog(JsonlSink(path))
    engine = Engine(store, clock=clock, on_decision=log.record, decision_file=path)
    return engine, log


@pytest.fixture(params=SINKS)
def logged(
    request: pytest.FixtureRequest, clean_store: Store, tmp_path: Path
) -> Iterator[tuple[Engine, DecisionLog]]:
    """An Engine over GRAPH that logs to, and reads from, each sink in turn."""
    import_document(clean_store, parse_document(GRAPH))
    engine, log = open_logged(clean_store, request.param, tmp_path)
    yield engine, log
    log.close()


@pytest.fixture
def neo4j_logged(clean_store: Store) -> Iterator[tuple[Engine, DecisionLog]]:
    import_document(clean_store, parse_document(GRAPH))
    log = DecisionLog(Neo4jSink(clean_store))
    engine = Engine(clean_store, on_decision=log.record)
    yield engine, log
    log.close()


def ids(records: Sequence[DecisionRecord]) -> list[str]:
    return [r.id for r in records]


def test_record_holds_chain_and_context_hash(
    logged: tuple[Engine, DecisionLog],
) -> None:
    engine, log = logged
    # A number long enough that it cannot turn up in a timestamp or an id.
    context = {"purpose": "expenses", "ticket": 987654321987}
    allow = engine.check(
        request("agent:a2", "document:q3", context=context, request_id="req-1")
    )
    assert allow.allowed, allow.reason
    assert log.flush(10)

    page = engine.decisions(subject=parse_ref("agent:a2", "s"))
    assert len(page.items) == 1
    record = page.items[0]
    assert record.id == allow.decision_id
    assert record.outcome == "allow"
    assert record.principals == ("user:alice", "agent:a1", "agent:a2")
    assert record.delegations == ("d1", "d2")
    assert record.grant_principal == "user:alice"
    assert record.grant_resource == "folder:finance"
    assert record.request_id == "req-1"
    assert record.context_keys == ("purpose", "ticket")
    assert record.context_hash == context_hash(context)
    stored = json.dumps(record.properties(), default=str)
    assert "expenses" not in stored
    assert "987654321987" not in stored


def test_deny_record_keeps_reason(logged: tuple[Engine, DecisionLog]) -> None:
    engine, log = logged
    deny = engine.check(request("agent:a2", "document:q3", action="write"))
    assert not deny.allowed
    assert log.flush(10)
    record = engine.decisions(outcome="deny").items[0]
    assert record.id == deny.decision_id
    assert record.reason == deny.reason
    assert record.principals == ()
    assert record.as_dict()["chain"] is None


def test_decision_nodes_link_graph(
    neo4j_logged: tuple[Engine, DecisionLog], clean_store: Store
) -> None:
    engine, log = neo4j_logged
    decision = engine.check(
        request("agent:a2", "document:q3", on_behalf_of="user:alice")
    )
    assert decision.allowed, decision.reason
    assert log.flush(10)
    records, _, _ = clean_store.driver.execute_query(
        "MATCH (d:Decision {id: $id}) "
        "OPTIONAL MATCH (d)-[:SUBJECT]->(s) "
        "OPTIONAL MATCH (d)-[:RESOURCE]->(r) "
        "OPTIONAL MATCH (d)-[:ON_BEHALF_OF]->(u) "
        "RETURN s.ref AS s, r.ref AS r, u.ref AS u, "
        "COLLECT { MATCH (d)-[c:CHAIN]->(p) RETURN [c.position, c.delegation, p.ref] "
        "ORDER BY c.position } AS chain",
        id=decision.decision_id,
        database_=clean_store.database,
    )
    row = records[0]
    assert row["s"] == "agent:a2"
    assert row["r"] == "document:q3"
    assert row["u"] == "user:alice"
    assert row["chain"] == [
        [0, None, "user:alice"],
        [1, "d1", "agent:a1"],
        [2, "d2", "agent:a2"],
    ]


def test_decision_filters(logged: tuple[Engine, DecisionLog]) -> None:
    engine, log = logged
    a2_q3 = engine.check(request("agent:a2", "document:q3"))
    a1_q4_bob = engine.check(
        request("agent:a1", "document:q4", on_behalf_of="user:bob")
    )
    a1_q3_bob = engine.check(
        request("agent:a1", "document:q3", on_behalf_of="user:bob")
    )
    alice_q3 = engine.check(request("user:alice", "document:q3", action="delete"))
    assert log.flush(10)

    def found(**filters: Any) -> set[str]:
        return set(ids(engine.decisions(**filters).items))

    agent_a1 = parse_ref("agent:a1", "s")
    assert found(subject=agent_a1) == {a1_q4_bob.decision_id, a1_q3_bob.decision_id}
    assert found(on_behalf_of=parse_ref("user:bob", "u")) == {
        a1_q4_bob.decision_id,
        a1_q3_bob.decision_id,
    }
    assert found(resource=parse_ref("document:q3", "r")) == {
        a2_q3.decision_id,
        a1_q3_bob.decision_id,
        alice_q3.decision_id,
    }
    assert found(delegation="d2") == {a2_q3.decision_id}
    assert found(delegation="d3") == {a1_q4_bob.decision_id}
    assert found(outcome="deny") == {a1_q3_bob.decision_id, alice_q3.decision_id}
    assert found(subject=agent_a1, outcome="allow") == {a1_q4_bob.decision_id}


@pytest.mark.parametrize("sink_name", SINKS)
def test_decision_time_window(
    clean_store: Store, tmp_path: Path, sink_name: str
) -> None:
    import_document(clean_store, parse_document(GRAPH))
    start = datetime(2030, 1, 1, tzinfo=UTC)
    moments = iter([start + timedelta(minutes=m) for m in range(5)])
    engine, log = open_logged(
        clean_store, sink_name, tmp_path, clock=lambda: next(moments)
    )
    made = [engine.check(request("agent:a1", "document:q3")) for _ in range(5)]
    log.close()

    window = engine.decisions(
        since=start + timedelta(minutes=1), until=start + timedelta(minutes=3)
    )
    assert ids(window.items) == [made[2].decision_id, made[1].decision_id]
    assert window.next_page_token is None


def test_decision_pages_cover_all(logged: tuple[Engine, DecisionLog]) -> None:
    engine, log = logged
    made = engine.check_batch([request("agent:a1", "document:q3")] * 25)
    assert log.flush(10)
    seen: list[str] = []
    token = None
    pages = 0
    while True:
        page = engine.decisions(
            resource=parse_ref("document:q3", "r"), limit=7, page_token=token
        )
        seen.extend(ids(page.items))
        pages += 1
        token = page.next_page_token
        if token is None:
            break
    assert pages == 4
    assert len(seen) == len(set(seen))
    assert set(seen) == {d.decision_id for d in made}


@pytest.mark.parametrize("sink_name", SINKS)
def test_decision_ties_order_by_id(
    clean_store: Store, tmp_path: Path, sink_name: str
) -> None:
    import_document(clean_store, parse_document(GRAPH))
    moment = datetime(2030, 1, 1, tzinfo=UTC)
    engine, log = open_logged(clean_store, sink_name, tmp_path, clock=lambda: moment)
    decisions = engine.check_batch([request("agent:a1", "document:q3")] * 6)
    assert log.flush(10)
    expected = sorted((d.decision_id for d in decisions), reverse=True)

    first = engine.decisions(limit=4)
    assert ids(first.items) == expected[:4]
    assert first.next_page_token is not None
    second = engine.decisions(limit=4, page_token=first.next_page_token)
    assert ids(second.items) == expected[4:]
    assert second.next_page_token is None
    log.close()


def test_file_reader_skips_invalid_lines(clean_store: Store, tmp_path: Path) -> None:
    import_document(clean_store, parse_document(GRAPH))
    engine, log = open_logged(clean_store, "file", tmp_path)
    decision = engine.check(request("agent:a1", "document:q3"))
    log.close()
    path = tmp_path / "decisions.jsonl"
    with path.open("a", encoding="utf-8") as file:
        file.write('{"decision_id": "cut-off", "at": "2030-01-0')

    page = engine.decisions()
    assert ids(page.items) == [decision.decision_id]


def test_file_reader_missing_file_is_empty(clean_store: Store, tmp_path: Path) -> None:
    engine = Engine(clean_store, decision_file=tmp_path / "absent.jsonl")
    page = engine.decisions()
    assert page.items == ()
    assert page.next_page_token is None


def test_decision_filter_errors(logged: tuple[Engine, DecisionLog]) -> None:
    engine, _ = logged
    with pytest.raises(InvalidRequest) as outcome:
        engine.decisions(outcome="maybe")
    assert outcome.value.field == "outcome"
    with pytest.raises(InvalidRequest) as naive:
        engine.decisions(since=datetime(2030, 1, 1))
    assert naive.value.field == "since"
    with pytest.raises(InvalidRequest) as order:
        engine.decisions(
            since=datetime(2030, 1, 2, tzinfo=UTC),
            until=datetime(2030, 1, 1, tzinfo=UTC),
        )
    assert order.value.field == "since"
    with pytest.raises(InvalidRequest) as limit:
        engine.decisions(limit=0)
    assert limit.value.field == "limit"
    with pytest.raises(InvalidRequest) as token:
        engine.decisions(outcome="allow", page_token="bm90IGEgdG9rZW4")  # noqa: S106
    assert token.value.field == "page_token"


def test_file_sink_writes_jsonl(clean_store: Store, tmp_path: Path) -> None:
    import_document(clean_store, parse_document(GRAPH))
    path = tmp_path / "log" / "decisions.jsonl"
    log = open_decision_log(f"file:{path}", clean_store)
    assert log is not None
    engine = Engine(clean_store, on_decision=log.record)
    made = [
        engine.check(request("agent:a2", "document:q3", context={"k": "secret-value"})),
        engine.check(request("agent:a2", "document:q3", action="write")),
    ]
    log.close()
    lines = path.read_text().splitlines()
    assert len(lines) == 2
    rows = [json.loads(line) for line in lines]
    assert [r["decision_id"] for r in rows] == [d.decision_id for d in made]
    assert rows[0]["chain"]["delegations"] == ["d1", "d2"]
    assert rows[0]["context_keys"] == ["k"]
    assert rows[1]["outcome"] == "deny"
    assert "secret-value" not in path.read_text()


def test_log_spec_parsing(clean_store: Store) -> None:
    assert open_decision_log("off", clean_store) is None
    with pytest.raises(InvalidRequest) as error:
        open_decision_log("kafka", clean_store)
    assert error.value.field == "DELEGRAPH_DECISION_LOG"
    with pytest.raises(InvalidRequest):
        open_decision_log("file:", clean_store)


def test_sampling_rate(clean_store: Store, tmp_path: Path) -> None:
    import_document(clean_store, parse_document(GRAPH))
    none = DecisionLog(JsonlSink(tmp_path / "none.jsonl"), sample_rate=0.0)
    half = DecisionLog(JsonlSink(tmp_path / "half.jsonl"), sample_rate=0.5)

    def both(decision: Any) -> None:
        none.record(decision)
        half.record(decision)

    engine = Engine(clean_store, on_decision=both)
    engine.check_batch([request("agent:a1", "document:q3")] * 400)
    none.close()
    half.close()
    assert (tmp_path / "none.jsonl").read_text() == ""
    assert none.stats.sampled_out == 400
    kept = len((tmp_path / "half.jsonl").read_text().splitlines())
    assert 120 < kept < 280
    assert half.stats.written == kept
    assert half.stats.sampled_out == 400 - kept


class SlowSink:
    """A file sink that waits on an event before each write, to fill the queue."""

    name = "slow"

    def __init__(self, path: Path) -> None:
        self.inner = JsonlSink(path)
        self.release = threading.Event()

    def write(self, records: Sequence[DecisionRecord]) -> None:
        self.release.wait()
        self.inner.write(records)

    def close(self) -> None:
        self.inner.close()


def test_full_queue_blocks_then_drops(clean_store: Store, tmp_path: Path) -> None:
    import_document(clean_store, parse_document(GRAPH))
    sink = SlowSink(tmp_path / "slow.jsonl")
    log = DecisionLog(sink, capacity=2, batch_size=1, put_timeout=0.2)
    engine = Engine(clean_store, on_decision=log.record)
    # One record is taken by the blocked writer, two fill the queue.
    for _ in range(3):
        engine.check(request("agent:a1", "document:q3"))
    started = time.monotonic()
    engine.check(request("agent:a1", "document:q3"))
    waited = time.monotonic() - started
    assert waited >= 0.2
    assert log.stats.dropped == 1

    log.put_timeout = 30.0
    releaser = threading.Timer(0.3, sink.release.set)
    releaser.start()
    engine.check(request("agent:a1", "document:q3"))
    log.close()
    releaser.join()
    assert log.stats.dropped == 1
    assert log.stats.written == 4
    assert len((tmp_path / "slow.jsonl").read_text().splitlines()) == 4


def test_full_queue_drops_store_failed(clean_store: Store, tmp_path: Path) -> None:
    import_document(clean_store, parse_document(GRAPH))
    sink = SlowSink(tmp_path / "slow.jsonl")
    log = DecisionLog(sink, capacity=2, batch_size=1, put_timeout=60.0)
    engine = Engine(clean_store, on_decision=log.record)
    # One record is taken by the blocked writer, two fill the queue.
    for _ in range(3):
        engine.check(request("agent:a1", "document:q3"))

    # A deny of a failed check must not wait the 60 s put_timeout.
    failed = threading.Thread(
        target=engine.record_unavailable,
        args=([request("agent:a1", "document:q3")], "denied because Neo4j failed"),
    )
    failed.start()
    failed.join(timeout=10)
    returned = not failed.is_alive()
    sink.release.set()
    log.close()
    assert returned
    assert log.stats.dropped == 1
    assert log.stats.written == 3


def test_closed_log_drops(clean_store: Store, tmp_path: Path) -> None:
    import_document(clean_store, parse_document(GRAPH))
    log = DecisionLog(JsonlSink(tmp_path / "closed.jsonl"))
    engine = Engine(clean_store, on_decision=log.record)
    log.close()
    engine.check(request("agent:a1", "document:q3"))
    assert log.stats.dropped == 1


def test_unreachable_neo4j_counts_failure(clean_store: Store, tmp_path: Path) -> None:
    import_document(clean_store, parse_document(GRAPH))
    dead = Store("bolt://127.0.0.1:9", ("neo4j", "x"), query_timeout=0.5)
    log = DecisionLog(Neo4jSink(dead))
    engine = Engine(clean_store, on_decision=log.record)
    engine.check(request("agent:a1", "document:q3"))
    assert log.flush(30)
    log.close()
    dead.close()
    assert log.stats.failed == 1
    assert log.stats.written == 0


def count_decisions(store: Store) -> int:
    records, _, _ = store.driver.execute_query(
        "MATCH (d:Decision) RETURN count(d) AS n", database_=store.database
    )
    return int(records[0]["n"])


def test_concurrent_load_one_record_each(
    logged: tuple[Engine, DecisionLog], clean_store: Store
) -> None:
    engine, log = logged
    threads, per_thread = 8, 60
    decided: list[str] = []
    lock = threading.Lock()

    def work(index: int) -> None:
        subject = "agent:a2" if index % 2 else "agent:a1"
        for n in range(per_thread):
            action = "read" if n % 3 else "write"
            made = engine.check(request(subject, "document:q3", action=action))
            with lock:
                decided.append(made.decision_id)

    workers = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    batch = engine.check_batch([request("agent:a2", "document:q4")] * 100)
    log.close()

    expected = threads * per_thread + len(batch)
    if engine.decision_file is None:
        assert count_decisions(clean_store) == expected
    else:
        lines = engine.decision_file.read_text(encoding="utf-8").splitlines()
        assert len(lines) == expected
    assert log.stats.written == expected
    assert log.stats.dropped == 0
    logged_ids: set[str] = set()
    token = None
    while True:
        page = engine.decisions(limit=1000, page_token=token)
        logged_ids.update(ids(page.items))
        token = page.next_page_token
        if token is None:
            break
    assert logged_ids == set(decided) | {d.decision_id for d in batch}
