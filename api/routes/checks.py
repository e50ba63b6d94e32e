"""Native decisions: check, batch check, explain."""

from __future__ import annotations

from typing import Any

from delegraph.api.auth import CheckCaller
from delegraph.api.deps import (
    EngineDep,
    SettingsDep,
    decide,
    json_out,
    request_id,
    require_batch_size,
)
from delegraph.api.problems import PROBLEM_RESPONSES
from delegraph.api.schemas import (
    CheckBatchBody,
    CheckBatchResult,
    CheckBody,
    CheckResult,
)
from delegraph.engine.model import Decision
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

router = APIRouter(prefix="/v1", tags=["decisions"], responses=PROBLEM_RESPONSES)

DENY = {"allowed": False}


@router.post("/check", response_model=CheckResult)
def check(
    body: CheckBody, request: Request, engine: EngineDep, caller: CheckCaller
) -> JSONResponse:
    """Decide one request against the live graph; 503 with `allowed: false` if Neo4j fails."""
    check_request = body.to_request(request_id(request))
    decision = decide(
        request,
        "check",
        lambda: engine.check(check_request),
        DENY,
        checks=[check_request],
    )
    request.app.state.metrics.count_decisions("check", [decision.allowed])
    return json_out(decision_out(decision))


@router.post("/check/batch", response_model=CheckBatchResult)
def check_batch(
    body: CheckBatchBody,
    request: Request,
    engine: EngineDep,
    settings: SettingsDep,
    caller: CheckCaller,
) -> JSONResponse:
    """Decide many requests in one query; decisions come back in request order."""
    require_batch_size(settings, len(body.checks), "checks")
    requests = [
        item.to_request(request_id(request), f"checks[{index}].")
        for index, item in enumerate(body.checks)
    ]
    decisions = decide(
        request,
        "check_batch",
        lambda: engine.check_batch(requests),
        DENY,
        checks=requests,
    )
    request.app.state.metrics.count_decisions(
        "check_batch", [d.allowed for d in decisions]
    )
    return json_out({"decisions": [decision_out(d) for d in decisions]})


@router.post("/explain")
def explain(
    body: CheckBody, request: Request, engine: EngineDep, caller: CheckCaller
) -> dict[str, Any]:
    """Return every candidate chain with a verdict per edge, and the decision."""
    check_request = body.to_request(request_id(request))
    explanation = decide(
        request, "explain", lambda: engine.explain(check_request), DENY
    )
    return explanation.as_dict()


def decision_out(decision: Decision) -> dict[str, Any]:
    return decision.as_dict()
