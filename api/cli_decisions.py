"""CLI commands that decide or change decisions: check, explain, revoke."""

from __future__ import annotations

import getpass
import json
from typing import Any

import httpx
import typer
from delegraph.api.cli_common import (
    DENIED,
    ERROR,
    OK,
    JsonOption,
    TimeoutOption,
    console,
    fail,
    open_engine,
    print_json,
    reported_errors,
)
from delegraph.api.render import decision_view, explanation_view, revocation_view
from delegraph.engine.documents import delegation_to_dict
from delegraph.engine.errors import InvalidRequest
from delegraph.engine.model import Chain, CheckRequest, Decision
from delegraph.engine.refs import parse_principal, parse_resource

ContextOption = typer.Option(
    None,
    "--context",
    help='Request context as a JSON object, e.g. \'{"purpose": "x"}\'.',
)
OnBehalfOfOption = typer.Option(
    None,
    "--on-behalf-of",
    help="The human (or other principal) the chain must start at.",
)
SubjectPropertiesOption = typer.Option(
    None, "--subject-properties", help="subject.properties for conditions, as JSON."
)
ResourcePropertiesOption = typer.Option(
    None, "--resource-properties", help="resource.properties for conditions, as JSON."
)


def _json_object(value: str | None, field: str) -> dict[str, Any]:
    if value is None:
        return {}
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError as error:
        raise InvalidRequest(
            f"{field} is not valid JSON: {error.msg}", field, value
        ) from error
    if not isinstance(parsed, dict):
        raise InvalidRequest(f"{field} must be a JSON object", field, value)
    return parsed


def _request(
    subject: str,
    action: str,
    resource: str,
    context: str | None,
    on_behalf_of: str | None,
    subject_properties: str | None,
    resource_properties: str | None,
) -> CheckRequest:
    return CheckRequest(
        subject=parse_principal(subject, "subject"),
        action=action,
        resource=parse_resource(resource, "resource"),
        context=_json_object(context, "context"),
        subject_properties=_json_object(subject_properties, "subject_properties"),
        resource_properties=_json_object(resource_properties, "resource_properties"),
        on_behalf_of=None
        if on_behalf_of is None
        else parse_principal(on_behalf_of, "on_behalf_of"),
    )


def check(
    subject: str = typer.Argument(..., help="Principal ref, e.g. agent:expense-bot."),
    action: str = typer.Argument(..., help="Action name, e.g. read."),
    resource: str = typer.Argument(..., help="Resource ref, e.g. document:q3."),
    context: str | None = ContextOption,
    on_behalf_of: str | None = OnBehalfOfOption,
    subject_properties: str | None = SubjectPropertiesOption,
    resource_properties: str | None = ResourcePropertiesOption,
    url: str | None = typer.Option(
        None,
        "--url",
        envvar="DELEGRAPH_URL",
        help="Base URL of a running delegraph API.",
    ),
    token: str | None = typer.Option(
        None, "--token", envvar="DELEGRAPH_TOKEN", help="Bearer token for --url."
    ),
    as_json: bool = JsonOption,
    timeout: float = TimeoutOption,
) -> None:
    """Decide one request. Exit 0 on allow, 1 on deny, 2 on an error."""
    with reported_errors():
        request = _request(
            subject,
            action,
            resource,
            context,
            on_behalf_of,
            subject_properties,
            resource_properties,
        )
    if url:
        result = _check_over_http(url, token, request, timeout)
        if as_json:
            print_json(result)
        else:
            console.print(decision_view(_decision_from_json(result)))
        raise typer.Exit(OK if result.get("allowed") is True else DENIED)

    with open_engine(timeout) as engine, reported_errors():
        decision = engine.check(request)
    if as_json:
        print_json(decision.as_dict())
    else:
        console.print(decision_view(decision))
    raise typer.Exit(OK if decision.allowed else DENIED)


def _check_over_http(
    url: str, token: str | None, request: CheckRequest, timeout: float
) -> dict[str, Any]:
    """POST the request to ``{url}/v1/check``; exit 2 on anything but a decision."""
    body: dict[str, Any] = {
        "subject": str(request.subject),
        "action": request.action,
        "resource": str(request.resource),
        "context": request.context,
        "subject_properties": request.subject_properties,
        "resource_properties": request.resource_properties,
    }
    if request.on_behalf_of is not None:
        body["on_behalf_of"] = str(request.on_behalf_of)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    endpoint = url.rstrip("/") + "/v1/check"
    try:
        response = httpx.post(endpoint, json=body, headers=headers, timeout=timeout)
    except httpx.HTTPError as error:
        fail(f"request to {endpoint} failed: {error}")
    if response.status_code != 200:
        fail(
            f"{endpoint} returned HTTP {response.status_code}: {response.text[:500]}",
            ERROR,
        )
    try:
        result = response.json()
    except ValueError:
        fail(f"{endpoint} returned a body that is not JSON: {response.text[:200]}")
    if not isinstance(result, dict) or not isinstance(result.get("allowed"), bool):
        fail(f"{endpoint} returned no decision: {response.text[:200]}")
    return result


def _decision_from_json(body: dict[str, Any]) -> Decision:
    """Rebuild a Decision from a ``/v1/check`` response body, for display."""
    chain = body.get("chain")
    return Decision(
        allowed=body.get("allowed") is True,
        decision_id=str(body.get("decision_id", "")),
        reason=str(body.get("reason", "")),
        chain=None
        if not chain
        else Chain(
            principals=tuple(chain["principals"]),
            delegations=tuple(chain["delegations"]),
            grant_principal=chain["grant"]["principal"],
            grant_resource=chain["grant"]["resource"],
        ),
    )


def explain(
    subject: str = typer.Argument(..., help="Principal ref, e.g. agent:expense-bot."),
    action: str = typer.Argument(..., help="Action name, e.g. read."),
    resource: str = typer.Argument(..., help="Resource ref, e.g. document:q3."),
    context: str | None = ContextOption,
    on_behalf_of: str | None = OnBehalfOfOption,
    subject_properties: str | None = SubjectPropertiesOption,
    resource_properties: str | None = ResourcePropertiesOption,
    as_json: bool = JsonOption,
    timeout: float = TimeoutOption,
) -> None:
    """Show every candidate chain of a request with a verdict per edge."""
    with reported_errors():
        request = _request(
            subject,
            action,
            resource,
            context,
            on_behalf_of,
            subject_properties,
            resource_properties,
        )
    with open_engine(timeout) as engine, reported_errors():
        explanation = engine.explain(request)
    if as_json:
        print_json(explanation.as_dict())
    else:
        console.print(explanation_view(explanation))


def revoke(
    delegation_id: str = typer.Argument(..., help="Id of the delegation to revoke."),
    revoked_by: str = typer.Option(
        None, "--by", help="Who revokes it (stored as revoked_by); default cli:LOGIN."
    ),
    reason: str | None = typer.Option(None, "--reason", help="Why (revoke_reason)."),
    as_json: bool = JsonOption,
    timeout: float = TimeoutOption,
) -> None:
    """Revoke a delegation and list the agents and chains that lost access."""
    by = revoked_by or f"cli:{getpass.getuser()}"
    with open_engine(timeout) as engine, reported_errors():
        revocation = engine.revoke(delegation_id, by, reason)
    if as_json:
        print_json(
            {
                "delegation": delegation_to_dict(revocation.delegation),
                "already_revoked": revocation.already_revoked,
                "impact": revocation.impact.as_dict(),
                "consistency_token": revocation.consistency_token,
            }
        )
    else:
        console.print(revocation_view(revocation))
