"""Revoke and disable take effect on the very next check, and explain names the cut.

The chain is user:alice -d1-> agent:a1 -d2-> agent:a2 -d3-> agent:a3 -d4->
agent:a4 -d5-> agent:a5, each edge allowing exactly the depth below it.
Cutting d2 (or disabling agent:a2) must deny a2..a5 at once and leave alice
and a1 allowed.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from delegraph.cypher.store import Store
from delegraph.engine.documents import parse_document
from delegraph.engine.model import CheckRequest
from delegraph.engine.refs import Ref
from delegraph.engine.service import Engine

NOW = datetime(2030, 3, 4, 5, 6, 7, tzinfo=UTC)
AGENTS = ["a1", "a2", "a3", "a4", "a5"]
ABOVE = ["user:alice", "agent:a1"]
BELOW = ["agent:a2", "agent:a3", "agent:a4", "agent:a5"]


def chain_graph() -> dict[str, Any]:
    holders = ["user:alice"] + [f"agent:{a}" for a in AGENTS]
    delegations = [
        {
            "id": f"d{index + 1}",
            "from": holders[index],
            "to": holders[index + 1],
            "actions": ["read"],
            "max_depth": len(AGENTS) - 1 - index,
        }
        for index in range(len(AGENTS))
    ]
    return {
        "users": ["alice"],
        "agents": [{"id": a, "owner": "user:alice"} for a in AGENTS],
        "resources": [{"ref": "document:ledger"}],
        "grants": [
            {
                "principal": "user:alice",
                "resource": "document:ledger",
                "actions": ["read"],
            }
        ],
        "delegations": delegations,
    }


def request(subject: str, token: str | None = None) -> CheckRequest:
    kind, _, ident = subject.partition(":")
    return CheckRequest(
        Ref(kind, ident), "read", Ref("document", "ledger"), consistency_token=token
    )


def loaded(store: Store) -> Engine:
    engine = Engine(store, clock=lambda: NOW)
    engine.import_document(parse_document(chain_graph()))
    for subject in ABOVE + BELOW:
        assert engine.check(request(subject)).allowed, subject
    return engine


def test_revoke_denies_every_agent_below(clean_store: Store) -> None:
    engine = loaded(clean_store)
    revocation = engine.revoke("d2", revoked_by="security-team", reason="leak")
    assert not revocation.already_revoked

    # The first check after the revoke, with and without the write's token.
    for subject in BELOW:
        decision = engine.check(request(subject))
        assert not decision.allowed, subject
    for subject in BELOW:
        token = revocation.consistency_token
        assert not engine.check(request(subject, token)).allowed, subject
    for subject in ABOVE:
        assert engine.check(request(subject)).allowed, subject

    batch = engine.check_batch([request(s) for s in ABOVE + BELOW])
    assert [d.allowed for d in batch] == [True] * len(ABOVE) + [False] * len(BELOW)


def test_explain_names_revoked_edge(clean_store: Store) -> None:
    engine = loaded(clean_store)
    engine.revoke("d2", revoked_by="security-team", reason="leak")

    for subject in BELOW:
        explanation = engine.explain(request(subject))
        assert not explanation.allowed
        assert explanation.code == "revoked"
        assert explanation.reason == (
            f"delegation 'd2' was revoked at {NOW.isoformat()} by security-team: leak"
        )
        chain = explanation.chains[0]
        revoked = [e for e in chain.edges if e.problems]
        assert [e.delegation for e in revoked] == ["d2"]
        assert revoked[0].source == "agent:a1"
        assert revoked[0].target == "agent:a2"
        assert [p.code for p in revoked[0].problems] == ["revoked"]

    stored = engine.get_delegation("d2")
    assert stored.revoked_at == NOW
    assert stored.revoked_by == "security-team"
    assert stored.revoke_reason == "leak"


def test_disable_denies_every_agent_below(clean_store: Store) -> None:
    engine = loaded(clean_store)
    result = engine.disable(Ref("agent", "a2"), disabled_by="security-team")
    assert result.disabled
    assert not result.unchanged

    for subject in BELOW:
        assert not engine.check(request(subject)).allowed, subject
    for subject in ABOVE:
        assert engine.check(request(subject)).allowed, subject

    subject_explanation = engine.explain(request("agent:a2"))
    assert subject_explanation.code == "subject_disabled"
    assert subject_explanation.reason == "subject agent:a2 is disabled"

    for subject in BELOW[1:]:
        explanation = engine.explain(request(subject))
        assert explanation.code == "disabled_principal"
        assert explanation.reason == (
            "delegation 'd2' leads to agent:a2, which is disabled"
        )

    engine.enable(Ref("agent", "a2"), enabled_by="security-team")
    for subject in ABOVE + BELOW:
        assert engine.check(request(subject)).allowed, subject
