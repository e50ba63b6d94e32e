"""Settings of the decision log and of token introspection, read from the environment."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from delegraph.api.settings import Settings
from delegraph.cypher.store import Store
from delegraph.engine.audit import JsonlSink, Neo4jSink
from delegraph.engine.errors import InvalidRequest
from pydantic import ValidationError

AUDIT_VARIABLES = (
    "DELEGRAPH_DECISION_LOG",
    "DELEGRAPH_DECISION_LOG_SAMPLE_RATE",
    "DELEGRAPH_DECISION_LOG_HASH_KEY",
    "DELEGRAPH_DECISION_LOG_CAPACITY",
    "DELEGRAPH_INTROSPECT_PUBLIC_KEY",
    "DELEGRAPH_INTROSPECT_JWKS_FILE",
    "DELEGRAPH_INTROSPECT_ISSUER",
    "DELEGRAPH_INTROSPECT_AUDIENCE",
    "DELEGRAPH_JWT_SECRET",
    "DELEGRAPH_JWT_PUBLIC_KEY",
    "DELEGRAPH_JWKS_FILE",
)


@pytest.fixture(autouse=True)
def clear_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in AUDIT_VARIABLES:
        monkeypatch.delenv(name, raising=False)


def test_decision_log_defaults_to_neo4j(store: Store) -> None:
    log = Settings().open_decision_log(store)
    assert log is not None
    try:
        assert isinstance(log.sink, Neo4jSink)
        assert log.sample_rate == 1.0
        assert log.hash_key is None
    finally:
        log.close()


def test_decision_log_file_and_sampling(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DELEGRAPH_DECISION_LOG", f"file:{tmp_path}/d.jsonl")
    monkeypatch.setenv("DELEGRAPH_DECISION_LOG_SAMPLE_RATE", "0.25")
    monkeypatch.setenv("DELEGRAPH_DECISION_LOG_HASH_KEY", "k")
    monkeypatch.setenv("DELEGRAPH_DECISION_LOG_CAPACITY", "50")
    log = Settings().open_decision_log(store)
    assert log is not None
    try:
        assert isinstance(log.sink, JsonlSink)
        assert log.sink.path == tmp_path / "d.jsonl"
        assert log.sample_rate == 0.25
        assert log.hash_key == b"k"
        assert log.capacity == 50
    finally:
        log.close()


def test_decision_log_off_and_invalid(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DELEGRAPH_DECISION_LOG", "off")
    assert Settings().open_decision_log(store) is None
    monkeypatch.setenv("DELEGRAPH_DECISION_LOG_SAMPLE_RATE", "1.5")
    with pytest.raises(ValidationError) as error:
        Settings()
    assert "DELEGRAPH_DECISION_LOG_SAMPLE_RATE" in str(error.value)
    monkeypatch.setenv("DELEGRAPH_DECISION_LOG_SAMPLE_RATE", "1")
    monkeypatch.setenv("DELEGRAPH_DECISION_LOG", "syslog")
    with pytest.raises(InvalidRequest) as spec:
        Settings().open_decision_log(store)
    assert spec.value.value == "syslog"


def test_introspection_keys_prefer_issuer_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pem = (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(
            serialization.Encoding.PEM,
            serialization.PublicFormat.SubjectPublicKeyInfo,
        )
        .decode()
    )
    monkeypatch.setenv("DELEGRAPH_JWT_SECRET", "caller-secret")
    monkeypatch.setenv("DELEGRAPH_INTROSPECT_PUBLIC_KEY", pem)
    monkeypatch.setenv("DELEGRAPH_INTROSPECT_ISSUER", "https://issuer.test")
    monkeypatch.setenv("DELEGRAPH_INTROSPECT_AUDIENCE", "delegraph")
    keys = Settings().introspection_keys()
    assert [k.algorithms for k in keys.keys] == [("ES256", "ES384", "ES512")]
    assert keys.issuer == "https://issuer.test"
    assert keys.audience == "delegraph"


def test_introspection_keys_fall_back_to_caller_keys(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with pytest.raises(InvalidRequest):
        Settings().introspection_keys()
    monkeypatch.setenv("DELEGRAPH_JWT_SECRET", "caller-secret")
    keys = Settings().introspection_keys()
    assert [k.algorithms for k in keys.keys] == [("HS256", "HS384", "HS512")]
