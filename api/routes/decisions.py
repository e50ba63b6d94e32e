"""The decision log over HTTP: filtered decision pages and an agent's trace.

Both endpoints read the sink that ``DELEGRAPH_DECISION_LOG`` names: the
(:Decision) nodes for ``neo4j``, the JSONL file for ``file:PATH``. With
``off`` they read the (:Decision) nodes, which are then those of earlier runs.
They are admin only, as an audit log is. A record names who acted on what
through whose delegations, and a PEP with the ``check`` role has no need to
read that.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from delegraph.api.auth import AdminCaller
from delegraph.api.deps import ConsistencyToken, EngineDep, PageLimit, PageToken
from delegraph.api.problems import PROBLEM_RESPONSES
from delegraph.api.schemas import ItemPage, optional_principal, optional_resource
from delegraph.engine.documents import parse_datetime
from delegraph.engine.errors import InvalidRequest
from delegraph.engine.refs import ACTORS, parse_principal
from delegraph.engine.trace import MAX_TRACE
from fastapi import APIRouter, Query

router = APIRouter(
    prefix="/v1", tags=["incident response"], responses=PROBLEM_RESPONSES
)

ADMIN_ONLY = "Needs the `admin` role: the decision log is an audit log."

Since = Annotated[
    str | None,
    Query(
        description="Earliest decision time, inclusive: RFC 3339 with a timezone, "
        "e.g. 2030-01-01T00:00:00Z (send '+' as %2B)."
    ),
]
Until = Annotated[
    str | None,
    Query(description="Latest decision time, exclusive: RFC 3339 with a timezone."),
]


@router.get("/decisions", response_model=ItemPage, description=ADMIN_ONLY)
def list_decisions(
    engine: EngineDep,
    caller: AdminCaller,
    limit: PageLimit,
    subject: Annotated[str | None, Query(description="Subject ref")] = None,
    on_behalf_of: Annotated[
        str | None, Query(description="The principal the subject acted for")
    ] = None,
    resource: Annotated[str | None, Query(description="Resource ref")] = None,
    delegation: Annotated[
        str | None, Query(description="Id of a delegation on the deciding chain")
    ] = None,
    outcome: Annotated[str | None, Query(description="allow or deny")] = None,
    since: Since = None,
    until: Until = None,
    page_token: PageToken = None,
    consistency_token: ConsistencyToken = None,
) -> dict[str, Any]:
    """List logged decisions, newest first, each with the chain that decided it."""
    page = engine.decisions(
        subject=optional_principal(subject, "subject"),
        on_behalf_of=optional_principal(on_behalf_of, "on_behalf_of"),
        resource=optional_resource(resource, "resource"),
        delegation=delegation,
        outcome=outcome,
        since=query_datetime(since, "since"),
        until=query_datetime(until, "until"),
        limit=limit,
        page_token=page_token,
        consistency_token=consistency_token,
    )
    return page.as_dict(lambda record: record.as_dict())


@router.get("/agents/{ref:path}/trace", description=ADMIN_ONLY)
def trace(
    ref: str,
    engine: EngineDep,
    caller: AdminCaller,
    since: Since = None,
    until: Until = None,
    limit: Annotated[
        int, Query(description=f"Maximum decisions, the newest; 1 to {MAX_TRACE}.")
    ] = MAX_TRACE,
    consistency_token: ConsistencyToken = None,
) -> dict[str, Any]:
    """Return what the agent did in [since, until), on whose authority, through
    which chain, and what a check of each request decides now."""
    agent = parse_principal(ref, "ref", ACTORS)
    result = engine.trace(
        agent,
        since=query_datetime(since, "since"),
        until=query_datetime(until, "until"),
        limit=limit,
        consistency_token=consistency_token,
    )
    return result.as_dict()


def query_datetime(value: str | None, field: str) -> datetime | None:
    """Parse an RFC 3339 query parameter and reject a naive time (422).

    A '+' in a query string decodes to a space, so '...T00:00:00+02:00' sent
    unencoded arrives as '...T00:00:00 02:00'. The error message then names
    the fix.
    """
    try:
        return parse_datetime(value, field)
    except InvalidRequest as error:
        if value is not None and " " in value:
            raise InvalidRequest(
                f"{error.message}; a '+' in a query string must be sent as %2B",
                field,
                value,
            ) from error
        raise
