"""The document format of import, export and test cases, parsed into the model.

A document is a mapping with the keys ``users``, ``groups``, ``agents``,
``workloads``, ``resources``, ``memberships``, ``grants`` and ``delegations``.
Parsing validates every field and names it in the error
(``delegations[2].expires_at``). It checks references within the document
only. :func:`delegraph.engine.graph.import_document` checks the rest against
the graph before its first write.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, TypeVar

import cel
from delegraph.engine.errors import InvalidRequest
from delegraph.engine.model import (
    Delegation,
    Document,
    Grant,
    Membership,
    Principal,
    Resource,
)
from delegraph.engine.refs import (
    ACTORS,
    DELEGATES,
    KIND_PATTERN,
    OWNERS,
    PRINCIPAL_KINDS,
    Ref,
    parse_principal,
    parse_resource,
    validate_id,
)

MAX_ACTION_LENGTH = 128
MAX_SENSITIVITY = 4
MAX_DEPTH_LIMIT = 32
SECTIONS = (
    "users",
    "groups",
    "agents",
    "workloads",
    "resources",
    "memberships",
    "grants",
    "delegations",
)

T = TypeVar("T")


def parse_document(data: object) -> Document:
    """Validate a document mapping and return it as a :class:`Document`."""
    if not isinstance(data, Mapping):
        raise InvalidRequest(
            "the document must be a mapping of sections", "document", data
        )
    unknown = sorted(str(key) for key in data if key not in SECTIONS)
    if unknown:
        raise InvalidRequest(
            f"unknown document section {unknown[0]!r}; expected one of {', '.join(SECTIONS)}",
            unknown[0],
            data[unknown[0]],
        )

    principals = (
        _section(data, "users", lambda item, at: _principal(item, at, "user"))
        + _section(data, "groups", lambda item, at: _principal(item, at, "group"))
        + _section(data, "agents", lambda item, at: _principal(item, at, "agent"))
        + _section(data, "workloads", lambda item, at: _principal(item, at, "workload"))
    )
    document = Document(
        principals=tuple(principals),
        resources=tuple(_section(data, "resources", _resource)),
        memberships=tuple(_section(data, "memberships", _membership)),
        grants=tuple(_section(data, "grants", _grant)),
        delegations=tuple(_section(data, "delegations", parse_delegation)),
    )
    _reject_duplicates(document)
    return document


def _section(
    data: Mapping[str, Any], name: str, parse: Callable[[Any, str], T]
) -> list[T]:
    items = data.get(name)
    if items is None:
        return []
    if not isinstance(items, list):
        raise InvalidRequest(f"{name} must be a list", name, items)
    return [parse(item, f"{name}[{index}]") for index, item in enumerate(items)]


def _fields(item: Any, at: str, allowed: Iterable[str]) -> Mapping[str, Any]:
    if not isinstance(item, Mapping):
        raise InvalidRequest(f"{at} must be a mapping", at, item)
    allowed = set(allowed)
    for key in item:
        if key not in allowed:
            raise InvalidRequest(
                f"{at} has unknown field {key!r}; expected {', '.join(sorted(allowed))}",
                f"{at}.{key}",
                item[key],
            )
    return item


def _required(item: Mapping[str, Any], key: str, at: str) -> Any:
    if item.get(key) is None:
        raise InvalidRequest(f"{at}.{key} is missing", f"{at}.{key}", None)
    return item[key]


def _principal(item: Any, at: str, kind: str) -> Principal:
    if isinstance(item, str):
        return Principal(Ref(kind, validate_id(item, at)))
    fields = _fields(item, at, ("id", "owner", "disabled"))
    ident = _required(fields, "id", at)
    if not isinstance(ident, str):
        raise InvalidRequest(f"{at}.id must be a string", f"{at}.id", ident)
    ref = Ref(kind, validate_id(ident, f"{at}.id"))
    owner = None
    if kind in DELEGATES:
        owner = parse_principal(_required(fields, "owner", at), f"{at}.owner", OWNERS)
    elif fields.get("owner") is not None:
        raise InvalidRequest(
            f"{at}.owner is only for agents and workloads",
            f"{at}.owner",
            fields["owner"],
        )
    return Principal(
        ref, owner, _boolean(fields.get("disabled", False), f"{at}.disabled")
    )


def _resource(item: Any, at: str) -> Resource:
    fields = _fields(item, at, ("ref", "parent", "sensitivity"))
    ref = parse_resource(_required(fields, "ref", at), f"{at}.ref")
    parent = None
    if fields.get("parent") is not None:
        parent = parse_resource(fields["parent"], f"{at}.parent")
        if parent.is_wildcard or ref.is_wildcard:
            raise InvalidRequest(
                f"{at}.parent: a wildcard resource has no place in a hierarchy",
                f"{at}.parent",
                fields["parent"],
            )
    return Resource(
        ref, parent, parse_sensitivity(fields.get("sensitivity"), f"{at}.sensitivity")
    )


def _membership(item: Any, at: str) -> Membership:
    fields = _fields(item, at, ("member", "group"))
    member = parse_principal(_required(fields, "member", at), f"{at}.member")
    group = parse_principal(_required(fields, "group", at), f"{at}.group", ("group",))
    if member == group:
        raise InvalidRequest(
            f"{at}: a group cannot be its own member", f"{at}.member", str(member)
        )
    return Membership(member, group)


def _grant(item: Any, at: str) -> Grant:
    fields = _fields(
        item, at, ("principal", "resource", "actions", "expires_at", "condition")
    )
    return Grant(
        principal=parse_principal(
            _required(fields, "principal", at), f"{at}.principal"
        ),
        resource=parse_resource(_required(fields, "resource", at), f"{at}.resource"),
        actions=parse_actions(_required(fields, "actions", at), f"{at}.actions"),
        expires_at=parse_datetime(fields.get("expires_at"), f"{at}.expires_at"),
        condition=parse_condition(fields.get("condition"), f"{at}.condition"),
    )


DELEGATION_FIELDS = (
    "id",
    "from",
    "to",
    "actions",
    "resources",
    "resource_types",
    "max_sensitivity",
    "max_depth",
    "not_before",
    "expires_at",
    "condition",
    "created_at",
    "created_by",
    "revoked_at",
    "revoked_by",
    "revoke_reason",
)


def parse_delegation(item: Any, at: str = "delegation") -> Delegation:
    """Parse one delegation mapping (document entry or API body)."""
    fields = _fields(item, at, DELEGATION_FIELDS)
    ident = _required(fields, "id", at)
    if not isinstance(ident, str):
        raise InvalidRequest(f"{at}.id must be a string", f"{at}.id", ident)
    source = parse_principal(_required(fields, "from", at), f"{at}.from", ACTORS)
    target = parse_principal(_required(fields, "to", at), f"{at}.to", DELEGATES)
    if source == target:
        raise InvalidRequest(
            f"{at}: a principal cannot delegate to itself", f"{at}.to", str(target)
        )
    not_before = parse_datetime(fields.get("not_before"), f"{at}.not_before")
    expires_at = parse_datetime(fields.get("expires_at"), f"{at}.expires_at")
    if not_before is not None and expires_at is not None and expires_at <= not_before:
        raise InvalidRequest(
            f"{at}.expires_at {expires_at.isoformat()} is not after not_before "
            f"{not_before.isoformat()}",
            f"{at}.expires_at",
            expires_at.isoformat(),
        )
    return Delegation(
        id=validate_id(ident, f"{at}.id"),
        source=source,
        target=target,
        actions=parse_actions(_required(fields, "actions", at), f"{at}.actions"),
        resources=_optional_refs(fields.get("resources"), f"{at}.resources"),
        resource_types=_optional_types(
            fields.get("resource_types"), f"{at}.resource_types"
        ),
        max_sensitivity=parse_sensitivity(
            fields.get("max_sensitivity"), f"{at}.max_sensitivity"
        ),
        max_depth=_max_depth(fields.get("max_depth", 0), f"{at}.max_depth"),
        not_before=not_before,
        expires_at=expires_at,
        condition=parse_condition(fields.get("condition"), f"{at}.condition"),
        created_at=parse_datetime(fields.get("created_at"), f"{at}.created_at"),
        created_by=_optional_text(fields.get("created_by"), f"{at}.created_by"),
        revoked_at=parse_datetime(fields.get("revoked_at"), f"{at}.revoked_at"),
        revoked_by=_optional_text(fields.get("revoked_by"), f"{at}.revoked_by"),
        revoke_reason=_optional_text(
            fields.get("revoke_reason"), f"{at}.revoke_reason"
        ),
    )


def parse_actions(value: Any, at: str) -> tuple[str, ...]:
    """Return the non-empty, duplicate-free list of action names."""
    if not isinstance(value, list) or not value:
        raise InvalidRequest(
            f"{at} must be a non-empty list of action names", at, value
        )
    actions: list[str] = []
    for index, action in enumerate(value):
        parse_action(action, f"{at}[{index}]")
        if action not in actions:
            actions.append(action)
    return tuple(actions)


def parse_action(value: Any, at: str) -> str:
    if not isinstance(value, str):
        raise InvalidRequest(f"{at} must be a string", at, value)
    if len(value) > MAX_ACTION_LENGTH:
        raise InvalidRequest(
            f"{at} is {len(value)} characters; the maximum is {MAX_ACTION_LENGTH}",
            at,
            value,
        )
    return validate_id(value, at)


def parse_datetime(value: Any, at: str) -> datetime | None:
    """Parse an ISO 8601 datetime; a datetime without a timezone is rejected."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError as error:
            raise InvalidRequest(
                f"{at} {value!r} is not an ISO 8601 datetime such as 2099-01-01T00:00:00Z",
                at,
                value,
            ) from error
    elif isinstance(value, datetime):
        parsed = value
    else:
        raise InvalidRequest(f"{at} must be an ISO 8601 datetime string", at, value)
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise InvalidRequest(
            f"{at} {str(value)!r} has no timezone; add one, e.g. 'Z' or '+02:00'",
            at,
            str(value),
        )
    # Neo4j stores datetimes as UTC instants, and the driver fails on one
    # whose UTC form leaves years 1-9999 (e.g. 9999-12-31T23:59:59-14:00).
    try:
        parsed.astimezone(UTC)
    except OverflowError as error:
        raise InvalidRequest(
            f"{at} {str(value)!r} is out of range: in UTC it falls outside "
            "the years 1 to 9999",
            at,
            str(value),
        ) from error
    return parsed


def parse_sensitivity(value: Any, at: str) -> int | None:
    if value is None:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or not 0 <= value <= MAX_SENSITIVITY
    ):
        raise InvalidRequest(
            f"{at} must be an integer from 0 to {MAX_SENSITIVITY}", at, value
        )
    return value


def parse_condition(value: Any, at: str) -> str | None:
    """Return the CEL source after checking that it compiles."""
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise InvalidRequest(f"{at} must be a non-empty CEL expression", at, value)
    error = _cel_syntax_error(value)
    if error is not None:
        raise InvalidRequest(f"{at} is not a valid CEL expression: {error}", at, value)
    return value


@lru_cache(maxsize=4096)
def _cel_syntax_error(source: str) -> str | None:
    """Return the first line of the CEL parse error, or None; cached because
    generated and imported graphs repeat the same few conditions."""
    try:
        cel.compile(source)
    except (ValueError, RuntimeError) as error:
        return str(error).splitlines()[0]
    return None


def _max_depth(value: Any, at: str) -> int:
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or not 0 <= value <= MAX_DEPTH_LIMIT
    ):
        raise InvalidRequest(
            f"{at} must be an integer from 0 to {MAX_DEPTH_LIMIT}", at, value
        )
    return value


def _boolean(value: Any, at: str) -> bool:
    if not isinstance(value, bool):
        raise InvalidRequest(f"{at} must be true or false", at, value)
    return value


def _optional_text(value: Any, at: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidRequest(f"{at} must be a string", at, value)
    return value


def _optional_refs(value: Any, at: str) -> tuple[str, ...] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not value:
        raise InvalidRequest(
            f"{at} must be a non-empty list of resource refs", at, value
        )
    refs = [
        str(parse_resource(item, f"{at}[{index}]")) for index, item in enumerate(value)
    ]
    return tuple(dict.fromkeys(refs))


def _optional_types(value: Any, at: str) -> tuple[str, ...] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not value:
        raise InvalidRequest(
            f"{at} must be a non-empty list of resource types", at, value
        )
    for index, item in enumerate(value):
        if not isinstance(item, str) or not KIND_PATTERN.fullmatch(item):
            raise InvalidRequest(
                f"{at}[{index}] {item!r} is not a resource type (lower-case letters, "
                "digits, '_', '.', '-')",
                f"{at}[{index}]",
                item,
            )
        if item in PRINCIPAL_KINDS:
            raise InvalidRequest(
                f"{at}[{index}] {item!r} is a principal kind, not a resource type",
                f"{at}[{index}]",
                item,
            )
    return tuple(dict.fromkeys(value))


def _reject_duplicates(document: Document) -> None:
    seen: dict[str, str] = {}
    for index, principal in enumerate(document.principals):
        ref = str(principal.ref)
        if ref in seen:
            raise InvalidRequest(f"{ref} is listed twice", f"principals[{index}]", ref)
        seen[ref] = "principal"
    resources: set[str] = set()
    for index, resource in enumerate(document.resources):
        ref = str(resource.ref)
        if ref in resources:
            raise InvalidRequest(
                f"{ref} is listed twice", f"resources[{index}].ref", ref
            )
        resources.add(ref)
    pairs: set[tuple[str, str]] = set()
    for index, grant in enumerate(document.grants):
        pair = (str(grant.principal), str(grant.resource))
        if pair in pairs:
            raise InvalidRequest(
                f"grants[{index}] repeats the grant of {pair[0]} on {pair[1]}; "
                "merge their actions into one entry",
                f"grants[{index}]",
                list(pair),
            )
        pairs.add(pair)
    ids: set[str] = set()
    for index, delegation in enumerate(document.delegations):
        if delegation.id in ids:
            raise InvalidRequest(
                f"delegation id {delegation.id!r} is used twice",
                f"delegations[{index}].id",
                delegation.id,
            )
        ids.add(delegation.id)


def document_to_dict(document: Document) -> dict[str, Any]:
    """Render a Document in the document format (the inverse of parse_document)."""
    sections: dict[str, list[Any]] = {name: [] for name in SECTIONS}
    for principal in document.principals:
        entry: dict[str, Any] = {"id": principal.ref.id}
        if principal.owner is not None:
            entry["owner"] = str(principal.owner)
        if principal.disabled:
            entry["disabled"] = True
        section = {
            "user": "users",
            "group": "groups",
            "agent": "agents",
            "workload": "workloads",
        }
        sections[section[principal.ref.kind]].append(entry)
    for resource in document.resources:
        item: dict[str, Any] = {"ref": str(resource.ref)}
        if resource.parent is not None:
            item["parent"] = str(resource.parent)
        if resource.sensitivity is not None:
            item["sensitivity"] = resource.sensitivity
        sections["resources"].append(item)
    for membership in document.memberships:
        sections["memberships"].append(
            {"member": str(membership.member), "group": str(membership.group)}
        )
    for grant in document.grants:
        sections["grants"].append(
            _without_none(
                {
                    "principal": str(grant.principal),
                    "resource": str(grant.resource),
                    "actions": list(grant.actions),
                    "expires_at": _iso(grant.expires_at),
                    "condition": grant.condition,
                }
            )
        )
    sections["delegations"] = [delegation_to_dict(d) for d in document.delegations]
    return {name: items for name, items in sections.items() if items}


def delegation_to_dict(delegation: Delegation) -> dict[str, Any]:
    return _without_none(
        {
            "id": delegation.id,
            "from": str(delegation.source),
            "to": str(delegation.target),
            "actions": list(delegation.actions),
            "resources": _list_or_none(delegation.resources),
            "resource_types": _list_or_none(delegation.resource_types),
            "max_sensitivity": delegation.max_sensitivity,
            "max_depth": delegation.max_depth,
            "not_before": _iso(delegation.not_before),
            "expires_at": _iso(delegation.expires_at),
            "condition": delegation.condition,
            "created_at": _iso(delegation.created_at),
            "created_by": delegation.created_by,
            "revoked_at": _iso(delegation.revoked_at),
            "revoked_by": delegation.revoked_by,
            "revoke_reason": delegation.revoke_reason,
        }
    )


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _list_or_none(values: tuple[str, ...] | None) -> list[str] | None:
    return None if values is None else list(values)


def _without_none(mapping: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in mapping.items() if value is not None}
