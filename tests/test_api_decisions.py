"""The decision log over REST and the CLI: records, filters, trace, load."""

from __future__ import annotations

import json
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from api_helpers import ADMIN, CHECK, SECRET, load
from delegraph.api.app import create_app
from delegraph.api.cli import app as cli_app
from delegraph.api.settings import Settings
from delegraph.cypher.store import Store
from delegraph.engine.audit import DecisionLog, JsonlSink, Neo4jSink
from delegraph.engine.errors import InvalidRequest
from delegraph.engine.service import Engine
from fastapi.testclient import TestClient
from typer.testing import CliRunner

# In api_helpers.GRAPH, alice's group has read on folder:finance; d1 takes
# read on documents from alice to agent:bot, d2 from agent:bot to agent:sub.
SUB_READS_Q3 = {
    "subject": "agent:sub",
    "action": "read",
    "resource": "document:q3",
    "on_behalf_of": "user:alice",
    "context": {"ticket": "T-1"},
}
BOT_WRITES_Q3 = {"subject": "agent:bot", "action": "write", "resource": "document:q3"}
BOT_READS_OTHER = {
    "subject": "agent:bot",
    "action": "read",
    "resource": "document:other",
}


@dataclass
class LoggedApi:
    client: TestClient
    log: DecisionLog
    store: Store
    # The DELEGRAPH_DECISION_LOG value of the sink: "neo4j" or "file:PATH".
    spec: str
    decision_file: Path | None


@pytest.fixture(params=("neo4j", "file"))
def logged(
    request: pytest.FixtureRequest,
    api_settings: Settings,
    clean_store: Store,
    tmp_path: Path,
) -> Iterator[LoggedApi]:
    """The API over an Engine that logs to, and reads from, each sink in turn."""
    path = None
    if request.param == "neo4j":
        log = DecisionLog(Neo4jSink(clean_store))
        spec = "neo4j"
    else:
        path = tmp_path / "decisions.jsonl"
        log = DecisionLog(JsonlSink(path))
        spec = f"file:{path}"
    engine = Engine(clean_store, on_decision=log.record, decision_file=path)
    app = create_app(api_settings, engine)
    try:
        with TestClient(app) as client:
            load(client)
            yield LoggedApi(client, log, clean_store, spec, path)
    finally:
        log.close()


def check(client: TestClient, body: dict[str, Any], request_id: str) -> bool:
    response = client.post(
        "/v1/check", json=body, headers={**CHECK, "X-Request-ID": request_id}
    )
    assert response.status_code == 200, response.text
    return bool(response.json()["allowed"])


def decide_three(logged: LoggedApi) -> None:
    assert check(logged.client, SUB_READS_Q3, "req-sub-q3")
    assert not check(logged.client, BOT_WRITES_Q3, "req-bot-write")
    assert not check(logged.client, BOT_READS_OTHER, "req-bot-other")
    assert logged.log.flush(timeout=30)


def list_decisions(client: TestClient, **params: Any) -> list[dict[str, Any]]:
    response = client.get("/v1/decisions", params=params, headers=ADMIN)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def test_decisions_record_chain_and_request(logged: LoggedApi) -> None:
    decide_three(logged)
    items = list_decisions(logged.client, subject="agent:sub")
    assert len(items) == 1, items
    record = items[0]
    assert record["outcome"] == "allow"
    assert record["request_id"] == "req-sub-q3"
    assert record["on_behalf_of"] == "user:alice"
    assert record["chain"]["principals"] == ["user:alice", "agent:bot", "agent:sub"]
    assert record["chain"]["delegations"] == ["d1", "d2"]
    assert record["chain"]["grant"] == {
        "principal": "group:finance",
        "resource": "folder:finance",
    }
    assert record["context_keys"] == ["ticket"]
    assert "T-1" not in json.dumps(record)


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, {"req-sub-q3", "req-bot-write", "req-bot-other"}),
        ({"outcome": "deny"}, {"req-bot-write", "req-bot-other"}),
        ({"outcome": "allow"}, {"req-sub-q3"}),
        ({"subject": "agent:bot"}, {"req-bot-write", "req-bot-other"}),
        ({"resource": "document:q3"}, {"req-sub-q3", "req-bot-write"}),
        ({"on_behalf_of": "user:alice"}, {"req-sub-q3"}),
        ({"delegation": "d2"}, {"req-sub-q3"}),
        ({"delegation": "d9"}, set()),
        ({"since": "2000-01-01T00:00:00Z", "until": "2000-01-02T00:00:00Z"}, set()),
        (
            {"since": "2000-01-01T00:00:00+00:00"},
            {"req-sub-q3", "req-bot-write", "req-bot-other"},
        ),
    ],
)
def test_decisions_filters(
    logged: LoggedApi, params: dict[str, str], expected: set[str]
) -> None:
    decide_three(logged)
    items = list_decisions(logged.client, **params)
    assert {item["request_id"] for item in items} == expected, items


def test_decisions_pages(logged: LoggedApi) -> None:
    decide_three(logged)
    seen: list[str] = []
    token = None
    for _ in range(4):
        params: dict[str, Any] = {"limit": 1}
        if token is not None:
            params["page_token"] = token
        response = logged.client.get("/v1/decisions", params=params, headers=ADMIN)
        assert response.status_code == 200, response.text
        page = response.json()
        seen.extend(item["decision_id"] for item in page["items"])
        token = page["next_page_token"]
        if token is None:
            break
    assert len(seen) == 3, seen
    assert len(set(seen)) == 3, seen


@pytest.mark.parametrize(
    ("params", "field", "text"),
    [
        ({"since": "2030-01-01T00:00:00"}, "since", "has no timezone"),
        ({"until": "2030-01-01T00:00:00"}, "until", "has no timezone"),
        ({"since": "2030-01-01T00:00:00 02:00"}, "since", "%2B"),
        ({"since": "yesterday"}, "since", "not an ISO 8601 datetime"),
        (
            {"since": "2030-01-02T00:00:00Z", "until": "2030-01-01T00:00:00Z"},
            "since",
            "is not before until",
        ),
        ({"outcome": "maybe"}, "outcome", "is not one of allow, deny"),
        ({"subject": "nobody"}, "subject", "nobody"),
        ({"resource": ""}, "resource", ""),
        ({"limit": 0}, "limit", "DELEGRAPH_MAX_PAGE_SIZE"),
        ({"page_token": "garbage"}, "page_token", "page_token"),
    ],
)
def test_decisions_bad_input(
    api: TestClient, params: dict[str, Any], field: str, text: str
) -> None:
    response = api.get("/v1/decisions", params=params, headers=ADMIN)
    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["field"] == field, response.text
    assert text in problem["detail"], response.text
    assert response.headers["content-type"] == "application/problem+json"


def test_decisions_admin_only(api: TestClient) -> None:
    anonymous = api.get("/v1/decisions")
    assert anonymous.status_code == 401, anonymous.text
    checker = api.get("/v1/decisions", headers=CHECK)
    assert checker.status_code == 403, checker.text
    assert "'admin' role" in checker.json()["detail"], checker.text
    trace = api.get("/v1/agents/agent:sub/trace", headers=CHECK)
    assert trace.status_code == 403, trace.text


def test_trace_shows_chain_cut_by_revoke(logged: LoggedApi) -> None:
    decide_three(logged)
    revoked = logged.client.post(
        "/v1/delegations/d2/revoke", json={"reason": "incident 7"}, headers=ADMIN
    )
    assert revoked.status_code == 200, revoked.text

    response = logged.client.get("/v1/agents/agent:sub/trace", headers=ADMIN)
    assert response.status_code == 200, response.text
    trace = response.json()
    assert trace["agent"] == "agent:sub"
    assert trace["authorities"] == {"user:alice": 1}, trace
    assert len(trace["decisions"]) == 1, trace
    entry = trace["decisions"][0]
    assert entry["status"] == "denied_now", entry
    assert entry["chain"]["delegations"] == ["d1", "d2"], entry
    assert entry["now"]["allowed"] is False
    assert trace["denied_now"] == [entry["decision_id"]]

    # The re-checks of a trace are not decisions, so the log does not grow.
    assert logged.log.flush(timeout=30)
    assert len(list_decisions(logged.client)) == 3


def test_trace_window_and_errors(logged: LoggedApi) -> None:
    decide_three(logged)
    empty = logged.client.get(
        "/v1/agents/agent:bot/trace",
        params={"since": "2000-01-01T00:00:00Z", "until": "2000-01-02T00:00:00Z"},
        headers=ADMIN,
    )
    assert empty.status_code == 200, empty.text
    assert empty.json()["decisions"] == [], empty.text
    both = logged.client.get("/v1/agents/agent:bot/trace", headers=ADMIN)
    assert [e["status"] for e in both.json()["decisions"]] == [
        "still_denied",
        "still_denied",
    ], both.text

    naive = logged.client.get(
        "/v1/agents/agent:bot/trace",
        params={"until": "2030-01-01T00:00:00"},
        headers=ADMIN,
    )
    assert naive.status_code == 422, naive.text
    assert naive.json()["field"] == "until", naive.text
    group = logged.client.get("/v1/agents/group:finance/trace", headers=ADMIN)
    assert group.status_code == 422, group.text
    assert group.json()["field"] == "ref", group.text
    too_many = logged.client.get(
        "/v1/agents/agent:bot/trace", params={"limit": 1001}, headers=ADMIN
    )
    assert too_many.status_code == 422, too_many.text
    assert too_many.json()["field"] == "limit", too_many.text


def test_one_record_per_decision_under_load(logged: LoggedApi) -> None:
    """Concurrent single checks, batches and AuthZEN evaluations: every
    decision is logged once, with the request id of its HTTP request."""
    client = logged.client

    def single(request_id: str) -> int:
        check(client, SUB_READS_Q3, request_id)
        return 1

    def batch(request_id: str) -> int:
        body = {"checks": [SUB_READS_Q3, BOT_WRITES_Q3, BOT_READS_OTHER]}
        response = client.post(
            "/v1/check/batch", json=body, headers={**CHECK, "X-Request-ID": request_id}
        )
        assert response.status_code == 200, response.text
        return len(response.json()["decisions"])

    def authzen(request_id: str) -> int:
        body = {
            "subject": {"type": "agent", "id": "bot"},
            "action": {"name": "read"},
            "resource": {"type": "document", "id": "q3"},
        }
        response = client.post(
            "/access/v1/evaluation",
            json=body,
            headers={**CHECK, "X-Request-ID": request_id},
        )
        assert response.status_code == 200, response.text
        return 1

    senders = [single, batch, authzen]
    jobs = [(senders[i % 3], f"load-{i}-{uuid.uuid4()}") for i in range(90)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        counts = list(pool.map(lambda job: job[0](job[1]), jobs))
    expected = dict(zip((rid for _, rid in jobs), counts, strict=True))
    total = sum(counts)
    assert total == 150

    assert logged.log.flush(timeout=60)
    stats = logged.log.stats.as_dict()
    assert stats["received"] == total, stats
    assert stats["written"] == total, stats
    assert stats["dropped"] == 0, stats
    assert stats["failed"] == 0, stats

    assert stored_request_ids(logged) == expected

    listed = Counter[str]()
    token = None
    while True:
        params: dict[str, Any] = {"limit": 1000}
        if token is not None:
            params["page_token"] = token
        page = logged.client.get("/v1/decisions", params=params, headers=ADMIN).json()
        listed.update(item["request_id"] for item in page["items"])
        token = page["next_page_token"]
        if token is None:
            break
    assert dict(listed) == expected


def stored_request_ids(logged: LoggedApi) -> dict[str, int]:
    """Count the stored records per request id, straight from the sink."""
    if logged.decision_file is not None:
        lines = logged.decision_file.read_text(encoding="utf-8").splitlines()
        return dict(Counter(json.loads(line)["request_id"] for line in lines))
    with logged.store.driver.session(database=logged.store.database) as session:
        rows = session.run(
            "MATCH (d:Decision) RETURN d.request_id AS rid, count(*) AS n"
        ).data()
    return {row["rid"]: row["n"] for row in rows}


def test_app_lifespan_logs_to_file(
    neo4j_connection: tuple[str, str, str], clean_store: Store, tmp_path: Path
) -> None:
    """An app that builds its own Engine logs each decision and flushes the
    log when it shuts down."""
    uri, user, password = neo4j_connection
    path = tmp_path / "decisions.jsonl"
    settings = Settings(
        NEO4J_URI=uri,
        NEO4J_USER=user,
        NEO4J_PASSWORD=password,
        DELEGRAPH_JWT_SECRET=SECRET,
        DELEGRAPH_DECISION_LOG=f"file:{path}",
    )
    with TestClient(create_app(settings)) as client:
        load(client)
        for index in range(5):
            check(client, SUB_READS_Q3, f"life-{index}")
        assert client.app.state.decision_log is not None  # type: ignore[attr-defined]

    lines = path.read_text().splitlines()
    records = [json.loads(line) for line in lines]
    assert [r["request_id"] for r in records] == [f"life-{i}" for i in range(5)]
    assert all(r["outcome"] == "allow" for r in records), records


def test_app_rejects_bad_decision_log_setting(clean_store: Store) -> None:
    settings = Settings(DELEGRAPH_JWT_SECRET=SECRET, DELEGRAPH_DECISION_LOG="syslog")
    app = create_app(settings)
    with (
        pytest.raises(InvalidRequest, match="DELEGRAPH_DECISION_LOG 'syslog'"),
        TestClient(app),
    ):
        pass


# The CLI command.


@pytest.fixture
def cli_env(
    monkeypatch: pytest.MonkeyPatch,
    neo4j_connection: tuple[str, str, str],
    logged: LoggedApi,
) -> None:
    """Point the CLI at the test Neo4j and at the decision log of ``logged``."""
    uri, user, password = neo4j_connection
    monkeypatch.setenv("NEO4J_URI", uri)
    monkeypatch.setenv("NEO4J_USER", user)
    monkeypatch.setenv("NEO4J_PASSWORD", password)
    monkeypatch.setenv("DELEGRAPH_DECISION_LOG", logged.spec)
    monkeypatch.setenv("COLUMNS", "200")


def test_cli_decisions_shows_chain_and_denied_now(
    logged: LoggedApi, cli_env: None
) -> None:
    decide_three(logged)
    revoked = logged.client.post("/v1/delegations/d2/revoke", headers=ADMIN)
    assert revoked.status_code == 200, revoked.text
    runner = CliRunner()

    result = runner.invoke(cli_app, ["decisions", "agent:sub", "--since", "1h"])
    assert result.exit_code == 0, result.output
    assert "user:alice -[d1]-> agent:bot -[d2]-> agent:sub" in result.output
    assert "grant: held by group:finance on folder:finance" in result.output
    assert "DENIED NOW" in result.output
    assert "1 allowed decision(s) would be denied now" in result.output
    assert "user:alice: 1" in result.output

    as_json = runner.invoke(cli_app, ["decisions", "agent:sub", "--json"])
    assert as_json.exit_code == 0, as_json.output
    trace = json.loads(as_json.output)
    assert [e["status"] for e in trace["decisions"]] == ["denied_now"]
    assert trace["decisions"][0]["chain"]["delegations"] == ["d1", "d2"]


def test_cli_decisions_window_and_errors(logged: LoggedApi, cli_env: None) -> None:
    decide_three(logged)
    runner = CliRunner()
    old = runner.invoke(
        cli_app,
        ["decisions", "agent:bot", "--until", "2000-01-01T00:00:00Z"],
    )
    assert old.exit_code == 0, old.output
    assert "No logged decisions for agent:bot" in old.output

    naive = runner.invoke(
        cli_app, ["decisions", "agent:bot", "--since", "2030-01-01T00:00:00"]
    )
    assert naive.exit_code == 2, naive.output
    assert "--since" in naive.output
    assert "has no timezone" in naive.output

    bad_ref = runner.invoke(cli_app, ["decisions", "document:q3"])
    assert bad_ref.exit_code == 2, bad_ref.output
    assert "AGENT" in bad_ref.output


def test_cli_trace_adds_decisions(logged: LoggedApi, cli_env: None) -> None:
    decide_three(logged)
    revoked = logged.client.post("/v1/delegations/d2/revoke", headers=ADMIN)
    assert revoked.status_code == 200, revoked.text
    runner = CliRunner()

    plain = runner.invoke(cli_app, ["trace", "agent:sub"])
    assert plain.exit_code == 0, plain.output
    assert "DENIED NOW" not in plain.output

    result = runner.invoke(cli_app, ["trace", "agent:sub", "--since", "1h"])
    assert result.exit_code == 0, result.output
    assert "user:alice -[d1]-> agent:bot -[d2]-> agent:sub" in result.output
    assert "DENIED NOW" in result.output

    as_json = runner.invoke(cli_app, ["trace", "agent:sub", "--since", "1h", "--json"])
    assert as_json.exit_code == 0, as_json.output
    body = json.loads(as_json.output)
    assert body["chains"] == []
    assert [e["status"] for e in body["decisions"]["decisions"]] == ["denied_now"]

    naive = runner.invoke(
        cli_app, ["trace", "agent:sub", "--until", "2030-01-01T00:00:00"]
    )
    assert naive.exit_code == 2, naive.output
    assert "--until" in naive.output
