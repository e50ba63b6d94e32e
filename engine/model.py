"""Plain data classes of the domain: the graph, requests and decisions.

Pydantic stays at the HTTP boundary; inside the engine everything is one of
these frozen dataclasses, so the engine is testable without the web layer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from delegraph.engine.refs import Ref


@dataclass(frozen=True)
class Principal:
    """A user, agent, workload or group; agents and workloads have an owner."""

    ref: Ref
    owner: Ref | None = None
    disabled: bool = False


@dataclass(frozen=True)
class Resource:
    """A resource node; ``parent`` is the folder it sits in (CHILD_OF)."""

    ref: Ref
    parent: Ref | None = None
    sensitivity: int | None = None


@dataclass(frozen=True)
class Membership:
    member: Ref
    group: Ref


@dataclass(frozen=True)
class Grant:
    """A base grant: ``principal`` holds ``actions`` on ``resource`` and its descendants."""

    principal: Ref
    resource: Ref
    actions: tuple[str, ...]
    expires_at: datetime | None = None
    condition: str | None = None


@dataclass(frozen=True)
class Delegation:
    """A DELEGATES_TO edge: ``source`` lets ``target`` act for it, attenuated."""

    id: str
    source: Ref
    target: Ref
    actions: tuple[str, ...]
    resources: tuple[str, ...] | None = None
    resource_types: tuple[str, ...] | None = None
    max_sensitivity: int | None = None
    max_depth: int = 0
    not_before: datetime | None = None
    expires_at: datetime | None = None
    condition: str | None = None
    created_at: datetime | None = None
    created_by: str | None = None
    revoked_at: datetime | None = None
    revoked_by: str | None = None
    revoke_reason: str | None = None


@dataclass(frozen=True)
class Document:
    """The import/export document: a whole graph or a part of one."""

    principals: tuple[Principal, ...] = ()
    resources: tuple[Resource, ...] = ()
    memberships: tuple[Membership, ...] = ()
    grants: tuple[Grant, ...] = ()
    delegations: tuple[Delegation, ...] = ()


@dataclass(frozen=True)
class CheckRequest:
    """One authorization question, in the order subject, action, resource."""

    subject: Ref
    action: str
    resource: Ref
    context: dict[str, Any] = field(default_factory=dict)
    subject_properties: dict[str, Any] = field(default_factory=dict)
    resource_properties: dict[str, Any] = field(default_factory=dict)
    on_behalf_of: Ref | None = None
    consistency_token: str | None = None
    request_id: str | None = None


@dataclass(frozen=True)
class Chain:
    """A delegation chain P0 -d1-> ... -dk-> Pk, with the grant that P0 relies on.

    ``principals`` runs from the holder P0 to the subject Pk; ``delegations``
    holds the ids d1..dk (empty when the subject holds the grant itself).
    ``grant_principal`` is P0 or the group through which P0 holds the grant.
    """

    principals: tuple[str, ...]
    delegations: tuple[str, ...]
    grant_principal: str
    grant_resource: str

    @property
    def holder(self) -> str:
        return self.principals[0]

    def as_dict(self) -> dict[str, Any]:
        return {
            "principals": list(self.principals),
            "delegations": list(self.delegations),
            "grant": {
                "principal": self.grant_principal,
                "resource": self.grant_resource,
            },
        }


@dataclass(frozen=True)
class Decision:
    """The outcome of a check; ``chain`` is the deciding chain of an allow."""

    allowed: bool
    decision_id: str
    reason: str
    chain: Chain | None = None
    request: CheckRequest | None = None
    decided_at: datetime | None = None
    # True for the deny of a check that Neo4j failed to decide.
    store_failed: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "allowed": self.allowed,
            "decision_id": self.decision_id,
            "chain": None if self.chain is None else self.chain.as_dict(),
            "reason": self.reason,
        }
