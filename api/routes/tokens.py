"""Token introspection in the shape of RFC 7662, judged against the live graph.

RFC 7662 sends the token form-encoded (``token=...``), and JSON
(``{"token": ...}``) is accepted too. A token that fails verification is
a 200 with ``active: false``, never a 4xx, because RFC 7662 reports an
unusable token in the body. The token is never logged nor echoed in an
error.
"""

from __future__ import annotations

import json
import logging
from typing import Annotated, Any
from urllib.parse import parse_qs

from delegraph.api.auth import CheckCaller
from delegraph.api.deps import EngineDep, decide, request_id
from delegraph.api.problems import PROBLEM_RESPONSES, Problem
from delegraph.engine.introspect import Introspection, IntrospectionKeys
from fastapi import APIRouter, Depends, Request

logger = logging.getLogger("delegraph.api")

router = APIRouter(
    prefix="/v1", tags=["incident response"], responses=PROBLEM_RESPONSES
)

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"

_BODY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["token"],
    "properties": {
        "token": {"type": "string", "minLength": 1, "description": "The JWT."},
        "token_type_hint": {
            "type": "string",
            "description": "Accepted and ignored: every token is read as a JWT.",
        },
    },
}
REQUEST_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {JSON: {"schema": _BODY_SCHEMA}, FORM: {"schema": _BODY_SCHEMA}},
    }
}


async def token_field(request: Request) -> str:
    """Read the ``token`` member of a form-encoded or JSON body."""
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    body = await request.body()
    if media == FORM:
        fields = _form_fields(body)
    elif media == JSON or media.endswith("+json"):
        fields = _json_fields(body)
    else:
        raise Problem(
            415,
            f"Content-Type {media or 'none'!r} is not supported; send {FORM} "
            f'(token=...) or {JSON} ({{"token": ...}})',
            field="Content-Type",
            value=media or None,
            slug="unsupported-media-type",
        )
    return _required_token(fields)


def _form_fields(body: bytes) -> dict[str, Any]:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise Problem(
            400, "the form body is not UTF-8", field="body", slug="invalid-request"
        ) from error
    parsed = parse_qs(text, keep_blank_values=True)
    if len(parsed.get("token", [])) > 1:
        raise Problem(
            422,
            "token is sent more than once; send it once",
            field="token",
            slug="invalid-request",
        )
    return {name: values[0] for name, values in parsed.items()}


def _json_fields(body: bytes) -> dict[str, Any]:
    try:
        document = json.loads(body)
    except ValueError as error:
        raise Problem(
            400,
            f"the body is not valid JSON: {error}",
            field="body",
            slug="invalid-request",
        ) from error
    if not isinstance(document, dict):
        raise Problem(
            422,
            f"the body must be a JSON object with a token member, got "
            f"{type(document).__name__}",
            field="body",
            slug="invalid-request",
        )
    return document


def _required_token(fields: dict[str, Any]) -> str:
    """Return the token. Its errors name the field but never show the value."""
    token = fields.get("token")
    if token is None:
        raise Problem(422, "token is missing", field="token", slug="invalid-request")
    if not isinstance(token, str):
        raise Problem(
            422,
            f"token must be a string, got {type(token).__name__}",
            field="token",
            slug="invalid-request",
        )
    if not token.strip():
        raise Problem(422, "token is empty", field="token", slug="invalid-request")
    return token


TokenField = Annotated[str, Depends(token_field)]


@router.post(
    "/tokens/introspect",
    openapi_extra=REQUEST_BODY,
    description="Needs the `check` or `admin` role. A token that fails "
    'verification gets 200 `{"active": false, "error": ...}`.',
)
def introspect(
    token: TokenField, request: Request, engine: EngineDep, caller: CheckCaller
) -> dict[str, Any]:
    """Verify a JWT and its RFC 8693 ``act`` chain; ``active`` comes from the live graph."""
    keys: IntrospectionKeys | None = request.app.state.introspection_keys
    if keys is None:
        raise Problem(
            503,
            "token introspection is not configured: set "
            "DELEGRAPH_INTROSPECT_PUBLIC_KEY or DELEGRAPH_INTROSPECT_JWKS_FILE",
            slug="introspection-not-configured",
            extra={"active": False},
        )
    result: Introspection = decide(
        request,
        "introspect",
        lambda: engine.introspect(token, keys),
        {"active": False},
    )
    _log(request, result)
    return result.as_dict()


def _log(request: Request, result: Introspection) -> None:
    """Log the outcome with the token's jti and chain, never the token."""
    if result.error is not None:
        logger.info(
            "request=%s introspect active=false: token failed verification: %s",
            request_id(request),
            result.error,
        )
        return
    logger.info(
        "request=%s introspect active=%s jti=%s chain=%s stale_claims=%s problems=%s",
        request_id(request),
        result.active,
        result.claims.get("jti"),
        " -> ".join(result.principals),
        list(result.stale_claims),
        [problem.code for problem in result.problems],
    )
