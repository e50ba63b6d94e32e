"""Pydantic models of the HTTP boundary, and their conversion to engine objects.

The models fix the JSON shapes for OpenAPI; the engine's own parsers
(``delegraph.engine.refs`` and ``delegraph.engine.documents``) validate the
values, so refs, actions, datetimes and CEL conditions are checked by the
same rules as an import.
"""

from __future__ import annotations

from typing import Any

from delegraph.engine.documents import (
    parse_action,
    parse_actions,
    parse_condition,
    parse_datetime,
    parse_delegation,
    parse_sensitivity,
)
from delegraph.engine.model import (
    CheckRequest,
    Delegation,
    Grant,
    Membership,
    Principal,
    Resource,
)
from delegraph.engine.refs import (
    DELEGATES,
    OWNERS,
    parse_principal,
    parse_ref,
    parse_resource,
)
from pydantic import BaseModel, ConfigDict, Field

# Native API: requests.


class Strict(BaseModel):
    """A request body that rejects unknown fields."""

    model_config = ConfigDict(extra="forbid")


class CheckBody(Strict):
    subject: str = Field(examples=["agent:expense-bot"])
    action: str = Field(examples=["read"])
    resource: str = Field(examples=["document:q3"])
    context: dict[str, Any] = Field(default_factory=dict)
    subject_properties: dict[str, Any] = Field(default_factory=dict)
    resource_properties: dict[str, Any] = Field(default_factory=dict)
    on_behalf_of: str | None = Field(default=None, examples=["user:alice"])
    consistency_token: str | None = None

    def to_request(self, request_id: str | None, at: str = "") -> CheckRequest:
        return CheckRequest(
            subject=parse_principal(self.subject, at + "subject"),
            action=parse_action(self.action, at + "action"),
            resource=parse_resource(self.resource, at + "resource"),
            context=self.context,
            subject_properties=self.subject_properties,
            resource_properties=self.resource_properties,
            on_behalf_of=None
            if self.on_behalf_of is None
            else parse_principal(self.on_behalf_of, at + "on_behalf_of"),
            consistency_token=self.consistency_token,
            request_id=request_id,
        )


class CheckBatchBody(Strict):
    checks: list[CheckBody] = Field(min_length=1)


class PrincipalBody(Strict):
    ref: str = Field(examples=["agent:expense-bot"])
    owner: str | None = Field(default=None, examples=["user:alice"])
    disabled: bool = False

    def to_principal(self) -> Principal:
        ref = parse_principal(self.ref, "ref")
        owner = (
            None if self.owner is None else parse_principal(self.owner, "owner", OWNERS)
        )
        return Principal(ref, owner, self.disabled)


class ResourceBody(Strict):
    ref: str = Field(examples=["document:q3"])
    parent: str | None = Field(default=None, examples=["folder:finance"])
    sensitivity: int | None = Field(default=None, examples=[3])

    def to_resource(self) -> Resource:
        return Resource(
            ref=parse_resource(self.ref, "ref"),
            parent=None
            if self.parent is None
            else parse_resource(self.parent, "parent"),
            sensitivity=parse_sensitivity(self.sensitivity, "sensitivity"),
        )


class MembershipBody(Strict):
    member: str = Field(examples=["user:alice"])
    group: str = Field(examples=["group:finance"])

    def to_membership(self) -> Membership:
        return Membership(
            parse_principal(self.member, "member"),
            parse_principal(self.group, "group", ("group",)),
        )


class GrantBody(Strict):
    principal: str = Field(examples=["group:finance"])
    resource: str = Field(examples=["folder:finance"])
    actions: list[str] = Field(examples=[["read", "write"]])
    expires_at: str | None = Field(default=None, examples=["2099-01-01T00:00:00Z"])
    condition: str | None = None

    def to_grant(self) -> Grant:
        return Grant(
            principal=parse_principal(self.principal, "principal"),
            resource=parse_resource(self.resource, "resource"),
            actions=parse_actions(self.actions, "actions"),
            expires_at=parse_datetime(self.expires_at, "expires_at"),
            condition=parse_condition(self.condition, "condition"),
        )


class DelegationBody(Strict):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    id: str = Field(examples=["d1"])
    source: str = Field(alias="from", examples=["user:alice"])
    target: str = Field(alias="to", examples=["agent:expense-bot"])
    actions: list[str] = Field(examples=[["read"]])
    resources: list[str] | None = None
    resource_types: list[str] | None = Field(default=None, examples=[["document"]])
    max_sensitivity: int | None = None
    max_depth: int = 0
    not_before: str | None = None
    expires_at: str | None = Field(default=None, examples=["2099-01-01T00:00:00Z"])
    condition: str | None = Field(
        default=None, examples=['context.purpose == "expenses"']
    )

    def to_delegation(self) -> Delegation:
        fields = self.model_dump(by_alias=True, exclude_none=True)
        delegation = parse_delegation(fields, "body")
        return delegation


class RevokeBody(Strict):
    reason: str | None = Field(default=None, examples=["agent compromised"])


# Native API: responses.


class GrantRef(BaseModel):
    principal: str
    resource: str


class ChainOut(BaseModel):
    principals: list[str]
    delegations: list[str]
    grant: GrantRef


class CheckResult(BaseModel):
    allowed: bool
    decision_id: str
    chain: ChainOut | None
    reason: str


class CheckBatchResult(BaseModel):
    decisions: list[CheckResult]


class Written(BaseModel):
    """The common part of every write response."""

    consistency_token: str


class ItemPage(BaseModel):
    items: list[dict[str, Any]]
    next_page_token: str | None


# Conversions from engine objects to JSON.


def principal_out(principal: Principal) -> dict[str, Any]:
    return {
        "ref": str(principal.ref),
        "owner": None if principal.owner is None else str(principal.owner),
        "disabled": principal.disabled,
    }


def resource_out(resource: Resource) -> dict[str, Any]:
    return {
        "ref": str(resource.ref),
        "parent": None if resource.parent is None else str(resource.parent),
        "sensitivity": resource.sensitivity,
    }


def membership_out(membership: Membership) -> dict[str, Any]:
    return {"member": str(membership.member), "group": str(membership.group)}


def grant_out(grant: Grant) -> dict[str, Any]:
    return {
        "principal": str(grant.principal),
        "resource": str(grant.resource),
        "actions": list(grant.actions),
        "expires_at": None
        if grant.expires_at is None
        else grant.expires_at.isoformat(),
        "condition": grant.condition,
    }


def optional_ref(value: str | None, field: str) -> Any:
    """Parse an optional filter ref of a list endpoint."""
    return None if value is None else parse_ref(value, field)


def optional_principal(value: str | None, field: str) -> Any:
    return None if value is None else parse_principal(value, field)


def optional_resource(value: str | None, field: str) -> Any:
    return None if value is None else parse_resource(value, field)


def optional_delegate(value: str | None, field: str) -> Any:
    return None if value is None else parse_principal(value, field, DELEGATES)
