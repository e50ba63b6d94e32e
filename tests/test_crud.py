"""CRUD of principals, resources, memberships, grants and delegation lists on Neo4j."""

from __future__ import annotations

import pytest
from delegraph.cypher.store import Store
from delegraph.engine.documents import parse_delegation
from delegraph.engine.errors import Conflict, InvalidRequest, NotFound
from delegraph.engine.model import Grant, Membership, Principal, Resource
from delegraph.engine.refs import Ref, parse_ref
from delegraph.engine.service import Engine


def ref(text: str) -> Ref:
    return parse_ref(text, "ref")


@pytest.fixture
def engine(clean_store: Store) -> Engine:
    return Engine(clean_store)


def test_principal_upsert_get(engine: Engine) -> None:
    engine.upsert_principal(Principal(ref("user:alice")))
    saved = engine.upsert_principal(
        Principal(ref("agent:bot"), owner=ref("user:alice"))
    )
    assert saved.consistency_token
    assert saved.item.owner == ref("user:alice")
    engine.upsert_principal(Principal(ref("group:ops")))
    moved = engine.upsert_principal(Principal(ref("agent:bot"), owner=ref("group:ops")))
    fetched = engine.get_principal(ref("agent:bot"), moved.consistency_token)
    assert fetched.owner == ref("group:ops")
    assert not fetched.disabled


def test_principal_upsert_keeps_disabled(engine: Engine) -> None:
    engine.upsert_principal(Principal(ref("user:alice")))
    engine.disable(ref("user:alice"), "admin")
    saved = engine.upsert_principal(Principal(ref("user:alice")))
    assert saved.item.disabled


def test_principal_owner_rules(engine: Engine) -> None:
    with pytest.raises(InvalidRequest) as no_owner:
        engine.upsert_principal(Principal(ref("agent:bot")))
    assert no_owner.value.field == "owner"
    with pytest.raises(InvalidRequest) as missing:
        engine.upsert_principal(Principal(ref("agent:bot"), owner=ref("user:ghost")))
    assert missing.value.value == "user:ghost"
    with pytest.raises(InvalidRequest) as user_owner:
        engine.upsert_principal(Principal(ref("user:x"), owner=ref("user:ghost")))
    assert user_owner.value.field == "owner"
    with pytest.raises(NotFound):
        engine.get_principal(ref("agent:bot"))


def test_principal_list_pages(engine: Engine) -> None:
    for name in ["u1", "u2", "u3", "u4", "u5"]:
        engine.upsert_principal(Principal(ref(f"user:{name}")))
    last = engine.upsert_principal(Principal(ref("group:g")))
    seen: list[str] = []
    token = None
    pages = 0
    while True:
        page = engine.list_principals(
            kind="user",
            limit=2,
            page_token=token,
            consistency_token=last.consistency_token,
        )
        seen += [str(p.ref) for p in page.items]
        pages += 1
        token = page.next_page_token
        if token is None:
            break
    assert seen == ["user:u1", "user:u2", "user:u3", "user:u4", "user:u5"]
    assert pages == 3
    everything = engine.list_principals()
    assert len(everything.items) == 6
    assert everything.next_page_token is None


def test_page_token_checked(engine: Engine) -> None:
    for name in ["u1", "u2"]:
        engine.upsert_principal(Principal(ref(f"user:{name}")))
    token = engine.list_principals(kind="user", limit=1).next_page_token
    assert token is not None
    with pytest.raises(InvalidRequest) as other_filter:
        engine.list_principals(kind="agent", page_token=token)
    assert other_filter.value.field == "page_token"
    with pytest.raises(InvalidRequest) as garbage:
        malformed = "not-a-token!"
        engine.list_principals(page_token=malformed)
    assert garbage.value.field == "page_token"
    with pytest.raises(InvalidRequest) as limit:
        engine.list_principals(limit=0)
    assert limit.value.field == "limit"


def setup_delegation(engine: Engine) -> None:
    engine.upsert_principal(Principal(ref("user:alice")))
    engine.upsert_principal(Principal(ref("agent:bot"), owner=ref("user:alice")))
    engine.upsert_resource(Resource(ref("document:doc")))
    engine.add_grant(Grant(ref("user:alice"), ref("document:doc"), ("read",)))
    engine.create_delegation(
        parse_delegation(
            {"id": "d1", "from": "user:alice", "to": "agent:bot", "actions": ["read"]}
        ),
        "admin",
    )


def test_principal_delete_blocked(engine: Engine) -> None:
    setup_delegation(engine)
    with pytest.raises(Conflict) as owner:
        engine.delete_principal(ref("user:alice"))
    assert "owns agent:bot" in owner.value.message
    engine.revoke("d1", "admin")
    with pytest.raises(Conflict) as revoked:
        engine.delete_principal(ref("agent:bot"))
    assert "1 revoked" in revoked.value.message
    deleted = engine.delete_principal(ref("agent:bot"), force=True)
    assert deleted.delegations_removed == 1
    assert deleted.consistency_token
    with pytest.raises(NotFound):
        engine.get_principal(ref("agent:bot"), deleted.consistency_token)
    with pytest.raises(NotFound):
        engine.delete_principal(ref("agent:bot"))


def test_principal_force_delete_orphans(engine: Engine) -> None:
    setup_delegation(engine)
    deleted = engine.delete_principal(ref("user:alice"), force=True)
    assert deleted.orphaned == ("agent:bot",)
    assert engine.get_principal(ref("agent:bot")).owner is None


def test_resource_crud(engine: Engine) -> None:
    engine.upsert_resource(Resource(ref("folder:f")))
    saved = engine.upsert_resource(Resource(ref("document:d"), ref("folder:f"), 3))
    assert saved.item.parent == ref("folder:f")
    assert saved.item.sensitivity == 3
    assert (
        engine.get_resource(ref("document:d"), saved.consistency_token).sensitivity == 3
    )
    moved = engine.upsert_resource(Resource(ref("document:d")))
    assert moved.item.parent is None
    listed = engine.list_resources(resource_type="folder")
    assert [str(r.ref) for r in listed.items] == ["folder:f"]
    engine.upsert_resource(Resource(ref("document:d"), ref("folder:f")))
    with pytest.raises(Conflict):
        engine.delete_resource(ref("folder:f"))
    engine.delete_resource(ref("document:d"))
    engine.delete_resource(ref("folder:f"))
    with pytest.raises(NotFound):
        engine.get_resource(ref("folder:f"))


def test_resource_rules(engine: Engine) -> None:
    engine.upsert_resource(Resource(ref("folder:a")))
    engine.upsert_resource(Resource(ref("folder:b"), ref("folder:a")))
    with pytest.raises(InvalidRequest) as cycle:
        engine.upsert_resource(Resource(ref("folder:a"), ref("folder:b")))
    assert cycle.value.field == "parent"
    assert "cycle" in cycle.value.message
    with pytest.raises(InvalidRequest) as missing:
        engine.upsert_resource(Resource(ref("folder:c"), ref("folder:ghost")))
    assert missing.value.value == "folder:ghost"
    with pytest.raises(InvalidRequest) as sensitivity:
        engine.upsert_resource(Resource(ref("folder:c"), None, 9))
    assert sensitivity.value.field == "sensitivity"
    with pytest.raises(InvalidRequest) as wildcard:
        engine.upsert_resource(Resource(ref("folder:*"), ref("folder:a")))
    assert wildcard.value.field == "parent"


def test_memberships(engine: Engine) -> None:
    engine.upsert_principal(Principal(ref("user:alice")))
    engine.upsert_principal(Principal(ref("group:a")))
    engine.upsert_principal(Principal(ref("group:b")))
    engine.add_membership(Membership(ref("user:alice"), ref("group:a")))
    saved = engine.add_membership(Membership(ref("group:a"), ref("group:b")))
    listed = engine.list_memberships(consistency_token=saved.consistency_token)
    assert [(str(m.member), str(m.group)) for m in listed.items] == [
        ("group:a", "group:b"),
        ("user:alice", "group:a"),
    ]
    paged = engine.list_memberships(limit=1)
    assert paged.next_page_token is not None
    rest = engine.list_memberships(limit=1, page_token=paged.next_page_token)
    assert [str(m.member) for m in rest.items] == ["user:alice"]
    with pytest.raises(InvalidRequest) as cycle:
        engine.add_membership(Membership(ref("group:b"), ref("group:a")))
    assert "cycle" in cycle.value.message
    with pytest.raises(InvalidRequest) as missing:
        engine.add_membership(Membership(ref("user:ghost"), ref("group:a")))
    assert missing.value.field == "member"
    engine.remove_membership(Membership(ref("user:alice"), ref("group:a")))
    with pytest.raises(NotFound):
        engine.remove_membership(Membership(ref("user:alice"), ref("group:a")))
    only = engine.list_memberships(member=ref("group:a"))
    assert len(only.items) == 1


def test_grants_list(engine: Engine) -> None:
    setup_delegation(engine)
    engine.upsert_resource(Resource(ref("document:other")))
    engine.add_grant(Grant(ref("user:alice"), ref("document:other"), ("write",)))
    by_principal = engine.list_grants(principal=ref("user:alice"))
    assert [str(g.resource) for g in by_principal.items] == [
        "document:doc",
        "document:other",
    ]
    by_resource = engine.list_grants(resource=ref("document:other"))
    assert [g.actions for g in by_resource.items] == [("write",)]
    first = engine.list_grants(limit=1)
    second = engine.list_grants(limit=1, page_token=first.next_page_token)
    assert [str(g.resource) for g in second.items] == ["document:other"]
    assert second.next_page_token is None


def test_delegations_list(engine: Engine) -> None:
    setup_delegation(engine)
    engine.upsert_principal(Principal(ref("agent:two"), owner=ref("user:alice")))
    engine.create_delegation(
        parse_delegation(
            {"id": "d2", "from": "user:alice", "to": "agent:two", "actions": ["read"]}
        ),
        "admin",
    )
    revoked = engine.revoke("d1", "admin")
    live = engine.list_delegations(
        source=ref("user:alice"), consistency_token=revoked.consistency_token
    )
    assert [d.id for d in live.items] == ["d2"]
    everything = engine.list_delegations(include_revoked=True)
    assert [d.id for d in everything.items] == ["d1", "d2"]
    to_bot = engine.list_delegations(target=ref("agent:bot"), include_revoked=True)
    assert [d.id for d in to_bot.items] == ["d1"]
    with pytest.raises(NotFound):
        engine.get_delegation("missing")


@pytest.mark.parametrize(
    "ident", ["o'brien", "back`tick`", "{x}) DETACH DELETE n //", "RETURN 1"]
)
def test_hostile_ids_crud(engine: Engine, ident: str) -> None:
    engine.upsert_principal(Principal(ref(f"user:{ident}")))
    engine.upsert_principal(Principal(ref(f"group:{ident}")))
    engine.add_membership(Membership(ref(f"user:{ident}"), ref(f"group:{ident}")))
    engine.upsert_resource(Resource(ref(f"document:{ident}")))
    assert str(engine.get_principal(ref(f"user:{ident}")).ref) == f"user:{ident}"
    assert [
        str(m.group) for m in engine.list_memberships(member=ref(f"user:{ident}")).items
    ] == [f"group:{ident}"]
    engine.delete_principal(ref(f"user:{ident}"))
    assert len(engine.list_principals().items) == 1
