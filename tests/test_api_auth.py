"""Caller authentication: key kinds, rejected tokens, roles, start-up rules."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
from api_helpers import SECRET, auth, token
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from delegraph.api.app import create_app
from delegraph.api.auth import LEEWAY_SECONDS, AuthConfigError, TokenVerifier
from delegraph.api.settings import Settings
from delegraph.cypher.store import Store
from delegraph.engine.service import Engine
from fastapi.testclient import TestClient

CHECK_BODY = {"subject": "agent:a", "action": "read", "resource": "doc:x"}


def claims(**extra: Any) -> dict[str, Any]:
    now = int(time.time())
    return {"sub": "pep", "roles": ["check"], "iat": now, "exp": now + 300, **extra}


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def hand_made(header: dict[str, Any], payload: dict[str, Any], key: bytes) -> str:
    """Sign a token with HMAC-SHA256 by hand, whatever algorithm the header names."""
    signing_input = (
        f"{b64(json.dumps(header).encode())}.{b64(json.dumps(payload).encode())}"
    )
    signature = hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(signature)}"


def public_pem(private_key: Any) -> str:
    return (
        private_key.public_key()
        .public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        .decode()
    )


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def client_for(settings: Settings, store: Store) -> Iterator[TestClient]:
    with TestClient(create_app(settings, Engine(store))) as client:
        yield client


def post_check(client: TestClient, bearer: str) -> Any:
    return client.post(
        "/v1/check", json=CHECK_BODY, headers={"Authorization": f"Bearer {bearer}"}
    )


def test_hs256_accepts_valid(api: TestClient) -> None:
    response = post_check(api, token("check"))
    assert response.status_code == 200, response.text


def test_rejects_alg_none(api: TestClient) -> None:
    unsigned = jwt.encode(claims(), None, algorithm="none")
    response = post_check(api, unsigned)
    assert response.status_code == 401, response.text
    assert 'error="invalid_token"' in response.headers["www-authenticate"]
    assert "'none' is not accepted" in response.json()["detail"]


def test_rejects_wrong_secret(api: TestClient) -> None:
    forged = jwt.encode(claims(), "another-secret-" + "y" * 40, algorithm="HS256")
    response = post_check(api, forged)
    assert response.status_code == 401, response.text
    assert "Signature verification failed" in response.json()["detail"]


def test_rejects_expired_past_leeway(api: TestClient) -> None:
    now = int(time.time())
    expired = jwt.encode(claims(exp=now - 60), SECRET, algorithm="HS256")
    response = post_check(api, expired)
    assert response.status_code == 401, response.text
    assert "expired" in response.json()["detail"]
    within_leeway = jwt.encode(claims(exp=now - 10), SECRET, algorithm="HS256")
    assert post_check(api, within_leeway).status_code == 200


def test_rejects_missing_exp(api: TestClient) -> None:
    no_exp = jwt.encode({"sub": "pep", "roles": ["check"]}, SECRET, algorithm="HS256")
    response = post_check(api, no_exp)
    assert response.status_code == 401, response.text
    assert '"exp"' in response.json()["detail"]


def test_rejects_bad_roles_claim(api: TestClient) -> None:
    bad = jwt.encode(claims(roles="admin"), SECRET, algorithm="HS256")
    response = post_check(api, bad)
    assert response.status_code == 401, response.text
    assert "roles claim" in response.json()["detail"]


def test_rejects_garbage_and_basic(api: TestClient) -> None:
    assert post_check(api, "not.a.jwt").status_code == 401
    basic = api.post(
        "/v1/check", json=CHECK_BODY, headers={"Authorization": "Basic dXNlcjpwdw=="}
    )
    assert basic.status_code == 401, basic.text


def test_unknown_role_is_no_role(api: TestClient) -> None:
    response = api.post("/v1/check", json=CHECK_BODY, headers=auth("superuser"))
    assert response.status_code == 403, response.text


def test_rs256_public_key(
    clean_store: Store, rsa_key: rsa.RSAPrivateKey, tmp_path: Path
) -> None:
    pem_file = tmp_path / "key.pem"
    pem_file.write_text(public_pem(rsa_key))
    settings = Settings(jwt_public_key=str(pem_file))
    for client in client_for(settings, clean_store):
        good = jwt.encode(claims(), rsa_key, algorithm="RS256")
        assert post_check(client, good).status_code == 200
        # Algorithm confusion: HS256 signed with the public key as the secret.
        confused = hand_made(
            {"alg": "HS256", "typ": "JWT"}, claims(), public_pem(rsa_key).encode()
        )
        response = post_check(client, confused)
        assert response.status_code == 401, response.text
        assert "'HS256' is not accepted" in response.json()["detail"]


def test_es256_public_key_text(
    clean_store: Store, ec_key: ec.EllipticCurvePrivateKey
) -> None:
    settings = Settings(jwt_public_key=public_pem(ec_key))
    for client in client_for(settings, clean_store):
        good = jwt.encode(claims(), ec_key, algorithm="ES256")
        assert post_check(client, good).status_code == 200
        hs = jwt.encode(claims(), SECRET, algorithm="HS256")
        assert post_check(client, hs).status_code == 401


def test_jwks_file_by_kid(
    clean_store: Store,
    rsa_key: rsa.RSAPrivateKey,
    ec_key: ec.EllipticCurvePrivateKey,
    tmp_path: Path,
) -> None:
    rsa_jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(rsa_key.public_key()))
    ec_jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(ec_key.public_key()))
    jwks = {"keys": [{**rsa_jwk, "kid": "r1"}, {**ec_jwk, "kid": "e1"}]}
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps(jwks))
    settings = Settings(jwks_file=str(path))
    for client in client_for(settings, clean_store):
        by_rsa = jwt.encode(claims(), rsa_key, algorithm="RS256", headers={"kid": "r1"})
        by_ec = jwt.encode(claims(), ec_key, algorithm="ES256", headers={"kid": "e1"})
        assert post_check(client, by_rsa).status_code == 200
        assert post_check(client, by_ec).status_code == 200
        swapped = jwt.encode(claims(), ec_key, algorithm="ES256", headers={"kid": "r1"})
        assert post_check(client, swapped).status_code == 401
        unknown = jwt.encode(claims(), rsa_key, algorithm="RS256", headers={"kid": "x"})
        response = post_check(client, unknown)
        assert response.status_code == 401, response.text
        assert "kid 'x'" in response.json()["detail"]


def test_issuer_and_audience(clean_store: Store) -> None:
    settings = Settings(
        jwt_secret=SECRET, jwt_issuer="https://idp.test", jwt_audience="delegraph"
    )
    for client in client_for(settings, clean_store):
        good = jwt.encode(
            claims(iss="https://idp.test", aud="delegraph"), SECRET, algorithm="HS256"
        )
        assert post_check(client, good).status_code == 200
        wrong_iss = jwt.encode(
            claims(iss="https://evil.test", aud="delegraph"), SECRET, algorithm="HS256"
        )
        response = post_check(client, wrong_iss)
        assert response.status_code == 401, response.text
        assert "issuer" in response.json()["detail"].lower()
        no_aud = jwt.encode(claims(iss="https://idp.test"), SECRET, algorithm="HS256")
        assert post_check(client, no_aud).status_code == 401


def test_refuses_start_without_key() -> None:
    with pytest.raises(AuthConfigError, match="DELEGRAPH_JWT_SECRET"):
        create_app(
            Settings(auth="on", jwt_secret=None, jwt_public_key=None, jwks_file=None)
        )


def test_refuses_unreadable_key(tmp_path: Path) -> None:
    with pytest.raises(AuthConfigError, match="cannot read"):
        create_app(Settings(jwt_public_key=str(tmp_path / "missing.pem")))
    bad = tmp_path / "jwks.json"
    bad.write_text('{"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}')
    with pytest.raises(AuthConfigError, match="no RS256 or ES256 key"):
        create_app(Settings(jwks_file=str(bad)))


def test_auth_off_admits_everyone(
    clean_store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    settings = Settings(auth="off", jwt_secret=None)
    with caplog.at_level("WARNING", logger="delegraph.api"):
        app = create_app(settings, Engine(clean_store))
    assert "AUTHENTICATION IS OFF" in caplog.text
    with TestClient(app) as client:
        response = client.post("/v1/principals", json={"ref": "user:z"})
        assert response.status_code == 200, response.text


def test_remembered_token_still_expires(monkeypatch: pytest.MonkeyPatch) -> None:
    """A token verified once is remembered, but past exp plus leeway it fails."""
    verifier = TokenVerifier(Settings(jwt_secret=SECRET))
    now = time.time()
    issued = jwt.encode(claims(exp=int(now) + 5), SECRET, algorithm="HS256")
    assert verifier.verify(issued).subject == "pep"
    assert verifier.verify(issued).subject == "pep"
    monkeypatch.setattr(time, "time", lambda: now + 5 + LEEWAY_SECONDS + 1)
    with pytest.raises(jwt.ExpiredSignatureError):
        verifier.verify(issued)


def test_failed_token_is_not_remembered() -> None:
    verifier = TokenVerifier(Settings(jwt_secret=SECRET))
    forged = jwt.encode(
        claims(), "another-secret-of-enough-length-32b", algorithm="HS256"
    )
    for _ in range(2):
        with pytest.raises(jwt.InvalidSignatureError):
            verifier.verify(forged)
