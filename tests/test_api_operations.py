"""Health, readiness, metrics, request ids and request limits."""

from __future__ import annotations

import json

from api_helpers import ADMIN, CHECK, load
from delegraph.api.app import create_app
from delegraph.api.settings import Settings
from delegraph.cypher.store import Store
from delegraph.engine.service import Engine
from fastapi.testclient import TestClient


def test_healthz_and_readyz(api: TestClient) -> None:
    assert api.get("/healthz").json() == {"status": "ok"}
    ready = api.get("/readyz")
    assert ready.status_code == 200, ready.text
    assert ready.json()["status"] == "ready"
    assert ready.json()["schema_version"] >= 1


def test_metrics_count_decisions(api: TestClient) -> None:
    load(api)
    body = {"subject": "agent:sub", "action": "read", "resource": "document:q3"}
    api.post("/v1/check", json=body, headers=CHECK)
    api.post("/v1/check", json={**body, "action": "delete"}, headers=CHECK)
    text = api.get("/metrics").text
    assert 'delegraph_decisions_total{endpoint="check",outcome="allow"} 1.0' in text
    assert 'delegraph_decisions_total{endpoint="check",outcome="deny"} 1.0' in text
    assert 'delegraph_check_duration_seconds_count{endpoint="check"} 2.0' in text
    assert "delegraph_http_requests_in_flight 1.0" in text
    assert "delegraph_neo4j_errors_total 0.0" in text


def test_request_id_generated(api: TestClient) -> None:
    response = api.get("/healthz")
    assert len(response.headers["x-request-id"]) == 36
    echoed = api.get("/healthz", headers={"X-Request-ID": "abc-1"})
    assert echoed.headers["x-request-id"] == "abc-1"


def small_limits_app(store: Store) -> TestClient:
    settings = Settings(
        auth="off",
        max_body_bytes=2048,
        max_string_length=64,
        max_json_depth=6,
        max_batch=2,
        max_page_size=10,
    )
    return TestClient(create_app(settings, Engine(store)))


def test_body_over_limit_413(clean_store: Store) -> None:
    with small_limits_app(clean_store) as client:
        body = {"subject": "agent:a", "action": "read", "resource": "doc:x"}
        body["context"] = {f"k{i}": "v" * 50 for i in range(60)}
        response = client.post("/v1/check", json=body)
        assert response.status_code == 413, response.text
        assert "DELEGRAPH_MAX_BODY_BYTES" in response.json()["detail"]
        assert response.headers["content-type"] == "application/problem+json"


def test_streamed_body_over_limit_413(clean_store: Store) -> None:
    def chunks() -> object:
        yield b'{"subject": "agent:a", "context": {"x": "'
        for _ in range(10):
            yield b"a" * 500
        yield b'"}}'

    with small_limits_app(clean_store) as client:
        response = client.post(
            "/v1/check", content=chunks(), headers={"Content-Type": "application/json"}
        )
        assert response.status_code == 413, response.text


def test_long_string_422(clean_store: Store) -> None:
    with small_limits_app(clean_store) as client:
        body = {"subject": "agent:" + "a" * 100, "action": "read", "resource": "doc:x"}
        response = client.post("/v1/check", json=body)
        assert response.status_code == 422, response.text
        assert response.json()["field"] == "body.subject", response.text
        assert "DELEGRAPH_MAX_STRING_LENGTH" in response.json()["detail"]
        # A long string may be a token, so the problem shows only its start.
        assert response.json()["value"] == "agent:" + "a" * 26 + "..."


def test_deep_json_422(clean_store: Store) -> None:
    with small_limits_app(clean_store) as client:
        nested: dict[str, object] = {}
        for _ in range(10):
            nested = {"n": nested}
        body = {
            "subject": "agent:a",
            "action": "read",
            "resource": "doc:x",
            "context": nested,
        }
        response = client.post("/v1/check", json=body)
        assert response.status_code == 422, response.text
        assert "DELEGRAPH_MAX_JSON_DEPTH" in response.json()["detail"]
        very_deep = "[" * 100_000 + "]" * 100_000
        response = client.post(
            "/v1/check",
            content=very_deep.encode(),
            headers={"Content-Type": "application/json"},
        )
        # The body limit stops this one before parsing.
        assert response.status_code == 413, response.text


def test_batch_and_page_limits_422(clean_store: Store) -> None:
    with small_limits_app(clean_store) as client:
        check = {"subject": "agent:a", "action": "read", "resource": "doc:x"}
        response = client.post("/v1/check/batch", json={"checks": [check] * 3})
        assert response.status_code == 422, response.text
        assert "limit is 2 (DELEGRAPH_MAX_BATCH)" in response.json()["detail"]
        page = client.get("/v1/principals", params={"limit": 11})
        assert page.status_code == 422, page.text
        assert "1 to 10 (DELEGRAPH_MAX_PAGE_SIZE)" in page.json()["detail"]


def test_import_has_own_body_limit(clean_store: Store) -> None:
    settings = Settings(auth="off", max_body_bytes=1024, max_import_bytes=1_000_000)
    with TestClient(create_app(settings, Engine(clean_store))) as client:
        document = {"users": [f"user-{i:05d}" for i in range(200)]}
        assert len(json.dumps(document)) > 1024
        response = client.post("/v1/graph/import", json=document)
        assert response.status_code == 200, response.text
        assert response.json()["counts"]["users"] == 200


def test_openapi_served(api: TestClient) -> None:
    spec = api.get("/openapi.json").json()
    assert "/access/v1/evaluation" in spec["paths"]
    assert "ProblemDetail" in spec["components"]["schemas"]
    assert api.get("/docs").status_code == 200


def test_export_needs_admin(api: TestClient) -> None:
    assert api.get("/v1/graph/export", headers=CHECK).status_code == 403
    assert api.get("/v1/graph/export", headers=ADMIN).status_code == 200
