"""Token introspection against Neo4j: verification, act chains, live edges, claims."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from delegraph.cypher.store import Store
from delegraph.engine.documents import parse_document
from delegraph.engine.errors import InvalidRequest
from delegraph.engine.graph import import_document
from delegraph.engine.introspect import IntrospectionKeys
from delegraph.engine.refs import parse_ref
from delegraph.engine.service import Engine

ISSUER = "https://issuer.test"
AUDIENCE = "delegraph"
NOW = datetime.now(UTC)

RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
RSA_PUBLIC_PEM = (
    RSA_KEY.public_key()
    .public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    .decode()
)
KEYS = IntrospectionKeys.load(
    public_key=RSA_PUBLIC_PEM, issuer=ISSUER, audience=AUDIENCE
)

GRAPH = {
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
            "actions": ["read", "write"],
        },
    ],
}


def act_chain(actors: list[str]) -> dict[str, Any] | None:
    """Nest actors so the last one is the outermost (current) actor."""
    nested: dict[str, Any] | None = None
    for actor in actors:
        nested = {"sub": actor} if nested is None else {"sub": actor, "act": nested}
    return nested


def issue(
    sub: str = "user:alice",
    actors: tuple[str, ...] = ("agent:planner", "agent:worker"),
    scope: str | None = "read write",
    key: Any = RSA_KEY,
    algorithm: str = "RS256",
    headers: dict[str, Any] | None = None,
    **claims: Any,
) -> str:
    payload: dict[str, Any] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": sub,
        "iat": NOW,
        "exp": NOW + timedelta(hours=1),
        "jti": "token-1",
    }
    act = act_chain(list(actors))
    if act is not None:
        payload["act"] = act
    if scope is not None:
        payload["scope"] = scope
    payload.update(claims)
    return jwt.encode(payload, key, algorithm=algorithm, headers=headers)


def hs256_token(payload: dict[str, Any], secret: bytes) -> str:
    """Sign by hand, because pyjwt refuses a PEM key as an HMAC secret."""

    def part(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).decode().rstrip("=")

    signing_input = (
        part(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
        + "."
        + part(json.dumps(payload).encode())
    )
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + part(signature)


@pytest.fixture
def engine(clean_store: Store) -> Engine:
    import_document(clean_store, parse_document(GRAPH))
    return Engine(clean_store)


def test_live_chain_is_active(engine: Engine) -> None:
    result = engine.introspect(issue(scope="read write"), KEYS)
    body = result.as_dict()
    assert result.active, body
    assert body["sub"] == "user:alice"
    assert body["act"]["sub"] == "agent:worker"
    assert body["scope"] == "read write"
    assert body["chain"] == {
        "principals": ["user:alice", "agent:planner", "agent:worker"],
        "delegations": [["d1"], ["d2"]],
    }
    assert body["effective_actions"] == ["read", "write"]
    assert body["stale_claims"] == []
    assert body["problems"] == []


def test_revoke_makes_token_inactive(engine: Engine) -> None:
    token = issue()
    assert engine.introspect(token, KEYS).active
    revoked = engine.revoke("d1", "user:security", "compromised planner")

    result = engine.introspect(token, KEYS, revoked.consistency_token)
    assert not result.active
    assert result.stale_claims == ("read", "write")
    assert len(result.problems) == 1
    problem = result.problems[0]
    assert problem.code == "revoked"
    assert problem.delegation == "d1"
    assert problem.revoked_by == "user:security"
    assert problem.revoke_reason == "compromised planner"
    assert problem.revoked_at == revoked.delegation.revoked_at
    assert "'d1'" in problem.message


def test_mismatched_act_chain_inactive(engine: Engine) -> None:
    skipped = engine.introspect(issue(actors=("agent:worker",)), KEYS)
    assert not skipped.active
    assert [p.code for p in skipped.problems] == ["no_delegation"]
    assert skipped.problems[0].principal == "agent:worker"

    reversed_chain = engine.introspect(
        issue(actors=("agent:worker", "agent:planner")), KEYS
    )
    assert not reversed_chain.active
    assert "no_delegation" in [p.code for p in reversed_chain.problems]

    other_subject = engine.introspect(issue(sub="user:bob"), KEYS)
    assert not other_subject.active
    assert other_subject.problems[0].code == "no_delegation"


def test_stale_claims_list_withdrawn_actions(engine: Engine) -> None:
    result = engine.introspect(issue(scope="read write delete"), KEYS)
    assert result.active
    assert result.effective_actions == ("read", "write")
    assert result.stale_claims == ("delete",)

    only_withdrawn = engine.introspect(issue(scope="delete"), KEYS)
    assert not only_withdrawn.active
    assert only_withdrawn.stale_claims == ("delete",)
    assert only_withdrawn.problems == ()


def test_grant_change_makes_claims_stale(engine: Engine) -> None:
    token = issue(scope="read write")
    engine.delete_grant(parse_ref("user:alice", "p"), parse_ref("document:q3", "r"))
    result = engine.introspect(token, KEYS)
    assert not result.active
    assert result.stale_claims == ("read", "write")


def test_disabled_actor_inactive(engine: Engine) -> None:
    engine.disable(parse_ref("agent:planner", "ref"), "user:security")
    result = engine.introspect(issue(), KEYS)
    assert not result.active
    assert [(p.code, p.principal) for p in result.problems] == [
        ("disabled", "agent:planner")
    ]


def test_depth_limit_inactive(clean_store: Store) -> None:
    graph = json.loads(json.dumps(GRAPH))
    graph["delegations"][0]["max_depth"] = 0
    import_document(clean_store, parse_document(graph))
    result = Engine(clean_store).introspect(issue(), KEYS)
    assert not result.active
    assert [(p.code, p.delegation) for p in result.problems] == [
        ("depth_exceeded", "d1")
    ]


def test_expired_edge_inactive(clean_store: Store) -> None:
    graph = json.loads(json.dumps(GRAPH))
    graph["delegations"][1]["expires_at"] = "2020-01-01T00:00:00Z"
    import_document(clean_store, parse_document(graph))
    result = Engine(clean_store).introspect(issue(), KEYS)
    assert not result.active
    assert [(p.code, p.delegation) for p in result.problems] == [("expired", "d2")]


def test_conditional_edge_counts_as_carried(clean_store: Store) -> None:
    graph = json.loads(json.dumps(GRAPH))
    graph["delegations"][1]["condition"] = 'context.purpose == "audit"'
    import_document(clean_store, parse_document(graph))
    result = Engine(clean_store).introspect(issue(), KEYS)
    assert result.active
    assert result.conditional_actions == ("read", "write")


def test_no_actor_token(engine: Engine) -> None:
    own = engine.introspect(issue(actors=(), scope="delete"), KEYS)
    assert own.active
    assert own.principals == ("user:alice",)
    assert own.effective_actions == ("delete", "read", "write")


def test_may_act_names_current_actor(engine: Engine) -> None:
    allowed = engine.introspect(issue(may_act={"sub": "agent:worker"}), KEYS)
    assert allowed.active
    refused = engine.introspect(issue(may_act={"sub": "agent:planner"}), KEYS)
    assert not refused.active
    assert refused.error is not None
    assert "may_act" in refused.error


@pytest.mark.parametrize(
    ("name", "overrides", "message"),
    [
        ("expired", {"exp": NOW - timedelta(hours=1)}, "expired"),
        ("not yet valid", {"nbf": NOW + timedelta(hours=1)}, "not yet valid"),
        ("issuer", {"iss": "https://other.test"}, "issuer"),
        ("audience", {"aud": "someone-else"}, "audience"),
        ("sub not a ref", {"sub": "alice"}, "sub claim"),
        ("act malformed", {"act": "agent:planner"}, "act claim"),
        ("act wildcard", {"act": {"sub": "agent:*"}}, "wildcard"),
    ],
)
def test_invalid_claims_inactive(
    engine: Engine, name: str, overrides: dict[str, Any], message: str
) -> None:
    result = engine.introspect(issue(**overrides), KEYS)
    assert not result.active, name
    assert result.error is not None
    assert message in result.error.lower(), result.error
    assert result.as_dict() == {"active": False, "error": result.error}


def test_bad_signatures_inactive(engine: Engine) -> None:
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = engine.introspect(issue(key=other), KEYS)
    assert not forged.active
    assert forged.error is not None
    assert "signature" in forged.error

    unsigned = jwt.encode(
        {"sub": "user:alice", "exp": NOW + timedelta(hours=1)}, None, algorithm="none"
    )
    assert not engine.introspect(unsigned, KEYS).active

    # Algorithm confusion: an HS256 token keyed with the public key text.
    token = hs256_token(
        {"sub": "user:alice", "iss": ISSUER, "aud": AUDIENCE, "exp": 4102444800},
        RSA_PUBLIC_PEM.encode(),
    )
    result = engine.introspect(token, KEYS)
    assert not result.active
    assert result.error is not None
    assert "HS256" in result.error

    assert not engine.introspect("not-a-jwt", KEYS).active


def test_jwks_file_selects_kid(engine: Engine, tmp_path: Path) -> None:
    signing = ec.generate_private_key(ec.SECP256R1())
    jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(signing.public_key()))
    jwk.update({"kid": "ec-1", "alg": "ES256", "use": "sig"})
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps({"keys": [jwk]}))
    keys = IntrospectionKeys.load(jwks_file=str(path), issuer=ISSUER, audience=AUDIENCE)

    token = issue(key=signing, algorithm="ES256", headers={"kid": "ec-1"})
    assert engine.introspect(token, keys).active
    unknown_kid = issue(key=signing, algorithm="ES256", headers={"kid": "ec-2"})
    result = engine.introspect(unknown_kid, keys)
    assert not result.active
    assert result.error is not None
    assert "ec-2" in result.error


def test_secret_fallback_verifies_hs256(engine: Engine) -> None:
    keys = IntrospectionKeys.load(secret="s" * 32, issuer=ISSUER, audience=AUDIENCE)
    token = issue(key="s" * 32, algorithm="HS256")
    assert engine.introspect(token, keys).active


def test_key_settings_errors(tmp_path: Path) -> None:
    with pytest.raises(InvalidRequest) as nothing:
        IntrospectionKeys.load()
    assert nothing.value.field == "DELEGRAPH_INTROSPECT_PUBLIC_KEY"
    with pytest.raises(InvalidRequest) as missing:
        IntrospectionKeys.load(public_key=str(tmp_path / "absent.pem"))
    assert "cannot be read" in missing.value.message
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    with pytest.raises(InvalidRequest) as jwks:
        IntrospectionKeys.load(jwks_file=str(bad))
    assert jwks.value.field == "DELEGRAPH_INTROSPECT_JWKS_FILE"
    pem = tmp_path / "key.pem"
    pem.write_text(RSA_PUBLIC_PEM)
    assert IntrospectionKeys.load(public_key=str(pem)).keys[0].algorithms[0] == "RS256"
