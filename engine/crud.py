"""CRUD of principals, resources, memberships and grants, and delegation reads.

Every write runs in one transaction and returns the consistency token; every
read accepts one. Lists are ordered by their key and paged by an opaque
``page_token`` that carries the last key and the filters it was issued for.

Deleting a principal that still has delegation edges (live or revoked) or
owns agents or workloads raises Conflict, because deletion would remove the
revoked edges kept for forensics and leave agents without an accountable
owner. ``force=True`` deletes it anyway with every edge it has, revoked
delegations included, and reports the agents and workloads left without an
owner.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from delegraph.cypher.queries import bounded_query, query
from delegraph.engine.documents import parse_sensitivity
from delegraph.engine.errors import Conflict, InvalidRequest, NotFound
from delegraph.engine.graph import delegation_from_properties, native_time
from delegraph.engine.model import Delegation, Grant, Membership, Principal, Resource
from delegraph.engine.refs import DELEGATES, OWNERS, PRINCIPAL_KINDS, Ref, parse_ref
from neo4j import ManagedTransaction

if TYPE_CHECKING:
    from delegraph.engine.service import Engine

QUERIES = "crud.cypher"
DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000

T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a list; ``next_page_token`` is None on the last page."""

    items: tuple[T, ...]
    next_page_token: str | None

    def as_dict(self, render: Callable[[T], Any]) -> dict[str, Any]:
        """Return the page as JSON-ready data, each item passed through ``render``."""
        return {
            "items": [render(item) for item in self.items],
            "next_page_token": self.next_page_token,
        }


@dataclass(frozen=True)
class Saved(Generic[T]):
    """A written item and the token that sees the write."""

    item: T
    consistency_token: str


@dataclass(frozen=True)
class Deleted:
    """What a delete removed; ``orphaned`` lists agents and workloads left ownerless."""

    ref: str
    delegations_removed: int
    orphaned: tuple[str, ...]
    consistency_token: str


# Paging.


def encode_page_token(scope: dict[str, Any], after: Any) -> str:
    raw = json.dumps({"scope": scope, "after": after}, sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_page_token(token: str | None, scope: dict[str, Any]) -> Any:
    """Return the last key of the previous page, or None for the first page."""
    if token is None or token == "":
        return None
    try:
        padded = token + "=" * (-len(token) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError) as error:
        raise InvalidRequest(
            "page_token is not a token that this list returned", "page_token", token
        ) from error
    if not isinstance(data, dict) or data.get("scope") != scope or "after" not in data:
        raise InvalidRequest(
            "page_token belongs to a list with other filters; start again without it",
            "page_token",
            token,
        )
    return data["after"]


def _limit(limit: int) -> int:
    if isinstance(limit, bool) or not 1 <= limit <= MAX_PAGE_SIZE:
        raise InvalidRequest(
            f"limit must be an integer from 1 to {MAX_PAGE_SIZE}", "limit", limit
        )
    return limit


def _paged(
    engine: Engine,
    query_name: str,
    scope: dict[str, Any],
    page_token: str | None,
    limit: int,
    key: Any,
    consistency_token: str | None,
) -> tuple[list[Any], str | None]:
    """Run a list query for one page; ``key`` maps a record to its sort key."""
    size = _limit(limit)
    after = decode_page_token(page_token, scope)
    text = query(QUERIES, query_name)
    records = engine.store.read(
        lambda tx: list(tx.run(text, {**scope, "after": after, "limit": size + 1})),
        consistency_token,
    )
    more = len(records) > size
    records = records[:size]
    token = encode_page_token(scope, key(records[-1])) if more else None
    return records, token


# Principals.


def upsert_principal(engine: Engine, principal: Principal) -> Saved[Principal]:
    """Create or update a principal; agents and workloads need an existing owner.

    ``principal.disabled`` is stored only when the principal is new; disable
    and enable change it afterwards.
    """
    ref, owner = principal.ref, principal.owner
    if ref.kind not in PRINCIPAL_KINDS:
        raise InvalidRequest(
            f"ref {ref} must be a {', '.join(PRINCIPAL_KINDS)} ref", "ref", str(ref)
        )
    if ref.kind in DELEGATES and owner is None:
        raise InvalidRequest(
            f"{ref} needs an owner: a user or group ref accountable for it",
            "owner",
            None,
        )
    if ref.kind not in DELEGATES and owner is not None:
        raise InvalidRequest(
            f"owner is only for agents and workloads, not for {ref}",
            "owner",
            str(owner),
        )
    if owner is not None and owner.kind not in OWNERS:
        raise InvalidRequest(
            f"owner {owner} must be a user or group ref", "owner", str(owner)
        )

    def work(tx: ManagedTransaction) -> None:
        if owner is not None:
            found = tx.run(query(QUERIES, "principal_exists"), ref=str(owner)).single()
            if found is None or not found["found"]:
                raise InvalidRequest(
                    f"owner {owner} does not exist; create it first",
                    "owner",
                    str(owner),
                )
        tx.run(
            query(QUERIES, "upsert_principal"),
            ref=str(ref),
            kind=ref.kind,
            id=ref.id,
            owner=None if owner is None else str(owner),
        ).consume()

    written = engine.store.write(work)
    stored = get_principal(engine, ref, written.consistency_token)
    return Saved(stored, written.consistency_token)


def _principal(record: Any) -> Principal:
    owner = record["owner"]
    return Principal(
        parse_ref(record["ref"], "ref"),
        None if owner is None else parse_ref(owner, "owner"),
        bool(record["disabled"]),
    )


def get_principal(
    engine: Engine, ref: Ref, consistency_token: str | None = None
) -> Principal:
    text = query(QUERIES, "get_principal")
    record = engine.store.read(
        lambda tx: tx.run(text, ref=str(ref)).single(), consistency_token
    )
    if record is None:
        raise NotFound(f"principal {ref} does not exist", "ref", str(ref))
    return _principal(record)


def list_principals(
    engine: Engine,
    kind: str | None = None,
    limit: int = DEFAULT_PAGE_SIZE,
    page_token: str | None = None,
    consistency_token: str | None = None,
) -> Page[Principal]:
    if kind is not None and kind not in PRINCIPAL_KINDS:
        raise InvalidRequest(
            f"kind {kind!r} must be one of {', '.join(PRINCIPAL_KINDS)}", "kind", kind
        )
    records, token = _paged(
        engine,
        "list_principals",
        {"kind": kind},
        page_token,
        limit,
        lambda r: r["ref"],
        consistency_token,
    )
    return Page(tuple(_principal(r) for r in records), token)


def delete_principal(engine: Engine, ref: Ref, force: bool = False) -> Deleted:
    """Delete a principal; Conflict if it has delegations or owns agents, unless ``force``."""

    def work(tx: ManagedTransaction) -> tuple[int, tuple[str, ...]]:
        record = tx.run(query(QUERIES, "principal_dependents"), ref=str(ref)).single()
        if record is None:
            raise NotFound(f"principal {ref} does not exist", "ref", str(ref))
        delegations, revoked = int(record["delegations"]), int(record["revoked"])
        owned = tuple(record["owned"])
        if not force and (delegations or owned):
            raise Conflict(
                _delete_blocked(ref, delegations, revoked, owned), "ref", str(ref)
            )
        tx.run(query(QUERIES, "delete_principal"), ref=str(ref)).consume()
        return delegations, owned

    written = engine.store.write(work)
    delegations, owned = written.value
    return Deleted(str(ref), delegations, owned, written.consistency_token)


def _delete_blocked(
    ref: Ref, delegations: int, revoked: int, owned: tuple[str, ...]
) -> str:
    reasons = []
    if delegations:
        reasons.append(
            f"it has {delegations} delegation edges ({revoked} revoked, kept for "
            "forensics)"
        )
    if owned:
        reasons.append(f"it owns {', '.join(owned)}")
    return (
        f"principal {ref} cannot be deleted: {' and '.join(reasons)}; revoke or "
        "reassign them, or delete with force"
    )


# Resources.


def upsert_resource(engine: Engine, resource: Resource) -> Saved[Resource]:
    """Create or update a resource, its sensitivity and its parent (CHILD_OF)."""
    ref, parent = resource.ref, resource.parent
    if ref.is_principal:
        raise InvalidRequest(
            f"ref {ref} names a principal kind, not a resource type", "ref", str(ref)
        )
    parse_sensitivity(resource.sensitivity, "sensitivity")
    if parent is not None:
        if parent.is_wildcard or ref.is_wildcard:
            raise InvalidRequest(
                "a wildcard resource has no place in a hierarchy", "parent", str(parent)
            )
        if parent == ref:
            raise InvalidRequest(
                f"resource {ref} cannot be its own parent", "parent", str(parent)
            )

    def work(tx: ManagedTransaction) -> None:
        if parent is not None:
            text = bounded_query(
                QUERIES,
                "parent_facts",
                HIERARCHY_DEPTH=engine.config.max_hierarchy_depth,
            )
            facts = tx.run(text, parent=str(parent), ref=str(ref)).single()
            assert facts is not None
            if not facts["found"]:
                raise InvalidRequest(
                    f"parent {parent} does not exist; create it first",
                    "parent",
                    str(parent),
                )
            if facts["cycle"]:
                raise InvalidRequest(
                    f"parent {parent} is below {ref} in the hierarchy; this would "
                    "make a cycle",
                    "parent",
                    str(parent),
                )
        tx.run(
            query(QUERIES, "upsert_resource"),
            ref=str(ref),
            type=ref.kind,
            id=ref.id,
            sensitivity=resource.sensitivity,
            parent=None if parent is None else str(parent),
        ).consume()

    written = engine.store.write(work)
    return Saved(
        get_resource(engine, ref, written.consistency_token), written.consistency_token
    )


def _resource(record: Any) -> Resource:
    parent = record["parent"]
    return Resource(
        parse_ref(record["ref"], "ref"),
        None if parent is None else parse_ref(parent, "parent"),
        record["sensitivity"],
    )


def get_resource(
    engine: Engine, ref: Ref, consistency_token: str | None = None
) -> Resource:
    text = query(QUERIES, "get_resource")
    record = engine.store.read(
        lambda tx: tx.run(text, ref=str(ref)).single(), consistency_token
    )
    if record is None:
        raise NotFound(f"resource {ref} does not exist", "ref", str(ref))
    return _resource(record)


def list_resources(
    engine: Engine,
    resource_type: str | None = None,
    limit: int = DEFAULT_PAGE_SIZE,
    page_token: str | None = None,
    consistency_token: str | None = None,
) -> Page[Resource]:
    records, token = _paged(
        engine,
        "list_resources",
        {"type": resource_type},
        page_token,
        limit,
        lambda r: r["ref"],
        consistency_token,
    )
    return Page(tuple(_resource(r) for r in records), token)


def delete_resource(engine: Engine, ref: Ref, force: bool = False) -> Deleted:
    """Delete a resource; Conflict if it has children or grants, unless ``force``.

    Delegation scopes name resources by ref, so they are left as they are; a
    scope entry whose resource is gone covers nothing until it is created again.
    """

    def work(tx: ManagedTransaction) -> None:
        record = tx.run(query(QUERIES, "resource_dependents"), ref=str(ref)).single()
        if record is None:
            raise NotFound(f"resource {ref} does not exist", "ref", str(ref))
        children, grants = int(record["children"]), int(record["grants"])
        if not force and (children or grants):
            raise Conflict(
                f"resource {ref} cannot be deleted: it has {children} child "
                f"resources and {grants} grants; delete them first, or delete with "
                "force",
                "ref",
                str(ref),
            )
        tx.run(query(QUERIES, "delete_resource"), ref=str(ref)).consume()

    written = engine.store.write(work)
    return Deleted(str(ref), 0, (), written.consistency_token)


# Memberships.


def add_membership(engine: Engine, membership: Membership) -> Saved[Membership]:
    """Add ``member`` to ``group``; both must exist and groups may not nest in a cycle."""
    member, group = membership.member, membership.group
    if group.kind != "group":
        raise InvalidRequest(f"group {group} must be a group ref", "group", str(group))
    if not member.is_principal:
        raise InvalidRequest(
            f"member {member} must be a principal ref", "member", str(member)
        )
    if member == group:
        raise InvalidRequest(
            f"group {group} cannot be its own member", "member", str(member)
        )
    text = bounded_query(
        QUERIES, "membership_facts", GROUP_DEPTH=engine.config.max_group_depth
    )

    def work(tx: ManagedTransaction) -> None:
        facts = tx.run(text, member=str(member), group=str(group)).single()
        assert facts is not None
        if not facts["member_found"]:
            raise InvalidRequest(
                f"member {member} does not exist", "member", str(member)
            )
        if not facts["group_found"]:
            raise InvalidRequest(f"group {group} does not exist", "group", str(group))
        if facts["cycle"]:
            raise InvalidRequest(
                f"{group} is already a member of {member}; this would make a cycle",
                "group",
                str(group),
            )
        tx.run(
            query(QUERIES, "add_membership"), member=str(member), group=str(group)
        ).consume()

    written = engine.store.write(work)
    return Saved(membership, written.consistency_token)


def list_memberships(
    engine: Engine,
    member: Ref | None = None,
    group: Ref | None = None,
    limit: int = DEFAULT_PAGE_SIZE,
    page_token: str | None = None,
    consistency_token: str | None = None,
) -> Page[Membership]:
    records, token = _paged(
        engine,
        "list_memberships",
        {
            "member": None if member is None else str(member),
            "group": None if group is None else str(group),
        },
        page_token,
        limit,
        lambda r: [r["member"], r["group"]],
        consistency_token,
    )
    return Page(
        tuple(
            Membership(parse_ref(r["member"], "member"), parse_ref(r["group"], "group"))
            for r in records
        ),
        token,
    )


def remove_membership(engine: Engine, membership: Membership) -> str:
    """Remove one membership and return the token; NotFound if there is none."""
    member, group = str(membership.member), str(membership.group)
    text = query(QUERIES, "remove_membership")

    def work(tx: ManagedTransaction) -> int:
        record = tx.run(text, member=member, group=group).single()
        return 0 if record is None else int(record["removed"])

    written = engine.store.write(work)
    if written.value == 0:
        raise NotFound(f"{member} is not a member of {group}", "member", member)
    return written.consistency_token


# Grants and delegations (reads; grant writes are in graph.py).


def list_grants(
    engine: Engine,
    principal: Ref | None = None,
    resource: Ref | None = None,
    limit: int = DEFAULT_PAGE_SIZE,
    page_token: str | None = None,
    consistency_token: str | None = None,
) -> Page[Grant]:
    records, token = _paged(
        engine,
        "list_grants",
        {
            "principal": None if principal is None else str(principal),
            "resource": None if resource is None else str(resource),
        },
        page_token,
        limit,
        lambda r: [r["principal"], r["resource"]],
        consistency_token,
    )
    return Page(
        tuple(
            Grant(
                parse_ref(r["principal"], "principal"),
                parse_ref(r["resource"], "resource"),
                tuple(r["actions"]),
                native_time(r["expires_at"]),
                r["condition"],
            )
            for r in records
        ),
        token,
    )


def get_delegation(
    engine: Engine, delegation_id: str, consistency_token: str | None = None
) -> Delegation:
    text = query("delegations.cypher", "get_delegation")
    record = engine.store.read(
        lambda tx: tx.run(text, id=delegation_id).single(), consistency_token
    )
    if record is None:
        raise NotFound(
            f"delegation {delegation_id!r} does not exist", "id", delegation_id
        )
    return delegation_from_properties(record["from"], record["to"], record["d"])


def list_delegations(
    engine: Engine,
    source: Ref | None = None,
    target: Ref | None = None,
    include_revoked: bool = False,
    limit: int = DEFAULT_PAGE_SIZE,
    page_token: str | None = None,
    consistency_token: str | None = None,
) -> Page[Delegation]:
    records, token = _paged(
        engine,
        "list_delegations",
        {
            "source": None if source is None else str(source),
            "target": None if target is None else str(target),
            "include_revoked": include_revoked,
        },
        page_token,
        limit,
        lambda r: r["d"]["id"],
        consistency_token,
    )
    return Page(
        tuple(delegation_from_properties(r["from"], r["to"], r["d"]) for r in records),
        token,
    )
