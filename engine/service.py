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
from typing import Any

from delegraph.cypher.store import Store
from delegraph.engine.model import CheckRequest, Decision, Delegation, Document, Grant
from delegraph.engine.refs import Ref


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
    ) -> None:
        self.store = store
        self.config = config or EngineConfig()
        self.clock = clock

    # Writes (module ``graph``; delegation rules in ``delegations``).
    def import_document(self, document: Document) -> Any:
        from delegraph.engine import graph

        return graph.import_document(self.store, document)

    def export_document(self, consistency_token: str | None = None) -> Document:
        from delegraph.engine import graph

        return graph.export_document(self.store, consistency_token)

    def create_delegation(self, delegation: Delegation, created_by: str) -> Any:
        from delegraph.engine import delegations

        return delegations.create(self, delegation, created_by)

    def revoke(
        self, delegation_id: str, revoked_by: str, reason: str | None = None
    ) -> Any:
        from delegraph.engine import delegations

        return delegations.revoke(self, delegation_id, revoked_by, reason)

    def disable(self, ref: Ref, disabled_by: str) -> Any:
        from delegraph.engine import delegations

        return delegations.disable(self, ref, disabled_by)

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
