"""Delegation writes: create with the attenuation rules, revoke, disable, enable.

``create`` checks its rules against the live graph and creates the edge in
one write transaction. That transaction first locks the source, the target
and the source's groups, so a concurrent revoke, disable or grant change on
them waits for the commit instead of slipping between check and write.

Authority of the source, in this order:

1. The source holds every delegated action itself: for each action a live
   grant (direct or through groups, nested up to ``max_group_depth``) that
   contains it on a resource overlapping the delegated scope. A resource
   overlaps when it is a scope resource, its ancestor or descendant, a
   wildcard of a scope type, or (for ``resource_types`` and scope wildcards)
   of such a type or above one. Users only have this path.
2. Otherwise an agent or workload needs one live incoming delegation (not
   revoked, in its time window, from a principal that is not disabled) that
   covers the new one whole: actions, resources, resource_types,
   max_sensitivity, max_depth (at most incoming - 1), expires_at and
   not_before. If none covers it, the error names the first failing field
   of the incoming delegation with the fewest failures.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from delegraph.cypher.queries import bounded_query, query
from delegraph.engine import impact as impacts
from delegraph.engine.errors import Conflict, InvalidRequest, NotFound, RuleViolation
from delegraph.engine.graph import delegation_from_properties, delegation_row
from delegraph.engine.impact import Cut, Impact, edge_is_live
from delegraph.engine.model import Delegation
from delegraph.engine.refs import ACTORS, DELEGATES, Ref, wildcard
from neo4j import ManagedTransaction
from neo4j.exceptions import ConstraintError

if TYPE_CHECKING:
    from delegraph.engine.service import Engine

logger = logging.getLogger("delegraph.delegations")

QUERIES = "delegations.cypher"


@dataclass(frozen=True)
class DelegationWritten:
    """A created delegation and the token that sees it."""

    delegation: Delegation
    consistency_token: str


@dataclass(frozen=True)
class Revocation:
    """The revoked delegation and what the revocation cut.

    ``already_revoked`` is true when the edge was revoked before this call;
    the delegation is then returned unchanged and the impact is empty.
    """

    delegation: Delegation
    already_revoked: bool
    impact: Impact
    consistency_token: str


@dataclass(frozen=True)
class SwitchResult:
    """The outcome of disable or enable on one principal.

    ``unchanged`` is true when the principal already was in the requested
    state. ``impact`` lists the chains a disable cut (empty for enable).
    """

    ref: Ref
    disabled: bool
    unchanged: bool
    impact: Impact
    consistency_token: str


@dataclass(frozen=True)
class Failure:
    """One broken rule: the field, the offending value and the message."""

    field: str
    value: Any
    message: str

    def error(self) -> RuleViolation:
        return RuleViolation(self.message, self.field, self.value)


# Create.


def create(
    engine: Engine, delegation: Delegation, created_by: str
) -> DelegationWritten:
    """Create ``delegation`` if it passes every write-time rule; return it and the token."""
    now = engine.clock()
    _validate_shape(delegation, now)
    new = replace(
        delegation,
        created_at=now,
        created_by=created_by,
        revoked_at=None,
        revoked_by=None,
        revoke_reason=None,
    )
    properties = delegation_row(new)
    del properties["from"], properties["to"]

    def work(tx: ManagedTransaction) -> Delegation:
        _require_endpoints(tx, new)
        _require_unused_id(tx, new.id)
        _require_authority(tx, engine, new, now)
        record = tx.run(
            query(QUERIES, "create_delegation"),
            source=str(new.source),
            target=str(new.target),
            properties={k: v for k, v in properties.items() if v is not None},
        ).single()
        assert record is not None
        return delegation_from_properties(str(new.source), str(new.target), record["d"])

    try:
        written = engine.store.write(work)
    except ConstraintError as error:
        raise _id_conflict(new.id) from error
    logger.info(
        "delegation created id=%s from=%s to=%s by=%s",
        new.id,
        new.source,
        new.target,
        created_by,
    )
    return DelegationWritten(written.value, written.consistency_token)


def _validate_shape(delegation: Delegation, now: datetime) -> None:
    """Check what needs no graph, for Delegations not built by parse_delegation."""
    d = delegation
    if d.source.kind not in ACTORS:
        raise InvalidRequest(
            f"from {d.source} must be a user, agent or workload ref",
            "from",
            str(d.source),
        )
    if d.target.kind not in DELEGATES:
        raise InvalidRequest(
            f"to {d.target} must be an agent or workload ref", "to", str(d.target)
        )
    if d.source == d.target:
        raise InvalidRequest(
            f"a principal cannot delegate to itself ({d.source})", "to", str(d.target)
        )
    if not d.actions:
        raise InvalidRequest("actions must be a non-empty list", "actions", [])
    if d.max_depth < 0:
        raise InvalidRequest("max_depth must not be negative", "max_depth", d.max_depth)
    if d.expires_at is not None and d.expires_at <= now:
        raise InvalidRequest(
            f"expires_at {d.expires_at.isoformat()} is not in the future",
            "expires_at",
            d.expires_at.isoformat(),
        )
    if d.revoked_at is not None:
        raise InvalidRequest(
            "a new delegation cannot carry revoked_at; create it, then revoke it",
            "revoked_at",
            d.revoked_at.isoformat(),
        )


def _require_endpoints(tx: ManagedTransaction, d: Delegation) -> None:
    record = tx.run(
        query(QUERIES, "lock_endpoints"), source=str(d.source), target=str(d.target)
    ).single()
    assert record is not None
    if not record["source_found"]:
        raise RuleViolation(
            f"delegation {d.id!r} is from {d.source}, which does not exist",
            "from",
            str(d.source),
        )
    if record["source_disabled"]:
        raise RuleViolation(
            f"delegation {d.id!r} is from {d.source}, which is disabled",
            "from",
            str(d.source),
        )
    if not record["target_found"]:
        raise RuleViolation(
            f"delegation {d.id!r} is to {d.target}, which does not exist",
            "to",
            str(d.target),
        )
    if record["target_disabled"]:
        raise RuleViolation(
            f"delegation {d.id!r} is to {d.target}, which is disabled",
            "to",
            str(d.target),
        )


def _require_unused_id(tx: ManagedTransaction, delegation_id: str) -> None:
    record = tx.run(query(QUERIES, "delegation_id_used"), id=delegation_id).single()
    if record is not None and record["from"] is not None:
        raise _id_conflict(delegation_id, record["from"], record["to"])


def _id_conflict(
    delegation_id: str, source: str | None = None, target: str | None = None
) -> Conflict:
    where = f" by the delegation from {source} to {target}" if source else ""
    return Conflict(
        f"delegation id {delegation_id!r} is already used{where}; choose another id",
        "id",
        delegation_id,
    )


def _require_authority(
    tx: ManagedTransaction, engine: Engine, d: Delegation, now: datetime
) -> None:
    """Raise RuleViolation unless the source holds or received what it delegates."""
    ancestors = _scope_ancestors(tx, engine, d)
    unheld = _unheld_actions(tx, engine, d, now)
    if not unheld:
        return

    # NOTE: an incoming delegation is trusted as it is stored. Whether the
    # principals above it still hold the actions is not re-checked here, and
    # a mix (own grant for some actions, incoming delegation for the rest) is
    # rejected.
    incoming = _incoming(tx, d.source) if d.source.kind in DELEGATES else []
    if incoming:
        live = [(i, disabled) for i, disabled in incoming if _usable(i, disabled, now)]
        if not live:
            reasons = "; ".join(
                _why_not_live(i, disabled, now) for i, disabled in incoming
            )
            raise RuleViolation(
                f"delegation {d.id!r} is from {d.source}, which has no live incoming "
                f"delegation and holds no grant for {unheld[0]!r}: {reasons}",
                "from",
                str(d.source),
            )
        failures = [(attenuation_failures(d, i, ancestors), i) for i, _ in live]
        failures.sort(key=lambda pair: (len(pair[0]), pair[1].id))
        closest, _ = failures[0]
        if not closest:
            return
        raise closest[0].error()

    raise RuleViolation(
        f"delegation {d.id!r} grants action {unheld[0]!r}, which {d.source} does not "
        f"hold on {describe_scope(d)}",
        "actions",
        unheld[0],
    )


def _scope_ancestors(
    tx: ManagedTransaction, engine: Engine, d: Delegation
) -> dict[str, list[str]]:
    """Return the ancestors of each scope resource; unknown resources are rejected."""
    if d.resources is None:
        return {}
    text = bounded_query(
        QUERIES, "scope_resources", HIERARCHY_DEPTH=engine.config.max_hierarchy_depth
    )
    ancestors: dict[str, list[str]] = {}
    for record in tx.run(text, refs=list(d.resources)):
        ref = record["ref"]
        if not record["stored"] and not ref.endswith(":*"):
            index = d.resources.index(ref)
            raise InvalidRequest(
                f"delegation {d.id!r} scope names {ref}, which is not a stored "
                "resource; create it first or use a TYPE:* wildcard",
                f"resources[{index}]",
                ref,
            )
        ancestors[ref] = list(record["ancestors"])
    return ancestors


def _unheld_actions(
    tx: ManagedTransaction, engine: Engine, d: Delegation, now: datetime
) -> list[str]:
    """Return the delegated actions that no live grant of the source has in scope."""
    scope_refs = [r for r in d.resources or () if not r.endswith(":*")]
    wildcard_types = [
        r.rsplit(":", 1)[0] for r in d.resources or () if r.endswith(":*")
    ]
    text = bounded_query(
        QUERIES,
        "source_grants",
        GROUP_DEPTH=engine.config.max_group_depth,
        HIERARCHY_DEPTH=engine.config.max_hierarchy_depth,
    )
    rows = list(
        tx.run(
            text,
            source=str(d.source),
            now=now,
            scope_refs=scope_refs,
            scope_ref_types=sorted({r.partition(":")[0] for r in scope_refs}),
            wildcard_types=wildcard_types,
            resource_types=list(d.resource_types or ()),
        )
    )
    held: set[str] = set()
    for row in rows:
        in_resources = d.resources is None or row["hits_refs"] or row["hits_wildcards"]
        in_types = d.resource_types is None or row["hits_types"]
        if in_resources and in_types:
            held.update(row["actions"])
    return [action for action in d.actions if action not in held]


def _incoming(tx: ManagedTransaction, source: Ref) -> list[tuple[Delegation, bool]]:
    records = tx.run(query(QUERIES, "incoming_delegations"), source=str(source))
    return [
        (
            delegation_from_properties(r["from"], str(source), r["d"]),
            bool(r["from_disabled"]),
        )
        for r in records
    ]


def _usable(incoming: Delegation, source_disabled: bool, now: datetime) -> bool:
    return not source_disabled and edge_is_live(
        {
            "revoked_at": incoming.revoked_at,
            "not_before": incoming.not_before,
            "expires_at": incoming.expires_at,
        },
        now,
    )


def _why_not_live(incoming: Delegation, source_disabled: bool, now: datetime) -> str:
    name = f"{incoming.id!r}"
    if incoming.revoked_at is not None:
        return f"{name} was revoked at {incoming.revoked_at.isoformat()}"
    if source_disabled:
        return f"{name} is from {incoming.source}, which is disabled"
    if incoming.not_before is not None and now < incoming.not_before:
        return f"{name} is valid from {incoming.not_before.isoformat()}"
    assert incoming.expires_at is not None
    return f"{name} expired at {incoming.expires_at.isoformat()}"


def describe_scope(d: Delegation) -> str:
    parts: list[str] = []
    if d.resources is not None:
        parts.append(", ".join(d.resources))
    if d.resource_types is not None:
        parts.append("resources of type " + ", ".join(d.resource_types))
    return " and ".join(parts) if parts else "any resource"


def attenuation_failures(
    new: Delegation, incoming: Delegation, ancestors: dict[str, list[str]]
) -> list[Failure]:
    """Return every rule by which ``new`` is wider than ``incoming`` (empty if none)."""
    failures: list[Failure] = []
    failures += _action_failures(new, incoming)
    failures += _resource_failures(new, incoming, ancestors)
    failures += _type_failures(new, incoming)
    failures += _sensitivity_failures(new, incoming)
    failures += _depth_failures(new, incoming)
    failures += _time_failures(new, incoming)
    return failures


def _action_failures(new: Delegation, incoming: Delegation) -> list[Failure]:
    return [
        Failure(
            "actions",
            action,
            f"delegation {new.id!r} grants action {action!r}, which {new.source} did "
            f"not receive: its incoming delegation {incoming.id!r} grants "
            f"{', '.join(incoming.actions)}",
        )
        for action in new.actions
        if action not in incoming.actions
    ]


def _resource_failures(
    new: Delegation, incoming: Delegation, ancestors: dict[str, list[str]]
) -> list[Failure]:
    allowed = incoming.resources
    if allowed is None:
        return []
    covered_text = ", ".join(allowed)
    if new.resources is None:
        types = new.resource_types or ()
        if types and all(wildcard(t) in allowed for t in types):
            return []
        return [
            Failure(
                "resources",
                None,
                f"delegation {new.id!r} has no resources scope, but its incoming "
                f"delegation {incoming.id!r} limits {new.source} to {covered_text}",
            )
        ]
    return [
        Failure(
            "resources",
            ref,
            f"delegation {new.id!r} scope includes {ref}, which its incoming "
            f"delegation {incoming.id!r} does not cover (it covers {covered_text})",
        )
        for ref in new.resources
        if not resource_covered(ref, allowed, ancestors.get(ref, []))
    ]


def resource_covered(
    ref: str, allowed: Sequence[str], ancestors: Sequence[str]
) -> bool:
    """Return True if ``ref`` equals, descends from, or is matched by a wildcard in ``allowed``."""
    if ref in allowed:
        return True
    if wildcard(ref.partition(":")[0]) in allowed:
        return True
    return not ref.endswith(":*") and any(a in allowed for a in ancestors)


def _type_failures(new: Delegation, incoming: Delegation) -> list[Failure]:
    allowed = incoming.resource_types
    if allowed is None:
        return []
    if new.resource_types is None:
        refs = new.resources or ()
        if refs and all(
            r.endswith(":*") and r.partition(":")[0] in allowed for r in refs
        ):
            return []
        return [
            Failure(
                "resource_types",
                None,
                f"delegation {new.id!r} sets no resource_types, but its incoming "
                f"delegation {incoming.id!r} limits {new.source} to "
                f"{', '.join(allowed)}",
            )
        ]
    return [
        Failure(
            "resource_types",
            resource_type,
            f"delegation {new.id!r} adds resource type {resource_type!r}, which its "
            f"incoming delegation {incoming.id!r} does not allow (it allows "
            f"{', '.join(allowed)})",
        )
        for resource_type in new.resource_types
        if resource_type not in allowed
    ]


def _sensitivity_failures(new: Delegation, incoming: Delegation) -> list[Failure]:
    limit = incoming.max_sensitivity
    if limit is None:
        return []
    if new.max_sensitivity is not None and new.max_sensitivity <= limit:
        return []
    shown = (
        "no max_sensitivity"
        if new.max_sensitivity is None
        else (f"max_sensitivity {new.max_sensitivity}")
    )
    return [
        Failure(
            "max_sensitivity",
            new.max_sensitivity,
            f"delegation {new.id!r} sets {shown}, but its incoming delegation "
            f"{incoming.id!r} has max_sensitivity {limit}; set it to {limit} or lower",
        )
    ]


def _depth_failures(new: Delegation, incoming: Delegation) -> list[Failure]:
    allowed = incoming.max_depth - 1
    if new.max_depth <= allowed:
        return []
    if allowed < 0:
        message = (
            f"delegation {new.id!r}: {new.source} may not re-delegate, because its "
            f"incoming delegation {incoming.id!r} has max_depth 0"
        )
    else:
        message = (
            f"delegation {new.id!r} sets max_depth {new.max_depth}, but its incoming "
            f"delegation {incoming.id!r} has max_depth {incoming.max_depth}, so at "
            f"most {allowed} is allowed"
        )
    return [Failure("max_depth", new.max_depth, message)]


def _time_failures(new: Delegation, incoming: Delegation) -> list[Failure]:
    failures: list[Failure] = []
    limit = incoming.expires_at
    if limit is not None and (new.expires_at is None or new.expires_at > limit):
        shown = (
            "never expires"
            if new.expires_at is None
            else (f"expires at {new.expires_at.isoformat()}")
        )
        failures.append(
            Failure(
                "expires_at",
                None if new.expires_at is None else new.expires_at.isoformat(),
                f"delegation {new.id!r} {shown}, after its incoming delegation "
                f"{incoming.id!r}, which expires at {limit.isoformat()}",
            )
        )
    start = incoming.not_before
    if start is not None and new.not_before is not None and new.not_before < start:
        failures.append(
            Failure(
                "not_before",
                new.not_before.isoformat(),
                f"delegation {new.id!r} starts at {new.not_before.isoformat()}, before "
                f"its incoming delegation {incoming.id!r}, which starts at "
                f"{start.isoformat()}",
            )
        )
    return failures


# Revoke and impact.


def revoke(
    engine: Engine, delegation_id: str, revoked_by: str, reason: str | None = None
) -> Revocation:
    """Soft-revoke a delegation and return what it cut; a second revoke changes nothing."""
    now = engine.clock()

    def work(tx: ManagedTransaction) -> tuple[Delegation, bool, Impact]:
        record = tx.run(query(QUERIES, "lock_delegation"), id=delegation_id).single()
        if record is None:
            raise _delegation_not_found(delegation_id)
        current = delegation_from_properties(record["from"], record["to"], record["d"])
        if current.revoked_at is not None:
            return current, True, Impact()
        impact = _edge_impact(tx, engine, current, now)
        updated = tx.run(
            query(QUERIES, "revoke_delegation"),
            id=delegation_id,
            now=now,
            by=revoked_by,
            reason=reason,
        ).single()
        assert updated is not None
        revoked = delegation_from_properties(record["from"], record["to"], updated["d"])
        return revoked, False, impact

    written = engine.store.write(work)
    delegation, already, impact = written.value
    logger.info(
        "delegation revoked id=%s by=%s already_revoked=%s lost_access=%s",
        delegation_id,
        revoked_by,
        already,
        ",".join(impact.lost_access),
    )
    return Revocation(delegation, already, impact, written.consistency_token)


def impact(
    engine: Engine, delegation_id: str, consistency_token: str | None = None
) -> Impact:
    """Return what revoking ``delegation_id`` now would cut, without writing."""
    now = engine.clock()

    def work(tx: ManagedTransaction) -> Impact:
        record = tx.run(query(QUERIES, "get_delegation"), id=delegation_id).single()
        if record is None:
            raise _delegation_not_found(delegation_id)
        current = delegation_from_properties(record["from"], record["to"], record["d"])
        if current.revoked_at is not None:
            return Impact()
        return _edge_impact(tx, engine, current, now)

    return engine.store.read(work, consistency_token)


def _edge_impact(
    tx: ManagedTransaction, engine: Engine, d: Delegation, now: datetime
) -> Impact:
    graph = impacts.read_neighbourhood(
        tx,
        downstream_of=str(d.target),
        upstream_of=str(d.source),
        now=now,
        max_chain=engine.config.max_chain,
        group_depth=engine.config.max_group_depth,
    )
    return impacts.assess(
        graph, Cut(edge=d.id), engine.config.max_chain, engine.config.max_candidates
    )


def _delegation_not_found(delegation_id: str) -> NotFound:
    return NotFound(f"delegation {delegation_id!r} does not exist", "id", delegation_id)


# Disable and enable.


def disable(engine: Engine, ref: Ref, disabled_by: str) -> SwitchResult:
    """Disable a user, agent or workload; return the chains this cut."""
    _require_switchable(ref)
    now = engine.clock()

    def work(tx: ManagedTransaction) -> tuple[bool, Impact]:
        if _lock_principal(tx, ref)["disabled"]:
            return True, Impact()
        graph = impacts.read_neighbourhood(
            tx,
            downstream_of=str(ref),
            upstream_of=str(ref),
            now=now,
            max_chain=engine.config.max_chain,
            group_depth=engine.config.max_group_depth,
        )
        cut = impacts.assess(
            graph,
            Cut(principal=str(ref)),
            engine.config.max_chain,
            engine.config.max_candidates,
        )
        tx.run(
            query(QUERIES, "disable_principal"), ref=str(ref), now=now, by=disabled_by
        )
        return False, cut

    written = engine.store.write(work)
    unchanged, cut = written.value
    logger.info(
        "principal disabled ref=%s by=%s unchanged=%s lost_access=%s",
        ref,
        disabled_by,
        unchanged,
        ",".join(cut.lost_access),
    )
    return SwitchResult(ref, True, unchanged, cut, written.consistency_token)


def enable(engine: Engine, ref: Ref, enabled_by: str) -> SwitchResult:
    """Clear ``disabled`` on a user, agent or workload."""
    _require_switchable(ref)
    now = engine.clock()

    def work(tx: ManagedTransaction) -> bool:
        if not _lock_principal(tx, ref)["disabled"]:
            return True
        tx.run(query(QUERIES, "enable_principal"), ref=str(ref), now=now, by=enabled_by)
        return False

    written = engine.store.write(work)
    logger.info(
        "principal enabled ref=%s by=%s unchanged=%s", ref, enabled_by, written.value
    )
    return SwitchResult(ref, False, written.value, Impact(), written.consistency_token)


def _require_switchable(ref: Ref) -> None:
    if ref.kind not in ACTORS:
        raise InvalidRequest(
            f"{ref} cannot be disabled; only user, agent and workload refs can",
            "ref",
            str(ref),
        )


def _lock_principal(tx: ManagedTransaction, ref: Ref) -> Any:
    record = tx.run(query(QUERIES, "lock_principal"), ref=str(ref)).single()
    if record is None:
        raise NotFound(f"principal {ref} does not exist", "ref", str(ref))
    return record
