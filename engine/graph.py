"""Bulk import and export of the graph, and the plain CRUD writes.

Import is an admin restore and an upsert: nodes are merged on their ref and
delegations on their id, so loading the same document twice changes nothing.
It validates references and types only; the attenuation rules of
``delegations.create`` are not applied, because checks enforce them anyway.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from delegraph.cypher.queries import query, query_time
from delegraph.cypher.store import Store
from delegraph.engine.errors import Conflict, InvalidRequest, NotFound
from delegraph.engine.model import (
    Delegation,
    Document,
    Grant,
    Membership,
    Principal,
    Resource,
)
from delegraph.engine.refs import Ref, parse_ref, wildcard
from neo4j import ManagedTransaction
from neo4j.exceptions import ConstraintError

logger = logging.getLogger("delegraph.store")

GRAPH = "graph.cypher"
BATCH_SIZE = 10_000
GRANT_TIMES = ("expires_at",)
DELEGATION_TIMES = ("not_before", "expires_at", "created_at", "revoked_at")
UPSERT_PRINCIPALS = {
    "user": "upsert_users",
    "group": "upsert_groups",
    "agent": "upsert_agents",
    "workload": "upsert_workloads",
}


@dataclass
class ImportResult:
    """Rows written per section, and the token that sees all of them."""

    counts: dict[str, int] = field(default_factory=dict)
    consistency_token: str | None = None
    on_batch: Callable[[str, int], None] | None = field(default=None, repr=False)

    @property
    def edges(self) -> int:
        return sum(
            self.counts.get(name, 0)
            for name in ("owners", "parents", "memberships", "grants", "delegations")
        )


def import_document(
    store: Store,
    document: Document,
    imported_by: str = "import",
    batch_size: int = BATCH_SIZE,
    now: datetime | None = None,
    on_batch: Callable[[str, int], None] | None = None,
) -> ImportResult:
    """Upsert every node and edge of ``document``, one transaction per batch.

    ``on_batch(section, rows)`` is called after each committed batch, so a
    caller can show progress; :func:`row_count` gives the total to expect.
    """
    now = now or datetime.now(UTC)
    _require_known_refs(store, document)
    result = ImportResult(on_batch=on_batch)

    for kind, name in UPSERT_PRINCIPALS.items():
        rows = [_principal_row(p) for p in document.principals if p.ref.kind == kind]
        _write_batches(store, result, kind + "s", name, rows, batch_size)
    resources = list(document.resources) + _implied_wildcards(document)
    _write_batches(
        store,
        result,
        "resources",
        "upsert_resources",
        [_resource_row(r) for r in resources],
        batch_size,
    )
    owners = [
        {"ref": str(p.ref), "owner": str(p.owner)}
        for p in document.principals
        if p.owner is not None
    ]
    _write_batches(store, result, "owners", "set_owners", owners, batch_size)
    parents = [
        {"ref": str(r.ref), "parent": None if r.parent is None else str(r.parent)}
        for r in document.resources
    ]
    _write_batches(store, result, "parents", "set_parents", parents, batch_size)
    memberships = [
        {"member": str(m.member), "group": str(m.group)} for m in document.memberships
    ]
    _write_batches(
        store, result, "memberships", "upsert_memberships", memberships, batch_size
    )
    grants = [_as_text(grant_row(g), GRANT_TIMES) for g in document.grants]
    _write_batches(store, result, "grants", "upsert_grants", grants, batch_size)
    # A document that gives created_at and created_by keeps them; one that
    # does not gets the time and author of this import.
    rows = [_as_text(delegation_row(d), DELEGATION_TIMES) for d in document.delegations]
    with_origin = [r for r in rows if r["created_at"] and r["created_by"]]
    without_origin = [r for r in rows if not (r["created_at"] and r["created_by"])]
    for name, batch_rows in (
        ("upsert_delegations_with_origin", with_origin),
        ("upsert_delegations", without_origin),
    ):
        _write_batches(
            store,
            result,
            "delegations",
            name,
            batch_rows,
            batch_size,
            extra={"now": now, "by": imported_by},
        )
    logger.info("imported document counts=%s", result.counts)
    return result


def row_count(document: Document) -> int:
    """Return how many rows import_document writes for ``document``."""
    owners = sum(1 for p in document.principals if p.owner is not None)
    return (
        len(document.principals)
        + len(document.resources)
        + len(_implied_wildcards(document))
        + owners
        + len(document.resources)
        + len(document.memberships)
        + len(document.grants)
        + len(document.delegations)
    )


def clear_graph(store: Store, batch_size: int = BATCH_SIZE) -> int:
    """Delete every principal, resource and decision node; return how many.

    The schema (constraints, indexes and its version marker) stays. Each batch
    is its own transaction, so a large graph never needs one huge transaction.
    """
    text = query(GRAPH, "delete_graph_batch")

    def work(tx: ManagedTransaction) -> int:
        return int(tx.run(text, batch=batch_size).single(strict=True)["deleted"])

    deleted = 0
    while True:
        count: int = store.write(work).value
        deleted += count
        if count == 0:
            break
    logger.info("cleared graph deleted=%d uri=%s", deleted, store.uri)
    return deleted


def _write_batches(
    store: Store,
    result: ImportResult,
    section: str,
    name: str,
    rows: Sequence[dict[str, Any]],
    batch_size: int,
    extra: dict[str, Any] | None = None,
) -> None:
    text = query(GRAPH, name)
    params = extra or {}
    for batch in _batches(rows, batch_size):

        def work(
            tx: ManagedTransaction, batch: Sequence[dict[str, Any]] = batch
        ) -> None:
            tx.run(text, {"rows": list(batch), **params}).consume()

        try:
            written = store.write(work, result.consistency_token)
        except ConstraintError as error:
            raise _conflict(section, batch, error) from error
        result.consistency_token = written.consistency_token
        if result.on_batch is not None:
            result.on_batch(section, len(batch))
    result.counts[section] = result.counts.get(section, 0) + len(rows)


def _batches(
    rows: Sequence[dict[str, Any]], size: int
) -> Iterator[Sequence[dict[str, Any]]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


def _conflict(
    section: str, batch: Sequence[dict[str, Any]], error: ConstraintError
) -> Conflict:
    if section == "delegations":
        ids = [row["id"] for row in batch if str(row["id"]) in (error.message or "")]
        shown = ids[0] if ids else None
        return Conflict(
            f"delegation id {shown!r} is already used by a delegation between other "
            "principals"
            if shown
            else f"a delegation id is already used: {error.message}",
            "delegations.id",
            shown,
        )
    return Conflict(f"{section}: {error.message}", section, None)


def _principal_row(principal: Principal) -> dict[str, Any]:
    return {
        "ref": str(principal.ref),
        "id": principal.ref.id,
        "disabled": principal.disabled,
    }


def _resource_row(resource: Resource) -> dict[str, Any]:
    return {
        "ref": str(resource.ref),
        "type": resource.ref.kind,
        "id": resource.ref.id,
        "sensitivity": resource.sensitivity,
    }


def grant_row(grant: Grant) -> dict[str, Any]:
    return {
        "principal": str(grant.principal),
        "resource": str(grant.resource),
        "actions": list(grant.actions),
        "expires_at": grant.expires_at,
        "condition": grant.condition,
    }


def delegation_row(delegation: Delegation) -> dict[str, Any]:
    """Return the properties of a DELEGATES_TO edge plus its endpoints."""
    return {
        "id": delegation.id,
        "from": str(delegation.source),
        "to": str(delegation.target),
        "actions": list(delegation.actions),
        "resources": _list_or_none(delegation.resources),
        "resource_types": _list_or_none(delegation.resource_types),
        "max_sensitivity": delegation.max_sensitivity,
        "max_depth": delegation.max_depth,
        "not_before": delegation.not_before,
        "expires_at": delegation.expires_at,
        "condition": delegation.condition,
        "created_at": delegation.created_at,
        "created_by": delegation.created_by,
        "revoked_at": delegation.revoked_at,
        "revoked_by": delegation.revoked_by,
        "revoke_reason": delegation.revoke_reason,
    }


def _as_text(row: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    """Replace the datetimes at ``keys`` with their query_time text, for the import's rows."""
    for key in keys:
        value = row[key]
        if value is not None:
            row[key] = query_time(value)
    return row


def _list_or_none(values: tuple[str, ...] | None) -> list[str] | None:
    return None if values is None else list(values)


def _implied_wildcards(document: Document) -> list[Resource]:
    """Return the wildcard resources (``todo:*``) that grants name but the document lacks."""
    listed = {r.ref for r in document.resources}
    implied = {g.resource for g in document.grants if g.resource.is_wildcard}
    return [Resource(ref) for ref in sorted(implied - listed)]


def _require_known_refs(store: Store, document: Document) -> None:
    """Raise InvalidRequest for the first reference that neither the document nor the graph has."""
    principals = {str(p.ref) for p in document.principals}
    resources = {str(r.ref) for r in document.resources}
    wanted: list[tuple[str, str, str]] = []  # (field, ref, "principal" | "resource")
    for index, p in enumerate(document.principals):
        if p.owner is not None:
            wanted.append((f"principals[{index}].owner", str(p.owner), "principal"))
    for index, r in enumerate(document.resources):
        if r.parent is not None:
            wanted.append((f"resources[{index}].parent", str(r.parent), "resource"))
    for index, m in enumerate(document.memberships):
        wanted.append((f"memberships[{index}].member", str(m.member), "principal"))
        wanted.append((f"memberships[{index}].group", str(m.group), "principal"))
    for index, g in enumerate(document.grants):
        wanted.append((f"grants[{index}].principal", str(g.principal), "principal"))
        if not g.resource.is_wildcard:
            wanted.append((f"grants[{index}].resource", str(g.resource), "resource"))
    for index, d in enumerate(document.delegations):
        wanted.append((f"delegations[{index}].from", str(d.source), "principal"))
        wanted.append((f"delegations[{index}].to", str(d.target), "principal"))

    local = {"principal": principals, "resource": resources}
    missing = [(f, ref, kind) for f, ref, kind in wanted if ref not in local[kind]]
    if not missing:
        return
    refs = sorted({ref for _, ref, _ in missing})
    text = query(GRAPH, "existing_refs")
    records = store.read(lambda tx: list(tx.run(text, refs=refs)))
    stored = {
        "principal": {r["ref"] for r in records if r["principal"]},
        "resource": {r["ref"] for r in records if r["resource"]},
    }
    for field_name, ref, kind in missing:
        if ref not in stored[kind]:
            raise InvalidRequest(
                f"{field_name} names {ref}, which is neither in the document nor in "
                f"the graph; add it to the document's "
                f"{'resources' if kind == 'resource' else parse_ref(ref, field_name).kind + 's'}",
                field_name,
                ref,
            )


def export_document(store: Store, consistency_token: str | None = None) -> Document:
    """Read the whole graph back as a Document (revoked delegations included)."""

    def work(tx: ManagedTransaction) -> dict[str, list[Any]]:
        names = ("principals", "resources", "memberships", "grants", "delegations")
        return {name: list(tx.run(query(GRAPH, "export_" + name))) for name in names}

    rows = store.read(work, consistency_token)
    principals = tuple(
        Principal(
            Ref(r["kind"], r["id"]),
            None if r["owner"] is None else parse_ref(r["owner"], "owner"),
            bool(r["disabled"]),
        )
        for r in rows["principals"]
    )
    resources = tuple(
        Resource(
            Ref(r["type"], r["id"]),
            None if r["parent"] is None else parse_ref(r["parent"], "parent"),
            r["sensitivity"],
        )
        for r in rows["resources"]
    )
    memberships = tuple(
        Membership(parse_ref(r["member"], "member"), parse_ref(r["group"], "group"))
        for r in rows["memberships"]
    )
    grants = tuple(
        Grant(
            parse_ref(r["principal"], "principal"),
            parse_ref(r["resource"], "resource"),
            tuple(r["actions"]),
            native_time(r["expires_at"]),
            r["condition"],
        )
        for r in rows["grants"]
    )
    delegations = tuple(
        delegation_from_properties(r["from"], r["to"], r["d"])
        for r in rows["delegations"]
    )
    return Document(principals, resources, memberships, grants, delegations)


def native_time(value: Any) -> datetime | None:
    """Convert a Neo4j DateTime to an aware Python datetime."""
    if value is None:
        return None
    native = value.to_native() if hasattr(value, "to_native") else value
    assert isinstance(native, datetime)
    return native


def delegation_from_properties(
    source: str, target: str, d: dict[str, Any]
) -> Delegation:
    """Build a Delegation from the properties of a DELEGATES_TO edge."""
    return Delegation(
        id=d["id"],
        source=parse_ref(source, "from"),
        target=parse_ref(target, "to"),
        actions=tuple(d["actions"]),
        resources=None if d.get("resources") is None else tuple(d["resources"]),
        resource_types=None
        if d.get("resource_types") is None
        else tuple(d["resource_types"]),
        max_sensitivity=d.get("max_sensitivity"),
        max_depth=d.get("max_depth") or 0,
        not_before=native_time(d.get("not_before")),
        expires_at=native_time(d.get("expires_at")),
        condition=d.get("condition"),
        created_at=native_time(d.get("created_at")),
        created_by=d.get("created_by"),
        revoked_at=native_time(d.get("revoked_at")),
        revoked_by=d.get("revoked_by"),
        revoke_reason=d.get("revoke_reason"),
    )


def add_grant(store: Store, grant: Grant) -> str:
    """Create or replace the grant of ``grant.principal`` on ``grant.resource``."""
    result = import_document(store, Document(grants=(grant,)))
    assert result.consistency_token is not None
    return result.consistency_token


def delete_grant(store: Store, principal: Ref, resource: Ref) -> str:
    """Delete the grant of ``principal`` on ``resource``; NotFound if there is none."""
    text = query(GRAPH, "delete_grant")

    def work(tx: ManagedTransaction) -> int:
        record = tx.run(text, principal=str(principal), resource=str(resource)).single()
        return 0 if record is None else int(record["deleted"])

    written = store.write(work)
    if written.value == 0:
        raise NotFound(
            f"{principal} has no grant on {resource}", "resource", str(resource)
        )
    return written.consistency_token


__all__ = [
    "ImportResult",
    "add_grant",
    "delegation_from_properties",
    "delete_grant",
    "export_document",
    "import_document",
    "native_time",
    "wildcard",
]
