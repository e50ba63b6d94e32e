"""Delegations (create, list, read, revoke) and the principal kill switch."""

from __future__ import annotations

from typing import Annotated, Any

from delegraph.api.auth import AdminCaller, Caller, CallerDep, CheckCaller, forbidden
from delegraph.api.deps import ConsistencyToken, EngineDep, PageLimit, PageToken
from delegraph.api.problems import PROBLEM_RESPONSES
from delegraph.api.schemas import (
    DelegationBody,
    ItemPage,
    RevokeBody,
    optional_delegate,
    optional_principal,
)
from delegraph.engine.delegations import SwitchResult
from delegraph.engine.documents import delegation_to_dict
from delegraph.engine.refs import Ref, parse_principal
from fastapi import APIRouter, Query

router = APIRouter(prefix="/v1", tags=["delegations"], responses=PROBLEM_RESPONSES)


def require_source(caller: Caller, source: Ref, verb: str) -> None:
    """Admit an admin, or the principal that the delegation comes from."""
    if caller.is_admin or caller.is_principal(source):
        return
    raise forbidden(
        caller,
        f"only an admin or {source} itself may {verb} a delegation from {source}",
    )


@router.post("/delegations", status_code=201)
def create_delegation(
    body: DelegationBody, engine: EngineDep, caller: CallerDep
) -> dict[str, Any]:
    """Create a delegation after the attenuation rules; 422 names the field it breaks."""
    delegation = body.to_delegation()
    require_source(caller, delegation.source, "create")
    written = engine.create_delegation(delegation, created_by=caller.subject)
    return {
        "delegation": delegation_to_dict(written.delegation),
        "consistency_token": written.consistency_token,
    }


@router.get("/delegations", response_model=ItemPage)
def list_delegations(
    engine: EngineDep,
    caller: CheckCaller,
    limit: PageLimit,
    source: Annotated[
        str | None, Query(alias="from", description="Delegating principal ref")
    ] = None,
    target: Annotated[
        str | None, Query(alias="to", description="Agent or workload ref")
    ] = None,
    include_revoked: bool = False,
    page_token: PageToken = None,
    consistency_token: ConsistencyToken = None,
) -> dict[str, Any]:
    """List delegations, filtered by their source and target."""
    page = engine.list_delegations(
        optional_principal(source, "from"),
        optional_delegate(target, "to"),
        include_revoked,
        limit,
        page_token,
        consistency_token,
    )
    return page.as_dict(delegation_to_dict)


@router.post("/delegations/{delegation_id:path}/revoke")
def revoke_delegation(
    delegation_id: str,
    engine: EngineDep,
    caller: CallerDep,
    body: RevokeBody | None = None,
) -> dict[str, Any]:
    """Revoke a delegation; returns the chains it cut and the agents that lost access."""
    delegation = engine.get_delegation(delegation_id)
    require_source(caller, delegation.source, "revoke")
    reason = None if body is None else body.reason
    revocation = engine.revoke(delegation_id, revoked_by=caller.subject, reason=reason)
    return {
        "delegation": delegation_to_dict(revocation.delegation),
        "already_revoked": revocation.already_revoked,
        "impact": revocation.impact.as_dict(),
        "consistency_token": revocation.consistency_token,
    }


@router.get("/delegations/{delegation_id:path}/impact")
def delegation_impact(
    delegation_id: str,
    engine: EngineDep,
    caller: CheckCaller,
    consistency_token: ConsistencyToken = None,
) -> dict[str, Any]:
    """Preview a revoke: the chains it would cut and the agents that would lose access."""
    impact = engine.impact(delegation_id, consistency_token)
    return {"delegation": delegation_id, "impact": impact.as_dict()}


@router.get("/delegations/{delegation_id:path}")
def get_delegation(
    delegation_id: str,
    engine: EngineDep,
    caller: CheckCaller,
    consistency_token: ConsistencyToken = None,
) -> dict[str, Any]:
    return delegation_to_dict(engine.get_delegation(delegation_id, consistency_token))


@router.post("/principals/{ref:path}/disable")
def disable_principal(
    ref: str, engine: EngineDep, caller: AdminCaller
) -> dict[str, Any]:
    """Disable a principal: every chain through it stops at once."""
    return switch_out(engine.disable(parse_principal(ref, "ref"), caller.subject))


@router.post("/principals/{ref:path}/enable")
def enable_principal(
    ref: str, engine: EngineDep, caller: AdminCaller
) -> dict[str, Any]:
    """Enable a disabled principal again."""
    return switch_out(engine.enable(parse_principal(ref, "ref"), caller.subject))


def switch_out(result: SwitchResult) -> dict[str, Any]:
    return {
        "ref": str(result.ref),
        "disabled": result.disabled,
        "unchanged": result.unchanged,
        "impact": result.impact.as_dict(),
        "consistency_token": result.consistency_token,
    }
