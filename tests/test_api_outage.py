"""Fail closed: with Neo4j stopped mid-test, decisions are 503 and never allow;
after it is back, checks succeed again without restarting the API.

The test runs its own local Neo4j (own data folder, free ports) so that
stopping it never touches the server the other tests use.
"""

from __future__ import annotations

import dataclasses
import json
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
from delegraph.engine.audit import DecisionLog, JsonlSink
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


@pytest.fixture
def file_logged_api(
    outage_server: neo4j_local.LocalNeo4jConfig, tmp_path: Path
) -> Iterator[tuple[TestClient, DecisionLog, Path]]:
    """The API over the outage server, logging decisions to a JSONL file."""
    password = neo4j_local.read_password(outage_server) or ""
    store = Store(
        outage_server.bolt_uri, (neo4j_local.USER, password), query_timeout=5.0
    )
    path = tmp_path / "decisions.jsonl"
    log = DecisionLog(JsonlSink(path))
    engine = Engine(store, on_decision=log.record, decision_file=path)
    try:
        with TestClient(create_app(Settings(jwt_secret=SECRET), engine)) as client:
            yield client, log, path
    finally:
        log.close()
        store.close()


def test_outage_denies_are_logged(
    file_logged_api: tuple[TestClient, DecisionLog, Path],
    outage_server: neo4j_local.LocalNeo4jConfig,
) -> None:
    client, log, path = file_logged_api
    imported = client.post("/v1/graph/import", json=GRAPH, headers=ADMIN)
    assert imported.status_code == 200, imported.text
    assert wait_for_check(client).json()["allowed"] is True

    neo4j_local.stop(outage_server)
    try:
        single = client.post(
            "/v1/check",
            json=CHECK_BODY,
            headers={**CHECK, "X-Request-ID": "outage-single"},
        )
        assert_denied_503(single, "allowed")
        batch = client.post(
            "/v1/check/batch",
            json={"checks": [CHECK_BODY, {**CHECK_BODY, "action": "write"}]},
            headers={**CHECK, "X-Request-ID": "outage-batch"},
        )
        assert_denied_503(batch, "allowed")
        evaluation = client.post(
            "/access/v1/evaluation",
            json=EVALUATION,
            headers={**CHECK, "X-Request-ID": "outage-evaluation"},
        )
        assert_denied_503(evaluation, "decision")
        assert log.flush(timeout=30)
    finally:
        neo4j_local.start(outage_server)

    records = [json.loads(line) for line in path.read_text().splitlines()]
    by_request: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        by_request.setdefault(record["request_id"], []).append(record)
    assert len(by_request.get("outage-single", [])) == 1, records
    assert len(by_request.get("outage-batch", [])) == 2, records
    assert len(by_request.get("outage-evaluation", [])) == 1, records

    single_record = by_request["outage-single"][0]
    assert single_record["outcome"] == "deny"
    assert single_record["chain"] is None
    assert "Neo4j failed" in single_record["reason"], single_record
    assert single_record["subject"] == "agent:sub"
    assert single_record["action"] == "read"
    assert single_record["resource"] == "document:q3"
    batch_actions = sorted(r["action"] for r in by_request["outage-batch"])
    assert batch_actions == ["read", "write"]
    for record in by_request["outage-batch"] + by_request["outage-evaluation"]:
        assert record["outcome"] == "deny", record
        assert "Neo4j failed" in record["reason"], record

    # The decision reads return the outage denies from the file as well.
    after = wait_for_check(client)
    assert after.json()["allowed"] is True, after.text
    listed = client.get("/v1/decisions", params={"outcome": "deny"}, headers=ADMIN)
    assert listed.status_code == 200, listed.text
    listed_ids = {item["request_id"] for item in listed.json()["items"]}
    assert {"outage-single", "outage-batch", "outage-evaluation"} <= listed_ids
