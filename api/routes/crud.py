"""Create, read, list and delete principals, resources, memberships and grants."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

from delegraph.api.auth import AdminCaller, CheckCaller
from delegraph.api.deps import ConsistencyToken, EngineDep, PageLimit, PageToken
from delegraph.api.problems import PROBLEM_RESPONSES
from delegraph.api.schemas import (
    GrantBody,
    ItemPage,
    MembershipBody,
    PrincipalBody,
    ResourceBody,
    grant_out,
    membership_out,
    optional_principal,
    optional_resource,
    principal_out,
    resource_out,
)
from delegraph.engine.crud import Deleted
from delegraph.engine.model import Membership
from delegraph.engine.refs import parse_principal, parse_resource
from fastapi import APIRouter, Query

router = APIRouter(prefix="/v1", tags=["records"], responses=PROBLEM_RESPONSES)

Force = Annotated[
    bool,
    Query(description="Delete even with delegation edges or owned agents attached."),
]


# Principals.


@router.post("/principals")
def upsert_principal(
    body: PrincipalBody, engine: EngineDep, caller: AdminCaller
) -> dict[str, Any]:
    """Create or update a user, agent, workload or group."""
    saved = engine.upsert_principal(body.to_principal())
    return {
        "principal": principal_out(saved.item),
        "consistency_token": saved.consistency_token,
    }


@router.get("/principals", response_model=ItemPage)
def list_principals(
    engine: EngineDep,
    caller: CheckCaller,
    limit: PageLimit,
    kind: Annotated[
        str | None, Query(description="user, agent, workload or group")
    ] = None,
    page_token: PageToken = None,
    consistency_token: ConsistencyToken = None,
) -> dict[str, Any]:
    """List principals ordered by ref, one page at a time."""
    page = engine.list_principals(kind, limit, page_token, consistency_token)
    return page.as_dict(principal_out)


@router.get("/principals/{ref:path}")
def get_principal(
    ref: str,
    engine: EngineDep,
    caller: CheckCaller,
    consistency_token: ConsistencyToken = None,
) -> dict[str, Any]:
    principal = engine.get_principal(parse_principal(ref, "ref"), consistency_token)
    return principal_out(principal)


@router.delete("/principals/{ref:path}")
def delete_principal(
    ref: str, engine: EngineDep, caller: AdminCaller, force: Force = False
) -> dict[str, Any]:
    """Delete a principal; 409 while it has delegation edges or owns agents, unless forced."""
    return deleted_out(engine.delete_principal(parse_principal(ref, "ref"), force))


# Resources.


@router.post("/resources")
def upsert_resource(
    body: ResourceBody, engine: EngineDep, caller: AdminCaller
) -> dict[str, Any]:
    """Create or update a resource, its parent folder and its sensitivity."""
    saved = engine.upsert_resource(body.to_resource())
    return {
        "resource": resource_out(saved.item),
        "consistency_token": saved.consistency_token,
    }


@router.get("/resources", response_model=ItemPage)
def list_resources(
    engine: EngineDep,
    caller: CheckCaller,
    limit: PageLimit,
    type: Annotated[
        str | None, Query(description="Resource type, e.g. document")
    ] = None,
    page_token: PageToken = None,
    consistency_token: ConsistencyToken = None,
) -> dict[str, Any]:
    """List resources ordered by ref, one page at a time."""
    page = engine.list_resources(type, limit, page_token, consistency_token)
    return page.as_dict(resource_out)


@router.get("/resources/{ref:path}")
def get_resource(
    ref: str,
    engine: EngineDep,
    caller: CheckCaller,
    consistency_token: ConsistencyToken = None,
) -> dict[str, Any]:
    return resource_out(
        engine.get_resource(parse_resource(ref, "ref"), consistency_token)
    )


@router.delete("/resources/{ref:path}")
def delete_resource(
    ref: str, engine: EngineDep, caller: AdminCaller, force: Force = False
) -> dict[str, Any]:
    """Delete a resource; 409 while grants or children point at it, unless forced."""
    return deleted_out(engine.delete_resource(parse_resource(ref, "ref"), force))


# Memberships.


@router.post("/memberships")
def add_membership(
    body: MembershipBody, engine: EngineDep, caller: AdminCaller
) -> dict[str, Any]:
    saved = engine.add_membership(body.to_membership())
    return {
        "membership": membership_out(saved.item),
        "consistency_token": saved.consistency_token,
    }


@router.get("/memberships", response_model=ItemPage)
def list_memberships(
    engine: EngineDep,
    caller: CheckCaller,
    limit: PageLimit,
    member: str | None = None,
    group: str | None = None,
    page_token: PageToken = None,
    consistency_token: ConsistencyToken = None,
) -> dict[str, Any]:
    page = engine.list_memberships(
        optional_principal(member, "member"),
        optional_principal(group, "group"),
        limit,
        page_token,
        consistency_token,
    )
    return page.as_dict(membership_out)


@router.delete("/memberships")
def remove_membership(
    member: str, group: str, engine: EngineDep, caller: AdminCaller
) -> dict[str, Any]:
    membership = Membership(
        parse_principal(member, "member"), parse_principal(group, "group", ("group",))
    )
    return {"consistency_token": engine.remove_membership(membership)}


# Grants.


@router.post("/grants")
def add_grant(
    body: GrantBody, engine: EngineDep, caller: AdminCaller
) -> dict[str, Any]:
    """Create or replace the grant of a principal on a resource."""
    grant = body.to_grant()
    token = engine.add_grant(grant)
    return {"grant": grant_out(grant), "consistency_token": token}


@router.get("/grants", response_model=ItemPage)
def list_grants(
    engine: EngineDep,
    caller: CheckCaller,
    limit: PageLimit,
    principal: str | None = None,
    resource: str | None = None,
    page_token: PageToken = None,
    consistency_token: ConsistencyToken = None,
) -> dict[str, Any]:
    page = engine.list_grants(
        optional_principal(principal, "principal"),
        optional_resource(resource, "resource"),
        limit,
        page_token,
        consistency_token,
    )
    return page.as_dict(grant_out)


@router.delete("/grants")
def delete_grant(
    principal: str, resource: str, engine: EngineDep, caller: AdminCaller
) -> dict[str, Any]:
    """Delete the grant of ``principal`` on ``resource``; 404 if there is none."""
    token = engine.delete_grant(
        parse_principal(principal, "principal"), parse_resource(resource, "resource")
    )
    return {"consistency_token": token}


def deleted_out(deleted: Deleted) -> dict[str, Any]:
    result = asdict(deleted)
    result["orphaned"] = list(deleted.orphaned)
    return result
