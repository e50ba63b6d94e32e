"""Write-time rules of create_delegation, each accepted and rejected against Neo4j."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
import yaml
from delegraph.cypher.store import Store
from delegraph.engine.documents import parse_delegation, parse_document
from delegraph.engine.errors import (
    Conflict,
    DelegraphError,
    InvalidRequest,
    RuleViolation,
)
from delegraph.engine.graph import import_document
from delegraph.engine.service import Engine

CASES = Path(__file__).resolve().parents[1].parent / "shared" / "cases"

# alice holds read/write/share on folder:eng (and so on document:spec below
# it); d1 hands lead read and write on document:* with depth 2, a window and
# a sensitivity cap.
GRAPH: dict[str, Any] = {
    "users": ["alice", "bob"],
    "groups": ["eng", "staff"],
    "agents": [
        {"id": "lead", "owner": "user:alice"},
        {"id": "sub", "owner": "user:alice"},
        {"id": "off", "owner": "user:alice", "disabled": True},
    ],
    "workloads": [{"id": "job", "owner": "group:eng"}],
    "resources": [
        {"ref": "folder:eng"},
        {"ref": "document:spec", "parent": "folder:eng", "sensitivity": 2},
        {"ref": "document:plan", "parent": "folder:eng"},
        {"ref": "folder:hr"},
        {"ref": "document:salaries", "parent": "folder:hr"},
    ],
    "memberships": [
        {"member": "user:bob", "group": "group:eng"},
        {"member": "group:eng", "group": "group:staff"},
    ],
    "grants": [
        {
            "principal": "user:alice",
            "resource": "folder:eng",
            "actions": ["read", "write", "share"],
        },
        {
            "principal": "group:staff",
            "resource": "document:plan",
            "actions": ["comment"],
        },
        {
            "principal": "user:bob",
            "resource": "folder:hr",
            "actions": ["audit"],
            "expires_at": "2020-01-01T00:00:00Z",
        },
    ],
    "delegations": [
        {
            "id": "d1",
            "from": "user:alice",
            "to": "agent:lead",
            "actions": ["read", "write"],
            "resources": ["folder:eng"],
            "resource_types": ["document"],
            "max_sensitivity": 3,
            "max_depth": 2,
            "not_before": "2021-01-01T00:00:00Z",
            "expires_at": "2099-01-01T00:00:00Z",
        }
    ],
}

# A re-delegation from lead that d1 covers; each test widens one field.
WITHIN: dict[str, Any] = {
    "id": "d2",
    "from": "agent:lead",
    "to": "agent:sub",
    "actions": ["read"],
    "resources": ["document:spec"],
    "resource_types": ["document"],
    "max_sensitivity": 2,
    "max_depth": 1,
    "not_before": "2022-01-01T00:00:00Z",
    "expires_at": "2098-01-01T00:00:00Z",
}


@pytest.fixture
def engine(clean_store: Store) -> Engine:
    import_document(clean_store, parse_document(GRAPH))
    return Engine(clean_store)


def rejected(engine: Engine, body: dict[str, Any]) -> DelegraphError:
    with pytest.raises(DelegraphError) as caught:
        engine.create_delegation(parse_delegation(body), "test")
    return caught.value


def test_create_within_incoming(engine: Engine) -> None:
    written = engine.create_delegation(parse_delegation(WITHIN), "admin")
    assert written.delegation.id == "d2"
    assert written.delegation.created_by == "admin"
    assert written.delegation.created_at is not None
    assert written.consistency_token
    stored = engine.get_delegation("d2", written.consistency_token)
    assert stored.actions == ("read",)
    assert stored.max_depth == 1


WIDENINGS: list[tuple[str, dict[str, Any], str, Any]] = [
    ("actions", {"actions": ["read", "share"]}, "actions", "share"),
    (
        "resource outside",
        {"resources": ["document:salaries"]},
        "resources",
        "document:salaries",
    ),
    ("resource above", {"resources": ["document:*"]}, "resources", "document:*"),
    ("no resources", {"resources": None}, "resources", None),
    (
        "type added",
        {"resource_types": ["document", "folder"]},
        "resource_types",
        "folder",
    ),
    ("no types", {"resource_types": None}, "resource_types", None),
    ("sensitivity", {"max_sensitivity": 4}, "max_sensitivity", 4),
    ("no sensitivity", {"max_sensitivity": None}, "max_sensitivity", None),
    ("depth", {"max_depth": 2}, "max_depth", 2),
    (
        "outlives",
        {"expires_at": "2099-06-01T00:00:00Z"},
        "expires_at",
        "2099-06-01T00:00:00+00:00",
    ),
    ("never expires", {"expires_at": None}, "expires_at", None),
    (
        "starts early",
        {"not_before": "2020-06-01T00:00:00Z"},
        "not_before",
        "2020-06-01T00:00:00+00:00",
    ),
]


@pytest.mark.parametrize(
    ("change", "field", "value"),
    [
        pytest.param(change, field, value, id=name)
        for name, change, field, value in WIDENINGS
    ],
)
def test_widening_rejected(
    engine: Engine, change: dict[str, Any], field: str, value: Any
) -> None:
    body = {key: val for key, val in {**WITHIN, **change}.items() if val is not None}
    error = rejected(engine, body)
    assert isinstance(error, RuleViolation), error.message
    assert error.status == 422
    assert error.field == field, error.message
    assert error.value == value, error.message
    assert "'d1'" in error.message


def test_widening_message_names_value(engine: Engine) -> None:
    error = rejected(engine, {**WITHIN, "actions": ["delete"]})
    assert "'delete'" in error.message
    assert "agent:lead" in error.message


def test_descendant_and_wildcard_covered(engine: Engine) -> None:
    # document:spec sits below folder:eng, which d1 names.
    engine.create_delegation(parse_delegation({**WITHIN, "id": "d2a"}), "t")
    # resources unset but resource_types limited: d1 lists folder:eng, not
    # document:*, so this widens.
    body = {key: val for key, val in WITHIN.items() if key != "resources"}
    error = rejected(engine, {**body, "id": "d2b"})
    assert error.field == "resources"


def test_depth_zero_cannot_redelegate(engine: Engine) -> None:
    engine.create_delegation(parse_delegation({**WITHIN, "max_depth": 0}), "t")
    error = rejected(
        engine,
        {
            **WITHIN,
            "id": "d3",
            "from": "agent:sub",
            "to": "workload:job",
            "max_depth": 0,
        },
    )
    assert isinstance(error, RuleViolation)
    assert error.field == "max_depth"
    assert "may not re-delegate" in error.message


def test_revoked_incoming_not_live(engine: Engine) -> None:
    engine.revoke("d1", "admin", "test")
    error = rejected(engine, WITHIN)
    assert isinstance(error, RuleViolation)
    assert error.field == "from"
    assert "revoked" in error.message


def test_expired_incoming_not_live(engine: Engine) -> None:
    import_document(
        engine.store,
        parse_document(
            {
                "delegations": [
                    {
                        "id": "old",
                        "from": "user:alice",
                        "to": "agent:sub",
                        "actions": ["read"],
                        "max_depth": 3,
                        "expires_at": "2020-01-01T00:00:00Z",
                    }
                ]
            }
        ),
    )
    error = rejected(
        engine,
        {"id": "d9", "from": "agent:sub", "to": "workload:job", "actions": ["read"]},
    )
    assert error.field == "from"
    assert "expired" in error.message


def test_closest_incoming_named(engine: Engine) -> None:
    # A second, broader incoming edge lets the same body pass.
    import_document(
        engine.store,
        parse_document(
            {
                "delegations": [
                    {
                        "id": "wide",
                        "from": "user:alice",
                        "to": "agent:lead",
                        "actions": ["read", "write", "share"],
                        "max_depth": 5,
                    }
                ]
            }
        ),
    )
    written = engine.create_delegation(
        parse_delegation({**WITHIN, "actions": ["share"], "max_depth": 3}), "t"
    )
    assert written.delegation.actions == ("share",)
    error = rejected(engine, {**WITHIN, "id": "d5", "actions": ["delete"]})
    assert error.field == "actions"
    assert error.value == "delete"


def test_user_must_hold_action(engine: Engine) -> None:
    error = rejected(
        engine,
        {"id": "u1", "from": "user:alice", "to": "agent:sub", "actions": ["delete"]},
    )
    assert isinstance(error, RuleViolation)
    assert error.field == "actions"
    assert error.value == "delete"
    assert "user:alice does not hold" in error.message


def test_user_action_out_of_scope(engine: Engine) -> None:
    error = rejected(
        engine,
        {
            "id": "u2",
            "from": "user:alice",
            "to": "agent:sub",
            "actions": ["read"],
            "resources": ["document:salaries"],
        },
    )
    assert error.field == "actions"
    assert "document:salaries" in error.message


HELD: list[tuple[str, dict[str, Any]]] = [
    ("ancestor grant", {"resources": ["document:spec"]}),
    ("descendant grant", {"resources": ["folder:eng"]}),
    ("by type", {"resource_types": ["document"]}),
    ("by wildcard", {"resources": ["document:*"]}),
    ("unscoped", {}),
]


@pytest.mark.parametrize("scope", [pytest.param(s, id=name) for name, s in HELD])
def test_user_holds_in_scope(engine: Engine, scope: dict[str, Any]) -> None:
    body = {
        "id": "u3",
        "from": "user:alice",
        "to": "agent:sub",
        "actions": ["share"],
        **scope,
    }
    assert engine.create_delegation(parse_delegation(body), "t").delegation.id == "u3"


def test_nested_group_grant_held(engine: Engine) -> None:
    # bob -> eng -> staff, and staff holds comment on document:plan.
    body = {"id": "g1", "from": "user:bob", "to": "agent:sub", "actions": ["comment"]}
    assert engine.create_delegation(parse_delegation(body), "t").delegation.id == "g1"


def test_expired_grant_not_held(engine: Engine) -> None:
    error = rejected(
        engine,
        {"id": "g2", "from": "user:bob", "to": "agent:sub", "actions": ["audit"]},
    )
    assert error.field == "actions"
    assert error.value == "audit"


def test_endpoint_rules(engine: Engine) -> None:
    missing_source = rejected(
        engine,
        {"id": "e1", "from": "user:nobody", "to": "agent:sub", "actions": ["read"]},
    )
    assert isinstance(missing_source, RuleViolation)
    assert missing_source.field == "from"
    missing_target = rejected(
        engine,
        {"id": "e2", "from": "user:alice", "to": "agent:ghost", "actions": ["read"]},
    )
    assert missing_target.field == "to"
    assert "does not exist" in missing_target.message
    disabled_target = rejected(
        engine,
        {"id": "e3", "from": "user:alice", "to": "agent:off", "actions": ["read"]},
    )
    assert disabled_target.field == "to"
    assert "disabled" in disabled_target.message
    engine.disable(parse_delegation(WITHIN).source, "admin")
    disabled_source = rejected(engine, WITHIN)
    assert disabled_source.field == "from"
    assert "disabled" in disabled_source.message


def test_unknown_scope_resource(engine: Engine) -> None:
    error = rejected(
        engine,
        {
            "id": "s1",
            "from": "user:alice",
            "to": "agent:sub",
            "actions": ["read"],
            "resources": ["document:missing"],
        },
    )
    assert isinstance(error, InvalidRequest)
    assert error.field == "resources[0]"


def test_past_expiry_invalid(engine: Engine) -> None:
    body = {key: val for key, val in WITHIN.items() if key != "not_before"}
    error = rejected(engine, {**body, "expires_at": "2021-06-01T00:00:00Z"})
    assert isinstance(error, InvalidRequest)
    assert error.field == "expires_at"
    assert "not in the future" in error.message


def test_used_id_conflict(engine: Engine) -> None:
    error = rejected(engine, {**WITHIN, "id": "d1"})
    assert isinstance(error, Conflict)
    assert error.status == 409
    assert error.value == "d1"


def test_concurrent_same_id_one_conflict(engine: Engine) -> None:
    body = {"id": "race", "from": "user:alice", "to": "agent:sub", "actions": ["read"]}
    outcomes: list[object] = []
    barrier = threading.Barrier(8)

    def attempt(target: str) -> None:
        barrier.wait()
        try:
            engine.create_delegation(parse_delegation({**body, "to": target}), "t")
            outcomes.append("created")
        except DelegraphError as error:
            outcomes.append(error)

    targets = ["agent:sub", "agent:lead"] * 4
    threads = [threading.Thread(target=attempt, args=(t,)) for t in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes.count("created") == 1, outcomes
    conflicts = [o for o in outcomes if isinstance(o, Conflict)]
    assert len(conflicts) == 7, outcomes


HOSTILE_IDS = [
    "o'brien",
    'say "hi"',
    "back`tick`",
    "{braces}",
    "x}) DETACH DELETE n //",
    "MATCH (n) RETURN n",
    "$id",
]


@pytest.mark.parametrize("ident", HOSTILE_IDS)
def test_hostile_ids_are_data(clean_store: Store, ident: str) -> None:
    import_document(
        clean_store,
        parse_document(
            {
                "users": [ident],
                "agents": [{"id": ident, "owner": f"user:{ident}"}],
                "resources": [{"ref": f"document:{ident}"}],
                "grants": [
                    {
                        "principal": f"user:{ident}",
                        "resource": f"document:{ident}",
                        "actions": [ident],
                    }
                ],
            }
        ),
    )
    engine = Engine(clean_store)
    body = {
        "id": ident,
        "from": f"user:{ident}",
        "to": f"agent:{ident}",
        "actions": [ident],
        "resources": [f"document:{ident}"],
    }
    written = engine.create_delegation(parse_delegation(body), ident)
    assert written.delegation.id == ident
    assert written.delegation.created_by == ident
    revoked = engine.revoke(ident, ident, ident)
    assert revoked.impact.lost_access == (f"agent:{ident}",)
    assert engine.get_delegation(ident).revoke_reason == ident


def test_attenuation_case_create_steps(clean_store: Store) -> None:
    case = yaml.safe_load((CASES / "05-attenuation.yaml").read_text())
    import_document(clean_store, parse_document(case["graph"]))
    engine = Engine(clean_store)
    steps = [s for s in case["steps"] if "create_delegation" in s]
    assert steps
    for step in steps:
        body = step["create_delegation"]
        if step["expect"] == "created":
            engine.create_delegation(parse_delegation(body), "case")
            continue
        with pytest.raises(DelegraphError) as caught:
            engine.create_delegation(parse_delegation(body), "case")
        assert caught.value.status in (409, 422), caught.value.message
    # d3 hands on an action lead never got; d4 re-delegates too deep.
    assert _field_of(engine, steps[0]["create_delegation"]) == "actions"
    assert _field_of(engine, steps[1]["create_delegation"]) == "max_depth"


def _field_of(engine: Engine, body: dict[str, Any]) -> str | None:
    with pytest.raises(RuleViolation) as caught:
        engine.create_delegation(parse_delegation(body), "case")
    return caught.value.field
