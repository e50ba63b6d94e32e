"""accountability, reach and who_can on real graphs, each compared with check().

The agreement test runs check() on every (principal, action, resource) of a
graph and compares the allows with what reach and who_can list.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from delegraph.cypher.store import Store
from delegraph.engine.documents import parse_document
from delegraph.engine.errors import InvalidRequest, NotFound
from delegraph.engine.model import CheckRequest
from delegraph.engine.refs import parse_ref
from delegraph.engine.service import Engine

NOW = datetime(2030, 6, 1, tzinfo=UTC)

# alice (via group finance) has read/write on folder:finance; an agent
# chain alice -> planner -> worker -> scraper narrows actions and scope; bob
# has every todo through a wildcard and hands it to a helper; carol is in
# a nested group with a grant that a disabled group cuts; a conditional
# delegation and an expired one exercise the remaining rules.
GRAPH: dict[str, Any] = {
    "users": ["alice", "bob", "carol", "dave"],
    "groups": ["finance", "staff", "ops", "sealed"],
    "agents": [
        {"id": "planner", "owner": "user:alice"},
        {"id": "worker", "owner": "group:finance"},
        {"id": "scraper", "owner": "user:alice"},
        {"id": "helper", "owner": "user:bob"},
        {"id": "stale", "owner": "user:bob"},
        {"id": "gated", "owner": "user:carol"},
    ],
    "workloads": [{"id": "payroll", "owner": "group:finance"}],
    "resources": [
        {"ref": "folder:finance"},
        {"ref": "folder:reports", "parent": "folder:finance"},
        {"ref": "document:q3", "parent": "folder:reports", "sensitivity": 3},
        {"ref": "document:q4", "parent": "folder:reports", "sensitivity": 1},
        {"ref": "sheet:budget", "parent": "folder:finance"},
        {"ref": "todo:*"},
        {"ref": "todo:groceries"},
        {"ref": "todo:taxes"},
        {"ref": "folder:ops"},
        {"ref": "document:runbook", "parent": "folder:ops"},
    ],
    "memberships": [
        {"member": "user:alice", "group": "group:finance"},
        {"member": "group:finance", "group": "group:staff"},
        {"member": "user:carol", "group": "group:ops"},
        {"member": "user:dave", "group": "group:sealed"},
        {"member": "group:sealed", "group": "group:ops"},
    ],
    "grants": [
        {
            "principal": "group:finance",
            "resource": "folder:finance",
            "actions": ["read", "write"],
        },
        {"principal": "group:staff", "resource": "sheet:budget", "actions": ["share"]},
        {"principal": "user:bob", "resource": "todo:*", "actions": ["read", "close"]},
        {"principal": "group:ops", "resource": "folder:ops", "actions": ["read"]},
    ],
    "delegations": [
        {
            "id": "d-planner",
            "from": "user:alice",
            "to": "agent:planner",
            "actions": ["read", "write"],
            "max_depth": 2,
        },
        {
            "id": "d-worker",
            "from": "agent:planner",
            "to": "agent:worker",
            "actions": ["read"],
            "resources": ["folder:reports"],
            "max_sensitivity": 2,
            "max_depth": 1,
        },
        {
            "id": "d-scraper",
            "from": "agent:worker",
            "to": "agent:scraper",
            "actions": ["read"],
            "resource_types": ["document"],
        },
        {
            "id": "d-payroll",
            "from": "user:alice",
            "to": "workload:payroll",
            "actions": ["write", "share"],
        },
        {
            "id": "d-helper",
            "from": "user:bob",
            "to": "agent:helper",
            "actions": ["read"],
        },
        {
            "id": "d-stale",
            "from": "user:bob",
            "to": "agent:stale",
            "actions": ["read"],
            "expires_at": "2029-01-01T00:00:00Z",
        },
        {
            "id": "d-gated",
            "from": "user:carol",
            "to": "agent:gated",
            "actions": ["read"],
            "condition": 'context.purpose == "audit"',
        },
    ],
}


@pytest.fixture
def engine(clean_store: Store) -> Engine:
    engine = Engine(clean_store, clock=lambda: NOW)
    engine.import_document(parse_document(GRAPH))
    return engine


def _ref(value: str) -> Any:
    return parse_ref(value, "ref")


def _all_reach(engine: Engine, ref: str) -> dict[tuple[str, str], Any]:
    entries: dict[tuple[str, str], Any] = {}
    token = None
    while True:
        page = engine.reach(_ref(ref), limit=3, page_token=token)
        for entry in page.items:
            key = (entry.resource, entry.action)
            assert key not in entries, f"{key} listed twice"
            entries[key] = entry
        if page.next_page_token is None:
            return entries
        token = page.next_page_token


def _all_access(engine: Engine, resource: str) -> dict[tuple[str, str], Any]:
    entries: dict[tuple[str, str], Any] = {}
    token = None
    while True:
        page = engine.who_can(_ref(resource), limit=2, page_token=token)
        for entry in page.items:
            entries[(entry.principal, entry.action)] = entry
        if page.next_page_token is None:
            return entries
        token = page.next_page_token


def test_reach_narrowed_by_every_edge(engine: Engine) -> None:
    entries = _all_reach(engine, "agent:scraper")
    # Only documents under folder:reports, read only, sensitivity at most 2.
    assert sorted(entries) == [("document:q4", "read")]
    chain = entries[("document:q4", "read")].chain
    assert chain.principals == (
        "user:alice",
        "agent:planner",
        "agent:worker",
        "agent:scraper",
    )
    assert chain.delegations == ("d-planner", "d-worker", "d-scraper")
    assert chain.grant_principal == "group:finance"
    assert chain.grant_resource == "folder:finance"


def test_reach_expands_wildcard_grant(engine: Engine) -> None:
    entries = _all_reach(engine, "agent:helper")
    assert sorted(entries) == [
        ("todo:*", "read"),
        ("todo:groceries", "read"),
        ("todo:taxes", "read"),
    ]


def test_reach_marks_conditional_entries(engine: Engine) -> None:
    entries = _all_reach(engine, "agent:gated")
    assert set(entries) == {("folder:ops", "read"), ("document:runbook", "read")}
    assert all(entry.conditional for entry in entries.values())


def test_reach_of_an_expired_delegate_is_empty(engine: Engine) -> None:
    assert _all_reach(engine, "agent:stale") == {}


def test_who_can_lists_members_and_delegates(engine: Engine) -> None:
    entries = _all_access(engine, "document:q4")
    assert sorted(entries) == [
        ("agent:planner", "read"),
        ("agent:planner", "write"),
        ("agent:scraper", "read"),
        ("agent:worker", "read"),
        ("group:finance", "read"),
        ("group:finance", "write"),
        ("user:alice", "read"),
        ("user:alice", "write"),
        ("workload:payroll", "write"),
    ]
    only_write = engine.who_can(_ref("document:q4"), action="write").items
    assert sorted(e.principal for e in only_write) == [
        "agent:planner",
        "group:finance",
        "user:alice",
        "workload:payroll",
    ]


def test_who_can_skips_disabled_group(
    clean_store: Store,
) -> None:
    graph = dict(
        GRAPH, groups=["finance", "staff", "ops", {"id": "sealed", "disabled": True}]
    )
    engine = Engine(clean_store, clock=lambda: NOW)
    engine.import_document(parse_document(graph))
    entries = _all_access(engine, "document:runbook")
    assert ("user:carol", "read") in entries
    assert ("user:dave", "read") not in entries


def test_accountability_humans_and_owners(engine: Engine) -> None:
    result = engine.accountability(_ref("agent:scraper"))
    assert [c.principals for c in result.chains] == [
        ("user:alice", "agent:planner", "agent:worker", "agent:scraper")
    ]
    assert [c.delegations for c in result.chains] == [
        ("d-planner", "d-worker", "d-scraper")
    ]
    owners = {(o.principal, o.owner, o.humans) for o in result.owners}
    assert ("agent:worker", "group:finance", ("user:alice",)) in owners
    assert ("agent:scraper", "user:alice", ("user:alice",)) in owners
    assert result.humans == ("user:alice",)


def test_accountability_after_revoke(engine: Engine) -> None:
    engine.revoke("d-planner", "test", "compromised")
    result = engine.accountability(_ref("agent:scraper"))
    # No live chain reaches a human, but the agents still linked below the
    # cut have owners who are accountable for them.
    assert result.chains == ()
    assert {o.principal for o in result.owners} == {
        "agent:scraper",
        "agent:worker",
        "agent:planner",
    }
    assert result.humans == ("user:alice",)


def test_unknown_refs_are_not_found(engine: Engine) -> None:
    with pytest.raises(NotFound, match="agent:ghost"):
        engine.accountability(_ref("agent:ghost"))
    with pytest.raises(NotFound, match="agent:ghost"):
        engine.reach(_ref("agent:ghost"))
    with pytest.raises(NotFound, match="document:ghost"):
        engine.who_can(_ref("document:ghost"))


def test_bad_limit_and_page_token(engine: Engine) -> None:
    with pytest.raises(InvalidRequest) as error:
        engine.reach(_ref("agent:scraper"), limit=0)
    assert error.value.field == "limit"
    with pytest.raises(InvalidRequest) as error:
        engine.reach(_ref("agent:scraper"), page_token="not-a-token")  # noqa: S106
    assert error.value.field == "page_token"
    first = engine.reach(_ref("agent:planner"), limit=1)
    assert first.next_page_token is not None
    with pytest.raises(InvalidRequest):
        engine.reach(_ref("agent:helper"), page_token=first.next_page_token)


def test_lookups_agree_with_check(engine: Engine) -> None:
    engine.revoke("d-helper", "test")
    principals = [
        "user:alice",
        "user:bob",
        "user:carol",
        "user:dave",
        "group:finance",
        "group:staff",
        "group:ops",
        "group:sealed",
        "agent:planner",
        "agent:worker",
        "agent:scraper",
        "agent:helper",
        "agent:stale",
        "agent:gated",
        "workload:payroll",
    ]
    resources = [r["ref"] for r in GRAPH["resources"]] + ["todo:unstored"]
    actions = ["read", "write", "share", "close"]
    requests = [
        CheckRequest(_ref(p), a, _ref(r))
        for p in principals
        for r in resources
        for a in actions
    ]
    decisions = engine.check_batch(requests)
    allowed = {
        (str(q.subject), q.action, str(q.resource))
        for q, d in zip(requests, decisions, strict=True)
        if d.allowed
    }
    assert allowed, "the graph should allow something"

    reached = set()
    for principal in principals:
        for (resource, action), entry in _all_reach(engine, principal).items():
            reached.add((principal, action, resource))
            if not entry.conditional:
                assert (principal, action, resource) in allowed
    accessed = set()
    for resource in resources[:-1]:
        for (principal, action), entry in _all_access(engine, resource).items():
            accessed.add((principal, action, resource))
            if not entry.conditional:
                assert (principal, action, resource) in allowed
    stored = {t for t in allowed if t[2] != "todo:unstored"}
    assert stored <= reached
    assert stored <= accessed
