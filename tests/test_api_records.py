"""Import/export, CRUD, delegations, the kill switch and lookups over REST."""

from __future__ import annotations

from api_helpers import ADMIN, CHECK, GRAPH, auth, load
from fastapi.testclient import TestClient


def test_import_counts_and_export(api: TestClient) -> None:
    response = api.post("/v1/graph/import", json=GRAPH, headers=ADMIN)
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["counts"]["delegations"] == 2, response.text
    assert result["consistency_token"]
    exported = api.get(
        "/v1/graph/export",
        params={"consistency_token": result["consistency_token"]},
        headers=ADMIN,
    )
    assert exported.status_code == 200, exported.text
    document = exported.json()
    assert sorted(d["id"] for d in document["delegations"]) == ["d1", "d2"]
    assert {"id": "bot", "owner": "user:alice"} in document["agents"], exported.text


def test_import_yaml(api: TestClient) -> None:
    text = "users: [carol]\nresources: [{ref: 'doc:a'}]\n"
    response = api.post(
        "/v1/graph/import",
        content=text,
        headers={**ADMIN, "Content-Type": "application/yaml"},
    )
    assert response.status_code == 200, response.text
    assert response.json()["counts"]["users"] == 1, response.text


def test_import_errors(api: TestClient) -> None:
    bad = api.post("/v1/graph/import", json={"people": []}, headers=ADMIN)
    assert bad.status_code == 422, bad.text
    assert bad.json()["field"] == "people", bad.text
    broken = api.post(
        "/v1/graph/import",
        content=b"{not json",
        headers={**ADMIN, "Content-Type": "application/json"},
    )
    assert broken.status_code == 400, broken.text
    assert "not valid JSON" in broken.json()["detail"]
    refused = api.post("/v1/graph/import", json=GRAPH, headers=CHECK)
    assert refused.status_code == 403, refused.text
    assert "'admin' role" in refused.json()["detail"]


def test_principal_crud(api: TestClient) -> None:
    created = api.post("/v1/principals", json={"ref": "user:dana"}, headers=ADMIN)
    assert created.status_code == 200, created.text
    token = created.json()["consistency_token"]
    fetched = api.get(
        "/v1/principals/user:dana", params={"consistency_token": token}, headers=CHECK
    )
    assert fetched.status_code == 200, fetched.text
    assert fetched.json() == {"ref": "user:dana", "owner": None, "disabled": False}
    listed = api.get("/v1/principals", params={"kind": "user"}, headers=CHECK)
    assert [p["ref"] for p in listed.json()["items"]] == ["user:dana"], listed.text
    deleted = api.delete("/v1/principals/user:dana", headers=ADMIN)
    assert deleted.status_code == 200, deleted.text
    missing = api.get("/v1/principals/user:dana", headers=CHECK)
    assert missing.status_code == 404, missing.text
    assert missing.json()["field"] == "ref", missing.text
    assert missing.json()["value"] == "user:dana", missing.text


def test_principal_errors(api: TestClient) -> None:
    no_owner = api.post("/v1/principals", json={"ref": "agent:x"}, headers=ADMIN)
    assert no_owner.status_code == 422, no_owner.text
    assert "owner" in no_owner.text
    bad_kind = api.get("/v1/principals/document:x", headers=CHECK)
    assert bad_kind.status_code == 422, bad_kind.text
    load(api)
    blocked = api.delete("/v1/principals/user:alice", headers=ADMIN)
    assert blocked.status_code == 409, blocked.text


def test_resource_crud_and_paging(api: TestClient) -> None:
    for name in ("a", "b", "c"):
        response = api.post(
            "/v1/resources",
            json={"ref": f"doc:{name}", "sensitivity": 1},
            headers=ADMIN,
        )
        assert response.status_code == 200, response.text
    first = api.get("/v1/resources", params={"limit": 2}, headers=CHECK)
    assert [r["ref"] for r in first.json()["items"]] == ["doc:a", "doc:b"], first.text
    token = first.json()["next_page_token"]
    second = api.get(
        "/v1/resources", params={"limit": 2, "page_token": token}, headers=CHECK
    )
    assert [r["ref"] for r in second.json()["items"]] == ["doc:c"], second.text
    assert second.json()["next_page_token"] is None
    single = api.get("/v1/resources/doc:a", headers=CHECK)
    assert single.json() == {"ref": "doc:a", "parent": None, "sensitivity": 1}
    bad = api.post(
        "/v1/resources", json={"ref": "doc:z", "sensitivity": 9}, headers=ADMIN
    )
    assert bad.status_code == 422, bad.text
    assert bad.json()["field"] == "sensitivity", bad.text
    too_big = api.get("/v1/resources", params={"limit": 5000}, headers=CHECK)
    assert too_big.status_code == 422, too_big.text
    assert "DELEGRAPH_MAX_PAGE_SIZE" in too_big.json()["detail"]
    removed = api.delete("/v1/resources/doc:a", headers=ADMIN)
    assert removed.status_code == 200, removed.text


def test_memberships_and_grants(api: TestClient) -> None:
    load(api)
    added = api.post(
        "/v1/memberships",
        json={"member": "user:bob", "group": "group:finance"},
        headers=ADMIN,
    )
    assert added.status_code == 200, added.text
    members = api.get(
        "/v1/memberships",
        params={
            "group": "group:finance",
            "consistency_token": added.json()["consistency_token"],
        },
        headers=CHECK,
    )
    assert sorted(m["member"] for m in members.json()["items"]) == [
        "user:alice",
        "user:bob",
    ]
    removed = api.delete(
        "/v1/memberships",
        params={"member": "user:bob", "group": "group:finance"},
        headers=ADMIN,
    )
    assert removed.status_code == 200, removed.text

    grant = {"principal": "user:bob", "resource": "document:other", "actions": ["read"]}
    created = api.post("/v1/grants", json=grant, headers=ADMIN)
    assert created.status_code == 200, created.text
    grants = api.get("/v1/grants", params={"principal": "user:bob"}, headers=CHECK)
    assert grants.json()["items"][0]["actions"] == ["read"], grants.text
    deleted = api.delete(
        "/v1/grants",
        params={"principal": "user:bob", "resource": "document:other"},
        headers=ADMIN,
    )
    assert deleted.status_code == 200, deleted.text
    again = api.delete(
        "/v1/grants",
        params={"principal": "user:bob", "resource": "document:other"},
        headers=ADMIN,
    )
    assert again.status_code == 404, again.text
    naive = api.post(
        "/v1/grants", json={**grant, "expires_at": "2099-01-01T00:00:00"}, headers=ADMIN
    )
    assert naive.status_code == 422, naive.text
    assert naive.json()["field"] == "expires_at", naive.text
    assert "timezone" in naive.json()["detail"]


def test_delegation_create_list_get(api: TestClient) -> None:
    load(api)
    spec = {
        "id": "d3",
        "from": "user:alice",
        "to": "agent:sub",
        "actions": ["read"],
        "expires_at": "2090-01-01T00:00:00Z",
    }
    created = api.post("/v1/delegations", json=spec, headers=ADMIN)
    assert created.status_code == 201, created.text
    assert created.json()["delegation"]["created_by"] == "test-service"
    listed = api.get(
        "/v1/delegations",
        params={
            "from": "user:alice",
            "consistency_token": created.json()["consistency_token"],
        },
        headers=CHECK,
    )
    assert [d["id"] for d in listed.json()["items"]] == ["d1", "d3"], listed.text
    fetched = api.get("/v1/delegations/d3", headers=CHECK)
    assert fetched.json()["to"] == "agent:sub", fetched.text
    duplicate = api.post("/v1/delegations", json=spec, headers=ADMIN)
    assert duplicate.status_code == 409, duplicate.text


def test_delegation_attenuation_422(api: TestClient) -> None:
    load(api)
    spec = {"id": "d9", "from": "agent:bot", "to": "agent:sub", "actions": ["write"]}
    response = api.post("/v1/delegations", json=spec, headers=ADMIN)
    assert response.status_code == 422, response.text
    assert response.json()["field"].endswith("actions"), response.text
    assert "write" in response.json()["detail"]


def test_principal_token_own_delegations_only(api: TestClient) -> None:
    load(api)
    as_bot = auth(subject="agent:bot")
    foreign = {"id": "d5", "from": "user:alice", "to": "agent:sub", "actions": ["read"]}
    refused = api.post("/v1/delegations", json=foreign, headers=as_bot)
    assert refused.status_code == 403, refused.text
    assert "user:alice" in refused.json()["detail"]
    own = {
        "id": "d6",
        "from": "agent:bot",
        "to": "agent:sub",
        "actions": ["read"],
        "resource_types": ["document"],
        "expires_at": "2090-01-01T00:00:00Z",
    }
    created = api.post("/v1/delegations", json=own, headers=as_bot)
    assert created.status_code == 201, created.text
    assert created.json()["delegation"]["created_by"] == "agent:bot"
    not_theirs = api.post("/v1/delegations/d1/revoke", headers=as_bot)
    assert not_theirs.status_code == 403, not_theirs.text
    revoked = api.post("/v1/delegations/d6/revoke", headers=as_bot)
    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["delegation"]["revoked_by"] == "agent:bot"


def test_impact_previews_revoke(api: TestClient) -> None:
    load(api)
    preview = api.get("/v1/delegations/d1/impact", headers=CHECK)
    assert preview.status_code == 200, preview.text
    assert preview.json()["delegation"] == "d1"
    lost = sorted(preview.json()["impact"]["lost_access"])
    assert lost == ["agent:bot", "agent:sub"]
    revoked = api.post("/v1/delegations/d1/revoke", headers=ADMIN).json()
    assert sorted(revoked["impact"]["lost_access"]) == lost
    after = api.get("/v1/delegations/d1/impact", headers=CHECK)
    assert after.json()["impact"]["lost_access"] == []
    missing = api.get("/v1/delegations/nope/impact", headers=CHECK)
    assert missing.status_code == 404, missing.text
    assert "nope" in missing.text


def test_revoke_reports_lost_access(api: TestClient) -> None:
    load(api)
    response = api.post(
        "/v1/delegations/d1/revoke", json={"reason": "leaked"}, headers=ADMIN
    )
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["already_revoked"] is False
    assert sorted(result["impact"]["lost_access"]) == ["agent:bot", "agent:sub"]
    assert result["delegation"]["revoke_reason"] == "leaked"
    check = api.post(
        "/v1/check",
        json={
            "subject": "agent:sub",
            "action": "read",
            "resource": "document:q3",
            "consistency_token": result["consistency_token"],
        },
        headers=CHECK,
    )
    assert check.json()["allowed"] is False, check.text
    missing = api.post("/v1/delegations/nope/revoke", headers=ADMIN)
    assert missing.status_code == 404, missing.text


def test_disable_and_enable(api: TestClient) -> None:
    load(api)
    disabled = api.post("/v1/principals/agent:bot/disable", headers=ADMIN)
    assert disabled.status_code == 200, disabled.text
    assert disabled.json()["disabled"] is True
    body = {
        "subject": "agent:sub",
        "action": "read",
        "resource": "document:q3",
        "consistency_token": disabled.json()["consistency_token"],
    }
    assert api.post("/v1/check", json=body, headers=CHECK).json()["allowed"] is False
    enabled = api.post("/v1/principals/agent:bot/enable", headers=ADMIN)
    assert enabled.status_code == 200, enabled.text
    body["consistency_token"] = enabled.json()["consistency_token"]
    assert api.post("/v1/check", json=body, headers=CHECK).json()["allowed"] is True
    refused = api.post("/v1/principals/agent:bot/disable", headers=CHECK)
    assert refused.status_code == 403, refused.text


def test_lookups(api: TestClient) -> None:
    load(api)
    trace = api.get("/v1/agents/agent:sub/accountability", headers=CHECK)
    assert trace.status_code == 200, trace.text
    assert trace.json()["humans"] == ["user:alice"], trace.text
    reach = api.get("/v1/agents/agent:sub/reach", headers=CHECK)
    assert reach.status_code == 200, reach.text
    pairs = [(e["resource"], e["action"]) for e in reach.json()["items"]]
    assert pairs == [("document:q3", "read")], reach.text
    access = api.get(
        "/v1/resources/document:q3/access", params={"action": "read"}, headers=CHECK
    )
    assert access.status_code == 200, access.text
    principals = sorted(e["principal"] for e in access.json()["items"])
    expected = ["agent:bot", "agent:sub", "group:finance", "user:alice"]
    assert principals == expected, access.text
    unknown = api.get("/v1/agents/agent:ghost/reach", headers=CHECK)
    assert unknown.status_code == 404, unknown.text
    bad = api.get("/v1/agents/document:q3/accountability", headers=CHECK)
    assert bad.status_code == 422, bad.text
