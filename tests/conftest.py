"""Test fixtures: a real Neo4j for the whole session and an empty graph per test."""

from __future__ import annotations

import os
from collections.abc import Iterator

import api_helpers
import pytest
from delegraph.api import neo4j_local
from delegraph.api.app import create_app
from delegraph.api.settings import Settings
from delegraph.cypher.store import Store
from delegraph.engine.service import Engine
from fastapi.testclient import TestClient
from neo4j_target import Target, choose_target

FAILURE_HELP = (
    "No Neo4j could be started for the tests. Either set NEO4J_URI (and "
    "NEO4J_USER, NEO4J_PASSWORD) to a running Neo4j 5.26, run a Docker engine, "
    "or install Java 17+ and Maven so that neo4j-local/ can start one. Cause: "
)


@pytest.fixture(scope="session")
def neo4j_target() -> Target:
    return choose_target()


@pytest.fixture(scope="session")
def neo4j_connection(neo4j_target: Target) -> Iterator[tuple[str, str, str]]:
    """Yield ``(uri, user, password)`` of a running Neo4j, starting one if needed."""
    if neo4j_target.source == "env":
        yield (
            os.environ["NEO4J_URI"],
            os.environ.get("NEO4J_USER", "neo4j"),
            os.environ.get("NEO4J_PASSWORD", ""),
        )
        return

    if neo4j_target.source == "docker":
        from testcontainers.neo4j import Neo4jContainer

        with Neo4jContainer("neo4j:5.26") as container:
            yield container.get_connection_url(), "neo4j", container.password
        return

    config = neo4j_local.LocalNeo4jConfig.from_env()
    try:
        started, _ = neo4j_local.start(config)
    except neo4j_local.LocalNeo4jError as error:
        pytest.fail(FAILURE_HELP + str(error), pytrace=False)
    try:
        yield config.bolt_uri, neo4j_local.USER, neo4j_local.read_password(config) or ""
    finally:
        if started and os.environ.get("DELEGRAPH_TEST_KEEP_NEO4J") != "1":
            neo4j_local.stop(config)


@pytest.fixture(scope="session")
def store(neo4j_connection: tuple[str, str, str]) -> Iterator[Store]:
    uri, user, password = neo4j_connection
    session_store = Store(uri, (user, password), query_timeout=30.0)
    try:
        session_store.ping()
        session_store.apply_schema()
    except Exception as error:
        session_store.close()
        pytest.fail(FAILURE_HELP + repr(error), pytrace=False)
    yield session_store
    session_store.close()


def wipe(store: Store) -> None:
    """Delete every node except the schema marker, in batches."""
    with store.driver.session(database=store.database) as session:
        session.run(
            "MATCH (n) WHERE NOT n:DelegraphSchema "
            "CALL (n) { DETACH DELETE n } IN TRANSACTIONS OF 5000 ROWS"
        ).consume()


@pytest.fixture
def clean_store(store: Store) -> Store:
    """The session store with an empty graph (schema kept)."""
    wipe(store)
    return store


@pytest.fixture
def api_settings() -> Settings:
    """API settings with HS256 authentication and the default limits."""
    return Settings(jwt_secret=api_helpers.SECRET, auth="on")


@pytest.fixture
def api(api_settings: Settings, clean_store: Store) -> Iterator[TestClient]:
    """A TestClient of the API over an Engine on the empty test store."""
    app = create_app(api_settings, Engine(clean_store))
    with TestClient(app) as client:
        yield client
