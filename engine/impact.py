"""Impact of cutting a delegation edge or a principal: who loses access.

A chain carries access when it starts at a holder (a principal with a live
grant, directly or through its groups), every edge is live (unrevoked and in
its time window), no principal is disabled or visited twice, each edge has at
most ``max_depth`` edges after it, and the chain has at most ``max_chain``
edges. These are the check-time rules minus actions, resources and
conditions, which impact does not compare.

The neighbourhood of the cut is read level by level (one query per hop, so
diamonds cost one row per edge, not one per path) and the chains are then
enumerated here in memory.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from delegraph.cypher.queries import bounded_query, query
from delegraph.engine.graph import native_time
from neo4j import ManagedTransaction

QUERIES = "delegations.cypher"


@dataclass(frozen=True)
class CutChain:
    """A chain that ran through the cut: principals from holder to delegate, edge ids."""

    principals: tuple[str, ...]
    delegations: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        return {
            "principals": list(self.principals),
            "delegations": list(self.delegations),
        }


@dataclass(frozen=True)
class AffectedPrincipal:
    """A principal downstream of the cut; ``still_reachable`` if another chain remains."""

    ref: str
    still_reachable: bool


@dataclass(frozen=True)
class Impact:
    """The chains that a cut ends and the principals downstream of it.

    ``lost_access`` lists the affected principals with no other chain left.
    ``truncated`` is true when more than ``limit`` chains ran through the cut
    and only the first ``limit`` are listed.
    """

    chains: tuple[CutChain, ...] = ()
    affected: tuple[AffectedPrincipal, ...] = ()
    truncated: bool = False

    @property
    def lost_access(self) -> tuple[str, ...]:
        return tuple(a.ref for a in self.affected if not a.still_reachable)

    def as_dict(self) -> dict[str, Any]:
        return {
            "chains": [c.as_dict() for c in self.chains],
            "affected": [
                {"ref": a.ref, "still_reachable": a.still_reachable}
                for a in self.affected
            ],
            "lost_access": list(self.lost_access),
            "truncated": self.truncated,
        }


@dataclass(frozen=True)
class Edge:
    id: str
    source: str
    target: str
    max_depth: int
    live: bool


@dataclass
class Neighbourhood:
    """Delegation edges and principal facts read around a cut."""

    edges: dict[str, Edge] = field(default_factory=dict)
    disabled: set[str] = field(default_factory=set)
    holders: set[str] = field(default_factory=set)

    def outgoing(self) -> dict[str, list[Edge]]:
        index: dict[str, list[Edge]] = defaultdict(list)
        for edge in sorted(self.edges.values(), key=lambda e: e.id):
            index[edge.source].append(edge)
        return index

    def incoming(self) -> dict[str, list[Edge]]:
        index: dict[str, list[Edge]] = defaultdict(list)
        for edge in sorted(self.edges.values(), key=lambda e: e.id):
            index[edge.target].append(edge)
        return index


@dataclass(frozen=True)
class Cut:
    """What is removed: one delegation edge (by id) or one principal (by ref)."""

    edge: str | None = None
    principal: str | None = None

    def removes_edge(self, edge: Edge) -> bool:
        return edge.id == self.edge or self.principal in (edge.source, edge.target)


def edge_is_live(properties: dict[str, Any], now: datetime) -> bool:
    """Return True if the edge is unrevoked and ``not_before <= now < expires_at``."""
    if properties.get("revoked_at") is not None:
        return False
    not_before = native_time(properties.get("not_before"))
    expires_at = native_time(properties.get("expires_at"))
    if not_before is not None and now < not_before:
        return False
    return expires_at is None or now < expires_at


def read_neighbourhood(
    tx: ManagedTransaction,
    downstream_of: str,
    upstream_of: str,
    now: datetime,
    max_chain: int,
    group_depth: int,
) -> Neighbourhood:
    """Read the edges within ``max_chain`` hops below ``downstream_of``, then the
    edges within ``max_chain`` hops above all of them and above ``upstream_of``.
    """
    graph = Neighbourhood()
    seeds = {downstream_of, upstream_of}
    downstream = _walk(tx, graph, {downstream_of}, "edges_out", "to", now, max_chain)
    _walk(tx, graph, seeds | downstream, "edges_in", "from", now, max_chain)

    refs = set(seeds)
    for edge in graph.edges.values():
        refs.update((edge.source, edge.target))
    text = bounded_query(QUERIES, "principal_facts", GROUP_DEPTH=group_depth)
    for record in tx.run(text, refs=sorted(refs), now=now):
        if record["disabled"]:
            graph.disabled.add(record["ref"])
        if record["holder"]:
            graph.holders.add(record["ref"])
    return graph


def _walk(
    tx: ManagedTransaction,
    graph: Neighbourhood,
    seeds: set[str],
    query_name: str,
    next_key: str,
    now: datetime,
    hops: int,
) -> set[str]:
    """Follow edges breadth first for ``hops`` levels; return every node reached."""
    text = query(QUERIES, query_name)
    seen = set(seeds)
    frontier = sorted(seeds)
    for _ in range(hops):
        if not frontier:
            break
        reached: set[str] = set()
        for record in tx.run(text, refs=frontier):
            d = record["d"]
            graph.edges[d["id"]] = Edge(
                d["id"],
                record["from"],
                record["to"],
                int(d.get("max_depth") or 0),
                edge_is_live(d, now),
            )
            reached.add(record[next_key])
        frontier = sorted(reached - seen)
        seen |= reached
    return seen - seeds


def chains_through(
    graph: Neighbourhood, cut: Cut, max_chain: int, limit: int
) -> tuple[list[CutChain], bool]:
    """Enumerate the access-carrying chains that contain the cut; True if over ``limit``."""
    outgoing = graph.outgoing()
    reaches_cut = _nodes_reaching(graph, cut)
    chains: list[CutChain] = []

    def extend(path: list[str], ids: list[str], budget: int, passed: bool) -> bool:
        node = path[-1]
        for edge in outgoing.get(node, []):
            target = edge.target
            if not edge.live or target in path or target in graph.disabled:
                continue
            if len(ids) >= max_chain or budget < 1:
                continue
            crossed = passed or edge.id == cut.edge or target == cut.principal
            if not crossed and target not in reaches_cut:
                continue
            path.append(target)
            ids.append(edge.id)
            if crossed:
                if len(chains) >= limit:
                    return False
                chains.append(CutChain(tuple(path), tuple(ids)))
            go_on = extend(path, ids, min(budget - 1, edge.max_depth), crossed)
            path.pop()
            ids.pop()
            if not go_on:
                return False
        return True

    complete = True
    for root in sorted(graph.holders - graph.disabled):
        if root not in reaches_cut and root != cut.principal:
            continue
        if not extend([root], [], max_chain, root == cut.principal):
            complete = False
            break
    return chains, not complete


def _nodes_reaching(graph: Neighbourhood, cut: Cut) -> set[str]:
    """Return the principals with a live path to the cut (the cut's source included)."""
    if cut.edge is not None:
        edge = graph.edges.get(cut.edge)
        if edge is None:
            return set()
        start = edge.source
    else:
        assert cut.principal is not None
        start = cut.principal
    incoming = graph.incoming()
    found = {start}
    frontier = [start]
    while frontier:
        node = frontier.pop()
        for edge in incoming.get(node, []):
            if edge.live and edge.source not in found:
                found.add(edge.source)
                frontier.append(edge.source)
    return found


def still_reachable(graph: Neighbourhood, ref: str, cut: Cut, max_chain: int) -> bool:
    """Return True if ``ref`` keeps a chain from a holder that avoids the cut.

    The search walks edges backwards; ``after`` counts the edges between the
    current node and ``ref``, which is what each edge's max_depth bounds.
    """
    if ref == cut.principal or ref in graph.disabled:
        return False
    if ref in graph.holders:
        return True
    incoming = graph.incoming()

    def search(node: str, after: int, visited: set[str]) -> bool:
        for edge in incoming.get(node, []):
            source = edge.source
            if not edge.live or cut.removes_edge(edge) or source in visited:
                continue
            if source in graph.disabled or after > edge.max_depth:
                continue
            if after + 1 > max_chain:
                continue
            if source in graph.holders:
                return True
            if search(source, after + 1, visited | {source}):
                return True
        return False

    return search(ref, 0, {ref})


def assess(graph: Neighbourhood, cut: Cut, max_chain: int, limit: int) -> Impact:
    """Compute the Impact of ``cut`` on an already read neighbourhood."""
    chains, truncated = chains_through(graph, cut, max_chain, limit)
    affected: list[str] = []
    for chain in chains:
        start = _first_affected(chain, cut)
        for ref in chain.principals[start:]:
            if ref not in affected and ref != cut.principal:
                affected.append(ref)
    return Impact(
        chains=tuple(chains),
        affected=tuple(
            AffectedPrincipal(ref, still_reachable(graph, ref, cut, max_chain))
            for ref in sorted(affected)
        ),
        truncated=truncated,
    )


def _first_affected(chain: CutChain, cut: Cut) -> int:
    """Return the index of the first principal in ``chain`` that comes after the cut."""
    if cut.edge is not None:
        return chain.delegations.index(cut.edge) + 1
    return chain.principals.index(str(cut.principal)) + 1
