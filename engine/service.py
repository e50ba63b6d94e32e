"""The Engine: one object that the API, the CLI, the demo and the bench call.

It holds the store and the server settings and forwards to the module that
owns each concept (``graph``, ``delegations``, ``checks``, ``explain``,
``lookups``, ``audit``). Every write returns the consistency token of the
transaction that made it; every read accepts one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from delegraph.cypher.store import Store
from delegraph.engine.model import (
    CheckRequest,
    Decision,
    Delegation,
    Document,
    Grant,
    Membership,
    Principal,
    Resource,
)
from delegraph.engine.refs import Ref

if TYPE_CHECKING:
    from delegraph.engine.audit import DecisionRecord
    from delegraph.engine.crud import Deleted, Page, Saved
    from delegraph.engine.delegations import DelegationWritten, Revocation, SwitchResult
    from delegraph.engine.explain import Explanation
    from delegraph.engine.impact import Impact
    from delegraph.engine.introspect import Introspection, IntrospectionKeys
    from delegraph.engine.lookups import AccessEntry, Accountability, ReachEntry
    from delegraph.engine.trace import Trace


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class EngineConfig:
    """Server-wide limits of the decision engine."""

    max_chain: int = 8
    max_group_depth: int = 8
    max_hierarchy_depth: int = 16
    max_candidates: int = 256


class Engine:
    """The decision engine over one Neo4j store."""

    def __init__(
        self,
        store: Store,
        config: EngineConfig | None = None,
        clock: Callable[[], datetime] = utc_now,
        on_decision: Callable[[Decision], None] | None = None,
        decision_file: Path | None = None,
    ) -> None:
        self.store = store
        self.config = config or EngineConfig()
        self.clock = clock
        self.on_decision = on_decision
        # The JSONL file of the file sink: when set, the decision reads and
        # traces scan it instead of the (:Decision) nodes.
        self.decision_file = decision_file

    # Writes (module ``graph``; delegation rules in ``delegations``).
    def import_document(self, document: Document) -> Any:
        from delegraph.engine import graph

        return graph.import_document(self.store, document)

    def export_document(self, consistency_token: str | None = None) -> Document:
        from delegraph.engine import graph

        return graph.export_document(self.store, consistency_token)

    def create_delegation(
        self, delegation: Delegation, created_by: str
    ) -> DelegationWritten:
        from delegraph.engine import delegations

        return delegations.create(self, delegation, created_by)

    def revoke(
        self, delegation_id: str, revoked_by: str, reason: str | None = None
    ) -> Revocation:
        from delegraph.engine import delegations

        return delegations.revoke(self, delegation_id, revoked_by, reason)

    def disable(self, ref: Ref, disabled_by: str) -> SwitchResult:
        from delegraph.engine import delegations

        return delegations.disable(self, ref, disabled_by)

    def enable(self, ref: Ref, enabled_by: str) -> SwitchResult:
        from delegraph.engine import delegations

        return delegations.enable(self, ref, enabled_by)

    def impact(
        self, delegation_id: str, consistency_token: str | None = None
    ) -> Impact:
        from delegraph.engine import delegations

        return delegations.impact(self, delegation_id, consistency_token)

    def get_delegation(
        self, delegation_id: str, consistency_token: str | None = None
    ) -> Delegation:
        from delegraph.engine import crud

        return crud.get_delegation(self, delegation_id, consistency_token)

    def list_delegations(
        self,
        source: Ref | None = None,
        target: Ref | None = None,
        include_revoked: bool = False,
        limit: int = 100,
        page_token: str | None = None,
        consistency_token: str | None = None,
    ) -> Page[Delegation]:
        from delegraph.engine import crud

        return crud.list_delegations(
            self, source, target, include_revoked, limit, page_token, consistency_token
        )

    # CRUD (module ``crud``).
    def upsert_principal(self, principal: Principal) -> Saved[Principal]:
        from delegraph.engine import crud

        return crud.upsert_principal(self, principal)

    def get_principal(
        self, ref: Ref, consistency_token: str | None = None
    ) -> Principal:
        from delegraph.engine import crud

        return crud.get_principal(self, ref, consistency_token)

    def list_principals(
        self,
        kind: str | None = None,
        limit: int = 100,
        page_token: str | None = None,
        consistency_token: str | None = None,
    ) -> Page[Principal]:
        from delegraph.engine import crud

        return crud.list_principals(self, kind, limit, page_token, consistency_token)

    def delete_principal(self, ref: Ref, force: bool = False) -> Deleted:
        from delegraph.engine import crud

        return crud.delete_principal(self, ref, force)

    def upsert_resource(self, resource: Resource) -> Saved[Resource]:
        from delegraph.engine import crud

        return crud.upsert_resource(self, resource)

    def get_resource(self, ref: Ref, consistency_token: str | None = None) -> Resource:
        from delegraph.engine import crud

        return crud.get_resource(self, ref, consistency_token)

    def list_resources(
        self,
        resource_type: str | None = None,
        limit: int = 100,
        page_token: str | None = None,
        consistency_token: str | None = None,
    ) -> Page[Resource]:
        from delegraph.engine import crud

        return crud.list_resources(
            self, resource_type, limit, page_token, consistency_token
        )

    def delete_resource(self, ref: Ref, force: bool = False) -> Deleted:
        from delegraph.engine import crud

        return crud.delete_resource(self, ref, force)

    def add_membership(self, membership: Membership) -> Saved[Membership]:
        from delegraph.engine import crud

        return crud.add_membership(self, membership)

    def list_memberships(
        self,
        member: Ref | None = None,
        group: Ref | None = None,
        limit: int = 100,
        page_token: str | None = None,
        consistency_token: str | None = None,
    ) -> Page[Membership]:
        from delegraph.engine import crud

        return crud.list_memberships(
            self, member, group, limit, page_token, consistency_token
        )

    def remove_membership(self, membership: Membership) -> str:
        from delegraph.engine import crud

        return crud.remove_membership(self, membership)

    def list_grants(
        self,
        principal: Ref | None = None,
        resource: Ref | None = None,
        limit: int = 100,
        page_token: str | None = None,
        consistency_token: str | None = None,
    ) -> Page[Grant]:
        from delegraph.engine import crud

        return crud.list_grants(
            self, principal, resource, limit, page_token, consistency_token
        )

    def delete_grant(self, principal: Ref, resource: Ref) -> Any:
        from delegraph.engine import graph

        return graph.delete_grant(self.store, principal, resource)

    def add_grant(self, grant: Grant) -> Any:
        from delegraph.engine import graph

        return graph.add_grant(self.store, grant)

    # Decisions (module ``checks``).
    def check(self, request: CheckRequest) -> Decision:
        from delegraph.engine import checks

        return checks.check(self, request)

    def check_batch(self, requests: Sequence[CheckRequest]) -> list[Decision]:
        from delegraph.engine import checks

        return checks.check_batch(self, requests)

    def record_unavailable(
        self, requests: Sequence[CheckRequest], reason: str
    ) -> list[Decision]:
        from delegraph.engine import checks

        return checks.record_unavailable(self, requests, reason)

    def warm_up(self) -> None:
        """Plan the check queries before the first request (raises StoreError if Neo4j fails)."""
        from delegraph.engine import checks

        checks.warm_up(self)

    def explain(self, request: CheckRequest) -> Explanation:
        from delegraph.engine import explain

        return explain.explain(self, request)

    # Lookups (module ``lookups``).
    def accountability(
        self, ref: Ref, consistency_token: str | None = None
    ) -> Accountability:
        from delegraph.engine import lookups

        return lookups.accountability(self, ref, consistency_token)

    def reach(
        self,
        ref: Ref,
        limit: int = 100,
        page_token: str | None = None,
        consistency_token: str | None = None,
    ) -> Page[ReachEntry]:
        from delegraph.engine import lookups

        return lookups.reach(self, ref, limit, page_token, consistency_token)

    def who_can(
        self,
        resource: Ref,
        action: str | None = None,
        limit: int = 100,
        page_token: str | None = None,
        consistency_token: str | None = None,
    ) -> Page[AccessEntry]:
        from delegraph.engine import lookups

        return lookups.who_can(
            self, resource, action, limit, page_token, consistency_token
        )

    # Decision log reads (module ``trace``) and token introspection.
    def decisions(
        self,
        subject: Ref | None = None,
        on_behalf_of: Ref | None = None,
        resource: Ref | None = None,
        delegation: str | None = None,
        outcome: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 100,
        page_token: str | None = None,
        consistency_token: str | None = None,
    ) -> Page[DecisionRecord]:
        from delegraph.engine import trace

        where = trace.DecisionFilter(
            subject, on_behalf_of, resource, delegation, outcome, since, until
        )
        return trace.decisions(self, where, limit, page_token, consistency_token)

    def trace(
        self,
        agent: Ref,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 1000,
        consistency_token: str | None = None,
    ) -> Trace:
        from delegraph.engine import trace

        return trace.trace(self, agent, since, until, limit, consistency_token)

    def introspect(
        self,
        token: str,
        keys: IntrospectionKeys,
        consistency_token: str | None = None,
    ) -> Introspection:
        from delegraph.engine import introspect

        return introspect.introspect(self, token, keys, consistency_token)
