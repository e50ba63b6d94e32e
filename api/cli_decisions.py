"""CLI commands that decide or change decisions: check, explain, revoke."""

from __future__ import annotations

import getpass
import json
from typing import Any

import typer
from delegraph.api.cli_common import (
    DENIED,
    OK,
    JsonOption,
    TimeoutOption,
    TokenOption,
    UrlOption,
    api_client,
    console,
    fail,
    open_engine,
    path_segment,
    print_json,
    reported_errors,
)
from delegraph.api.cli_results import (
    decision_from_dict,
    explanation_from_dict,
    rebuilt,
    revocation_from_dict,
)
from delegraph.api.render import decision_view, explanation_view, revocation_view
from delegraph.engine.documents import delegation_to_dict
from delegraph.engine.errors import InvalidRequest
from delegraph.engine.model import CheckRequest
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
    url: str | None = UrlOption,
    token: str | None = TokenOption,
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
    api = api_client(url, token, timeout)
    if api is not None:
        result = api.call("POST", "/v1/check", json_body=check_body(request))
        if not isinstance(result, dict) or not isinstance(result.get("allowed"), bool):
            fail(f"POST /v1/check returned no decision: {result!r:.200}")
        if as_json:
            print_json(result)
        else:
            console.print(
                decision_view(rebuilt(decision_from_dict, result, "POST /v1/check"))
            )
        raise typer.Exit(OK if result["allowed"] else DENIED)

    with open_engine(timeout) as engine, reported_errors():
        decision = engine.check(request)
    if as_json:
        print_json(decision.as_dict())
    else:
        console.print(decision_view(decision))
    raise typer.Exit(OK if decision.allowed else DENIED)


def check_body(request: CheckRequest) -> dict[str, Any]:
    """Return the ``/v1/check`` and ``/v1/explain`` request body of ``request``."""
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
    return body


def explain(
    subject: str = typer.Argument(..., help="Principal ref, e.g. agent:expense-bot."),
    action: str = typer.Argument(..., help="Action name, e.g. read."),
    resource: str = typer.Argument(..., help="Resource ref, e.g. document:q3."),
    context: str | None = ContextOption,
    on_behalf_of: str | None = OnBehalfOfOption,
    subject_properties: str | None = SubjectPropertiesOption,
    resource_properties: str | None = ResourcePropertiesOption,
    url: str | None = UrlOption,
    token: str | None = TokenOption,
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
    api = api_client(url, token, timeout)
    if api is not None:
        body = api.call("POST", "/v1/explain", json_body=check_body(request))
        explanation = rebuilt(explanation_from_dict, body, "POST /v1/explain")
    else:
        with open_engine(timeout) as engine, reported_errors():
            explanation = engine.explain(request)
        body = explanation.as_dict()
    if as_json:
        print_json(body)
    else:
        console.print(explanation_view(explanation))


def revoke(
    delegation_id: str = typer.Argument(..., help="Id of the delegation to revoke."),
    revoked_by: str | None = typer.Option(
        None,
        "--by",
        help="Who revokes it (stored as revoked_by); default cli:LOGIN. With "
        "--url the API stores the subject of the token instead.",
    ),
    reason: str | None = typer.Option(None, "--reason", help="Why (revoke_reason)."),
    url: str | None = UrlOption,
    token: str | None = TokenOption,
    as_json: bool = JsonOption,
    timeout: float = TimeoutOption,
) -> None:
    """Revoke a delegation and list the agents and chains that lost access."""
    api = api_client(url, token, timeout)
    if api is not None:
        if revoked_by is not None:
            fail(
                "--by cannot be used with --url: the API stores the subject of "
                "the token as revoked_by"
            )
        body = api.call(
            "POST",
            f"/v1/delegations/{path_segment(delegation_id)}/revoke",
            json_body={"reason": reason},
        )
        revocation = rebuilt(
            revocation_from_dict, body, "POST /v1/delegations/{id}/revoke"
        )
    else:
        by = revoked_by or f"cli:{getpass.getuser()}"
        with open_engine(timeout) as engine, reported_errors():
            revocation = engine.revoke(delegation_id, by, reason)
        body = {
            "delegation": delegation_to_dict(revocation.delegation),
            "already_revoked": revocation.already_revoked,
            "impact": revocation.impact.as_dict(),
            "consistency_token": revocation.consistency_token,
        }
    if as_json:
        print_json(body)
    else:
        console.print(revocation_view(revocation))
