"""Native decision endpoints: /v1/check, /v1/check/batch, /v1/explain."""

from __future__ import annotations

from api_helpers import ADMIN, CHECK, auth, load
from fastapi.testclient import TestClient


def test_check_allows_chain(api: TestClient) -> None:
    token = load(api)
    body = {
        "subject": "agent:sub",
        "action": "read",
        "resource": "document:q3",
        "consistency_token": token,
    }
    response = api.post("/v1/check", json=body, headers=CHECK)
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["allowed"] is True, response.text
    assert result["chain"]["principals"] == ["user:alice", "agent:bot", "agent:sub"]
    assert result["chain"]["delegations"] == ["d1", "d2"]
    assert result["chain"]["grant"] == {
        "principal": "group:finance",
        "resource": "folder:finance",
    }
    assert result["decision_id"]


def test_check_denies_outside_scope(api: TestClient) -> None:
    load(api)
    body = {"subject": "agent:bot", "action": "write", "resource": "document:q3"}
    response = api.post("/v1/check", json=body, headers=CHECK)
    assert response.status_code == 200, response.text
    assert response.json()["allowed"] is False, response.text
    assert response.json()["chain"] is None
    assert "write" in response.json()["reason"]


def test_check_on_behalf_of(api: TestClient) -> None:
    load(api)
    body = {"subject": "agent:bot", "action": "read", "resource": "document:q3"}
    allowed = api.post(
        "/v1/check", json={**body, "on_behalf_of": "user:alice"}, headers=CHECK
    )
    denied = api.post(
        "/v1/check", json={**body, "on_behalf_of": "user:bob"}, headers=CHECK
    )
    assert allowed.json()["allowed"] is True, allowed.text
    assert denied.json()["allowed"] is False, denied.text


def test_check_rejects_bad_ref(api: TestClient) -> None:
    body = {"subject": "alice", "action": "read", "resource": "document:q3"}
    response = api.post("/v1/check", json=body, headers=CHECK)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["field"] == "subject", response.text
    assert problem["value"] == "alice", response.text
    assert "kind:id" in problem["detail"]
    assert problem["instance"] == "/v1/check"


def test_check_rejects_missing_field(api: TestClient) -> None:
    response = api.post("/v1/check", json={"subject": "agent:bot"}, headers=CHECK)
    assert response.status_code == 422, response.text
    assert response.json()["field"] == "action", response.text
    assert response.json()["detail"] == "action is missing"


def test_check_rejects_unknown_field(api: TestClient) -> None:
    body = {"subject": "agent:bot", "action": "read", "resource": "doc:x", "x": 1}
    response = api.post("/v1/check", json=body, headers=CHECK)
    assert response.status_code == 422, response.text
    assert response.json()["field"] == "x", response.text


def test_check_rejects_bad_consistency_token(api: TestClient) -> None:
    body = {
        "subject": "agent:bot",
        "action": "read",
        "resource": "document:q3",
        "consistency_token": "not-a-token!",
    }
    response = api.post("/v1/check", json=body, headers=CHECK)
    assert response.status_code == 422, response.text
    assert response.json()["field"] == "consistency_token", response.text


def test_check_needs_token(api: TestClient) -> None:
    body = {"subject": "agent:bot", "action": "read", "resource": "document:q3"}
    response = api.post("/v1/check", json=body)
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"] == 'Bearer realm="delegraph"'


def test_check_needs_role(api: TestClient) -> None:
    body = {"subject": "agent:bot", "action": "read", "resource": "document:q3"}
    response = api.post("/v1/check", json=body, headers=auth(subject="agent:bot"))
    assert response.status_code == 403, response.text
    assert "'check' or 'admin'" in response.json()["detail"]


def test_batch_keeps_order(api: TestClient) -> None:
    token = load(api)
    checks = [
        {"subject": "agent:sub", "action": "read", "resource": "document:q3"},
        {"subject": "agent:sub", "action": "write", "resource": "document:q3"},
        {"subject": "agent:bot", "action": "read", "resource": "folder:finance"},
        {"subject": "agent:bot", "action": "read", "resource": "document:q3"},
    ]
    for check in checks:
        check["consistency_token"] = token
    response = api.post("/v1/check/batch", json={"checks": checks}, headers=ADMIN)
    assert response.status_code == 200, response.text
    allowed = [d["allowed"] for d in response.json()["decisions"]]
    assert allowed == [True, False, False, True], response.text


def test_batch_names_bad_item(api: TestClient) -> None:
    checks = [
        {"subject": "agent:sub", "action": "read", "resource": "document:q3"},
        {"subject": "agent:sub", "action": "read", "resource": "user:alice"},
    ]
    response = api.post("/v1/check/batch", json={"checks": checks}, headers=CHECK)
    assert response.status_code == 422, response.text
    assert response.json()["field"] == "checks[1].resource", response.text


def test_batch_over_limit(api: TestClient) -> None:
    check = {"subject": "agent:sub", "action": "read", "resource": "document:q3"}
    response = api.post(
        "/v1/check/batch", json={"checks": [check] * 101}, headers=CHECK
    )
    assert response.status_code == 422, response.text
    assert "DELEGRAPH_MAX_BATCH" in response.json()["detail"]
    assert response.json()["value"] == 101


def test_batch_rejects_empty(api: TestClient) -> None:
    response = api.post("/v1/check/batch", json={"checks": []}, headers=CHECK)
    assert response.status_code == 422, response.text
    assert response.json()["field"] == "checks", response.text


def test_explain_names_revoked_edge(api: TestClient) -> None:
    load(api)
    revoked = api.post(
        "/v1/delegations/d1/revoke", json={"reason": "rotated"}, headers=ADMIN
    )
    assert revoked.status_code == 200, revoked.text
    body = {
        "subject": "agent:sub",
        "action": "read",
        "resource": "document:q3",
        "consistency_token": revoked.json()["consistency_token"],
    }
    response = api.post("/v1/explain", json=body, headers=CHECK)
    assert response.status_code == 200, response.text
    explanation = response.json()
    assert explanation["allowed"] is False, response.text
    assert "d1" in response.text
    assert "revoked" in response.text
