"""CEL conditions on delegations and grants, evaluated on the request.

A condition sees ``context``, ``subject`` (``type``, ``id``, ``properties``),
``resource`` (the same) and ``action.name``. It holds only when it evaluates
to ``true``. A condition that reads an absent field, fails at run time (a
type error, division by zero, int64 overflow, an index out of range) or
returns anything but a boolean does not hold, and the outcome says why.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import cel
from delegraph.engine.model import CheckRequest


@dataclass(frozen=True)
class Outcome:
    """Whether a condition holds; ``missing_field`` names an absent field it read."""

    holds: bool
    missing_field: str | None = None
    error: str | None = None

    def describe(self, source: str) -> str:
        if self.holds:
            return f"condition {source!r} is true"
        if self.missing_field is not None:
            return (
                f"condition {source!r} reads {self.missing_field}, "
                "which the request does not carry"
            )
        if self.error is not None:
            return f"condition {source!r} failed: {self.error}"
        return f"condition {source!r} is false"


TRUE = Outcome(True)


def activation(request: CheckRequest) -> dict[str, Any]:
    """Return the variables that a condition reads for ``request``."""
    return {
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


@lru_cache(maxsize=4096)
def _program(source: str) -> Any:
    return cel.compile(source)


def evaluate(source: str | None, variables: dict[str, Any]) -> Outcome:
    """Evaluate one condition; ``None`` (no condition) always holds."""
    if source is None:
        return TRUE
    try:
        result = _program(source).execute(variables)
    except KeyError as error:
        return Outcome(False, missing_field=_field_path(source, str(error.args[0])))
    # The cel library raises ArithmeticError on division by zero and int64
    # overflow, and IndexError on an index out of range.
    except (
        TypeError,
        ValueError,
        RuntimeError,
        ArithmeticError,
        IndexError,
    ) as error:
        return Outcome(False, error=str(error).splitlines()[0])
    if result is True:
        return TRUE
    if result is False:
        return Outcome(False)
    return Outcome(False, error=f"returned {result!r}, not a boolean")


def _field_path(source: str, key: str) -> str:
    """Return the dotted path in ``source`` that ends in ``key`` (CEL reports the key only)."""
    match = re.search(r"\b((?:[A-Za-z_]\w*\.)+)" + re.escape(key) + r"\b", source)
    return match.group(1) + key if match else key
