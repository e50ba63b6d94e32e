"""RFC 9457 problem details: every error response of the API is one of these.

A problem carries ``type``, ``title``, ``status``, ``detail`` and ``instance``
plus two extension members, ``field`` and ``value``, that name the offending
input. Decision endpoints add their deny (``allowed: false`` or
``decision: false``) as further members, so a client that reads only the
body still sees a deny.
"""

from __future__ import annotations

import json
import logging
import math
from http import HTTPStatus
from typing import Any

import neo4j.exceptions
from delegraph.cypher.store import InvalidConsistencyToken, StoreError
from delegraph.engine.errors import DelegraphError
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from starlette.exceptions import HTTPException as StarletteHTTPException

logger = logging.getLogger("delegraph.api")

MEDIA_TYPE = "application/problem+json"
TYPE_BASE = "https://delegraph.dev/problems/"
MAX_VALUE_CHARS = 200


class Problem(Exception):
    """An error that the API returns as an ``application/problem+json`` body."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        field: str | None = None,
        value: Any = None,
        slug: str | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.field = field
        self.value = value
        self.slug = slug or _default_slug(status)
        self.headers = headers or {}
        self.extra = extra or {}

    def body(self, instance: str) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": TYPE_BASE + self.slug,
            "title": HTTPStatus(self.status).phrase,
            "status": self.status,
            "detail": self.detail,
            "instance": instance,
        }
        if self.field is not None:
            body["field"] = self.field
            body["value"] = shown_value(self.value)
        body.update(self.extra)
        return body

    def response(self, request: Request) -> JSONResponse:
        return JSONResponse(
            self.body(request.url.path),
            status_code=self.status,
            headers=self.headers,
            media_type=MEDIA_TYPE,
        )


def _default_slug(status: int) -> str:
    return HTTPStatus(status).phrase.lower().replace(" ", "-").replace("'", "")


def shown_value(value: Any) -> Any:
    """Return ``value`` fit for a response: JSON-safe and cut to a readable size."""
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, str):
        return (
            value if len(value) <= MAX_VALUE_CHARS else value[:MAX_VALUE_CHARS] + "..."
        )
    try:
        text = json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        return shown_value(repr(value))
    if len(text) <= MAX_VALUE_CHARS:
        return value
    return text[:MAX_VALUE_CHARS] + "..."


def from_engine_error(error: DelegraphError) -> Problem:
    return Problem(
        error.status,
        error.message,
        field=error.field,
        value=error.value,
        slug=type(error).__name__.lower(),
    )


def store_unavailable(
    detail: str = "the decision store (Neo4j) is unavailable; retry later",
    extra: dict[str, Any] | None = None,
) -> Problem:
    """Return the 503 problem of a Neo4j failure; ``extra`` carries the deny."""
    return Problem(
        503,
        detail,
        slug="store-unavailable",
        headers={"Retry-After": "5"},
        extra=extra,
    )


def validation_problem(error: RequestValidationError, status: int = 422) -> Problem:
    """Turn pydantic's first error into a problem naming the field and the value."""
    first = error.errors()[0] if error.errors() else {}
    location = [str(part) for part in first.get("loc", ()) if part != "body"]
    field = ".".join(location) or "body"
    message = str(first.get("msg", "invalid request"))
    if first.get("type") == "missing":
        detail = f"{field} is missing"
        value = None
    else:
        detail = f"{field}: {message}"
        value = first.get("input")
    return Problem(status, detail, field=field, value=value, slug="invalid-request")


def install_handlers(app: FastAPI) -> None:
    """Register the handlers that turn every error into a problem response."""

    @app.exception_handler(Problem)
    async def handle_problem(request: Request, error: Problem) -> JSONResponse:
        return error.response(request)

    @app.exception_handler(DelegraphError)
    async def handle_engine(request: Request, error: DelegraphError) -> JSONResponse:
        return from_engine_error(error).response(request)

    @app.exception_handler(InvalidConsistencyToken)
    async def handle_token(
        request: Request, error: InvalidConsistencyToken
    ) -> JSONResponse:
        problem = Problem(
            422,
            "consistency_token is not a token that this server returned",
            field="consistency_token",
            value=str(error),
            slug="invalid-request",
        )
        return problem.response(request)

    @app.exception_handler(RequestValidationError)
    async def handle_validation(
        request: Request, error: RequestValidationError
    ) -> JSONResponse:
        # AuthZEN requires 400 for a malformed request; the native API uses 422.
        status = 400 if request.url.path.startswith("/access/") else 422
        return validation_problem(error, status).response(request)

    @app.exception_handler(StarletteHTTPException)
    async def handle_http(
        request: Request, error: StarletteHTTPException
    ) -> JSONResponse:
        headers = dict(error.headers or {})
        problem = Problem(error.status_code, str(error.detail), headers=headers)
        return problem.response(request)

    @app.exception_handler(StoreError)
    async def handle_store(request: Request, error: StoreError) -> JSONResponse:
        _count_store_error(request)
        logger.warning(
            "request=%s path=%s neo4j failed: %s",
            request_id(request),
            request.url.path,
            error,
        )
        return store_unavailable().response(request)

    @app.exception_handler(neo4j.exceptions.Neo4jError)
    async def handle_neo4j(
        request: Request, error: neo4j.exceptions.Neo4jError
    ) -> JSONResponse:
        _count_store_error(request)
        logger.error(
            "request=%s path=%s neo4j error code=%s: %s",
            request_id(request),
            request.url.path,
            error.code,
            error.message,
        )
        return store_unavailable("the decision store (Neo4j) failed").response(request)


def request_id(request: Request) -> str:
    return str(getattr(request.state, "request_id", "-"))


def _count_store_error(request: Request) -> None:
    metrics = getattr(request.app.state, "metrics", None)
    if metrics is not None:
        metrics.neo4j_errors.inc()


class ProblemDetail(BaseModel):
    """An RFC 9457 problem; ``field`` and ``value`` name the offending input."""

    model_config = ConfigDict(extra="allow")

    type: str
    title: str
    status: int
    detail: str
    instance: str
    field: str | None = None
    value: Any = None


def _problem_response(description: str) -> dict[str, Any]:
    return {
        "model": ProblemDetail,
        "description": description,
        "content": {
            MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/ProblemDetail"}}
        },
    }


PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: _problem_response("Malformed request"),
    401: _problem_response("Missing or invalid bearer token"),
    403: _problem_response("The token lacks the role or the principal for this"),
    404: _problem_response("Not found"),
    409: _problem_response("Conflict with what is stored"),
    413: _problem_response("Request body over the size limit"),
    422: _problem_response("Invalid value, broken rule or exceeded limit"),
    503: _problem_response("Neo4j unavailable: decisions deny"),
}
