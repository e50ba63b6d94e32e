"""POST /v1/tokens/introspect: RFC 7662 responses judged against the live graph."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
from api_helpers import ADMIN, CHECK, SECRET, auth
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from delegraph.api.app import create_app
from delegraph.api.auth import AuthConfigError
from delegraph.api.settings import Settings
from delegraph.cypher.store import Store
from delegraph.engine.service import Engine
from fastapi.testclient import TestClient

ISSUER = "https://issuer.test"
AUDIENCE = "delegraph"
ISSUER_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
OTHER_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
ISSUER_PUBLIC_PEM = (
    ISSUER_KEY.public_key()
    .public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    .decode()
)

# alice has read, write and delete on document:q3. d1 passes all three to
# agent:planner (one further hop allowed); planner passes read (d2) and
# write (d3) to agent:worker on two parallel edges.
GRAPH: dict[str, Any] = {
    "users": ["alice", "bob"],
    "agents": [
        {"id": "planner", "owner": "user:alice"},
        {"id": "worker", "owner": "user:alice"},
    ],
    "resources": [{"ref": "document:q3"}],
    "grants": [
        {
            "principal": "user:alice",
            "resource": "document:q3",
            "actions": ["read", "write", "delete"],
        }
    ],
    "delegations": [
        {
            "id": "d1",
            "from": "user:alice",
            "to": "agent:planner",
            "actions": ["read", "write", "delete"],
            "max_depth": 1,
        },
        {
            "id": "d2",
            "from": "agent:planner",
            "to": "agent:worker",
            "actions": ["read"],
        },
        {
            "id": "d3",
            "from": "agent:planner",
            "to": "agent:worker",
            "actions": ["write"],
        },
    ],
}


def issue(
    sub: str = "user:alice",
    actors: tuple[str, ...] = ("agent:planner", "agent:worker"),
    scope: str | None = "read write",
    key: Any = ISSUER_KEY,
    **claims: Any,
) -> str:
    """Sign a token whose last actor is the outermost (current) ``act``."""
    now = datetime.now(UTC)
    payload: dict[str, Any] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": sub,
        "iat": now,
        "exp": now + timedelta(hours=1),
        "jti": "jti-api-1",
    }
    act: dict[str, Any] | None = None
    for actor in actors:
        act = {"sub": actor} if act is None else {"sub": actor, "act": act}
    if act is not None:
        payload["act"] = act
    if scope is not None:
        payload["scope"] = scope
    payload.update(claims)
    return jwt.encode(payload, key, algorithm="RS256")


@pytest.fixture
def client(clean_store: Store) -> Iterator[TestClient]:
    settings = Settings(
        DELEGRAPH_JWT_SECRET=SECRET,
        DELEGRAPH_INTROSPECT_PUBLIC_KEY=ISSUER_PUBLIC_PEM,
        DELEGRAPH_INTROSPECT_ISSUER=ISSUER,
        DELEGRAPH_INTROSPECT_AUDIENCE=AUDIENCE,
    )
    with TestClient(create_app(settings, Engine(clean_store))) as test_client:
        loaded = test_client.post("/v1/graph/import", json=GRAPH, headers=ADMIN)
        assert loaded.status_code == 200, loaded.text
        yield test_client


def introspect_form(client: TestClient, token: str) -> dict[str, Any]:
    response = client.post(
        "/v1/tokens/introspect",
        data={"token": token, "token_type_hint": "access_token"},
        headers=CHECK,
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def introspect_json(client: TestClient, token: str) -> dict[str, Any]:
    response = client.post(
        "/v1/tokens/introspect", json={"token": token}, headers=CHECK
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_live_token_is_active(client: TestClient) -> None:
    token = issue()
    body = introspect_form(client, token)
    assert body["active"] is True, body
    assert body["sub"] == "user:alice"
    assert body["act"]["sub"] == "agent:worker"
    assert body["scope"] == "read write"
    assert body["chain"]["principals"] == [
        "user:alice",
        "agent:planner",
        "agent:worker",
    ]
    assert body["chain"]["delegations"] == [["d1"], ["d2", "d3"]], body
    assert body["effective_actions"] == ["read", "write"]
    assert body["stale_claims"] == []
    assert body["problems"] == []
    assert introspect_json(client, token) == body


def test_revoke_makes_issued_token_inactive(client: TestClient) -> None:
    token = issue()
    assert introspect_json(client, token)["active"] is True

    revoked = client.post(
        "/v1/delegations/d1/revoke",
        json={"reason": "planner compromised"},
        headers=auth("admin", subject="user:secops"),
    )
    assert revoked.status_code == 200, revoked.text

    body = introspect_json(client, token)
    assert body["active"] is False, body
    assert "error" not in body, body
    assert body["stale_claims"] == ["read", "write"], body
    assert body["effective_actions"] == []
    [problem] = body["problems"]
    assert problem["code"] == "revoked", problem
    assert problem["delegation"] == "d1"
    assert problem["revoked_by"] == "user:secops"
    assert problem["revoke_reason"] == "planner compromised"
    assert "revoked_at" in problem


def test_stale_claims_list_withdrawn_actions(client: TestClient) -> None:
    token = issue(scope="read write")
    revoked = client.post("/v1/delegations/d3/revoke", headers=ADMIN)
    assert revoked.status_code == 200, revoked.text

    body = introspect_form(client, token)
    assert body["active"] is True, body
    assert body["stale_claims"] == ["write"], body
    assert body["effective_actions"] == ["read"], body
    assert body["chain"]["delegations"] == [["d1"], ["d2"]], body

    write_only = introspect_form(client, issue(scope="write"))
    assert write_only["active"] is False, write_only
    assert write_only["stale_claims"] == ["write"], write_only


@pytest.mark.parametrize(
    ("sub", "actors", "code"),
    [
        ("user:alice", ("agent:worker", "agent:planner"), "no_delegation"),
        ("user:bob", ("agent:planner", "agent:worker"), "no_delegation"),
        ("user:alice", ("agent:worker",), "no_delegation"),
        ("user:alice", ("agent:planner", "agent:ghost"), "unknown_principal"),
    ],
)
def test_act_chain_not_in_graph_is_inactive(
    client: TestClient, sub: str, actors: tuple[str, ...], code: str
) -> None:
    body = introspect_json(client, issue(sub=sub, actors=actors))
    assert body["active"] is False, body
    assert code in [p["code"] for p in body["problems"]], body


def test_disabled_actor_is_inactive(client: TestClient) -> None:
    disabled = client.post("/v1/principals/agent:planner/disable", headers=ADMIN)
    assert disabled.status_code == 200, disabled.text
    body = introspect_json(client, issue())
    assert body["active"] is False, body
    assert {"code": "disabled", "principal": "agent:planner"}.items() <= body[
        "problems"
    ][0].items(), body


@pytest.mark.parametrize(
    ("token", "error"),
    [
        ("not-a-jwt", "not a JWT"),
        (issue(key=OTHER_KEY), "signature verification failed"),
        (issue(aud="someone-else"), "Audience"),
        (issue(iss="https://evil.test"), "issuer"),
        (
            issue(exp=datetime.now(UTC) - timedelta(hours=2)),
            "expired",
        ),
        (issue(nbf=datetime.now(UTC) + timedelta(hours=2)), "not yet valid"),
        (issue(may_act={"sub": "agent:planner"}), "may_act"),
    ],
)
def test_unverifiable_token_is_inactive_200(
    client: TestClient, token: str, error: str
) -> None:
    body = introspect_form(client, token)
    assert body["active"] is False, body
    assert error in body["error"], body
    assert set(body) == {"active", "error"}, body


@pytest.mark.parametrize(
    ("kwargs", "status", "field", "text"),
    [
        ({"json": {}}, 422, "token", "token is missing"),
        ({"json": {"token": 7}}, 422, "token", "must be a string"),
        ({"json": {"token": "  "}}, 422, "token", "token is empty"),
        ({"json": ["token"]}, 422, "body", "JSON object"),
        ({"data": {"token_type_hint": "access_token"}}, 422, "token", "missing"),
        (
            {"content": "token=a&token=b", "media": "form"},
            422,
            "token",
            "more than once",
        ),
        ({"content": "{broken", "media": "json"}, 400, "body", "not valid JSON"),
        ({"content": "token=x", "media": "text"}, 415, "Content-Type", "text/plain"),
    ],
)
def test_introspect_bad_request(
    client: TestClient, kwargs: dict[str, Any], status: int, field: str, text: str
) -> None:
    media = {
        "form": "application/x-www-form-urlencoded",
        "json": "application/json",
        "text": "text/plain",
    }.get(kwargs.pop("media", ""))
    headers = {**CHECK, **({"Content-Type": media} if media else {})}
    response = client.post("/v1/tokens/introspect", headers=headers, **kwargs)
    assert response.status_code == status, response.text
    problem = response.json()
    assert problem["field"] == field, response.text
    assert text in problem["detail"], response.text


def test_introspect_roles(client: TestClient) -> None:
    token = issue()
    anonymous = client.post("/v1/tokens/introspect", data={"token": token})
    assert anonymous.status_code == 401, anonymous.text
    no_role = client.post(
        "/v1/tokens/introspect", data={"token": token}, headers=auth()
    )
    assert no_role.status_code == 403, no_role.text
    admin = client.post("/v1/tokens/introspect", data={"token": token}, headers=ADMIN)
    assert admin.status_code == 200, admin.text


def test_token_never_logged_nor_echoed(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    good = issue()
    forged = issue(key=OTHER_KEY)
    introspect_form(client, good)
    introspect_json(client, forged)
    wrong_type = client.post(
        "/v1/tokens/introspect",
        content=f"token={good}",
        headers={**CHECK, "Content-Type": "text/plain"},
    )
    assert wrong_type.status_code == 415, wrong_type.text

    assert "introspect active=True jti=jti-api-1" in caplog.text
    for token in (good, forged):
        signature = token.rsplit(".", 1)[1]
        assert signature not in caplog.text
        assert signature not in wrong_type.text


def test_introspect_without_keys_is_503(clean_store: Store) -> None:
    app = create_app(Settings(DELEGRAPH_AUTH="off"), Engine(clean_store))
    with TestClient(app) as test_client:
        response = test_client.post("/v1/tokens/introspect", data={"token": issue()})
    assert response.status_code == 503, response.text
    assert response.json()["active"] is False, response.text
    assert "DELEGRAPH_INTROSPECT_PUBLIC_KEY" in response.json()["detail"]


def test_unreadable_issuer_key_stops_start(clean_store: Store) -> None:
    settings = Settings(
        DELEGRAPH_JWT_SECRET=SECRET,
        DELEGRAPH_INTROSPECT_JWKS_FILE="/nonexistent/jwks.json",
    )
    with pytest.raises(AuthConfigError, match="DELEGRAPH_INTROSPECT_JWKS_FILE"):
        create_app(settings, Engine(clean_store))
