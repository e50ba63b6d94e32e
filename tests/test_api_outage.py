"""Fail closed: with Neo4j stopped mid-test, decisions are 503 and never allow;
after it is back, checks succeed again without restarting the API.

The test runs its own local Neo4j (own data folder, free ports) so that
stopping it never touches the server the other tests use.
"""

from __future__ import annotations

import dataclasses
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from api_helpers import ADMIN, CHECK, GRAPH, SECRET
from delegraph.api import neo4j_local
from delegraph.api.app import create_app
from delegraph.api.settings import Settings
from delegraph.cypher.store import Store
from delegraph.engine.service import Engine
from fastapi.testclient import TestClient

CHECK_BODY = {"subject": "agent:sub", "action": "read", "resource": "document:q3"}
EVALUATION = {
    "subject": {"type": "agent", "id": "sub"},
    "action": {"name": "read"},
    "resource": {"type": "document", "id": "q3"},
}
RECOVERY_SECONDS = 60.0
CHECK_ERRORS = 'delegraph_decisions_total{endpoint="check",outcome="error"}'


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def outage_server(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[neo4j_local.LocalNeo4jConfig]:
    """A local Neo4j of this module only, stopped when the module ends."""
    base = neo4j_local.LocalNeo4jConfig.from_env()
    run_dir: Path = tmp_path_factory.mktemp("neo4j-outage")
    config = dataclasses.replace(
        base, run_dir=run_dir, bolt_port=free_port(), http_port=free_port()
    )
    try:
        neo4j_local.start(config)
    except neo4j_local.LocalNeo4jError as error:
        pytest.fail(f"could not start the outage test's Neo4j: {error}", pytrace=False)
    try:
        yield config
    finally:
        neo4j_local.stop(config)


@pytest.fixture
def outage_api(outage_server: neo4j_local.LocalNeo4jConfig) -> Iterator[TestClient]:
    password = neo4j_local.read_password(outage_server) or ""
    store = Store(
        outage_server.bolt_uri, (neo4j_local.USER, password), query_timeout=5.0
    )
    store.apply_schema()
    try:
        with TestClient(
            create_app(Settings(jwt_secret=SECRET), Engine(store))
        ) as client:
            yield client
    finally:
        store.close()


def wait_for_check(client: TestClient) -> Any:
    """Repeat the check until it returns 200; every response before that must be a 503 deny."""
    deadline = time.monotonic() + RECOVERY_SECONDS
    while True:
        response = client.post("/v1/check", json=CHECK_BODY, headers=CHECK)
        if response.status_code == 200:
            return response
        assert_denied_503(response, "allowed")
        assert time.monotonic() < deadline, f"no 200 within {RECOVERY_SECONDS} s"
        time.sleep(1.0)


def metric(client: TestClient, sample: str) -> float:
    """Return the value of one sample line of /metrics (0 when absent)."""
    for line in client.get("/metrics").text.splitlines():
        name, _, value = line.rpartition(" ")
        if name == sample:
            return float(value)
    return 0.0


def assert_denied_503(response: Any, deny_member: str) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()[deny_member] is False, response.text
    assert "unavailable" in response.json()["detail"]


def test_checks_fail_closed_and_recover(
    outage_api: TestClient, outage_server: neo4j_local.LocalNeo4jConfig
) -> None:
    imported = outage_api.post("/v1/graph/import", json=GRAPH, headers=ADMIN)
    assert imported.status_code == 200, imported.text
    # A cold server may time out the first queries: that is a 503 deny too.
    before = wait_for_check(outage_api)
    assert before.json()["allowed"] is True, before.text

    errors_before = metric(outage_api, CHECK_ERRORS)
    neo4j_local.stop(outage_server)
    try:
        for _ in range(3):
            check = outage_api.post("/v1/check", json=CHECK_BODY, headers=CHECK)
            assert_denied_503(check, "allowed")
        batch = outage_api.post(
            "/v1/check/batch", json={"checks": [CHECK_BODY]}, headers=CHECK
        )
        assert_denied_503(batch, "allowed")
        evaluation = outage_api.post(
            "/access/v1/evaluation", json=EVALUATION, headers=CHECK
        )
        assert_denied_503(evaluation, "decision")
        evaluations = outage_api.post(
            "/access/v1/evaluations",
            json={**EVALUATION, "evaluations": [{}, {}]},
            headers=CHECK,
        )
        assert_denied_503(evaluations, "decision")
        ready = outage_api.get("/readyz")
        assert ready.status_code == 503, ready.text
        assert outage_api.get("/healthz").status_code == 200
        assert metric(outage_api, CHECK_ERRORS) == errors_before + 3
        assert metric(outage_api, "delegraph_neo4j_errors_total") >= 7
    finally:
        neo4j_local.start(outage_server)

    after = wait_for_check(outage_api)
    assert after.json()["allowed"] is True, after.text
    assert outage_api.get("/readyz").status_code == 200
