"""The FastAPI application: native v1 API, AuthZEN 1.0, operations endpoints.

``create_app`` wires settings, authentication, limits, metrics and the
routers. Its lifespan opens the Neo4j store, applies the schema and builds
the Engine, unless the caller passes an Engine (tests do), which the app
then uses as it is and does not close.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from delegraph.api.auth import build_verifier
from delegraph.api.metrics import Metrics
from delegraph.api.middleware import BodyLimits, RequestContext
from delegraph.api.problems import install_handlers
from delegraph.api.routes import (
    authzen,
    authzen_search,
    checks,
    crud,
    delegations,
    graph,
    health,
    lookups,
)
from delegraph.api.settings import Settings
from delegraph.cypher.store import Store, StoreError
from delegraph.engine.service import Engine, EngineConfig
from fastapi import APIRouter, FastAPI

logger = logging.getLogger("delegraph.api")

# The routers every app serves, in the order of the OpenAPI page. Another
# area adds its router here (or passes ``extra_routers`` to create_app).
# ``lookups`` comes before ``crud`` because GET /v1/resources/{ref}/access
# would otherwise match GET /v1/resources/{ref} with a ref ending in /access.
ROUTERS: list[APIRouter] = [
    checks.router,
    authzen.router,
    authzen_search.router,
    authzen.well_known,
    graph.router,
    lookups.router,
    crud.router,
    delegations.router,
    health.router,
]


def create_app(
    settings: Settings | None = None,
    engine: Engine | None = None,
    extra_routers: Sequence[APIRouter] = (),
) -> FastAPI:
    """Build the API; raises AuthConfigError when auth is on without a key."""
    settings = settings or Settings()
    verifier = build_verifier(settings)
    if verifier is None:
        logger.warning(
            "AUTHENTICATION IS OFF (DELEGRAPH_AUTH=off): every caller is an admin "
            "and may change the graph. Use this only on a trusted local machine."
        )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if engine is not None:
            app.state.engine = engine
            yield
            return
        store = open_store(settings)
        app.state.engine = Engine(store, EngineConfig(max_chain=settings.max_chain))
        try:
            yield
        finally:
            store.close()
            logger.info("neo4j store closed uri=%s", store.uri)

    app = FastAPI(
        title="delegraph",
        summary="A policy decision point for AI agents: delegation chains decided "
        "live on Neo4j.",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.verifier = verifier
    app.state.metrics = Metrics()
    if engine is not None:
        app.state.engine = engine

    install_handlers(app)
    for router in [*ROUTERS, *extra_routers]:
        app.include_router(router)
    app.add_middleware(BodyLimits, settings=settings)
    app.add_middleware(RequestContext, metrics=app.state.metrics)
    return app


def open_store(settings: Settings) -> Store:
    """Open the store and apply the schema; a Neo4j outage is logged, not fatal.

    The API starts without Neo4j, so /healthz returns 200 and /readyz 503.
    Decisions deny with 503 until Neo4j is reachable, and /readyz applies the
    schema once it is.
    """
    uri, user, password = settings.resolved_neo4j()
    store = Store(
        uri,
        (user, password),
        database=settings.neo4j_database,
        query_timeout=settings.query_timeout_seconds,
    )
    try:
        store.apply_schema()
    except StoreError as error:
        logger.error(
            "neo4j %s unavailable at start-up, decisions deny until it is reachable: %s",
            uri,
            error,
        )
    logger.info(
        "serving decisions from neo4j %s database=%s", uri, settings.neo4j_database
    )
    return store
