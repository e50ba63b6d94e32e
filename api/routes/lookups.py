"""Lookups: accountability, reach (blast radius) and who can access a resource."""

from __future__ import annotations

from typing import Annotated, Any

from delegraph.api.auth import CheckCaller
from delegraph.api.deps import ConsistencyToken, EngineDep, PageLimit, PageToken
from delegraph.api.problems import PROBLEM_RESPONSES
from delegraph.api.schemas import ItemPage
from delegraph.engine.documents import parse_action
from delegraph.engine.refs import ACTORS, parse_principal, parse_resource
from fastapi import APIRouter, Query

router = APIRouter(prefix="/v1", tags=["lookups"], responses=PROBLEM_RESPONSES)


@router.get("/agents/{ref:path}/accountability")
def accountability(
    ref: str,
    engine: EngineDep,
    caller: CheckCaller,
    consistency_token: ConsistencyToken = None,
) -> dict[str, Any]:
    """Return the live chains from this agent up to humans, and its owners."""
    subject = parse_principal(ref, "ref", ACTORS)
    return engine.accountability(subject, consistency_token).as_dict()


@router.get("/agents/{ref:path}/reach", response_model=ItemPage)
def reach(
    ref: str,
    engine: EngineDep,
    caller: CheckCaller,
    limit: PageLimit,
    page_token: PageToken = None,
    consistency_token: ConsistencyToken = None,
) -> dict[str, Any]:
    """Return every (resource, action) the agent can exercise now: its blast radius."""
    subject = parse_principal(ref, "ref", ACTORS)
    page = engine.reach(subject, limit, page_token, consistency_token)
    return page.as_dict(lambda entry: entry.as_dict())


@router.get("/resources/{ref:path}/access", response_model=ItemPage)
def access(
    ref: str,
    engine: EngineDep,
    caller: CheckCaller,
    limit: PageLimit,
    action: Annotated[str | None, Query(description="Only this action")] = None,
    page_token: PageToken = None,
    consistency_token: ConsistencyToken = None,
) -> dict[str, Any]:
    """Return every principal that can exercise an action on the resource, and how."""
    resource = parse_resource(ref, "ref")
    only_action = None if action is None else parse_action(action, "action")
    page = engine.who_can(resource, only_action, limit, page_token, consistency_token)
    return page.as_dict(lambda entry: entry.as_dict())
