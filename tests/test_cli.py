"""The delegraph CLI against the real test Neo4j, through typer's CliRunner."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from api_helpers import serve_api, token
from delegraph.api.cli import app
from delegraph.cypher.store import Store
from delegraph.engine.documents import document_to_dict, parse_document
from delegraph.engine.graph import export_document, import_document
from delegraph.engine.service import Engine
from typer.testing import CliRunner, Result

GRAPH = {
    "users": ["alice", "bob"],
    "groups": ["finance"],
    "agents": [
        {"id": "expense-bot", "owner": "user:alice"},
        {"id": "receipt-reader", "owner": "group:finance"},
    ],
    "resources": [
        {"ref": "folder:finance"},
        {"ref": "document:q3", "parent": "folder:finance", "sensitivity": 2},
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
            "to": "agent:expense-bot",
            "actions": ["read"],
            "resources": ["folder:finance"],
            "max_depth": 1,
            "expires_at": "2099-01-01T00:00:00Z",
        },
        {
            "id": "d2",
            "from": "agent:expense-bot",
            "to": "agent:receipt-reader",
            "actions": ["read"],
            "expires_at": "2099-01-01T00:00:00Z",
            "condition": 'context.purpose == "expenses"',
        },
    ],
}


@pytest.fixture
def cli_env(neo4j_connection: tuple[str, str, str]) -> dict[str, str]:
    uri, user, password = neo4j_connection
    return {
        "NEO4J_URI": uri,
        "NEO4J_USER": user,
        "NEO4J_PASSWORD": password,
        "DELEGRAPH_URL": "",
        "DELEGRAPH_TOKEN": "",
    }


@pytest.fixture
def graph(clean_store: Store) -> Store:
    import_document(clean_store, parse_document(GRAPH))
    return clean_store


def invoke(env: dict[str, str], *args: str) -> Result:
    return CliRunner().invoke(app, list(args), env=env)


def test_check_allow_exit_0(graph: Store, cli_env: dict[str, str]) -> None:
    result = invoke(cli_env, "check", "agent:expense-bot", "read", "document:q3")
    assert result.exit_code == 0, result.output
    assert "ALLOW" in result.output
    assert "d1 -> agent:expense-bot" in result.output
    assert "group:finance holds it on folder:finance" in result.output


def test_check_deny_exit_1(graph: Store, cli_env: dict[str, str]) -> None:
    result = invoke(cli_env, "check", "agent:expense-bot", "write", "document:q3")
    assert result.exit_code == 1, result.output
    assert "DENY" in result.output


def test_check_bad_ref_exit_2(graph: Store, cli_env: dict[str, str]) -> None:
    result = invoke(cli_env, "check", "expense-bot", "read", "document:q3")
    assert result.exit_code == 2, result.output
    assert "'kind:id'" in result.output


def test_check_bad_context_exit_2(graph: Store, cli_env: dict[str, str]) -> None:
    result = invoke(
        cli_env,
        "check",
        "agent:receipt-reader",
        "read",
        "document:q3",
        "--context",
        "{not json",
    )
    assert result.exit_code == 2, result.output
    assert "context is not valid JSON" in result.output


def test_check_neo4j_down_exit_2(cli_env: dict[str, str]) -> None:
    env = {**cli_env, "NEO4J_URI": "bolt://127.0.0.1:1"}
    result = invoke(
        env, "check", "agent:expense-bot", "read", "document:q3", "--timeout", "2"
    )
    assert result.exit_code == 2, result.output
    assert "Neo4j failed" in result.output


def test_check_json_allow_shape(graph: Store, cli_env: dict[str, str]) -> None:
    result = invoke(
        cli_env,
        "check",
        "agent:receipt-reader",
        "read",
        "document:q3",
        "--context",
        '{"purpose": "expenses"}',
        "--on-behalf-of",
        "user:alice",
        "--json",
    )
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert set(body) == {"allowed", "decision_id", "chain", "reason"}
    assert body["allowed"] is True
    assert body["chain"] == {
        "principals": ["user:alice", "agent:expense-bot", "agent:receipt-reader"],
        "delegations": ["d1", "d2"],
        "grant": {"principal": "group:finance", "resource": "folder:finance"},
    }


def test_check_json_deny_shape(graph: Store, cli_env: dict[str, str]) -> None:
    result = invoke(
        cli_env, "check", "agent:receipt-reader", "read", "document:q3", "--json"
    )
    assert result.exit_code == 1, result.output
    body = json.loads(result.stdout)
    assert body["allowed"] is False
    assert body["chain"] is None
    assert body["reason"]


def test_explain_names_missing_field(graph: Store, cli_env: dict[str, str]) -> None:
    result = invoke(cli_env, "explain", "agent:receipt-reader", "read", "document:q3")
    assert result.exit_code == 0, result.output
    assert "condition_field_missing" in result.output
    assert "purpose" in result.output


def test_explain_json(graph: Store, cli_env: dict[str, str]) -> None:
    result = invoke(
        cli_env, "explain", "agent:expense-bot", "read", "document:salaries", "--json"
    )
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert body["allowed"] is False
    assert body["code"] == "no_holder"


def test_revoke_then_check_denies(graph: Store, cli_env: dict[str, str]) -> None:
    result = invoke(
        cli_env, "revoke", "d1", "--by", "user:bob", "--reason", "test", "--json"
    )
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert body["delegation"]["revoked_by"] == "user:bob"
    assert body["impact"]["lost_access"] == [
        "agent:expense-bot",
        "agent:receipt-reader",
    ]
    after = invoke(cli_env, "check", "agent:expense-bot", "read", "document:q3")
    assert after.exit_code == 1, after.output


def test_revoke_unknown_exit_2(graph: Store, cli_env: dict[str, str]) -> None:
    result = invoke(cli_env, "revoke", "d-missing")
    assert result.exit_code == 2, result.output
    assert "d-missing" in result.output


def test_trace_tree(graph: Store, cli_env: dict[str, str]) -> None:
    result = invoke(cli_env, "trace", "agent:receipt-reader")
    assert result.exit_code == 0, result.output
    assert "accountable humans: user:alice" in result.output
    assert "d2 -> agent:receipt-reader" in result.output


def test_trace_json(graph: Store, cli_env: dict[str, str]) -> None:
    result = invoke(cli_env, "trace", "agent:receipt-reader", "--json")
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert body["chains"] == [
        {
            "principals": ["user:alice", "agent:expense-bot", "agent:receipt-reader"],
            "delegations": ["d1", "d2"],
        }
    ]
    assert body["humans"] == ["user:alice"]


def test_reach_table_and_json(graph: Store, cli_env: dict[str, str]) -> None:
    table = invoke(cli_env, "reach", "agent:expense-bot")
    assert table.exit_code == 0, table.output
    assert "document:q3" in table.output
    result = invoke(cli_env, "reach", "agent:expense-bot", "--json")
    body = json.loads(result.stdout)
    pairs = sorted((item["resource"], item["action"]) for item in body["items"])
    assert pairs == [("document:q3", "read"), ("folder:finance", "read")]
    assert body["next_page_token"] is None


def test_reach_pages(graph: Store, cli_env: dict[str, str]) -> None:
    first = json.loads(
        invoke(cli_env, "reach", "agent:expense-bot", "--limit", "1", "--json").stdout
    )
    assert len(first["items"]) == 1
    token = first["next_page_token"]
    assert token
    second = json.loads(
        invoke(
            cli_env,
            "reach",
            "agent:expense-bot",
            "--limit",
            "1",
            "--page-token",
            token,
            "--json",
        ).stdout
    )
    assert [i["resource"] for i in second["items"]] != [
        i["resource"] for i in first["items"]
    ]
    assert second["next_page_token"] is None


def test_import_export_round_trip(
    clean_store: Store, cli_env: dict[str, str], tmp_path: Path
) -> None:
    source = tmp_path / "graph.yaml"
    source.write_text(yaml.safe_dump(GRAPH))
    imported = invoke(cli_env, "import", str(source), "--json")
    assert imported.exit_code == 0, imported.output
    counts = json.loads(imported.stdout)["counts"]
    assert counts["delegations"] == 2
    assert counts["grants"] == 1

    exported_file = tmp_path / "export.json"
    exported = invoke(cli_env, "export", "--output", str(exported_file))
    assert exported.exit_code == 0, exported.output
    data = json.loads(exported_file.read_text())
    assert data == document_to_dict(export_document(clean_store))
    assert {d["id"] for d in data["delegations"]} == {"d1", "d2"}

    again = invoke(cli_env, "import", str(exported_file), "--json")
    assert again.exit_code == 0, again.output
    assert document_to_dict(export_document(clean_store)) == data


def test_export_yaml_stdout(graph: Store, cli_env: dict[str, str]) -> None:
    result = invoke(cli_env, "export")
    assert result.exit_code == 0, result.output
    data = yaml.safe_load(result.stdout)
    assert data["users"] == [{"id": "alice"}, {"id": "bob"}]


def test_import_invalid_exit_2(
    clean_store: Store, cli_env: dict[str, str], tmp_path: Path
) -> None:
    source = tmp_path / "bad.yaml"
    source.write_text("delegations:\n  - {id: d1, from: user:a, to: agent:b}\n")
    result = invoke(cli_env, "import", str(source))
    assert result.exit_code == 2, result.output
    assert "delegations[0].actions is missing" in result.output


def test_import_progress_bar(
    clean_store: Store, cli_env: dict[str, str], tmp_path: Path
) -> None:
    big = {"resources": [{"ref": f"document:d{i}"} for i in range(6000)]}
    source = tmp_path / "big.yaml"
    source.write_text(yaml.safe_dump(big))
    result = invoke(cli_env, "import", str(source))
    assert result.exit_code == 0, result.output
    assert "importing" in result.output
    assert "resources" in result.output


def test_bench_without_folder_exit_2(
    cli_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from delegraph.api import neo4j_local

    monkeypatch.setattr(neo4j_local, "project_root", lambda: tmp_path)
    result = invoke(cli_env, "bench")
    assert result.exit_code == 2, result.output
    assert "no bench/run.py" in result.output


@pytest.fixture
def api_url(graph: Store) -> Iterator[str]:
    """Serve the REST API on the test graph from a uvicorn thread; yield its URL."""
    with serve_api(Engine(graph)) as url:
        yield url


def test_check_url_allow_exit_0(api_url: str, cli_env: dict[str, str]) -> None:
    env = {**cli_env, "DELEGRAPH_URL": api_url, "DELEGRAPH_TOKEN": token("check")}
    result = invoke(env, "check", "agent:expense-bot", "read", "document:q3")
    assert result.exit_code == 0, result.output
    assert "ALLOW" in result.output
    assert "d1 -> agent:expense-bot" in result.output


def test_check_url_deny_json(api_url: str, cli_env: dict[str, str]) -> None:
    result = invoke(
        cli_env,
        "check",
        "agent:expense-bot",
        "write",
        "document:q3",
        "--url",
        api_url,
        "--token",
        token("check"),
        "--json",
    )
    assert result.exit_code == 1, result.output
    body = json.loads(result.stdout)
    assert set(body) == {"allowed", "decision_id", "chain", "reason"}
    assert body["allowed"] is False


def test_check_url_bad_token_exit_2(api_url: str, cli_env: dict[str, str]) -> None:
    result = invoke(
        cli_env,
        "check",
        "agent:expense-bot",
        "read",
        "document:q3",
        "--url",
        api_url,
        "--token",
        "not-a-jwt",
    )
    assert result.exit_code == 2, result.output
    assert "HTTP 401" in result.output


def test_check_url_unreachable_exit_2(cli_env: dict[str, str]) -> None:
    result = invoke(
        cli_env,
        "check",
        "agent:expense-bot",
        "read",
        "document:q3",
        "--url",
        "http://127.0.0.1:1",
        "--timeout",
        "2",
    )
    assert result.exit_code == 2, result.output
    assert "could not reach the API at http://127.0.0.1:1/v1/check" in result.output


def test_demo_needs_replace_graph(cli_env: dict[str, str]) -> None:
    result = invoke(cli_env, "demo", "--no-serve")
    assert result.exit_code == 2, result.output
    assert "--replace-graph" in result.output


def test_demo_no_serve_exit_0(clean_store: Store, cli_env: dict[str, str]) -> None:
    result = invoke(cli_env, "demo", "--no-serve", "--replace-graph")
    assert result.exit_code == 0, result.output
    assert "all 11 steps as expected" in result.output
