"""The CLI's ``--url`` mode against a real API: same output as the Neo4j mode.

Each test runs a command once against Neo4j directly and once through the
REST API (uvicorn on 127.0.0.1, over the same test Neo4j), then compares the
two ``--json`` documents and the two human-readable renderings.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from api_helpers import serve_api, token
from conftest import wipe
from delegraph.api.cli import app
from delegraph.cypher.store import Store
from delegraph.engine.documents import parse_document
from delegraph.engine.graph import import_document
from delegraph.engine.service import Engine
from typer.testing import CliRunner, Result

# alice has read and write on folder:finance through group:finance. She
# delegates read to agent:bot, which may re-delegate once, and write under a
# condition. bot delegates read to agent:sub.
GRAPH: dict[str, Any] = {
    "users": ["alice", "bob"],
    "groups": ["finance"],
    "agents": [
        {"id": "bot", "owner": "user:alice"},
        {"id": "sub", "owner": "group:finance"},
    ],
    "resources": [
        {"ref": "folder:finance"},
        {"ref": "document:q3", "parent": "folder:finance", "sensitivity": 2},
        {"ref": "document:q4", "parent": "folder:finance"},
        {"ref": "document:salaries", "sensitivity": 4},
    ],
    "memberships": [{"member": "user:alice", "group": "group:finance"}],
    "grants": [
        {
            "principal": "group:finance",
            "resource": "folder:finance",
            "actions": ["read", "write"],
        }
    ],
    "delegations": [
        {
            "id": "d1",
            "from": "user:alice",
            "to": "agent:bot",
            "actions": ["read"],
            "max_depth": 1,
            "expires_at": "2099-01-01T00:00:00Z",
        },
        {
            "id": "d2",
            "from": "agent:bot",
            "to": "agent:sub",
            "actions": ["read"],
            "expires_at": "2099-01-01T00:00:00Z",
        },
        {
            "id": "d3",
            "from": "user:alice",
            "to": "agent:bot",
            "actions": ["write"],
            "condition": 'context.purpose == "expenses"',
        },
    ],
}

# A second document for import: new principals, a resource, a grant and a
# delegation that reuse user:alice from GRAPH.
EXTRA: dict[str, Any] = {
    "users": ["carol"],
    "agents": [{"id": "mailer", "owner": "user:carol"}],
    "resources": [{"ref": "mailbox:carol"}],
    "grants": [
        {"principal": "user:carol", "resource": "mailbox:carol", "actions": ["send"]}
    ],
    "delegations": [
        {
            "id": "m1",
            "from": "user:carol",
            "to": "agent:mailer",
            "actions": ["send"],
            "expires_at": "2099-01-01T00:00:00Z",
        }
    ],
}

SINCE = "2000-01-01T00:00:00Z"


@pytest.fixture
def env(neo4j_connection: tuple[str, str, str]) -> dict[str, str]:
    """The environment of a direct (Neo4j) run, with DELEGRAPH_URL empty."""
    uri, user, password = neo4j_connection
    return {
        "NEO4J_URI": uri,
        "NEO4J_USER": user,
        "NEO4J_PASSWORD": password,
        "DELEGRAPH_DECISION_LOG": "neo4j",
        "DELEGRAPH_URL": "",
        "DELEGRAPH_TOKEN": "",
    }


@pytest.fixture
def graph(clean_store: Store) -> Store:
    import_document(clean_store, parse_document(GRAPH))
    return clean_store


@pytest.fixture
def api_url(graph: Store) -> Iterator[str]:
    with serve_api(Engine(graph)) as url:
        yield url


def run(env: dict[str, str], *args: str) -> Result:
    return CliRunner().invoke(app, list(args), env=env)


def over_api(env: dict[str, str], url: str, role: str = "admin") -> dict[str, str]:
    """Return ``env`` with DELEGRAPH_URL and DELEGRAPH_TOKEN set for ``url``."""
    return {**env, "DELEGRAPH_URL": url, "DELEGRAPH_TOKEN": token(role)}


def both_modes(
    env: dict[str, str], url: str, *args: str, role: str = "admin"
) -> tuple[Result, Result]:
    """Run one command directly, then through the API, and return both results."""
    direct = run(env, *args)
    assert direct.exit_code in (0, 1), direct.output
    remote = run(over_api(env, url, role), *args)
    assert remote.exit_code == direct.exit_code, remote.output
    return direct, remote


def json_pair(
    env: dict[str, str], url: str, *args: str, role: str = "admin"
) -> tuple[Any, Any]:
    direct, remote = both_modes(env, url, *args, "--json", role=role)
    return json.loads(direct.stdout), json.loads(remote.stdout)


def without(data: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {key: value for key, value in data.items() if key not in keys}


def record_decisions(env: dict[str, str]) -> None:
    """Log three decisions of agent:bot through direct-mode checks."""
    for action, resource in (
        ("read", "document:q3"),
        ("write", "document:q3"),
        ("read", "document:salaries"),
    ):
        result = run(env, "check", "agent:bot", action, resource)
        assert result.exit_code in (0, 1), result.output


# Decisions and lookups.


def test_check_same_in_both_modes(api_url: str, env: dict[str, str]) -> None:
    args = ("check", "agent:sub", "read", "document:q3")
    direct, remote = json_pair(env, api_url, *args, role="check")
    assert direct["allowed"] is True
    assert without(remote, "decision_id") == without(direct, "decision_id")
    direct_text, remote_text = both_modes(env, api_url, *args, role="check")
    assert remote_text.stdout == direct_text.stdout


def test_explain_same_in_both_modes(api_url: str, env: dict[str, str]) -> None:
    for action, context in (("read", "{}"), ("write", '{"purpose": "other"}')):
        args = ("explain", "agent:bot", action, "document:q3", "--context", context)
        direct, remote = json_pair(env, api_url, *args, role="check")
        assert direct["candidates"], direct
        assert without(remote, "decision_id") == without(direct, "decision_id")
        direct_text, remote_text = both_modes(env, api_url, *args, role="check")
        assert remote_text.stdout == direct_text.stdout


def test_reach_pages_same_in_both_modes(api_url: str, env: dict[str, str]) -> None:
    direct, remote = json_pair(env, api_url, "reach", "agent:bot", "--limit", "2")
    assert len(direct["items"]) == 2
    assert direct["next_page_token"] is not None
    assert remote == direct

    page_token = direct["next_page_token"]
    args = ("reach", "agent:bot", "--limit", "2", "--page-token", page_token)
    direct_next, remote_next = json_pair(env, api_url, *args)
    assert direct_next["items"]
    assert remote_next == direct_next

    direct_text, remote_text = both_modes(
        env, api_url, "reach", "agent:bot", "--limit", "2"
    )
    assert f"--page-token {page_token}" in remote_text.stdout
    assert remote_text.stdout == direct_text.stdout


def test_trace_same_in_both_modes(api_url: str, env: dict[str, str]) -> None:
    direct, remote = json_pair(env, api_url, "trace", "agent:sub", role="check")
    assert direct["humans"] == ["user:alice"]
    assert "decisions" not in direct
    assert remote == direct
    direct_text, remote_text = both_modes(
        env, api_url, "trace", "agent:sub", role="check"
    )
    assert remote_text.stdout == direct_text.stdout


def test_trace_window_same_in_both_modes(api_url: str, env: dict[str, str]) -> None:
    record_decisions(env)
    direct, remote = json_pair(env, api_url, "trace", "agent:bot", "--since", SINCE)
    assert len(direct["decisions"]["decisions"]) == 3
    assert remote["decisions"]["since"] == direct["decisions"]["since"]
    assert without(remote["decisions"], "checked_at") == without(
        direct["decisions"], "checked_at"
    )
    assert without(remote, "decisions") == without(direct, "decisions")


def test_decisions_same_in_both_modes(api_url: str, env: dict[str, str]) -> None:
    record_decisions(env)
    args = ("decisions", "agent:bot", "--since", SINCE, "--limit", "2")
    direct, remote = json_pair(env, api_url, *args)
    assert len(direct["decisions"]) == 2
    assert direct["truncated"] is True
    assert without(remote, "checked_at") == without(direct, "checked_at")


# Import, export and revoke.


def test_export_same_in_both_modes(
    api_url: str, env: dict[str, str], tmp_path: Path
) -> None:
    direct, remote = both_modes(env, api_url, "export")
    assert "d3" in direct.stdout
    assert remote.stdout == direct.stdout
    for name in ("direct.json", "remote.json"):
        mode_env = env if name == "direct.json" else over_api(env, api_url)
        result = run(mode_env, "export", "--output", str(tmp_path / name))
        assert result.exit_code == 0, result.output
    remote_file = (tmp_path / "remote.json").read_text()
    assert remote_file == (tmp_path / "direct.json").read_text()


def exported_graph(env: dict[str, str]) -> dict[str, Any]:
    """Export the graph directly, without the creation stamps of delegations."""
    result = run(env, "export", "--format", "json")
    assert result.exit_code == 0, result.output
    document: dict[str, Any] = json.loads(result.stdout)
    for delegation in document.get("delegations", []):
        delegation.pop("created_at", None)
        delegation.pop("created_by", None)
    return document


def test_import_same_effect_in_both_modes(
    api_url: str, graph: Store, env: dict[str, str], tmp_path: Path
) -> None:
    source = tmp_path / "extra.yaml"
    source.write_text(yaml.safe_dump(EXTRA))
    remote = run(over_api(env, api_url), "import", str(source), "--json")
    assert remote.exit_code == 0, remote.output
    after_remote = exported_graph(env)
    assert "carol" in [user["id"] for user in after_remote["users"]]

    wipe(graph)
    import_document(graph, parse_document(GRAPH))
    direct = run(env, "import", str(source), "--json")
    assert direct.exit_code == 0, direct.output
    assert exported_graph(env) == after_remote

    remote_body = json.loads(remote.stdout)
    direct_body = json.loads(direct.stdout)
    assert remote_body["counts"] == direct_body["counts"]
    assert remote_body["edges"] == direct_body["edges"]

    table = run(over_api(env, api_url), "import", str(source))
    assert table.exit_code == 0, table.output
    assert "delegations" in table.stdout


def test_import_invalid_document_exit_2(
    api_url: str, env: dict[str, str], tmp_path: Path
) -> None:
    broken = copy.deepcopy(EXTRA)
    broken["delegations"][0]["to"] = "mailer"
    source = tmp_path / "broken.yaml"
    source.write_text(yaml.safe_dump(broken))
    direct = run(env, "import", str(source))
    remote = run(over_api(env, api_url), "import", str(source))
    assert direct.exit_code == 2, direct.output
    assert remote.exit_code == 2, remote.output
    assert remote.stderr == direct.stderr


# Times and callers that differ between two runs of the same revoke.
REVOKED_STAMPS = ("created_at", "revoked_at", "revoked_by")


def revoke_body(result: Result) -> dict[str, Any]:
    assert result.exit_code == 0, result.output
    body: dict[str, Any] = json.loads(result.stdout)
    body["delegation"] = without(body["delegation"], *REVOKED_STAMPS)
    return without(body, "consistency_token")


def test_revoke_same_effect_in_both_modes(
    api_url: str, graph: Store, env: dict[str, str]
) -> None:
    remote_env = over_api(env, api_url)
    remote = run(remote_env, "revoke", "d1", "--reason", "leaked", "--json")
    remote_body = revoke_body(remote)
    assert json.loads(remote.stdout)["delegation"]["revoked_by"] == "test-service"
    assert remote_body["impact"]["lost_access"] == ["agent:sub"]
    denied = run(env, "check", "agent:sub", "read", "document:q3")
    assert denied.exit_code == 1, denied.output

    again = run(remote_env, "revoke", "d1")
    assert again.exit_code == 0, again.output
    assert "d1 was already revoked" in again.stdout

    wipe(graph)
    import_document(graph, parse_document(GRAPH))
    direct = run(env, "revoke", "d1", "--reason", "leaked", "--json")
    assert revoke_body(direct) == remote_body


def test_revoke_by_with_url_exit_2(api_url: str, env: dict[str, str]) -> None:
    result = run(over_api(env, api_url), "revoke", "d1", "--by", "user:bob")
    assert result.exit_code == 2, result.output
    assert "--by cannot be used with --url" in result.stderr


# Errors.


def test_bad_token_exit_2(api_url: str, env: dict[str, str]) -> None:
    bad = {**env, "DELEGRAPH_URL": api_url, "DELEGRAPH_TOKEN": "not-a-jwt"}
    result = run(bad, "reach", "agent:bot")
    assert result.exit_code == 2, result.output
    assert "HTTP 401 Unauthorized" in result.stderr
    assert "not-a-jwt" not in result.output
    assert len(result.stderr.strip().splitlines()) == 1


def test_missing_role_exit_2(api_url: str, env: dict[str, str]) -> None:
    result = run(over_api(env, api_url, "check"), "export")
    assert result.exit_code == 2, result.output
    assert "HTTP 403 Forbidden" in result.stderr


def test_not_found_names_field_and_value(api_url: str, env: dict[str, str]) -> None:
    result = run(over_api(env, api_url), "revoke", "no-such-delegation")
    assert result.exit_code == 2, result.output
    assert "HTTP 404 Not Found" in result.stderr
    assert "no-such-delegation" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_invalid_value_names_field(api_url: str, env: dict[str, str]) -> None:
    result = run(over_api(env, api_url, "check"), "explain", "agent:bot", "", "doc:x")
    assert result.exit_code == 2, result.output
    assert "HTTP 422" in result.stderr
    assert "(field action, value " in result.stderr


def test_unreachable_url_exit_2(env: dict[str, str]) -> None:
    for args in (
        ("reach", "agent:bot"),
        ("export",),
        ("decisions", "agent:bot"),
        ("trace", "agent:bot"),
        ("revoke", "d1"),
        ("explain", "agent:bot", "read", "document:q3"),
    ):
        down = {**env, "DELEGRAPH_URL": "http://127.0.0.1:1", "DELEGRAPH_TOKEN": "x"}
        result = run(down, *args, "--timeout", "2")
        assert result.exit_code == 2, (args, result.output)
        assert "could not reach the API at http://127.0.0.1:1/v1/" in result.stderr


def test_url_without_scheme_exit_2(env: dict[str, str]) -> None:
    result = run(env, "reach", "agent:bot", "--url", "127.0.0.1:8000")
    assert result.exit_code == 2, result.output
    assert "--url '127.0.0.1:8000' is not a valid API URL" in result.stderr


def test_url_credentials_not_printed(env: dict[str, str]) -> None:
    result = run(env, "reach", "agent:bot", "--url", "http://ops:s3cret@127.0.0.1:1")
    assert result.exit_code == 2, result.output
    assert "could not reach the API at http://127.0.0.1:1/v1/" in result.stderr
    assert "s3cret" not in result.stderr
