"""Each reason code of Engine.explain, produced by a graph built for it.

Every case starts from the same small graph: user:alice has read and write
on doc:plan and delegates read to agent:bot through d1. A case changes one
thing, then asserts the explanation's code and its message. Codes that
describe one edge, grant or chain are also looked up on that part.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from delegraph.cypher.store import Store
from delegraph.engine.documents import parse_document
from delegraph.engine.explain import Explanation, Problem
from delegraph.engine.model import CheckRequest
from delegraph.engine.refs import Ref
from delegraph.engine.service import Engine, EngineConfig

NOW = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
PAST = NOW - timedelta(days=1)
FUTURE = NOW + timedelta(days=1)
PURPOSE = 'context.purpose == "audit"'


def base_graph() -> dict[str, Any]:
    return {
        "users": ["alice", "bob"],
        "agents": [
            {"id": "bot", "owner": "user:alice"},
            {"id": "helper", "owner": "user:alice"},
            {"id": "other", "owner": "user:alice"},
        ],
        "resources": [{"ref": "doc:plan"}],
        "grants": [
            {
                "principal": "user:alice",
                "resource": "doc:plan",
                "actions": ["read", "write"],
            }
        ],
        "delegations": [
            {"id": "d1", "from": "user:alice", "to": "agent:bot", "actions": ["read"]}
        ],
    }


def ref(text: str) -> Ref:
    kind, _, ident = text.partition(":")
    return Ref(kind, ident)


@dataclass
class Case:
    """A graph change, a request and the explanation code and message expected."""

    code: str
    message: str
    changes: dict[str, Any] = field(default_factory=dict)
    delegation: dict[str, Any] = field(default_factory=dict)
    grant: dict[str, Any] = field(default_factory=dict)
    subject: str = "agent:bot"
    action: str = "read"
    resource: str = "doc:plan"
    context: dict[str, Any] = field(default_factory=dict)
    on_behalf_of: str | None = None
    config: EngineConfig = field(default_factory=EngineConfig)

    def graph(self) -> dict[str, Any]:
        graph = base_graph()
        graph["delegations"][0].update(self.delegation)
        graph["grants"][0].update(self.grant)
        for key, value in self.changes.items():
            graph[key] = copy.deepcopy(value)
        return graph

    def request(self) -> CheckRequest:
        return CheckRequest(
            ref(self.subject),
            self.action,
            ref(self.resource),
            context=self.context,
            on_behalf_of=None if self.on_behalf_of is None else ref(self.on_behalf_of),
        )


def chain_graph(edges: list[tuple[str, str, int]], **changes: Any) -> dict[str, Any]:
    """Return base-graph changes that replace d1 with the given (from, to, max_depth) edges."""
    delegations = [
        {
            "id": f"d{index + 1}",
            "from": source,
            "to": target,
            "actions": ["read"],
            "max_depth": depth,
        }
        for index, (source, target, depth) in enumerate(edges)
    ]
    return {"delegations": delegations, **changes}


CASES = {
    "allowed": Case("allowed", "allowed"),
    "unknown_subject": Case(
        "unknown_subject",
        "subject agent:ghost is not in the graph",
        subject="agent:ghost",
    ),
    "subject_disabled": Case(
        "subject_disabled",
        "subject agent:bot is disabled",
        changes={
            "agents": [
                {"id": "bot", "owner": "user:alice", "disabled": True},
                {"id": "helper", "owner": "user:alice"},
                {"id": "other", "owner": "user:alice"},
            ]
        },
    ),
    "unknown_resource": Case(
        "unknown_resource",
        "resource doc:nowhere is not in the graph and no wildcard doc:* is",
        resource="doc:nowhere",
    ),
    "no_holder": Case(
        "no_holder",
        "no principal holds 'delete' on doc:plan, its ancestors or its type's wildcard",
        action="delete",
    ),
    "no_path_to_holder": Case(
        "no_path_to_holder",
        "no delegation path leads to agent:other from a holder of 'read' on doc:plan",
        subject="agent:other",
    ),
    "revoked": Case(
        "revoked",
        f"delegation 'd1' was revoked at {PAST.isoformat()} by admin: rotated",
        delegation={
            "revoked_at": PAST.isoformat(),
            "revoked_by": "admin",
            "revoke_reason": "rotated",
        },
    ),
    "not_yet_valid": Case(
        "not_yet_valid",
        f"delegation 'd1' is valid from {FUTURE.isoformat()}",
        delegation={"not_before": FUTURE.isoformat()},
    ),
    "expired_delegation": Case(
        "expired",
        f"delegation 'd1' expired at {NOW.isoformat()}",
        delegation={"expires_at": NOW.isoformat()},
    ),
    "expired_grant": Case(
        "expired",
        f"grant of user:alice on doc:plan expired at {PAST.isoformat()}",
        grant={"expires_at": PAST.isoformat()},
    ),
    "action_missing": Case(
        "action_missing",
        "delegation 'd1' grants read, not 'write'",
        action="write",
    ),
    "outside_scope_resources": Case(
        "outside_scope",
        "delegation 'd1' covers resources doc:other, which do not include doc:plan",
        delegation={"resources": ["doc:other"]},
    ),
    "outside_scope_types": Case(
        "outside_scope",
        "delegation 'd1' covers resource types repo, not 'doc'",
        delegation={"resource_types": ["repo"]},
    ),
    "above_sensitivity": Case(
        "above_sensitivity",
        "delegation 'd1' admits sensitivity up to 1; doc:plan has 3",
        changes={"resources": [{"ref": "doc:plan", "sensitivity": 3}]},
        delegation={"max_sensitivity": 1},
    ),
    "depth_exceeded": Case(
        "depth_exceeded",
        "delegation 'd1' allows 0 further delegation(s) below it, but the chain has 1",
        changes=chain_graph(
            [("user:alice", "agent:bot", 0), ("agent:bot", "agent:helper", 0)]
        ),
        subject="agent:helper",
    ),
    "condition_false": Case(
        "condition_false",
        f"delegation 'd1': condition {PURPOSE!r} is false",
        delegation={"condition": PURPOSE},
        context={"purpose": "sales"},
    ),
    "condition_false_on_grant": Case(
        "condition_false",
        f"grant of user:alice on doc:plan: condition {PURPOSE!r} is false",
        grant={"condition": PURPOSE},
        context={"purpose": "sales"},
    ),
    "condition_field_missing": Case(
        "condition_field_missing",
        f"delegation 'd1': condition {PURPOSE!r} reads context.purpose, which the "
        "request does not carry",
        delegation={"condition": PURPOSE},
    ),
    "disabled_principal_on_edge": Case(
        "disabled_principal",
        "delegation 'd1' leads to agent:helper, which is disabled",
        changes={
            **chain_graph(
                [("user:alice", "agent:helper", 1), ("agent:helper", "agent:bot", 0)]
            ),
            "agents": [
                {"id": "bot", "owner": "user:alice"},
                {"id": "helper", "owner": "user:alice", "disabled": True},
                {"id": "other", "owner": "user:alice"},
            ],
        },
    ),
    "disabled_holder": Case(
        "disabled_principal",
        "holder user:alice is disabled",
        changes={"users": [{"id": "alice", "disabled": True}, "bob"]},
    ),
    "disabled_group_on_grant": Case(
        "disabled_principal",
        "grant of group:staff on doc:plan is reached through group:staff, which is "
        "disabled",
        changes={
            "groups": [{"id": "staff", "disabled": True}],
            "memberships": [{"member": "user:alice", "group": "group:staff"}],
            "grants": [
                {
                    "principal": "group:staff",
                    "resource": "doc:plan",
                    "actions": ["read"],
                }
            ],
        },
    ),
    "chain_too_long": Case(
        "chain_too_long",
        "the chain has 2 delegations; the server allows at most 1",
        changes=chain_graph(
            [("user:alice", "agent:helper", 1), ("agent:helper", "agent:bot", 0)]
        ),
        config=EngineConfig(max_chain=1),
    ),
    "not_on_behalf_of": Case(
        "not_on_behalf_of",
        "the chain starts at user:alice, but the request acts on behalf of user:bob",
        on_behalf_of="user:bob",
    ),
}


def explained(store: Store, case: Case) -> Explanation:
    engine = Engine(store, config=case.config, clock=lambda: NOW)
    engine.import_document(parse_document(case.graph()))
    return engine.explain(case.request())


def problems(explanation: Explanation) -> list[Problem]:
    """Return every problem on every candidate chain, its edges and its grants."""
    found: list[Problem] = []
    for chain in explanation.chains:
        found.extend(chain.problems)
        for edge in chain.edges:
            found.extend(edge.problems)
        for grant in chain.grants:
            found.extend(grant.problems)
    return found


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_explain_reason_code(clean_store: Store, case: Case) -> None:
    explanation = explained(clean_store, case)
    assert explanation.code == case.code
    assert explanation.reason == case.message
    assert explanation.allowed == (case.code == "allowed")
    assert explanation.decision.allowed == (case.code == "allowed")


PART_CODES = {
    name: case
    for name, case in CASES.items()
    if name
    not in (
        "allowed",
        "unknown_subject",
        "subject_disabled",
        "unknown_resource",
        "no_holder",
        "no_path_to_holder",
    )
}


@pytest.mark.parametrize("case", PART_CODES.values(), ids=PART_CODES.keys())
def test_explain_problem_on_chain(clean_store: Store, case: Case) -> None:
    explanation = explained(clean_store, case)
    assert Problem(case.code, case.message) in problems(explanation)
    assert not any(chain.allowed for chain in explanation.chains)


def test_explain_marks_cycle(clean_store: Store) -> None:
    # The short chain alice -> ping is allowed; the trail alice -> ping ->
    # pong -> ping is listed too, and its edge d2 closes the cycle.
    graph = base_graph()
    graph["agents"] += [
        {"id": "ping", "owner": "user:alice"},
        {"id": "pong", "owner": "user:alice"},
    ]
    graph["delegations"] = [
        {
            "id": "d1",
            "from": "user:alice",
            "to": "agent:ping",
            "actions": ["read"],
            "max_depth": 3,
        },
        {
            "id": "d2",
            "from": "agent:ping",
            "to": "agent:pong",
            "actions": ["read"],
            "max_depth": 3,
        },
        {
            "id": "d3",
            "from": "agent:pong",
            "to": "agent:ping",
            "actions": ["read"],
            "max_depth": 3,
        },
    ]
    engine = Engine(clean_store, clock=lambda: NOW)
    engine.import_document(parse_document(graph))

    explanation = engine.explain(
        CheckRequest(ref("agent:ping"), "read", ref("doc:plan"))
    )
    assert explanation.code == "allowed"
    cyclic = [
        c for c in explanation.chains if len(c.principals) != len(set(c.principals))
    ]
    assert [c.principals for c in cyclic] == [
        ("user:alice", "agent:ping", "agent:pong", "agent:ping")
    ]
    assert not cyclic[0].allowed
    edge_problems = {e.delegation: e.problems for e in cyclic[0].edges}
    assert edge_problems["d2"] == (
        Problem(
            "cycle",
            "delegation 'd2' closes a cycle: the chain visits a principal twice",
        ),
    )
    assert edge_problems["d1"] == ()
    assert edge_problems["d3"] == ()


def test_explain_chain_rejected(clean_store: Store) -> None:
    # With one candidate per check, the check query keeps only the chain whose
    # grant principal sorts first (group:aa, held by zed, condition false) and
    # denies. The first chain that explain lists (held by amy) has no problem,
    # so explain falls back to the check's own reason.
    graph = {
        "users": ["amy", "zed"],
        "groups": ["aa"],
        "agents": [{"id": "bot", "owner": "user:amy"}],
        "resources": [{"ref": "doc:plan"}],
        "memberships": [{"member": "user:zed", "group": "group:aa"}],
        "grants": [
            {"principal": "user:amy", "resource": "doc:plan", "actions": ["read"]},
            {"principal": "group:aa", "resource": "doc:plan", "actions": ["read"]},
        ],
        "delegations": [
            {
                "id": "da",
                "from": "user:amy",
                "to": "agent:bot",
                "actions": ["read"],
                "condition": 'context.purpose == "sales"',
            },
            {
                "id": "dz",
                "from": "user:zed",
                "to": "agent:bot",
                "actions": ["read"],
                "condition": PURPOSE,
            },
        ],
    }
    engine = Engine(
        clean_store, config=EngineConfig(max_candidates=1), clock=lambda: NOW
    )
    engine.import_document(parse_document(graph))

    request = CheckRequest(
        ref("agent:bot"), "read", ref("doc:plan"), context={"purpose": "sales"}
    )
    explanation = engine.explain(request)
    assert not explanation.allowed
    assert explanation.code == "chain_rejected"
    assert explanation.reason == (f"delegation 'dz': condition {PURPOSE!r} is false")
    assert explanation.chains[0].principals == ("user:amy", "agent:bot")
    assert explanation.chains[0].allowed
