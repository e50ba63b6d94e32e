"""AuthZEN 1.0 endpoints: evaluation, evaluations, search, metadata."""

from __future__ import annotations

from typing import Any

from api_helpers import ADMIN, CHECK, GRAPH, auth, load
from fastapi.testclient import TestClient


def evaluation(
    subject: str, action: str, resource: str, **extra: Any
) -> dict[str, Any]:
    subject_type, subject_id = subject.split(":", 1)
    resource_type, resource_id = resource.split(":", 1)
    return {
        "subject": {"type": subject_type, "id": subject_id},
        "action": {"name": action},
        "resource": {"type": resource_type, "id": resource_id},
        **extra,
    }


def test_evaluation_allow(api: TestClient) -> None:
    load(api)
    body = evaluation("agent:sub", "read", "document:q3")
    response = api.post("/access/v1/evaluation", json=body, headers=CHECK)
    assert response.status_code == 200, response.text
    assert response.json() == {"decision": True}, response.text


def test_evaluation_deny_is_200(api: TestClient) -> None:
    load(api)
    body = evaluation("agent:sub", "write", "document:q3")
    response = api.post("/access/v1/evaluation", json=body, headers=CHECK)
    assert response.status_code == 200, response.text
    assert response.json() == {"decision": False}, response.text


def test_evaluation_unknown_entities_deny(api: TestClient) -> None:
    load(api)
    for body in (
        evaluation("agent:nobody", "read", "document:q3"),
        evaluation("Robot:x", "read", "document:q3"),
        evaluation("agent:sub", "read", "user:alice"),
    ):
        response = api.post("/access/v1/evaluation", json=body, headers=CHECK)
        assert response.status_code == 200, response.text
        assert response.json() == {"decision": False}, response.text


def test_evaluation_reasons_on_request(api: TestClient) -> None:
    load(api)
    body = evaluation(
        "agent:sub", "read", "document:q3", options={"include_reasons": True}
    )
    response = api.post("/access/v1/evaluation", json=body, headers=CHECK)
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["decision"] is True, response.text
    assert result["context"]["chain"]["delegations"] == ["d1", "d2"], response.text
    assert result["context"]["decision_id"]


def test_evaluation_missing_fields_400(api: TestClient) -> None:
    complete = evaluation("agent:sub", "read", "document:q3")
    cases = {
        "subject": {k: v for k, v in complete.items() if k != "subject"},
        "subject.id": {**complete, "subject": {"type": "agent"}},
        "resource.type": {**complete, "resource": {"id": "q3"}},
        "action.name": {**complete, "action": {}},
    }
    for field, body in cases.items():
        response = api.post("/access/v1/evaluation", json=body, headers=CHECK)
        assert response.status_code == 400, f"{field}: {response.text}"
        assert response.json()["field"] == field, response.text
        assert response.json()["detail"] == f"{field} is missing", response.text


def test_evaluation_ignores_unknown_fields(api: TestClient) -> None:
    load(api)
    body = evaluation("agent:sub", "read", "document:q3", extension={"x": 1})
    body["subject"]["email"] = "sub@example.com"
    response = api.post("/access/v1/evaluation", json=body, headers=CHECK)
    assert response.status_code == 200, response.text
    assert response.json() == {"decision": True}, response.text


def test_evaluation_echoes_request_id(api: TestClient) -> None:
    body = evaluation("agent:sub", "read", "document:q3")
    headers = {**CHECK, "X-Request-ID": "req-42"}
    response = api.post("/access/v1/evaluation", json=body, headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["x-request-id"] == "req-42"


def test_evaluation_context_agent(api: TestClient) -> None:
    load(api)
    for agent in ("agent:bot", {"type": "agent", "id": "bot"}):
        as_alice = evaluation(
            "user:alice", "read", "document:q3", context={"agent": agent}
        )
        as_bob = evaluation("user:bob", "read", "document:q3", context={"agent": agent})
        allowed = api.post("/access/v1/evaluation", json=as_alice, headers=CHECK)
        denied = api.post("/access/v1/evaluation", json=as_bob, headers=CHECK)
        assert allowed.json() == {"decision": True}, allowed.text
        assert denied.json() == {"decision": False}, denied.text


def test_evaluation_bad_context_agent_400(api: TestClient) -> None:
    body = evaluation("user:alice", "read", "document:q3", context={"agent": "bot"})
    response = api.post("/access/v1/evaluation", json=body, headers=CHECK)
    assert response.status_code == 400, response.text
    assert response.json()["field"] == "context.agent", response.text


def test_evaluation_needs_auth(api: TestClient) -> None:
    body = evaluation("agent:sub", "read", "document:q3")
    response = api.post("/access/v1/evaluation", json=body)
    assert response.status_code == 401, response.text
    forbidden = api.post(
        "/access/v1/evaluation", json=body, headers=auth(subject="agent:sub")
    )
    assert forbidden.status_code == 403, forbidden.text


def batch(*items: dict[str, Any], **top: Any) -> dict[str, Any]:
    return {**top, "evaluations": list(items)}


def test_evaluations_defaults_replaced(api: TestClient) -> None:
    load(api)
    body = batch(
        {},
        {"action": {"name": "write"}},
        {"subject": {"type": "agent", "id": "bot"}},
        # A subject on an item replaces the default whole: no id is merged in.
        {"subject": {"type": "agent"}},
        **evaluation("agent:sub", "read", "document:q3"),
    )
    response = api.post("/access/v1/evaluations", json=body, headers=CHECK)
    assert response.status_code == 200, response.text
    results = response.json()["evaluations"]
    assert [r["decision"] for r in results] == [True, False, True, False], response.text
    assert "context" not in results[0], response.text
    assert results[3]["context"]["error"]["status"] == 400, response.text
    assert (
        "evaluations[3].subject.id is missing"
        in results[3]["context"]["error"]["message"]
    )


def test_evaluations_semantics(api: TestClient) -> None:
    load(api)
    allow = evaluation("agent:sub", "read", "document:q3")
    deny = evaluation("agent:sub", "write", "document:q3")
    expected = {
        "execute_all": [True, False, True, False],
        "deny_on_first_deny": [True, False],
        "permit_on_first_permit": [True],
    }
    for semantic, decisions in expected.items():
        body = batch(
            allow, deny, allow, deny, options={"evaluations_semantic": semantic}
        )
        response = api.post("/access/v1/evaluations", json=body, headers=CHECK)
        assert response.status_code == 200, f"{semantic}: {response.text}"
        got = [r["decision"] for r in response.json()["evaluations"]]
        assert got == decisions, f"{semantic}: {response.text}"
    body = batch(
        deny, deny, allow, options={"evaluations_semantic": "permit_on_first_permit"}
    )
    response = api.post("/access/v1/evaluations", json=body, headers=CHECK)
    got = [r["decision"] for r in response.json()["evaluations"]]
    assert got == [False, False, True], response.text


def test_evaluations_bad_semantic_400(api: TestClient) -> None:
    body = batch({}, options={"evaluations_semantic": "majority"})
    response = api.post("/access/v1/evaluations", json=body, headers=CHECK)
    assert response.status_code == 400, response.text
    assert response.json()["field"] == "options.evaluations_semantic", response.text


def test_evaluations_without_items_is_single(api: TestClient) -> None:
    load(api)
    body = evaluation("agent:sub", "read", "document:q3")
    response = api.post("/access/v1/evaluations", json=body, headers=CHECK)
    assert response.status_code == 200, response.text
    assert response.json() == {"decision": True}, response.text
    missing = api.post("/access/v1/evaluations", json={}, headers=CHECK)
    assert missing.status_code == 400, missing.text
    assert "subject is missing" in missing.json()["detail"]


def test_evaluations_over_limit_422(api: TestClient) -> None:
    body = batch(*[{}] * 101, **evaluation("agent:sub", "read", "document:q3"))
    response = api.post("/access/v1/evaluations", json=body, headers=CHECK)
    assert response.status_code == 422, response.text
    assert "DELEGRAPH_MAX_BATCH" in response.json()["detail"]


def test_search_subject(api: TestClient) -> None:
    load(api)
    body = {
        "subject": {"type": "agent"},
        "action": {"name": "read"},
        "resource": {"type": "document", "id": "q3"},
    }
    response = api.post("/access/v1/search/subject", json=body, headers=CHECK)
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert sorted(r["id"] for r in results) == ["bot", "sub"], response.text
    assert response.json()["page"] == {"next_token": ""}, response.text


def test_search_subject_pages(api: TestClient) -> None:
    load(api)
    body: dict[str, Any] = {
        "subject": {"type": "agent"},
        "action": {"name": "read"},
        "resource": {"type": "document", "id": "q3"},
        "page": {"limit": 1},
    }
    seen: list[str] = []
    for _ in range(5):
        response = api.post("/access/v1/search/subject", json=body, headers=CHECK)
        assert response.status_code == 200, response.text
        seen.extend(r["id"] for r in response.json()["results"])
        token = response.json()["page"]["next_token"]
        if token == "":
            break
        body["page"] = {"limit": 1, "token": token}
    assert sorted(seen) == ["bot", "sub"], seen


def test_search_unknown_is_empty(api: TestClient) -> None:
    load(api)
    bodies = {
        "/access/v1/search/subject": {
            "subject": {"type": "agent"},
            "action": {"name": "read"},
            "resource": {"type": "document", "id": "missing"},
        },
        "/access/v1/search/resource": {
            "subject": {"type": "agent", "id": "nobody"},
            "action": {"name": "read"},
            "resource": {"type": "document"},
        },
        "/access/v1/search/action": {
            "subject": {"type": "robot", "id": "x"},
            "resource": {"type": "document", "id": "q3"},
        },
    }
    for path, body in bodies.items():
        response = api.post(path, json=body, headers=CHECK)
        assert response.status_code == 200, f"{path}: {response.text}"
        assert response.json()["results"] == [], f"{path}: {response.text}"
        assert response.json()["page"]["next_token"] == "", response.text


def test_search_resource(api: TestClient) -> None:
    load(api)
    body = {
        "subject": {"type": "agent", "id": "bot"},
        "action": {"name": "read"},
        "resource": {"type": "document"},
    }
    response = api.post("/access/v1/search/resource", json=body, headers=CHECK)
    assert response.status_code == 200, response.text
    assert response.json()["results"] == [{"type": "document", "id": "q3"}], (
        response.text
    )


def test_search_action(api: TestClient) -> None:
    load(api)
    body = {
        "subject": {"type": "user", "id": "alice"},
        "resource": {"type": "document", "id": "q3"},
    }
    response = api.post("/access/v1/search/action", json=body, headers=CHECK)
    assert response.status_code == 200, response.text
    names = sorted(r["name"] for r in response.json()["results"])
    assert names == ["read", "write"], response.text


MANY_ACTIONS = ["approve", "comment", "delete", "read", "share", "write"]


def load_many_actions(api: TestClient) -> None:
    """Import GRAPH plus a grant of six actions to bob on document:other."""
    graph = {
        **GRAPH,
        "grants": [
            *GRAPH["grants"],
            {
                "principal": "user:bob",
                "resource": "document:other",
                "actions": MANY_ACTIONS,
            },
        ],
    }
    response = api.post("/v1/graph/import", json=graph, headers=ADMIN)
    assert response.status_code == 200, response.text


def test_search_action_pages_by_one(api: TestClient) -> None:
    load_many_actions(api)
    body: dict[str, Any] = {
        "subject": {"type": "user", "id": "bob"},
        "resource": {"type": "document", "id": "other"},
        "page": {"limit": 1},
    }
    seen: list[str] = []
    for _ in range(len(MANY_ACTIONS) + 2):
        response = api.post("/access/v1/search/action", json=body, headers=CHECK)
        assert response.status_code == 200, response.text
        results = response.json()["results"]
        assert len(results) <= 1, response.text
        seen.extend(r["name"] for r in results)
        token = response.json()["page"]["next_token"]
        if token == "":
            break
        body["page"] = {"limit": 1, "token": token}
    assert seen == MANY_ACTIONS, seen


def test_search_action_page_of_four(api: TestClient) -> None:
    load_many_actions(api)
    body: dict[str, Any] = {
        "subject": {"type": "user", "id": "bob"},
        "resource": {"type": "document", "id": "other"},
        "page": {"limit": 4},
    }
    first = api.post("/access/v1/search/action", json=body, headers=CHECK)
    assert first.status_code == 200, first.text
    assert [r["name"] for r in first.json()["results"]] == MANY_ACTIONS[:4]
    token = first.json()["page"]["next_token"]
    assert token != "", first.text
    body["page"] = {"limit": 4, "token": token}
    second = api.post("/access/v1/search/action", json=body, headers=CHECK)
    assert second.status_code == 200, second.text
    assert [r["name"] for r in second.json()["results"]] == MANY_ACTIONS[4:]
    assert second.json()["page"] == {"next_token": ""}, second.text


def test_search_action_bad_limit(api: TestClient) -> None:
    load_many_actions(api)
    body: dict[str, Any] = {
        "subject": {"type": "user", "id": "bob"},
        "resource": {"type": "document", "id": "other"},
    }
    # A limit that is not an integer is malformed: 400 like any bad field.
    malformed = {**body, "page": {"limit": "many"}}
    response = api.post("/access/v1/search/action", json=malformed, headers=CHECK)
    assert response.status_code == 400, response.text
    assert response.json()["field"] == "page.limit", response.text
    # An integer out of range is 422, as on the subject search.
    subjects = {
        "subject": {"type": "user"},
        "action": {"name": "read"},
        "resource": {"type": "document", "id": "other"},
    }
    for limit in (0, -1, 1001):
        for path, search in (("action", body), ("subject", subjects)):
            paged = {**search, "page": {"limit": limit}}
            response = api.post(f"/access/v1/search/{path}", json=paged, headers=CHECK)
            assert response.status_code == 422, f"{path} {limit}: {response.text}"
            assert response.json()["field"] == "page.limit", response.text


def test_search_action_bad_token(api: TestClient) -> None:
    load_many_actions(api)
    body: dict[str, Any] = {
        "subject": {"type": "user", "id": "bob"},
        "resource": {"type": "document", "id": "other"},
        "page": {"limit": 1},
    }
    first = api.post("/access/v1/search/action", json=body, headers=CHECK)
    assert first.status_code == 200, first.text
    action_token = first.json()["page"]["next_token"]
    subjects = {
        "subject": {"type": "agent"},
        "action": {"name": "read"},
        "resource": {"type": "document", "id": "q3"},
        "page": {"limit": 1},
    }
    subject_page = api.post("/access/v1/search/subject", json=subjects, headers=CHECK)
    assert subject_page.status_code == 200, subject_page.text
    subject_token = subject_page.json()["page"]["next_token"]
    assert subject_token != "", subject_page.text

    other_resource = {**body, "resource": {"type": "document", "id": "q3"}}
    cases = {
        "garbage": {**body, "page": {"token": "garbage"}},
        "subject search": {**body, "page": {"token": subject_token}},
        "other resource": {**other_resource, "page": {"token": action_token}},
    }
    for case, request_body in cases.items():
        response = api.post(
            "/access/v1/search/action", json=request_body, headers=CHECK
        )
        assert response.status_code == 400, f"{case}: {response.text}"
        assert response.json()["field"] == "page.token", f"{case}: {response.text}"


def test_search_with_context_agent(api: TestClient) -> None:
    load(api)
    acting = {"agent": "agent:bot"}
    resources = {
        "subject": {"type": "user", "id": "alice"},
        "action": {"name": "read"},
        "resource": {"type": "document"},
        "context": acting,
    }
    response = api.post("/access/v1/search/resource", json=resources, headers=CHECK)
    assert response.status_code == 200, response.text
    assert response.json()["results"] == [{"type": "document", "id": "q3"}]

    # bot acts for alice only, so nothing on behalf of bob.
    for_bob = {**resources, "subject": {"type": "user", "id": "bob"}}
    response = api.post("/access/v1/search/resource", json=for_bob, headers=CHECK)
    assert response.json()["results"] == [], response.text

    actions = {
        "subject": {"type": "user", "id": "alice"},
        "resource": {"type": "document", "id": "q3"},
        "context": acting,
    }
    response = api.post("/access/v1/search/action", json=actions, headers=CHECK)
    assert response.json()["results"] == [{"name": "read"}], response.text

    subjects = {
        "subject": {"type": "user"},
        "action": {"name": "read"},
        "resource": {"type": "document", "id": "q3"},
        "context": acting,
    }
    response = api.post("/access/v1/search/subject", json=subjects, headers=CHECK)
    assert response.json()["results"] == [{"type": "user", "id": "alice"}]

    bad = {**actions, "context": {"agent": "document:x"}}
    response = api.post("/access/v1/search/action", json=bad, headers=CHECK)
    assert response.status_code == 400, response.text
    assert response.json()["field"] == "context.agent", response.text


def test_search_missing_type_400(api: TestClient) -> None:
    body = {
        "subject": {},
        "action": {"name": "read"},
        "resource": {"type": "d", "id": "x"},
    }
    response = api.post("/access/v1/search/subject", json=body, headers=CHECK)
    assert response.status_code == 400, response.text
    assert response.json()["field"] == "subject.type", response.text


def test_search_bad_page_token_400(api: TestClient) -> None:
    load(api)
    body = {
        "subject": {"type": "agent"},
        "action": {"name": "read"},
        "resource": {"type": "document", "id": "q3"},
        "page": {"token": "garbage"},
    }
    response = api.post("/access/v1/search/subject", json=body, headers=CHECK)
    assert response.status_code == 400, response.text
    assert response.json()["field"] == "page.token", response.text


def test_well_known_configuration(api: TestClient) -> None:
    response = api.get("/.well-known/authzen-configuration")
    assert response.status_code == 200, response.text
    metadata = response.json()
    assert metadata["policy_decision_point"] == "http://testserver"
    assert (
        metadata["access_evaluation_endpoint"]
        == "http://testserver/access/v1/evaluation"
    )
    assert metadata["search_action_endpoint"].endswith("/access/v1/search/action")
