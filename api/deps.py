"""FastAPI dependencies shared by the routers: engine, settings, decisions.

The dependencies are ``async def`` although none of them awaits, because
FastAPI runs a plain ``def`` dependency in its thread pool. Those hand-offs
cost more CPU per check than the work they wrap. Only endpoints that call the engine
(blocking on Neo4j) stay plain functions.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Annotated, Any, TypeVar

import neo4j.exceptions
from delegraph.api.metrics import Metrics
from delegraph.api.problems import Problem, store_unavailable
from delegraph.api.settings import Settings
from delegraph.cypher.store import StoreError
from delegraph.engine.model import CheckRequest
from delegraph.engine.service import Engine
from fastapi import Depends, Query, Request
from fastapi.responses import JSONResponse

logger = logging.getLogger("delegraph.api")

T = TypeVar("T")

# Everything the driver or the store raises when Neo4j cannot decide.
STORE_FAILURES = (
    StoreError,
    neo4j.exceptions.Neo4jError,
    neo4j.exceptions.DriverError,
    TimeoutError,
    OSError,
)


async def get_engine(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_metrics(request: Request) -> Metrics:
    metrics: Metrics = request.app.state.metrics
    return metrics


def request_id(request: Request) -> str:
    return str(getattr(request.state, "request_id", "-"))


EngineDep = Annotated[Engine, Depends(get_engine)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
MetricsDep = Annotated[Metrics, Depends(get_metrics)]

ConsistencyToken = Annotated[
    str | None,
    Query(
        description="A token from an earlier write: the read sees at least that write."
    ),
]
PageToken = Annotated[
    str | None, Query(description="The next_page_token of the previous page.")
]


async def page_limit(
    settings: SettingsDep,
    limit: Annotated[int, Query(description="Maximum items per page.")] = 100,
) -> int:
    """Return ``limit`` after checking it against DELEGRAPH_MAX_PAGE_SIZE."""
    if not 1 <= limit <= settings.max_page_size:
        raise Problem(
            422,
            f"limit must be from 1 to {settings.max_page_size} "
            "(DELEGRAPH_MAX_PAGE_SIZE)",
            field="limit",
            value=limit,
            slug="limit-exceeded",
        )
    return limit


PageLimit = Annotated[int, Depends(page_limit)]


def json_out(content: Any) -> JSONResponse:
    """Send ``content`` as it is, for the decision endpoints on every request path.

    Those endpoints build bodies that match their ``response_model``. Given a
    dict, FastAPI would validate it against the model again, in a thread-pool
    hand-off of its own for a plain ``def`` endpoint. A Response goes out
    untouched, and the model still documents the body in OpenAPI.
    """
    return JSONResponse(content)


def require_batch_size(settings: Settings, size: int, field: str) -> None:
    if size > settings.max_batch:
        raise Problem(
            422,
            f"{field} holds {size} items; the limit is {settings.max_batch} "
            "(DELEGRAPH_MAX_BATCH)",
            field=field,
            value=size,
            slug="limit-exceeded",
        )


def decide(
    request: Request,
    endpoint: str,
    work: Callable[[], T],
    deny: dict[str, Any],
    checks: Sequence[CheckRequest] = (),
) -> T:
    """Run a decision, timing it; a Neo4j failure becomes a 503 that denies.

    ``deny`` contains the members that make the 503 body read as a deny to a
    client that ignores the status, e.g. ``{"allowed": False}``. ``checks``
    are the check requests that ``work`` decides: when Neo4j fails, each of
    them goes to the decision log as a deny that names the failure.
    """
    metrics: Metrics = request.app.state.metrics
    started = time.perf_counter()
    try:
        return work()
    except STORE_FAILURES as error:
        metrics.neo4j_errors.inc()
        metrics.decisions.labels(endpoint, "error").inc()
        logger.warning(
            "request=%s endpoint=%s denied: neo4j failed: %s",
            request_id(request),
            endpoint,
            error,
        )
        if checks:
            # The log queues the denies without waiting, and its writer thread
            # writes them, so the 503 waits neither for the sink nor for a full
            # queue. A deny that finds the queue full is dropped and counted.
            engine: Engine = request.app.state.engine
            engine.record_unavailable(
                checks, f"denied because Neo4j failed: {_describe(error)}"
            )
        raise store_unavailable(
            "the decision store (Neo4j) is unavailable, so the request is denied; "
            "retry later",
            extra=deny,
        ) from error
    finally:
        metrics.check_latency.labels(endpoint).observe(time.perf_counter() - started)


def _describe(error: BaseException) -> str:
    """Return the error's type and message, or the type alone when the message is empty."""
    text = str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__
