"""Ids that look like Cypher, quoting or markup are stored and returned as plain data.

Each hostile id names a user, an agent, a group, a resource and a delegation.
The graph is imported, read back, changed through CRUD, delegated, checked
and explained. Export must return exactly what was written, and the node and
relationship counts may change only by what each step wrote: a bystander
graph must stay intact. Ids that the rules forbid (empty, control
characters, surrounding whitespace) are rejected naming the field.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from delegraph.cypher.store import Store
from delegraph.engine.documents import parse_delegation, parse_document
from delegraph.engine.errors import InvalidRequest
from delegraph.engine.model import (
    CheckRequest,
    Delegation,
    Document,
    Membership,
    Principal,
    Resource,
)
from delegraph.engine.refs import MAX_ID_LENGTH, Ref, parse_ref
from delegraph.engine.service import Engine

NOW = datetime(2030, 1, 1, tzinfo=UTC)

HOSTILE_IDS = {
    "single-quote": "o'brien",
    "double-quote": 'say "hi"',
    "backtick": "back`tick`",
    "braces": "{ref: 'x'}",
    "detach-delete": "}) DETACH DELETE n //",
    "match-delete": "x'}) MATCH (n) DETACH DELETE n RETURN 1 //",
    "keyword": "MATCH",
    "parameter": "$subject",
    "backslash": "back\\slash\\",
    "unicode": "ünïcødé-名前-🙂",
    "colons": "a:b::c:",
    "star-suffix": "*x",
    "long": "L" * MAX_ID_LENGTH,
    "long-unicode": "名" * MAX_ID_LENGTH,
}

# A bystander graph that no step may change.
BYSTANDER: dict[str, Any] = {
    "users": ["keep"],
    "agents": [{"id": "keep-bot", "owner": "user:keep"}],
    "resources": [{"ref": "doc:keep"}],
    "grants": [{"principal": "user:keep", "resource": "doc:keep", "actions": ["read"]}],
    "delegations": [
        {
            "id": "keep-d",
            "from": "user:keep",
            "to": "agent:keep-bot",
            "actions": ["read"],
        }
    ],
}


def hostile_graph(ident: str) -> dict[str, Any]:
    """Return a graph whose every id is ``ident``: two nodes of each kind never clash."""
    return {
        "users": [ident],
        "groups": [ident],
        "agents": [{"id": ident, "owner": f"user:{ident}"}],
        "resources": [
            {"ref": f"folder:{ident}"},
            {"ref": f"doc:{ident}", "parent": f"folder:{ident}", "sensitivity": 1},
        ],
        "memberships": [{"member": f"user:{ident}", "group": f"group:{ident}"}],
        "grants": [
            {
                "principal": f"group:{ident}",
                "resource": f"folder:{ident}",
                "actions": ["read", ident[:128]],
            }
        ],
        "delegations": [
            {
                "id": ident,
                "from": f"user:{ident}",
                "to": f"agent:{ident}",
                "actions": ["read"],
                "resources": [f"folder:{ident}"],
            }
        ],
    }


def counts(store: Store) -> tuple[int, int]:
    """Return the (node, relationship) counts of the graph, the schema marker included."""
    with store.driver.session(database=store.database) as session:
        record = session.run(
            "MATCH (n) WITH count(n) AS nodes "
            "OPTIONAL MATCH ()-[r]->() RETURN nodes, count(r) AS relationships"
        ).single()
    assert record is not None
    return int(record["nodes"]), int(record["relationships"])


def bystander_intact(engine: Engine) -> None:
    exported = engine.export_document()
    assert Principal(Ref("user", "keep")) in exported.principals
    assert Resource(Ref("doc", "keep")) in exported.resources
    bystander_edges = [d for d in exported.delegations if d.id == "keep-d"]
    assert len(bystander_edges) == 1
    assert bystander_edges[0].revoked_at is None
    request = CheckRequest(Ref("agent", "keep-bot"), "read", Ref("doc", "keep"))
    assert engine.check(request).allowed


def only(document: Document, ident: str) -> Document:
    """Return the part of ``document`` that names ``ident``."""

    def named(ref: Ref | None) -> bool:
        return ref is not None and ref.id == ident

    return Document(
        principals=tuple(p for p in document.principals if named(p.ref)),
        resources=tuple(r for r in document.resources if named(r.ref)),
        memberships=tuple(m for m in document.memberships if named(m.member)),
        grants=tuple(g for g in document.grants if named(g.principal)),
        delegations=tuple(d for d in document.delegations if d.id == ident),
    )


def bare(delegation: Delegation) -> Delegation:
    """Return the delegation without the fields that the import fills in."""
    return Delegation(
        id=delegation.id,
        source=delegation.source,
        target=delegation.target,
        actions=delegation.actions,
        resources=delegation.resources,
        resource_types=delegation.resource_types,
        max_sensitivity=delegation.max_sensitivity,
        max_depth=delegation.max_depth,
        not_before=delegation.not_before,
        expires_at=delegation.expires_at,
        condition=delegation.condition,
    )


def imported_delta(clean_store: Store, ident: str) -> tuple[int, int]:
    """Return how many nodes and relationships importing the hostile graph adds."""
    engine = Engine(clean_store, clock=lambda: NOW)
    engine.import_document(parse_document(BYSTANDER))
    before = counts(clean_store)
    engine.import_document(parse_document(hostile_graph(ident)))
    after = counts(clean_store)
    return after[0] - before[0], after[1] - before[1]


@pytest.fixture(scope="module")
def expected_delta(store: Store) -> tuple[int, int]:
    """The node and relationship counts that a harmless id adds with the same graph."""
    from conftest import wipe

    wipe(store)
    return imported_delta(store, "plain")


@pytest.mark.parametrize("ident", HOSTILE_IDS.values(), ids=HOSTILE_IDS.keys())
def test_hostile_id_import_round_trip(
    clean_store: Store, ident: str, expected_delta: tuple[int, int]
) -> None:
    delta = imported_delta(clean_store, ident)
    assert delta == expected_delta

    engine = Engine(clean_store, clock=lambda: NOW)
    written = parse_document(hostile_graph(ident))
    exported = only(engine.export_document(), ident)
    assert set(exported.principals) == set(written.principals)
    assert set(exported.resources) == set(written.resources)
    assert set(exported.memberships) == set(written.memberships)
    assert set(exported.grants) == set(written.grants)
    assert [bare(d) for d in exported.delegations] == list(written.delegations)
    bystander_intact(engine)


@pytest.mark.parametrize("ident", HOSTILE_IDS.values(), ids=HOSTILE_IDS.keys())
def test_hostile_id_check_and_explain(clean_store: Store, ident: str) -> None:
    engine = Engine(clean_store, clock=lambda: NOW)
    engine.import_document(parse_document(BYSTANDER))
    engine.import_document(parse_document(hostile_graph(ident)))

    allowed = CheckRequest(Ref("agent", ident), "read", Ref("doc", ident))
    decision = engine.check(allowed)
    assert decision.allowed, decision.reason
    assert decision.chain is not None
    assert decision.chain.principals == (f"user:{ident}", f"agent:{ident}")
    assert decision.chain.delegations == (ident,)
    assert decision.chain.grant_principal == f"group:{ident}"
    assert decision.chain.grant_resource == f"folder:{ident}"
    assert engine.check_batch([allowed])[0].allowed

    # The user has the action named after the id, but the delegation lacks it.
    action = ident[:128]
    assert engine.check(
        CheckRequest(Ref("user", ident), action, Ref("doc", ident))
    ).allowed
    denied = CheckRequest(Ref("agent", ident), action, Ref("doc", ident))
    assert not engine.check(denied).allowed

    explanation = engine.explain(denied)
    assert explanation.code == "action_missing"
    assert repr(ident) in explanation.reason
    assert explanation.chains[0].principals == (f"user:{ident}", f"agent:{ident}")
    assert engine.explain(allowed).code == "allowed"
    bystander_intact(engine)


@pytest.mark.parametrize("ident", HOSTILE_IDS.values(), ids=HOSTILE_IDS.keys())
def test_hostile_id_crud_and_delegation(clean_store: Store, ident: str) -> None:
    engine = Engine(clean_store, clock=lambda: NOW)
    engine.import_document(parse_document(BYSTANDER))
    baseline = counts(clean_store)

    user = Ref("user", ident)
    workload = Ref("workload", ident)
    group = Ref("group", ident)
    resource = Ref("repo", ident)
    engine.upsert_principal(Principal(user))
    engine.upsert_principal(Principal(group))
    engine.upsert_principal(Principal(workload, owner=user))
    engine.upsert_resource(Resource(resource, sensitivity=2))
    engine.add_membership(Membership(user, group))
    nodes, relationships = counts(clean_store)
    assert nodes == baseline[0] + 4
    assert relationships == baseline[1] + 2  # OWNED_BY and MEMBER_OF

    assert engine.get_principal(workload) == Principal(workload, owner=user)
    assert engine.get_resource(resource) == Resource(resource, sensitivity=2)
    assert user in {p.ref for p in engine.list_principals(kind="user").items}
    memberships = engine.list_memberships(member=user).items
    assert memberships == (Membership(user, group),)

    from delegraph.engine.model import Grant

    engine.add_grant(Grant(group, resource, ("read",)))
    assert [g.principal for g in engine.list_grants(resource=resource).items] == [group]
    spec = {"id": ident, "from": str(user), "to": str(workload), "actions": ["read"]}
    engine.create_delegation(parse_delegation(spec), created_by=ident)
    assert engine.get_delegation(ident).created_by == ident
    assert counts(clean_store) == (nodes, relationships + 2)
    request = CheckRequest(workload, "read", resource)
    assert engine.check(request).allowed

    revocation = engine.revoke(ident, revoked_by=ident, reason=ident)
    assert revocation is not None
    assert not engine.check(request).allowed
    explanation = engine.explain(request)
    assert explanation.code == "revoked"
    assert ident in explanation.reason

    engine.delete_principal(workload, force=True)
    engine.delete_grant(group, resource)
    engine.remove_membership(Membership(user, group))
    engine.delete_principal(group)
    engine.delete_principal(user)
    engine.delete_resource(resource)
    assert counts(clean_store) == baseline
    bystander_intact(engine)


REJECTED_IDS = {
    "empty": "",
    "leading-space": " alice",
    "trailing-space": "alice ",
    "trailing-newline": "alice\n",
    "nul": "ali\x00ce",
    "escape": "ali\x1bce",
    "zero-width": "ali\u200bce",
    "line-separator": "ali\u2028ce",
    "too-long": "x" * (MAX_ID_LENGTH + 1),
}


@pytest.mark.parametrize("ident", REJECTED_IDS.values(), ids=REJECTED_IDS.keys())
def test_invalid_id_rejected_naming_field(ident: str) -> None:
    with pytest.raises(InvalidRequest) as ref_error:
        parse_ref(f"user:{ident}", "subject")
    assert ref_error.value.field == "subject"
    assert ref_error.value.value == f"user:{ident}"

    with pytest.raises(InvalidRequest) as user_error:
        parse_document({"users": ["bob", ident]})
    assert user_error.value.field == "users[1]"

    with pytest.raises(InvalidRequest) as agent_error:
        parse_document(
            {"users": ["bob"], "agents": [{"id": ident, "owner": "user:bob"}]}
        )
    assert agent_error.value.field == "agents[0].id"

    with pytest.raises(InvalidRequest) as resource_error:
        parse_document({"resources": [{"ref": "doc:ok"}, {"ref": f"doc:{ident}"}]})
    assert resource_error.value.field == "resources[1].ref"

    spec = {"id": ident, "from": "user:bob", "to": "agent:bot", "actions": ["read"]}
    with pytest.raises(InvalidRequest) as delegation_error:
        parse_delegation(spec)
    assert delegation_error.value.field == "delegation.id"

    owner_spec = {
        "id": "d",
        "from": f"user:{ident}",
        "to": "agent:bot",
        "actions": ["read"],
    }
    with pytest.raises(InvalidRequest) as source_error:
        parse_delegation(owner_spec)
    assert source_error.value.field == "delegation.from"


def test_ids_differing_in_case_or_normalization(clean_store: Store) -> None:
    # "é" composed (U+00E9) and decomposed (e + U+0301) are different strings,
    # as are "Alice" and "alice": each is its own principal.
    variants = ["alice", "Alice", "ALICE", "caf\u00e9", "cafe\u0301"]
    graph = {
        "users": variants,
        "resources": [{"ref": "doc:shared"}],
        "grants": [
            {"principal": "user:Alice", "resource": "doc:shared", "actions": ["read"]},
            {
                "principal": "user:caf\u00e9",
                "resource": "doc:shared",
                "actions": ["read"],
            },
        ],
    }
    engine = Engine(clean_store, clock=lambda: NOW)
    before = counts(clean_store)
    engine.import_document(parse_document(graph))
    nodes, _ = counts(clean_store)
    assert nodes == before[0] + len(variants) + 1

    allowed = {
        ident
        for ident in variants
        if engine.check(
            CheckRequest(Ref("user", ident), "read", Ref("doc", "shared"))
        ).allowed
    }
    assert allowed == {"Alice", "caf\u00e9"}
    exported = {p.ref.id for p in engine.export_document().principals}
    assert exported == set(variants)
