"""The check compiler: request parameters and query text of one check or a batch.

The query text depends only on the server's bounds (chain length, group and
hierarchy depth, candidate limit), so Neo4j plans it once and caches the plan;
everything a request carries travels as a parameter.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from delegraph.cypher.queries import bounded_query, query, query_time

CHECKS = "checks.cypher"


@dataclass(frozen=True)
class Bounds:
    """The integers formatted into the check query's path bounds."""

    max_chain: int
    group_depth: int
    hierarchy_depth: int
    max_candidates: int


@dataclass(frozen=True)
class CheckParameters:
    """One request as the check query reads it; refs are ``kind:id`` strings."""

    subject: str
    action: str
    resource: str
    resource_type: str
    on_behalf_of: str | None

    def as_row(self, index: int) -> dict[str, Any]:
        return {
            "index": index,
            "subject": self.subject,
            "action": self.action,
            "resource": self.resource,
            "resource_type": self.resource_type,
            "wildcard": f"{self.resource_type}:*",
            "on_behalf_of": self.on_behalf_of,
        }


@cache
def _body(bounds: Bounds) -> str:
    return bounded_query(
        CHECKS,
        "body",
        MAX_CHAIN=bounds.max_chain,
        GROUP_DEPTH=bounds.group_depth,
        HIERARCHY_DEPTH=bounds.hierarchy_depth,
        MAX_CANDIDATES=bounds.max_candidates,
    )


def single_check(
    bounds: Bounds, request: CheckParameters, now: datetime
) -> tuple[str, dict[str, Any]]:
    """Return the query text and parameters that decide one request."""
    text = query(CHECKS, "prelude_single") + "\n" + _body(bounds)
    row = request.as_row(0)
    parameters = {
        "subject": row["subject"],
        "action": row["action"],
        "resource": row["resource"],
        "resource_type": row["resource_type"],
        "wildcard": row["wildcard"],
        "on_behalf_of": row["on_behalf_of"],
        "now": query_time(now),
    }
    return text, parameters


def batch_check(
    bounds: Bounds, requests: list[CheckParameters], now: datetime
) -> tuple[str, dict[str, Any]]:
    """Return the query text and parameters that decide many requests in one query.

    Each result row carries ``request_index``, the position of its request.
    """
    text = query(CHECKS, "prelude_batch") + "\n" + _body(bounds)
    rows = [request.as_row(index) for index, request in enumerate(requests)]
    return text, {"requests": rows, "now": query_time(now)}
