"""A plain-Python reference evaluator of the check semantics, for tests only.

It reads a :class:`Document` into dictionaries and decides a
:class:`CheckRequest` by enumerating every delegation chain that ends at the
subject, straight from the rules:

- the subject is stored and enabled, and the resource or its ``type:*``
  wildcard is stored;
- the principals on the chain are distinct and enabled;
- each delegation is unrevoked and inside its time window, carries the
  action, covers the resource by scope, type and sensitivity, has a true
  condition and enough ``max_depth`` for the edges after it;
- the holder equals ``on_behalf_of`` when that is given;
- the holder, or a group it reaches through enabled groups, has a live grant
  of the action on the resource, an ancestor of it, or the wildcard.

It shares no code with the Cypher engine except the model classes and the
CEL library that conditions are written in.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

import cel
from delegraph.engine.model import (
    CheckRequest,
    Delegation,
    Document,
    Grant,
    Principal,
    Resource,
)

MAX_CHAIN = 8
MAX_GROUP_DEPTH = 8
MAX_HIERARCHY_DEPTH = 16


@dataclass(frozen=True)
class Candidate:
    """One chain P0 .. Pk that satisfies every rule, with the grant it relies on.

    ``principals`` runs from the holder P0 to the subject Pk, ``delegations``
    from d1 to dk. ``conditional`` is true when the grant or any delegation on
    the chain carries a condition.
    """

    principals: tuple[str, ...]
    delegations: tuple[str, ...]
    grant_principal: str
    grant_resource: str
    conditional: bool


@lru_cache(maxsize=256)
def _compiled(source: str) -> Any:
    return cel.compile(source)


def condition_holds(source: str | None, request: CheckRequest) -> bool:
    """Return whether a CEL condition evaluates to exactly ``true`` on the request."""
    if source is None:
        return True
    variables = {
        "context": request.context,
        "subject": {
            "type": request.subject.kind,
            "id": request.subject.id,
            "properties": request.subject_properties,
        },
        "resource": {
            "type": request.resource.kind,
            "id": request.resource.id,
            "properties": request.resource_properties,
        },
        "action": {"name": request.action},
    }
    try:
        result = _compiled(source).execute(variables)
    # Any evaluation error (absent field, type error) makes the condition false.
    except Exception:
        return False
    return result is True


class Oracle:
    """Reference decisions for one imported document at the fixed time ``now``."""

    def __init__(
        self,
        document: Document,
        now: datetime,
        max_chain: int = MAX_CHAIN,
        max_group_depth: int = MAX_GROUP_DEPTH,
        max_hierarchy_depth: int = MAX_HIERARCHY_DEPTH,
    ) -> None:
        self.now = now
        self.max_chain = max_chain
        self.max_group_depth = max_group_depth
        self.max_hierarchy_depth = max_hierarchy_depth
        self.principals: dict[str, Principal] = {
            str(p.ref): p for p in document.principals
        }
        self.resources: dict[str, Resource] = {
            str(r.ref): r for r in document.resources
        }
        # Importing a grant on ``type:*`` stores that wildcard resource too.
        for grant in document.grants:
            self.resources.setdefault(str(grant.resource), Resource(grant.resource))
        self.groups_of: dict[str, list[str]] = {}
        for membership in document.memberships:
            self.groups_of.setdefault(str(membership.member), []).append(
                str(membership.group)
            )
        self.grants_of: dict[str, list[Grant]] = {}
        for grant in document.grants:
            self.grants_of.setdefault(str(grant.principal), []).append(grant)
        self.incoming: dict[str, list[Delegation]] = {}
        for delegation in document.delegations:
            self.incoming.setdefault(str(delegation.target), []).append(delegation)

    # Graph facts.

    def enabled(self, ref: str) -> bool:
        principal = self.principals.get(ref)
        return principal is not None and not principal.disabled

    def ancestors(self, resource: str) -> list[str]:
        """Return the parents of a stored resource, nearest first, up to the hierarchy bound."""
        found: list[str] = []
        current = self.resources.get(resource)
        while current is not None and current.parent is not None:
            if len(found) == self.max_hierarchy_depth:
                break
            parent = str(current.parent)
            if parent in found or parent == resource:
                break
            found.append(parent)
            current = self.resources.get(parent)
        return found

    def reachable_groups(self, holder: str) -> list[str]:
        """Return the enabled groups reached from ``holder`` by 1..max_group_depth MEMBER_OF hops."""
        distance = {holder: 0}
        queue = deque([holder])
        while queue:
            member = queue.popleft()
            if distance[member] == self.max_group_depth:
                continue
            for group in self.groups_of.get(member, []):
                if group in distance or not self.enabled(group):
                    continue
                distance[group] = distance[member] + 1
                queue.append(group)
        return [group for group in distance if group != holder]

    # Rules.

    def grant_targets(self, request: CheckRequest) -> list[str]:
        resource = str(request.resource)
        wildcard = f"{request.resource.kind}:*"
        targets = [resource, *self.ancestors(resource)]
        if wildcard in self.resources:
            targets.append(wildcard)
        return targets

    def live_grants(
        self, holder: str, request: CheckRequest
    ) -> list[tuple[str, Grant]]:
        """Return (grant principal, grant) pairs through which ``holder`` has the action."""
        targets = set(self.grant_targets(request))
        found: list[tuple[str, Grant]] = []
        for principal in [holder, *self.reachable_groups(holder)]:
            for grant in self.grants_of.get(principal, []):
                if str(grant.resource) not in targets:
                    continue
                if request.action not in grant.actions:
                    continue
                if grant.expires_at is not None and not self.now < grant.expires_at:
                    continue
                found.append((principal, grant))
        return found

    def edge_admits(self, delegation: Delegation, request: CheckRequest) -> bool:
        """Return whether one delegation passes every per-edge rule except its condition."""
        if delegation.revoked_at is not None:
            return False
        if delegation.not_before is not None and delegation.not_before > self.now:
            return False
        if delegation.expires_at is not None and not self.now < delegation.expires_at:
            return False
        if request.action not in delegation.actions:
            return False
        resource = str(request.resource)
        if delegation.resources is not None:
            in_scope = {
                resource,
                f"{request.resource.kind}:*",
                *self.ancestors(resource),
            }
            if not in_scope.intersection(delegation.resources):
                return False
        if (
            delegation.resource_types is not None
            and request.resource.kind not in delegation.resource_types
        ):
            return False
        stored = self.resources.get(resource)
        sensitivity = None if stored is None else stored.sensitivity
        return (
            delegation.max_sensitivity is None
            or sensitivity is None
            or sensitivity <= delegation.max_sensitivity
        )

    def candidates(
        self, request: CheckRequest, ignore_conditions: bool = False
    ) -> list[Candidate]:
        """Return every chain that satisfies all rules, conditions included unless ignored.

        Lookups list what holds for some request context, so they compare with
        ``ignore_conditions=True``: then a chain is kept whatever its
        conditions evaluate to, and ``conditional`` still marks it.
        """
        subject = str(request.subject)
        if not self.enabled(subject):
            return []
        resource = str(request.resource)
        if (
            resource not in self.resources
            and f"{request.resource.kind}:*" not in self.resources
        ):
            return []
        found: list[Candidate] = []
        # Walk back from the subject. ``path`` lists principals subject first,
        # ``edges`` the delegations nearest the subject first, so the edge at
        # index j has exactly j edges after it on any chain through it.
        path = [subject]
        edges: list[Delegation] = []

        def visit() -> None:
            holder = path[-1]
            if request.on_behalf_of is None or str(request.on_behalf_of) == holder:
                for principal, grant in self.live_grants(holder, request):
                    if not ignore_conditions and not condition_holds(
                        grant.condition, request
                    ):
                        continue
                    found.append(
                        Candidate(
                            principals=tuple(reversed(path)),
                            delegations=tuple(d.id for d in reversed(edges)),
                            grant_principal=principal,
                            grant_resource=str(grant.resource),
                            conditional=grant.condition is not None
                            or any(d.condition is not None for d in edges),
                        )
                    )
            if len(edges) == self.max_chain:
                return
            for delegation in self.incoming.get(holder, []):
                source = str(delegation.source)
                if source in path or not self.enabled(source):
                    continue
                if delegation.max_depth < len(edges):
                    continue
                if not self.edge_admits(delegation, request):
                    continue
                if not ignore_conditions and not condition_holds(
                    delegation.condition, request
                ):
                    continue
                path.append(source)
                edges.append(delegation)
                visit()
                path.pop()
                edges.pop()

        visit()
        return found

    def check(self, request: CheckRequest) -> bool:
        return bool(self.candidates(request))
