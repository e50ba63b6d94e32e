"""Lookups: accountability, reach and who_can, each in agreement with check().

Each lookup reads the live chains with one query (the check's rules minus
action, scope and conditions) and the grants at their far end with another,
then applies the per-resource rules here, with the same predicates as the
check query:

- ``accountability(agent)``: the live chains from the agent up to humans,
  and the owners of every agent and workload on them.
- ``reach(agent)``: every stored resource and action the agent can exercise
  now (its blast radius). A wildcard grant covers every stored resource of
  its type and the wildcard itself; resources that are not stored cannot be
  listed.
- ``who_can(resource, action?)``: every principal that can exercise an
  action on the resource, through its own grant, a group's, or a chain.

An entry whose chain or grant carries a condition is listed with
``conditional: true``: it holds only for requests whose context satisfies
the condition, which a lookup without a request cannot know.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from delegraph.cypher.queries import bounded_query
from delegraph.engine.crud import Page, decode_page_token, encode_page_token
from delegraph.engine.errors import InvalidRequest, NotFound
from delegraph.engine.model import Chain
from delegraph.engine.refs import Ref, parse_ref, wildcard
from neo4j import ManagedTransaction

if TYPE_CHECKING:
    from delegraph.engine.service import Engine

QUERIES = "lookups.cypher"
MAX_PATHS = 4096
MAX_RESOURCES = 10_000
MAX_PAGE = 1000

E = TypeVar("E", "ReachEntry", "AccessEntry")


@dataclass(frozen=True)
class AccountableChain:
    """A live chain from a human (first) down to the agent (last)."""

    principals: tuple[str, ...]
    delegations: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        return {
            "principals": list(self.principals),
            "delegations": list(self.delegations),
        }


@dataclass(frozen=True)
class Ownership:
    """The owner of an agent or workload; ``humans`` act for an owning group."""

    principal: str
    owner: str
    humans: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        return {
            "principal": self.principal,
            "owner": self.owner,
            "humans": list(self.humans),
        }


@dataclass(frozen=True)
class Accountability:
    """The humans accountable for an agent: chains up to humans, and owners."""

    subject: str
    disabled: bool
    chains: tuple[AccountableChain, ...]
    owners: tuple[Ownership, ...]

    @property
    def humans(self) -> tuple[str, ...]:
        """Every user at the top of a chain or behind an owner, sorted."""
        found = {c.principals[0] for c in self.chains}
        for ownership in self.owners:
            found.update(ownership.humans)
        return tuple(sorted(found))

    def as_dict(self) -> dict[str, Any]:
        return {
            "subject": self.subject,
            "disabled": self.disabled,
            "humans": list(self.humans),
            "chains": [c.as_dict() for c in self.chains],
            "owners": [o.as_dict() for o in self.owners],
        }


@dataclass(frozen=True)
class ReachEntry:
    """One (resource, action) the agent can exercise, and the chain that carries it."""

    resource: str
    action: str
    chain: Chain
    conditional: bool

    def as_dict(self) -> dict[str, Any]:
        return {
            "resource": self.resource,
            "action": self.action,
            "chain": self.chain.as_dict(),
            "conditional": self.conditional,
        }


@dataclass(frozen=True)
class AccessEntry:
    """One principal that can exercise ``action`` on the resource, and how."""

    principal: str
    action: str
    chain: Chain
    conditional: bool

    def as_dict(self) -> dict[str, Any]:
        return {
            "principal": self.principal,
            "action": self.action,
            "chain": self.chain.as_dict(),
            "conditional": self.conditional,
        }


# Accountability.
def accountability(
    engine: Engine, ref: Ref, consistency_token: str | None = None
) -> Accountability:
    """Return the live chains from ``ref`` up to humans, and the owners on them."""
    now = engine.clock()
    subject = str(ref)

    def work(tx: ManagedTransaction) -> tuple[Any, list[Any]]:
        paths = list(
            tx.run(
                _query(engine, "chains_to"),
                subject=subject,
                now=now,
                max_paths=MAX_PATHS,
            )
        )
        on_chains = sorted({p for row in paths for p in row["principals"]} | {subject})
        owners = tx.run(
            _query(engine, "owners"), subject=subject, principals=on_chains
        ).single(strict=True)
        return owners, paths

    owners_row, paths = engine.store.read(work, consistency_token)
    if not owners_row["found"]:
        raise NotFound(f"principal {subject} is not in the graph", "ref", subject)
    chains = sorted(
        {
            AccountableChain(
                principals=tuple(reversed(row["principals"])),
                delegations=tuple(reversed([e["id"] for e in row["edges"]])),
            )
            for row in paths
            if row["holder_is_user"]
        },
        key=lambda c: (len(c.delegations), c.principals),
    )
    owners = sorted(
        (
            Ownership(
                principal=o["principal"],
                owner=o["owner"],
                humans=(o["owner"],)
                if o["owner_is_user"]
                else tuple(sorted(o["members"])),
            )
            for o in owners_row["owners"]
        ),
        key=lambda o: (o.principal, o.owner),
    )
    return Accountability(
        subject=subject,
        disabled=owners_row["disabled"],
        chains=tuple(chains),
        owners=tuple(owners),
    )


# Reach.
def reach(
    engine: Engine,
    ref: Ref,
    limit: int = 100,
    page_token: str | None = None,
    consistency_token: str | None = None,
) -> Page[ReachEntry]:
    """Return one page of the (resource, action) pairs ``ref`` can exercise now."""
    _check_limit(limit)
    subject = str(ref)
    scope = {"lookup": "reach", "subject": subject}
    after = decode_page_token(page_token, scope)
    now = engine.clock()

    def work(tx: ManagedTransaction) -> tuple[bool, list[Any], list[Any]]:
        owners = tx.run(
            _query(engine, "owners"), subject=subject, principals=[]
        ).single(strict=True)
        paths = list(
            tx.run(
                _query(engine, "chains_to"),
                subject=subject,
                now=now,
                max_paths=MAX_PATHS,
            )
        )
        holders = sorted({row["holder"] for row in paths})
        grants = list(
            tx.run(
                _query(engine, "holder_grants"),
                holders=holders,
                now=now,
                max_resources=MAX_RESOURCES,
            )
        )
        return owners["found"], paths, grants

    found, paths, grant_rows = engine.store.read(work, consistency_token)
    if not found:
        raise NotFound(f"principal {subject} is not in the graph", "ref", subject)

    grants_by_holder: dict[str, list[Any]] = {}
    for row in grant_rows:
        grants_by_holder.setdefault(row["holder"], []).append(row)

    best: dict[tuple[str, str], ReachEntry] = {}
    for path in paths:
        edges = path["edges"]
        principals = tuple(reversed(path["principals"]))
        delegations = tuple(reversed([e["id"] for e in edges]))
        chain_conditional = any(e.get("condition") is not None for e in edges)
        for grant in grants_by_holder.get(path["holder"], []):
            actions = _common_actions(grant["actions"], edges)
            if not actions:
                continue
            chain = Chain(
                principals=principals,
                delegations=delegations,
                grant_principal=grant["grant_principal"],
                grant_resource=grant["grant_resource"],
            )
            conditional = chain_conditional or grant["condition"] is not None
            for covered in grant["covered"]:
                resource = parse_ref(covered["ref"], "resource")
                scope_refs = {str(resource), wildcard(resource.kind)}
                scope_refs.update(covered["ancestors"])
                if not all(
                    _edge_covers(e, resource.kind, scope_refs, covered["sensitivity"])
                    for e in edges
                ):
                    continue
                for action in actions:
                    entry = ReachEntry(str(resource), action, chain, conditional)
                    _keep_best(best, (entry.resource, action), entry)

    return _page(best, limit, after, scope)


# Who can.
def who_can(
    engine: Engine,
    resource: Ref,
    action: str | None = None,
    limit: int = 100,
    page_token: str | None = None,
    consistency_token: str | None = None,
) -> Page[AccessEntry]:
    """Return one page of the principals that can exercise ``action`` (or any) on ``resource``."""
    _check_limit(limit)
    resource_ref = str(resource)
    scope = {"lookup": "who_can", "resource": resource_ref, "action": action}
    after = decode_page_token(page_token, scope)
    now = engine.clock()
    wildcard_ref = wildcard(resource.kind)

    def work(tx: ManagedTransaction) -> tuple[Any, list[Any]]:
        head = tx.run(
            _query(engine, "holders_of"),
            resource=resource_ref,
            wildcard=wildcard_ref,
            action=action,
            now=now,
        ).single(strict=True)
        holders = sorted({g["holder"] for g in head["grants"]})
        paths = list(
            tx.run(
                _query(engine, "chains_from"),
                holders=holders,
                action=action,
                now=now,
                scope_refs=head["scope_refs"],
                resource_type=resource.kind,
                sensitivity=head["sensitivity"],
                max_paths=MAX_PATHS,
            )
        )
        return head, paths

    head, paths = engine.store.read(work, consistency_token)
    if not head["resource_found"] and not head["wildcard_found"]:
        raise NotFound(
            f"resource {resource_ref} is not in the graph and no wildcard "
            f"{wildcard_ref} is",
            "resource",
            resource_ref,
        )

    grants_by_holder: dict[str, list[Any]] = {}
    for grant in head["grants"]:
        grants_by_holder.setdefault(grant["holder"], []).append(grant)
    trails: list[tuple[str, tuple[str, ...], list[dict[str, Any]]]] = [
        (holder, (holder,), []) for holder in grants_by_holder
    ]
    trails.extend(
        (row["holder"], tuple(row["principals"]), row["edges"]) for row in paths
    )

    best: dict[tuple[str, str], AccessEntry] = {}
    for holder, principals, edges in trails:
        chain_conditional = any(e.get("condition") is not None for e in edges)
        for grant in grants_by_holder.get(holder, []):
            actions = _common_actions(grant["actions"], edges)
            if action is not None:
                actions = [a for a in actions if a == action]
            chain = Chain(
                principals=principals,
                delegations=tuple(e["id"] for e in edges),
                grant_principal=grant["grant_principal"],
                grant_resource=grant["grant_resource"],
            )
            conditional = chain_conditional or grant["condition"] is not None
            for granted in actions:
                entry = AccessEntry(principals[-1], granted, chain, conditional)
                _keep_best(best, (entry.principal, granted), entry)

    return _page(best, limit, after, scope)


# Shared rules.
def _query(engine: Engine, name: str) -> str:
    config = engine.config
    return bounded_query(
        QUERIES,
        name,
        MAX_CHAIN=config.max_chain,
        GROUP_DEPTH=config.max_group_depth,
        HIERARCHY_DEPTH=config.max_hierarchy_depth,
    )


def _check_limit(limit: int) -> None:
    if (
        isinstance(limit, bool)
        or not isinstance(limit, int)
        or not 1 <= limit <= MAX_PAGE
    ):
        raise InvalidRequest(
            f"limit must be an integer from 1 to {MAX_PAGE}, got {limit!r}",
            "limit",
            limit,
        )


def _common_actions(granted: Iterable[str], edges: list[dict[str, Any]]) -> list[str]:
    """Return the actions of a grant that every edge of a chain also carries, sorted."""
    actions = set(granted)
    for edge in edges:
        actions.intersection_update(edge["actions"])
    return sorted(actions)


def _edge_covers(
    edge: dict[str, Any],
    resource_type: str,
    scope_refs: set[str],
    sensitivity: int | None,
) -> bool:
    """Return whether a delegation's resource scope and sensitivity cap admit a resource."""
    resources = edge.get("resources")
    if resources is not None and not scope_refs.intersection(resources):
        return False
    types = edge.get("resource_types")
    if types is not None and resource_type not in types:
        return False
    cap = edge.get("max_sensitivity")
    return cap is None or sensitivity is None or sensitivity <= cap


def _page(
    best: dict[tuple[str, str], E], limit: int, after: Any, scope: dict[str, Any]
) -> Page[E]:
    """Return the entries after the key ``after`` in key order, ``limit`` of them."""
    keys = sorted(best)
    if after is not None:
        keys = [k for k in keys if list(k) > after]
    page = keys[:limit]
    next_token = encode_page_token(scope, list(page[-1])) if len(keys) > limit else None
    return Page(tuple(best[k] for k in page), next_token)


def _keep_best(
    best: dict[tuple[str, str], Any], key: tuple[str, str], entry: Any
) -> None:
    """Keep the entry check would prefer: unconditional first, then the shorter chain."""
    current = best.get(key)
    if current is None or _rank(entry) < _rank(current):
        best[key] = entry


def _rank(entry: ReachEntry | AccessEntry) -> tuple[bool, int, tuple[str, ...], str]:
    chain = entry.chain
    return (
        entry.conditional,
        len(chain.delegations),
        chain.principals,
        chain.grant_resource,
    )
