"""OpenID AuthZEN Authorization API 1.0: evaluation, evaluations, metadata.

A deny is HTTP 200 ``{"decision": false}``; a missing subject, type, id or
action name is 400; unknown fields are ignored. Responses carry only
``decision`` unless the request sets ``options.include_reasons``. When
``context.agent`` names an agent (``"agent:x"`` or ``{"type": "agent", "id":
"x"}``), the request is decided for that agent acting on behalf of
``subject``, the convention of the AuthZEN MCP binding profile.
"""

from __future__ import annotations

import functools
from typing import Any, Literal

from delegraph.api.auth import CheckCaller
from delegraph.api.deps import (
    EngineDep,
    SettingsDep,
    decide,
    json_out,
    request_id,
    require_batch_size,
)
from delegraph.api.problems import PROBLEM_RESPONSES, Problem
from delegraph.engine.documents import parse_action
from delegraph.engine.errors import InvalidRequest
from delegraph.engine.model import CheckRequest, Decision
from delegraph.engine.refs import (
    DELEGATES,
    Ref,
    parse_principal,
    parse_ref,
    parse_resource,
    require_not_wildcard,
)
from delegraph.engine.service import Engine
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError

router = APIRouter(prefix="/access/v1", tags=["authzen"], responses=PROBLEM_RESPONSES)
well_known = APIRouter(tags=["authzen"])

DENY = {"decision": False}
Semantic = Literal["execute_all", "deny_on_first_deny", "permit_on_first_permit"]


class Lenient(BaseModel):
    """An AuthZEN object: unknown fields are ignored, as the spec requires."""

    model_config = ConfigDict(extra="ignore")


class Entity(Lenient):
    type: str = Field(min_length=1, examples=["user"])
    id: str = Field(min_length=1, examples=["alice"])
    properties: dict[str, Any] | None = None


class Action(Lenient):
    name: str = Field(min_length=1, examples=["read"])
    properties: dict[str, Any] | None = None


class Options(Lenient):
    evaluations_semantic: Semantic = "execute_all"
    include_reasons: bool = Field(
        default=False,
        description="delegraph extension: add decision_id, reason and chain "
        "to each decision's context.",
    )


class EvaluationBody(Lenient):
    subject: Entity
    action: Action
    resource: Entity
    context: dict[str, Any] | None = None
    options: Options | None = None


class EvaluationsBody(Lenient):
    subject: Entity | None = None
    action: Action | None = None
    resource: Entity | None = None
    context: dict[str, Any] | None = None
    evaluations: list[dict[str, Any]] | None = Field(
        default=None,
        description="Each item may set subject, action, resource and context; a "
        "value set on an item replaces the top-level default (no merging).",
    )
    options: Options | None = None


class EvaluationResult(BaseModel):
    decision: bool
    context: dict[str, Any] | None = None


class EvaluationsResult(BaseModel):
    evaluations: list[EvaluationResult]


class Denial(Exception):
    """A request that is well formed but names nothing that can be allowed."""


def to_check_request(body: EvaluationBody, request_id: str) -> CheckRequest:
    """Map an AuthZEN request to a check; raises Denial or InvalidRequest."""
    subject = _entity_ref(body.subject, "subject")
    resource = _entity_ref(body.resource, "resource")
    try:
        resource = parse_resource(str(resource), "resource")
    except InvalidRequest as error:
        raise Denial(error.message) from error
    action = parse_action(body.action.name, "action.name")
    context = dict(body.context or {})
    on_behalf_of: Ref | None = None
    if context.get("agent") is not None:
        on_behalf_of = subject
        subject = require_not_wildcard(agent_ref(context["agent"]), "context.agent")
    require_not_wildcard(subject, "subject")
    return CheckRequest(
        subject=subject,
        action=action,
        resource=resource,
        context=context,
        subject_properties=dict(body.subject.properties or {}),
        resource_properties=dict(body.resource.properties or {}),
        on_behalf_of=on_behalf_of,
        request_id=request_id,
    )


def _entity_ref(entity: Entity, field: str) -> Ref:
    try:
        return parse_ref(f"{entity.type}:{entity.id}", field)
    except InvalidRequest as error:
        raise Denial(
            f"{field} {entity.type}:{entity.id} cannot exist: {error.message}"
        ) from error


def agent_ref(agent: Any) -> Ref:
    """Parse ``context.agent``: ``agent:ID`` or an object with type and id."""
    if isinstance(agent, dict):
        kind, ident = agent.get("type"), agent.get("id")
        if not isinstance(kind, str) or not isinstance(ident, str):
            raise InvalidRequest(
                "context.agent must be 'agent:ID' or an object with string type and id",
                "context.agent",
                agent,
            )
        agent = f"{kind}:{ident}"
    return parse_principal(agent, "context.agent", DELEGATES)


def result_out(decision: Decision, reasons: bool) -> dict[str, Any]:
    if not reasons:
        return {"decision": decision.allowed}
    return {
        "decision": decision.allowed,
        "context": {
            "decision_id": decision.decision_id,
            "reason": decision.reason,
            "chain": None if decision.chain is None else decision.chain.as_dict(),
        },
    }


def denial_out(reason: str, reasons: bool) -> dict[str, Any]:
    return {"decision": False, "context": {"reason": reason}} if reasons else DENY


def error_out(status: int, message: str) -> dict[str, Any]:
    return {
        "decision": False,
        "context": {"error": {"status": status, "message": message}},
    }


@router.post(
    "/evaluation", response_model=EvaluationResult, response_model_exclude_none=True
)
def evaluation(
    body: EvaluationBody, request: Request, engine: EngineDep, caller: CheckCaller
) -> JSONResponse:
    """Decide one AuthZEN access request."""
    reasons = body.options is not None and body.options.include_reasons
    return json_out(_evaluate_one(body, request, engine, reasons))


def _evaluate_one(
    body: EvaluationBody, request: Request, engine: Engine, reasons: bool
) -> dict[str, Any]:
    try:
        check_request = to_check_request(body, request_id(request))
    except Denial as denial:
        request.app.state.metrics.count_decisions("evaluation", [False])
        return denial_out(str(denial), reasons)
    except InvalidRequest as error:
        raise Problem(
            400, error.message, field=error.field, value=error.value
        ) from error
    decision = decide(
        request,
        "evaluation",
        lambda: engine.check(check_request),
        DENY,
        checks=[check_request],
    )
    request.app.state.metrics.count_decisions("evaluation", [decision.allowed])
    return result_out(decision, reasons)


@router.post(
    "/evaluations",
    response_model=EvaluationsResult | EvaluationResult,
    response_model_exclude_none=True,
)
def evaluations(
    body: EvaluationsBody,
    request: Request,
    engine: EngineDep,
    settings: SettingsDep,
    caller: CheckCaller,
) -> JSONResponse:
    """Decide many AuthZEN requests; items replace the top-level defaults."""
    options = body.options or Options()
    defaults = body.model_dump(include={"subject", "action", "resource", "context"})
    defaults = {key: value for key, value in defaults.items() if value is not None}
    if not body.evaluations:
        single = _validate(defaults)
        if isinstance(single, str):
            raise Problem(400, single, field="body", slug="invalid-request")
        return json_out(_evaluate_one(single, request, engine, options.include_reasons))

    require_batch_size(settings, len(body.evaluations), "evaluations")
    items = [
        _item(defaults, item, index, request)
        for index, item in enumerate(body.evaluations)
    ]
    if options.evaluations_semantic == "execute_all":
        results = _execute_all(items, request, engine, options.include_reasons)
    else:
        results = _short_circuit(
            items,
            request,
            engine,
            options.include_reasons,
            options.evaluations_semantic,
        )
    return json_out({"evaluations": results})


# An evaluations item after defaults: a check, a deny, or an error message.
Item = CheckRequest | Denial | str


def _item(defaults: dict[str, Any], item: Any, index: int, request: Request) -> Item:
    if not isinstance(item, dict):
        return f"evaluations[{index}] must be an object"
    merged = dict(defaults)
    for key in ("subject", "action", "resource", "context"):
        if key in item:
            merged[key] = item[key]
    body = _validate(merged, f"evaluations[{index}].")
    if isinstance(body, str):
        return body
    try:
        return to_check_request(body, request_id(request))
    except Denial as denial:
        return denial
    except InvalidRequest as error:
        return f"evaluations[{index}]: {error.message}"


def _validate(data: dict[str, Any], at: str = "") -> EvaluationBody | str:
    """Return the request, or a message naming the first missing or invalid field."""
    try:
        return EvaluationBody.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        field = at + ".".join(str(part) for part in first["loc"])
        if first["type"] == "missing":
            return f"{field} is missing"
        return f"{field}: {first['msg']}"


def _execute_all(
    items: list[Item], request: Request, engine: Engine, reasons: bool
) -> list[dict[str, Any]]:
    """Decide every item, the valid ones in one batch query."""
    checks = [item for item in items if isinstance(item, CheckRequest)]
    decisions = decide(
        request,
        "evaluations",
        lambda: engine.check_batch(checks),
        DENY,
        checks=checks,
    )
    request.app.state.metrics.count_decisions(
        "evaluations", [d.allowed for d in decisions]
    )
    remaining = iter(decisions)
    results = []
    for item in items:
        if isinstance(item, CheckRequest):
            results.append(result_out(next(remaining), reasons))
        else:
            results.append(_undecided_out(item, reasons))
    return results


def _short_circuit(
    items: list[Item], request: Request, engine: Engine, reasons: bool, semantic: str
) -> list[dict[str, Any]]:
    """Decide items in order, stopping after the first deny or the first permit."""
    stop_on = semantic == "permit_on_first_permit"
    results: list[dict[str, Any]] = []
    for item in items:
        if isinstance(item, CheckRequest):
            decision = decide(
                request,
                "evaluations",
                functools.partial(engine.check, item),
                DENY,
                checks=[item],
            )
            request.app.state.metrics.count_decisions("evaluations", [decision.allowed])
            result = result_out(decision, reasons)
        else:
            result = _undecided_out(item, reasons)
        results.append(result)
        if result["decision"] is stop_on:
            break
    return results


def _undecided_out(item: Denial | str, reasons: bool) -> dict[str, Any]:
    """Return the deny of an item that needs no query: an error or a denial."""
    if isinstance(item, str):
        return error_out(400, item)
    return denial_out(str(item), reasons)


@well_known.get("/.well-known/authzen-configuration")
def authzen_configuration(request: Request, settings: SettingsDep) -> dict[str, str]:
    """Return the AuthZEN PDP metadata: this server's endpoint URLs."""
    base = (settings.public_url or str(request.base_url)).rstrip("/")
    return {
        "policy_decision_point": base,
        "access_evaluation_endpoint": f"{base}/access/v1/evaluation",
        "access_evaluations_endpoint": f"{base}/access/v1/evaluations",
        "search_subject_endpoint": f"{base}/access/v1/search/subject",
        "search_resource_endpoint": f"{base}/access/v1/search/resource",
        "search_action_endpoint": f"{base}/access/v1/search/action",
    }
