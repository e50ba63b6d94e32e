"""The FastAPI application: native v1 API, AuthZEN 1.0, operations endpoints.

``create_app`` wires settings, authentication, limits, metrics and the
routers. Its lifespan opens the Neo4j store, applies the schema, opens the
decision log that DELEGRAPH_DECISION_LOG names and builds the Engine with
the log as its ``on_decision`` hook. On shutdown it writes what the log has
queued, then closes the store. A caller that passes an Engine (tests do)
keeps it as it is: the app neither closes it nor adds a log to it.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from delegraph.api.auth import AuthConfigError, build_verifier
from delegraph.api.metrics import Metrics
from delegraph.api.middleware import BodyLimits, RequestContext
from delegraph.api.problems import install_handlers
from delegraph.api.routes import (
    authzen,
    authzen_search,
    checks,
    crud,
    decisions,
    delegations,
    graph,
    health,
    lookups,
    tokens,
)
from delegraph.api.settings import Settings
from delegraph.cypher.store import Store, StoreError
from delegraph.engine.errors import InvalidRequest
from delegraph.engine.introspect import IntrospectionKeys
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
    decisions.router,
    tokens.router,
    crud.router,
    delegations.router,
    health.router,
]


def create_app(
    settings: Settings | None = None,
    engine: Engine | None = None,
    extra_routers: Sequence[APIRouter] = (),
) -> FastAPI:
    """Build the API; raises AuthConfigError when auth is on without a key, or
    when a configured key of caller authentication or introspection is unusable."""
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
        try:
            decision_log = settings.open_decision_log(store)
        except InvalidRequest:
            store.close()
            raise
        app.state.decision_log = decision_log
        app.state.engine = Engine(
            store,
            EngineConfig(max_chain=settings.max_chain),
            on_decision=None if decision_log is None else decision_log.record,
            decision_file=settings.decision_file(),
        )
        try:
            app.state.engine.warm_up()
        except StoreError as error:
            logger.warning(
                "check query warm-up failed uri=%s error=%s", store.uri, error
            )
        try:
            yield
        finally:
            if decision_log is not None:
                decision_log.close()
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
    app.state.introspection_keys = load_introspection_keys(settings)
    app.state.decision_log = None
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


def load_introspection_keys(settings: Settings) -> IntrospectionKeys | None:
    """Load the issuer keys of token introspection; None when none is configured.

    Without a key the introspection endpoint returns 503. A key that is
    configured but unusable (unreadable file, not a key) stops the start-up.
    """
    configured = (
        settings.introspect_public_key
        or settings.introspect_jwks_file
        or settings.jwt_public_key
        or settings.jwks_file
        or settings.jwt_secret
    )
    if not configured:
        logger.info("token introspection is off: no issuer key is configured")
        return None
    try:
        return settings.introspection_keys()
    except InvalidRequest as error:
        raise AuthConfigError(error.message) from error
