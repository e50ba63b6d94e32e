"""Hostile input over REST: every malformed or odd value gets a 4xx or a deny.

Each test names the field and value that once produced a 500 or a wrong
status, so a regression points at the input that breaks.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from api_helpers import ADMIN, CHECK, GRAPH
from fastapi.testclient import TestClient


def load_with(client: TestClient, **extra: list[dict[str, Any]]) -> None:
    """Import GRAPH with extra entries appended to its lists."""
    graph = copy.deepcopy(GRAPH)
    for key, items in extra.items():
        graph.setdefault(key, []).extend(items)
    response = client.post("/v1/graph/import", json=graph, headers=ADMIN)
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    ("condition", "context"),
    [
        ("context.n / context.d > 1", {"n": 1, "d": 0}),
        ("context.items[3] == 1", {"items": [1]}),
        ("context.n + 9223372036854775807 > 0", {"n": 1}),
    ],
)
def test_condition_runtime_error_denies(
    api: TestClient, condition: str, context: dict[str, Any]
) -> None:
    load_with(
        api,
        grants=[
            {"principal": "user:bob", "resource": "document:other", "actions": ["read"]}
        ],
        delegations=[
            {
                "id": "d-bob",
                "from": "user:bob",
                "to": "agent:sub",
                "actions": ["read"],
                "condition": condition,
            }
        ],
    )
    body = {
        "subject": "agent:sub",
        "action": "read",
        "resource": "document:other",
        "context": context,
    }
    response = api.post("/v1/check", json=body, headers=CHECK)
    assert response.status_code == 200, response.text
    assert response.json()["allowed"] is False, response.text
    assert condition in response.json()["reason"], response.text


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("expires_at", "9999-12-31T23:59:59-14:00"),
        ("not_before", "0001-01-01T00:00:00+14:00"),
    ],
)
def test_delegation_datetime_out_of_range(
    api: TestClient, field: str, value: str
) -> None:
    load_with(api)
    body = {
        "id": "d-range",
        "from": "user:alice",
        "to": "agent:sub",
        "actions": ["read"],
        field: value,
    }
    response = api.post("/v1/delegations", json=body, headers=ADMIN)
    assert response.status_code == 422, response.text
    assert response.json()["field"].endswith(field), response.text
    assert response.json()["value"] == value, response.text


WILDCARD_EVALUATION = {
    "subject": {"type": "agent", "id": "*"},
    "action": {"name": "read"},
    "resource": {"type": "document", "id": "q3"},
}
BOT_EVALUATION = {**WILDCARD_EVALUATION, "subject": {"type": "agent", "id": "bot"}}


def test_evaluation_wildcard_subject_is_400(api: TestClient) -> None:
    load_with(api)
    response = api.post(
        "/access/v1/evaluation", json=WILDCARD_EVALUATION, headers=CHECK
    )
    assert response.status_code == 400, response.text
    assert response.json()["field"] == "subject", response.text
    assert response.json()["value"] == "agent:*", response.text


def test_evaluation_wildcard_context_agent_is_400(api: TestClient) -> None:
    load_with(api)
    body = {
        **WILDCARD_EVALUATION,
        "subject": {"type": "user", "id": "alice"},
        "context": {"agent": "agent:*"},
    }
    response = api.post("/access/v1/evaluation", json=body, headers=CHECK)
    assert response.status_code == 400, response.text
    assert response.json()["field"] == "context.agent", response.text


def test_evaluations_wildcard_item_errors_alone(api: TestClient) -> None:
    load_with(api)
    body = {"evaluations": [WILDCARD_EVALUATION, BOT_EVALUATION]}
    response = api.post("/access/v1/evaluations", json=body, headers=CHECK)
    assert response.status_code == 200, response.text
    first, second = response.json()["evaluations"]
    assert first["decision"] is False, response.text
    assert first["context"]["error"]["status"] == 400, response.text
    assert "agent:*" in first["context"]["error"]["message"], response.text
    assert second == {"decision": True}, response.text


def test_check_batch_wildcard_names_item(api: TestClient) -> None:
    load_with(api)
    bot = {"subject": "agent:bot", "action": "read", "resource": "document:q3"}
    body = {"checks": [bot, {**bot, "subject": "agent:*"}]}
    response = api.post("/v1/check/batch", json=body, headers=CHECK)
    assert response.status_code == 422, response.text
    assert response.json()["field"] == "checks[1].subject", response.text
    assert response.json()["value"] == "agent:*", response.text


def load_subject_condition(client: TestClient) -> None:
    """Let agent:sub read document:other only when its team property is ops."""
    load_with(
        client,
        grants=[
            {"principal": "user:bob", "resource": "document:other", "actions": ["read"]}
        ],
        delegations=[
            {
                "id": "d-team",
                "from": "user:bob",
                "to": "agent:sub",
                "actions": ["read"],
                "condition": 'subject.properties.team == "ops"',
            }
        ],
    )


OPS_AGENT = {"type": "agent", "id": "sub", "properties": {"team": "ops"}}


def test_search_resource_reads_subject_properties(api: TestClient) -> None:
    load_subject_condition(api)
    evaluation = {
        "subject": OPS_AGENT,
        "action": {"name": "read"},
        "resource": {"type": "document", "id": "other"},
    }
    allowed = api.post("/access/v1/evaluation", json=evaluation, headers=CHECK)
    assert allowed.json() == {"decision": True}, allowed.text

    search = {**evaluation, "resource": {"type": "document"}}
    response = api.post("/access/v1/search/resource", json=search, headers=CHECK)
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert {"type": "document", "id": "other"} in results, response.text


def test_search_action_reads_subject_properties(api: TestClient) -> None:
    load_subject_condition(api)
    search = {"subject": OPS_AGENT, "resource": {"type": "document", "id": "other"}}
    response = api.post("/access/v1/search/action", json=search, headers=CHECK)
    assert response.status_code == 200, response.text
    assert response.json()["results"] == [{"name": "read"}], response.text
