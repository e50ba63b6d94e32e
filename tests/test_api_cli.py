"""The ``delegraph token`` and ``delegraph serve`` commands."""

from __future__ import annotations

import jwt
import pytest
from api_helpers import SECRET
from delegraph.api.cli import app
from typer.testing import CliRunner

runner = CliRunner()


def test_token_signs_roles_and_subject(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DELEGRAPH_JWT_SECRET", SECRET)
    result = runner.invoke(
        app, ["token", "--role", "admin", "--subject", "agent:x", "--ttl", "120"]
    )
    assert result.exit_code == 0, result.output
    claims = jwt.decode(result.output.strip(), SECRET, algorithms=["HS256"])
    assert claims["sub"] == "agent:x"
    assert claims["roles"] == ["admin"]
    assert claims["exp"] - claims["iat"] == 120


def test_token_needs_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DELEGRAPH_JWT_SECRET", raising=False)
    result = runner.invoke(app, ["token", "--role", "check"])
    assert result.exit_code == 2, result.output
    assert "DELEGRAPH_JWT_SECRET is not set" in result.output


def test_token_rejects_unknown_role(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DELEGRAPH_JWT_SECRET", SECRET)
    result = runner.invoke(app, ["token", "--role", "root"])
    assert result.exit_code == 2, result.output
    assert "unknown role 'root'" in result.output


def test_serve_refuses_without_key(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "DELEGRAPH_JWT_SECRET",
        "DELEGRAPH_JWT_PUBLIC_KEY",
        "DELEGRAPH_JWKS_FILE",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DELEGRAPH_AUTH", "on")
    result = runner.invoke(app, ["serve"])
    assert result.exit_code == 2, result.output
    assert "no key is configured" in " ".join(result.output.split())
