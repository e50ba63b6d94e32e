"""trace(): an agent's logged decisions, their authority, and a re-check now."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from delegraph.cypher.store import Store
from delegraph.engine.audit import DecisionLog, Neo4jSink
from delegraph.engine.documents import parse_document
from delegraph.engine.errors import InvalidRequest
from delegraph.engine.graph import import_document
from delegraph.engine.model import CheckRequest
from delegraph.engine.refs import parse_ref
from delegraph.engine.service import Engine

START = datetime(2031, 3, 1, 9, 0, tzinfo=UTC)

GRAPH = {
    "users": ["alice", "bob"],
    "agents": [
        {"id": "a1", "owner": "user:alice"},
        {"id": "a2", "owner": "user:alice"},
    ],
    "resources": [{"ref": "document:q3"}, {"ref": "document:q4"}],
    "grants": [
        {"principal": "user:alice", "resource": "document:q3", "actions": ["read"]},
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
        {
            "id": "d3",
            "from": "user:bob",
            "to": "agent:a1",
            "actions": ["read"],
            "condition": 'context.purpose == "audit"',
        },
    ],
}


class Clock:
    """A clock that moves one minute per reading, so each decision has its own time."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        self.now += timedelta(minutes=1)
        return self.now


def ask(
    engine: Engine, subject: str, resource: str, action: str = "read", **extra: object
) -> str:
    on_behalf_of = extra.pop("on_behalf_of", None)
    decision = engine.check(
        CheckRequest(
            subject=parse_ref(subject, "subject"),
            action=action,
            resource=parse_ref(resource, "resource"),
            on_behalf_of=None
            if on_behalf_of is None
            else parse_ref(str(on_behalf_of), "on_behalf_of"),
            **extra,  # type: ignore[arg-type]
        )
    )
    return decision.decision_id


@pytest.fixture
def history(clean_store: Store) -> Iterator[tuple[Engine, DecisionLog, list[str]]]:
    import_document(clean_store, parse_document(GRAPH))
    log = DecisionLog(Neo4jSink(clean_store))
    engine = Engine(clean_store, clock=Clock(), on_decision=log.record)
    made = [
        ask(engine, "agent:a2", "document:q3"),
        ask(engine, "agent:a2", "document:q3", action="write"),
        ask(
            engine,
            "agent:a1",
            "document:q4",
            on_behalf_of="user:bob",
            context={"purpose": "audit"},
        ),
        ask(engine, "agent:a1", "document:q3"),
    ]
    assert log.flush(10)
    yield engine, log, made
    log.close()


def test_trace_shows_chain_and_revoked_now(
    history: tuple[Engine, DecisionLog, list[str]],
) -> None:
    engine, _, made = history
    engine.revoke("d2", "user:security", "incident")
    trace = engine.trace(parse_ref("agent:a2", "agent"))

    assert [e.decision.id for e in trace.entries] == made[:2]
    read, write = trace.entries
    assert read.decision.principals == ("user:alice", "agent:a1", "agent:a2")
    assert read.decision.delegations == ("d1", "d2")
    assert read.status == "denied_now"
    assert not read.allowed_now
    assert write.status == "still_denied"
    assert trace.authorities == {"user:alice": 1}
    assert [e.decision.id for e in trace.denied_now] == [made[0]]
    assert not trace.truncated
    body = trace.as_dict()
    assert body["decisions"][0]["chain"]["delegations"] == ["d1", "d2"]
    assert body["denied_now"] == [made[0]]


def test_trace_condition_needs_context(
    history: tuple[Engine, DecisionLog, list[str]],
) -> None:
    engine, _, made = history
    trace = engine.trace(parse_ref("agent:a1", "agent"))
    by_id = {e.decision.id: e for e in trace.entries}
    assert by_id[made[2]].decision.allowed
    assert by_id[made[2]].status == "needs_context"
    assert by_id[made[3]].status == "still_allowed"
    assert by_id[made[3]].chain_now is not None
    assert trace.authorities == {"user:alice": 1, "user:bob": 1}


def test_trace_window_and_limit(
    history: tuple[Engine, DecisionLog, list[str]],
) -> None:
    engine, _, made = history
    agent = parse_ref("agent:a2", "agent")
    second = START + timedelta(minutes=2)
    window = engine.trace(agent, since=second, until=second + timedelta(minutes=1))
    assert [e.decision.id for e in window.entries] == [made[1]]

    newest = engine.trace(agent, limit=1)
    assert [e.decision.id for e in newest.entries] == [made[1]]
    assert newest.truncated
    with pytest.raises(InvalidRequest) as error:
        engine.trace(agent, limit=0)
    assert error.value.field == "limit"


def test_trace_rechecks_are_not_logged(
    history: tuple[Engine, DecisionLog, list[str]],
) -> None:
    engine, log, made = history
    engine.trace(parse_ref("agent:a2", "agent"))
    assert log.flush(10)
    assert log.stats.received == len(made)
