"""Typed references ``kind:id``: ``user:alice``, ``agent:bot``, ``document:q3``."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from delegraph.engine.errors import InvalidRequest

PRINCIPAL_KINDS = ("user", "agent", "workload", "group")
ACTORS = ("user", "agent", "workload")
DELEGATES = ("agent", "workload")
OWNERS = ("user", "group")
LABELS = {"user": "User", "agent": "Agent", "workload": "Workload", "group": "Group"}

KIND_PATTERN = re.compile(r"[a-z][a-z0-9_.-]{0,63}")
MAX_ID_LENGTH = 512
WILDCARD_ID = "*"


def _has_control(text: str) -> bool:
    return any(unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") for ch in text)


@dataclass(frozen=True, order=True)
class Ref:
    """A reference split at its first colon; the id is kept exactly as given."""

    kind: str
    id: str

    def __str__(self) -> str:
        return f"{self.kind}:{self.id}"

    @property
    def is_principal(self) -> bool:
        return self.kind in PRINCIPAL_KINDS

    @property
    def is_wildcard(self) -> bool:
        return self.id == WILDCARD_ID

    @property
    def label(self) -> str:
        """The Neo4j label of a principal kind (never taken from input directly)."""
        return LABELS[self.kind]


def parse_ref(value: object, field: str) -> Ref:
    """Parse ``kind:id`` or raise InvalidRequest naming ``field`` and the value."""
    if not isinstance(value, str):
        raise InvalidRequest(
            f"{field} must be a string 'kind:id', got {type(value).__name__}",
            field,
            value,
        )
    kind, colon, ident = value.partition(":")
    if not colon:
        raise InvalidRequest(
            f"{field} {value!r} is not of the form 'kind:id'", field, value
        )
    if not KIND_PATTERN.fullmatch(kind):
        raise InvalidRequest(
            f"{field} {value!r} has kind {kind!r}; a kind is lower-case letters, digits, "
            "'_', '.' or '-', starting with a letter",
            field,
            value,
        )
    validate_id(ident, field, value)
    return Ref(kind, ident)


def validate_id(ident: str, field: str, whole: object | None = None) -> str:
    """Check an id: non-empty, no control characters, no surrounding whitespace."""
    shown = ident if whole is None else whole
    if ident == "":
        raise InvalidRequest(f"{field} {shown!r} has an empty id", field, shown)
    if len(ident) > MAX_ID_LENGTH:
        raise InvalidRequest(
            f"{field} id is {len(ident)} characters; the maximum is {MAX_ID_LENGTH}",
            field,
            shown,
        )
    if ident != ident.strip():
        raise InvalidRequest(
            f"{field} {shown!r} has leading or trailing whitespace", field, shown
        )
    if _has_control(ident):
        raise InvalidRequest(
            f"{field} {shown!r} contains control characters", field, shown
        )
    return ident


def parse_principal(
    value: object, field: str, kinds: tuple[str, ...] = PRINCIPAL_KINDS
) -> Ref:
    """Parse a principal ref whose kind is one of ``kinds``."""
    ref = parse_ref(value, field)
    if ref.kind not in kinds:
        raise InvalidRequest(
            f"{field} {value!r} must be a {' or '.join(kinds)} ref", field, value
        )
    return ref


def require_not_wildcard(ref: Ref, field: str) -> Ref:
    """Return ``ref``, or raise InvalidRequest when it is ``kind:*``.

    A check's subject names one principal, so a wildcard there is invalid.
    """
    if ref.is_wildcard:
        raise InvalidRequest(
            f"{field} {str(ref)!r} is a wildcard; a subject names one principal",
            field,
            str(ref),
        )
    return ref


def parse_resource(value: object, field: str) -> Ref:
    """Parse a resource ref: its kind is the resource type, never a principal kind."""
    ref = parse_ref(value, field)
    if ref.is_principal:
        raise InvalidRequest(
            f"{field} {value!r} names a principal; a resource ref is 'type:id' with a "
            f"type other than {', '.join(PRINCIPAL_KINDS)}",
            field,
            value,
        )
    return ref


def wildcard(resource_type: str) -> str:
    return f"{resource_type}:{WILDCARD_ID}"
