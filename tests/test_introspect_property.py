"""Property: a token introspects active exactly when check allows a claimed action.

Each example is a linear chain user:s -> agent:a1 -> ... -> agent:ak in Neo4j
with one or two parallel edges per hop, random actions, revocations, time
windows, depths and disabled principals, and a token whose act chain names
that chain. Only user:s holds grants, so with on_behalf_of=user:s every
allowing check runs through the token's chain.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt
from conftest import wipe
from delegraph.cypher.store import Store
from delegraph.engine.graph import import_document
from delegraph.engine.introspect import IntrospectionKeys
from delegraph.engine.model import (
    CheckRequest,
    Delegation,
    Document,
    Grant,
    Principal,
    Resource,
)
from delegraph.engine.refs import Ref
from delegraph.engine.service import Engine
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

ACTIONS = ("read", "write", "delete")
SECRET = "property-test-secret-of-32-bytes!"  # noqa: S105
KEYS = IntrospectionKeys.load(secret=SECRET)
NOW = datetime(2031, 6, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)
RESOURCE = Ref("document", "doc")

action_sets = st.sets(st.sampled_from(ACTIONS), min_size=1).map(
    lambda s: tuple(sorted(s))
)


@dataclass(frozen=True)
class EdgeSpec:
    actions: tuple[str, ...]
    revoked: bool
    window: str
    max_depth: int


edges = st.builds(
    EdgeSpec,
    actions=action_sets,
    revoked=st.sampled_from([False, False, False, True]),
    window=st.sampled_from(["open", "open", "open", "expired", "future", "bounded"]),
    max_depth=st.integers(0, 4),
)


@dataclass(frozen=True)
class ChainSpec:
    hops: tuple[tuple[EdgeSpec, ...], ...]
    disabled: tuple[bool, ...]
    grant: tuple[str, ...]
    claims: tuple[str, ...]


@st.composite
def chains(draw: st.DrawFn) -> ChainSpec:
    length = draw(st.integers(0, 4))
    hops = tuple(
        tuple(draw(st.lists(edges, min_size=1, max_size=2))) for _ in range(length)
    )
    disabled = tuple(
        draw(st.sampled_from([False, False, False, False, True]))
        for _ in range(length + 1)
    )
    grant = tuple(sorted(draw(st.sets(st.sampled_from(ACTIONS)))))
    claims = draw(action_sets)
    return ChainSpec(hops, disabled, grant, claims)


def window(spec: EdgeSpec) -> tuple[datetime | None, datetime | None]:
    """Return (not_before, expires_at) for the edge's window kind."""
    return {
        "open": (None, None),
        "expired": (None, NOW - HOUR),
        "future": (NOW + HOUR, None),
        "bounded": (NOW - HOUR, NOW + HOUR),
    }[spec.window]


def principal_refs(spec: ChainSpec) -> list[Ref]:
    return [Ref("user", "s")] + [
        Ref("agent", f"a{i}") for i in range(1, len(spec.hops) + 1)
    ]


def document(spec: ChainSpec) -> Document:
    refs = principal_refs(spec)
    principals = [Principal(refs[0], disabled=spec.disabled[0])] + [
        Principal(ref, owner=refs[0], disabled=off)
        for ref, off in zip(refs[1:], spec.disabled[1:], strict=True)
    ]
    delegations = []
    for hop, parallel in enumerate(spec.hops, start=1):
        for n, edge in enumerate(parallel):
            not_before, expires_at = window(edge)
            delegations.append(
                Delegation(
                    id=f"d{hop}-{n}",
                    source=refs[hop - 1],
                    target=refs[hop],
                    actions=edge.actions,
                    max_depth=edge.max_depth,
                    not_before=not_before,
                    expires_at=expires_at,
                    revoked_at=NOW - HOUR if edge.revoked else None,
                    revoked_by="user:admin" if edge.revoked else None,
                )
            )
    grants = [Grant(refs[0], RESOURCE, spec.grant)] if spec.grant else []
    return Document(
        principals=tuple(principals),
        resources=(Resource(RESOURCE),),
        grants=tuple(grants),
        delegations=tuple(delegations),
    )


def token(spec: ChainSpec) -> str:
    refs = [str(r) for r in principal_refs(spec)]
    claims: dict[str, object] = {
        "sub": refs[0],
        "exp": datetime.now(UTC) + HOUR,
        "scope": " ".join(spec.claims),
    }
    act: dict[str, object] | None = None
    for actor in refs[1:]:
        act = {"sub": actor} if act is None else {"sub": actor, "act": act}
    if act is not None:
        claims["act"] = act
    return jwt.encode(claims, SECRET, algorithm="HS256")


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(spec=chains())
def test_active_iff_check_allows_claim(store: Store, spec: ChainSpec) -> None:
    wipe(store)
    written = import_document(store, document(spec))
    engine = Engine(store, clock=lambda: NOW)
    refs = principal_refs(spec)

    result = engine.introspect(token(spec), KEYS, written.consistency_token)
    decisions = engine.check_batch(
        [
            CheckRequest(
                subject=refs[-1],
                action=action,
                resource=RESOURCE,
                on_behalf_of=refs[0],
                consistency_token=written.consistency_token,
            )
            for action in spec.claims
        ]
    )
    allowed = tuple(a for a, d in zip(spec.claims, decisions, strict=True) if d.allowed)

    assert result.error is None, result.error
    assert result.active == bool(allowed), (result.as_dict(), spec)
    assert result.stale_claims == tuple(a for a in spec.claims if a not in allowed)
