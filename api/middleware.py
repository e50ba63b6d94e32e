"""ASGI middleware: request ids, requests in flight, and request body limits."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

from delegraph.api.metrics import Metrics
from delegraph.api.problems import MEDIA_TYPE, Problem
from delegraph.api.settings import Settings
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUEST_ID_HEADER = b"x-request-id"
REQUEST_ID_PATTERN = re.compile(r"[\x21-\x7e]{1,128}")
IMPORT_PATH = "/v1/graph/import"


class RequestContext:
    """Give each request an id (the caller's ``X-Request-ID`` or a new UUID),
    echo it in the response, and count the request while it runs."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _request_id(scope)
        scope.setdefault("state", {})["request_id"] = request_id

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                message["headers"] = headers
            await send(message)

        self.metrics.in_flight.inc()
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            self.metrics.in_flight.dec()


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return bytes(value).decode("latin-1")
    return None


def _request_id(scope: Scope) -> str:
    text = _header(scope, REQUEST_ID_HEADER)
    if text is not None and REQUEST_ID_PATTERN.fullmatch(text):
        return text
    return str(uuid.uuid4())


class BodyLimits:
    """Reject a body over the size limit with 413, and a JSON body nested too
    deep or holding too long a string with 422; each error names the limit."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        if path == IMPORT_PATH:
            limit, setting = (
                self.settings.max_import_bytes,
                "DELEGRAPH_MAX_IMPORT_BYTES",
            )
        else:
            limit, setting = self.settings.max_body_bytes, "DELEGRAPH_MAX_BODY_BYTES"
        too_large = Problem(
            413,
            f"the request body is larger than the limit of {limit} bytes ({setting})",
            field="body",
            value=f"> {limit} bytes",
            slug="body-too-large",
        )
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await _send_problem(too_large, scope, receive, send)
            return

        body = bytearray()
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body.extend(message.get("body", b""))
            more = message.get("more_body", False)
            if len(body) > limit:
                await _send_problem(too_large, scope, receive, send)
                return

        problem = self._check_json(bytes(body), scope)
        if problem is not None:
            await _send_problem(problem, scope, receive, send)
            return

        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": bytes(body), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    def _check_json(self, body: bytes, scope: Scope) -> Problem | None:
        if not body or not _is_json(scope):
            return None
        try:
            document = json.loads(body)
        except ValueError:
            return None  # FastAPI reports the syntax error itself.
        except RecursionError:
            return Problem(
                422,
                "the JSON body is nested deeper than the limit of "
                f"{self.settings.max_json_depth} levels (DELEGRAPH_MAX_JSON_DEPTH)",
                field="body",
                slug="limit-exceeded",
            )
        return json_limit_problem(
            document, self.settings.max_json_depth, self.settings.max_string_length
        )


LONG_VALUE_SHOWN = 32


def json_limit_problem(
    document: Any, max_depth: int, max_string: int
) -> Problem | None:
    """Return a 422 problem for the first string or nesting level over a limit."""
    stack: list[tuple[Any, str, int]] = [(document, "body", 1)]
    while stack:
        value, where, depth = stack.pop()
        if isinstance(value, str):
            if len(value) > max_string:
                return Problem(
                    422,
                    f"{where} is {len(value)} characters; the limit is {max_string} "
                    "(DELEGRAPH_MAX_STRING_LENGTH)",
                    field=where,
                    # Only the start: the string may be a token or another secret.
                    value=value[:LONG_VALUE_SHOWN] + "...",
                    slug="limit-exceeded",
                )
            continue
        if not isinstance(value, dict | list):
            continue
        if depth > max_depth:
            return Problem(
                422,
                f"{where} is nested deeper than the limit of {max_depth} levels "
                "(DELEGRAPH_MAX_JSON_DEPTH)",
                field=where,
                value=None,
                slug="limit-exceeded",
            )
        if isinstance(value, dict):
            for key, item in value.items():
                if len(key) > max_string:
                    return Problem(
                        422,
                        f"a key in {where} is {len(key)} characters; the limit is "
                        f"{max_string} (DELEGRAPH_MAX_STRING_LENGTH)",
                        field=where,
                        value=key,
                        slug="limit-exceeded",
                    )
                stack.append((item, f"{where}.{key}", depth + 1))
        else:
            for index, item in enumerate(value):
                stack.append((item, f"{where}[{index}]", depth + 1))
    return None


def _content_length(scope: Scope) -> int | None:
    text = _header(scope, b"content-length")
    if text is None or not text.isdigit():
        return None
    return int(text)


def _is_json(scope: Scope) -> bool:
    media = (_header(scope, b"content-type") or "").split(";")[0].strip().lower()
    return media == "application/json" or media.endswith("+json")


async def _send_problem(
    problem: Problem, scope: Scope, receive: Receive, send: Send
) -> None:
    response = JSONResponse(
        problem.body(scope["path"]),
        status_code=problem.status,
        media_type=MEDIA_TYPE,
    )
    await response(scope, receive, send)
