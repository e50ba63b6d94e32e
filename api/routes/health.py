"""Liveness, readiness and Prometheus metrics (no authentication)."""

from __future__ import annotations

import logging

from delegraph.api.deps import STORE_FAILURES, EngineDep, MetricsDep
from delegraph.api.problems import PROBLEM_RESPONSES, Problem
from delegraph.cypher.store import SCHEMA_VERSION
from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

logger = logging.getLogger("delegraph.api")

router = APIRouter(tags=["operations"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """Return 200 while the process serves requests."""
    return {"status": "ok"}


@router.get("/readyz", responses={503: PROBLEM_RESPONSES[503]})
def readyz(
    request: Request, engine: EngineDep, metrics: MetricsDep
) -> dict[str, object]:
    """Return 200 when Neo4j answers and the schema is applied, else 503."""
    store = engine.store
    try:
        store.ping()
        version = store.schema_version()
        if version != SCHEMA_VERSION:
            version = store.apply_schema()
    except STORE_FAILURES as error:
        metrics.neo4j_errors.inc()
        logger.warning("readiness check failed: neo4j %s: %s", store.uri, error)
        raise Problem(
            503,
            f"Neo4j at {store.uri} is not ready: {error}",
            slug="not-ready",
            headers={"Retry-After": "5"},
        ) from error
    return {"status": "ready", "neo4j": store.uri, "schema_version": version}


@router.get("/metrics", response_class=Response)
def metrics_text(metrics: MetricsDep) -> Response:
    """Return the Prometheus metrics in the text exposition format."""
    return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)
