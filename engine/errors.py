"""The two roots of delegraph errors.

:class:`InvalidRequest` and its subclasses are the caller's fault (4xx);
:class:`StoreError` / :class:`StoreUnavailable` mean Neo4j failed (5xx, and a
check that meets one is a deny).
"""

from __future__ import annotations

from typing import Any

from delegraph.cypher.store import StoreError, StoreUnavailable

__all__ = [
    "Conflict",
    "DelegraphError",
    "Forbidden",
    "InvalidRequest",
    "NotFound",
    "RuleViolation",
    "StoreError",
    "StoreUnavailable",
]


class DelegraphError(Exception):
    """Base of the errors that the caller caused."""

    status = 400

    def __init__(
        self, message: str, field: str | None = None, value: Any = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.value = value


class InvalidRequest(DelegraphError):
    """A field is missing, malformed or out of range (400 or 422)."""

    status = 422


class RuleViolation(InvalidRequest):
    """A write breaks an attenuation rule (422, naming the field)."""

    status = 422


class NotFound(DelegraphError):
    """A referenced principal, resource, grant or delegation does not exist."""

    status = 404


class Conflict(DelegraphError):
    """An id or a ref is already used by something else."""

    status = 409


class Forbidden(DelegraphError):
    """The caller is authenticated but may not do this."""

    status = 403
