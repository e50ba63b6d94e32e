"""Revoke, impact, disable and enable against Neo4j: chains cut and who keeps access."""

from __future__ import annotations

from typing import Any

import pytest
from delegraph.cypher.store import Store
from delegraph.engine.documents import parse_document
from delegraph.engine.errors import InvalidRequest, NotFound
from delegraph.engine.graph import import_document
from delegraph.engine.refs import parse_ref
from delegraph.engine.service import Engine, EngineConfig


def edge(
    ident: str, source: str, target: str, depth: int = 0, **extra: Any
) -> dict[str, Any]:
    return {
        "id": ident,
        "from": source,
        "to": target,
        "actions": ["read"],
        "max_depth": depth,
        **extra,
    }


def load(
    store: Store, agents: list[str], delegations: list[dict[str, Any]], **more: Any
) -> Engine:
    document = {
        "users": ["alice", "bob"],
        "agents": [{"id": a, "owner": "user:alice"} for a in agents],
        "resources": [{"ref": "document:doc"}],
        "grants": [
            {"principal": "user:alice", "resource": "document:doc", "actions": ["read"]}
        ],
        "delegations": delegations,
        **more,
    }
    import_document(store, parse_document(document))
    return Engine(store)


def chains(impact: Any) -> set[tuple[tuple[str, ...], tuple[str, ...]]]:
    return {(c.principals, c.delegations) for c in impact.chains}


def test_revoke_chain_cuts_downstream(clean_store: Store) -> None:
    engine = load(
        clean_store,
        ["a1", "a2", "a3"],
        [
            edge("d1", "user:alice", "agent:a1", 2),
            edge("d2", "agent:a1", "agent:a2", 1),
            edge("d3", "agent:a2", "agent:a3"),
        ],
    )
    result = engine.revoke("d1", "admin", "leaver")
    assert not result.already_revoked
    assert result.delegation.revoked_by == "admin"
    assert result.delegation.revoke_reason == "leaver"
    assert result.delegation.revoked_at is not None
    assert result.consistency_token
    assert chains(result.impact) == {
        (("user:alice", "agent:a1"), ("d1",)),
        (("user:alice", "agent:a1", "agent:a2"), ("d1", "d2")),
        (("user:alice", "agent:a1", "agent:a2", "agent:a3"), ("d1", "d2", "d3")),
    }
    assert result.impact.lost_access == ("agent:a1", "agent:a2", "agent:a3")
    stored = engine.get_delegation("d1", result.consistency_token)
    assert stored.revoked_at == result.delegation.revoked_at


def test_revoke_twice_is_idempotent(clean_store: Store) -> None:
    engine = load(clean_store, ["a1"], [edge("d1", "user:alice", "agent:a1")])
    first = engine.revoke("d1", "admin", "first")
    second = engine.revoke("d1", "other", "second")
    assert second.already_revoked
    assert second.delegation == first.delegation
    assert second.delegation.revoked_by == "admin"
    assert second.impact.chains == ()
    assert second.consistency_token


def test_revoke_unknown_not_found(clean_store: Store) -> None:
    engine = load(clean_store, [], [])
    with pytest.raises(NotFound) as caught:
        engine.revoke("nope", "admin")
    assert caught.value.field == "id"
    assert caught.value.value == "nope"
    with pytest.raises(NotFound):
        engine.impact("nope")


def test_diamond_keeps_other_path(clean_store: Store) -> None:
    # alice -> top -> left -> bottom and top -> right -> bottom.
    engine = load(
        clean_store,
        ["top", "left", "right", "bottom"],
        [
            edge("d1", "user:alice", "agent:top", 3),
            edge("dl", "agent:top", "agent:left", 1),
            edge("dr", "agent:top", "agent:right", 1),
            edge("dlb", "agent:left", "agent:bottom"),
            edge("drb", "agent:right", "agent:bottom"),
        ],
    )
    impact = engine.impact("dl")
    assert chains(impact) == {
        (("user:alice", "agent:top", "agent:left"), ("d1", "dl")),
        (
            ("user:alice", "agent:top", "agent:left", "agent:bottom"),
            ("d1", "dl", "dlb"),
        ),
    }
    reach = {a.ref: a.still_reachable for a in impact.affected}
    assert reach == {"agent:left": False, "agent:bottom": True}
    top = engine.impact("d1")
    assert len(top.chains) == 5
    assert top.lost_access == ("agent:bottom", "agent:left", "agent:right", "agent:top")


def test_impact_preview_writes_nothing(clean_store: Store) -> None:
    engine = load(clean_store, ["a1"], [edge("d1", "user:alice", "agent:a1")])
    engine.impact("d1")
    assert engine.get_delegation("d1").revoked_at is None


def test_cycle_neither_loops_nor_saves(clean_store: Store) -> None:
    engine = load(
        clean_store,
        ["ping", "pong", "stranger"],
        [
            edge("d1", "user:alice", "agent:ping", 3),
            edge("d2", "agent:ping", "agent:pong", 3),
            edge("d3", "agent:pong", "agent:ping", 3),
            edge("d4", "agent:stranger", "agent:pong", 3),
        ],
    )
    impact = engine.revoke("d1", "admin").impact
    assert chains(impact) == {
        (("user:alice", "agent:ping"), ("d1",)),
        (("user:alice", "agent:ping", "agent:pong"), ("d1", "d2")),
    }
    # stranger holds no grant, so its edge to pong saves nothing.
    assert impact.lost_access == ("agent:ping", "agent:pong")


def test_depth_limit_bounds_impact(clean_store: Store) -> None:
    # d2 has max_depth 0, so the edge d3 after it never carried access.
    engine = load(
        clean_store,
        ["a1", "a2", "a3"],
        [
            edge("d1", "user:alice", "agent:a1", 5),
            edge("d2", "agent:a1", "agent:a2", 0),
            edge("d3", "agent:a2", "agent:a3"),
        ],
    )
    impact = engine.impact("d1")
    assert {c.delegations for c in impact.chains} == {("d1",), ("d1", "d2")}
    assert "agent:a3" not in impact.lost_access


def test_max_chain_bounds_impact(clean_store: Store) -> None:
    agents = [f"a{i}" for i in range(6)]
    delegations = [edge("d0", "user:alice", "agent:a0", 10)] + [
        edge(f"d{i}", f"agent:a{i - 1}", f"agent:a{i}", 10) for i in range(1, 6)
    ]
    load(clean_store, agents, delegations)
    engine = Engine(clean_store, EngineConfig(max_chain=3))
    impact = engine.impact("d0")
    assert max(len(c.delegations) for c in impact.chains) == 3
    assert impact.lost_access == ("agent:a0", "agent:a1", "agent:a2")


def test_expired_edge_cuts_nothing(clean_store: Store) -> None:
    engine = load(
        clean_store,
        ["a1"],
        [edge("d1", "user:alice", "agent:a1", expires_at="2020-01-01T00:00:00Z")],
    )
    assert engine.impact("d1").chains == ()


def test_agent_with_own_grant_keeps_access(clean_store: Store) -> None:
    engine = load(
        clean_store,
        ["a1"],
        [edge("d1", "user:alice", "agent:a1")],
        grants=[
            {
                "principal": "user:alice",
                "resource": "document:doc",
                "actions": ["read"],
            },
            {"principal": "agent:a1", "resource": "document:doc", "actions": ["read"]},
        ],
    )
    impact = engine.impact("d1")
    assert [(a.ref, a.still_reachable) for a in impact.affected] == [("agent:a1", True)]
    assert impact.lost_access == ()


def test_disable_agent_cuts_downstream(clean_store: Store) -> None:
    engine = load(
        clean_store,
        ["orchestrator", "tool"],
        [
            edge("d1", "user:alice", "agent:orchestrator", 1),
            edge("d2", "agent:orchestrator", "agent:tool"),
        ],
    )
    ref = parse_ref("agent:orchestrator", "ref")
    result = engine.disable(ref, "admin")
    assert result.disabled
    assert not result.unchanged
    assert chains(result.impact) == {
        (("user:alice", "agent:orchestrator"), ("d1",)),
        (("user:alice", "agent:orchestrator", "agent:tool"), ("d1", "d2")),
    }
    assert result.impact.lost_access == ("agent:tool",)
    assert engine.get_principal(ref, result.consistency_token).disabled
    again = engine.disable(ref, "admin")
    assert again.unchanged
    assert again.impact.chains == ()
    enabled = engine.enable(ref, "admin")
    assert not enabled.disabled
    assert not enabled.unchanged
    assert not engine.get_principal(ref, enabled.consistency_token).disabled
    assert engine.enable(ref, "admin").unchanged


def test_disable_user_leaver(clean_store: Store) -> None:
    engine = load(
        clean_store,
        ["a1", "a2"],
        [edge("d1", "user:alice", "agent:a1", 1), edge("d2", "agent:a1", "agent:a2")],
    )
    result = engine.disable(parse_ref("user:alice", "ref"), "hr")
    assert result.impact.lost_access == ("agent:a1", "agent:a2")


def test_disable_unknown_and_group(clean_store: Store) -> None:
    engine = load(clean_store, [], [], groups=["g"])
    with pytest.raises(NotFound) as missing:
        engine.disable(parse_ref("agent:ghost", "ref"), "admin")
    assert missing.value.value == "agent:ghost"
    with pytest.raises(InvalidRequest) as group:
        engine.disable(parse_ref("group:g", "ref"), "admin")
    assert group.value.field == "ref"
    with pytest.raises(NotFound):
        engine.enable(parse_ref("agent:ghost", "ref"), "admin")
