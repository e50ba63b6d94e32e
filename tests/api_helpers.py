"""Tokens and a small graph for the API tests."""

from __future__ import annotations

from typing import Any

from delegraph.api.auth import issue_token

SECRET = "api-test-secret-0123456789abcdef0123456789abcdef"  # noqa: S105 - a test-only key


def token(*roles: str, subject: str = "test-service", ttl: int = 600) -> str:
    return issue_token(SECRET, subject, list(roles), ttl)


def auth(*roles: str, subject: str = "test-service") -> dict[str, str]:
    """Return the Authorization header of a token with ``roles``."""
    return {"Authorization": f"Bearer {token(*roles, subject=subject)}"}


ADMIN = auth("admin")
CHECK = auth("check")

# alice has read on folder:finance; she delegates read on documents to
# agent:bot (which may re-delegate once), and bot delegates to agent:sub.
GRAPH: dict[str, Any] = {
    "users": ["alice", "bob"],
    "groups": ["finance"],
    "agents": [
        {"id": "bot", "owner": "user:alice"},
        {"id": "sub", "owner": "user:alice"},
    ],
    "resources": [
        {"ref": "folder:finance"},
        {"ref": "document:q3", "parent": "folder:finance", "sensitivity": 2},
        {"ref": "document:other"},
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
            "resource_types": ["document"],
            "max_depth": 1,
            "expires_at": "2099-01-01T00:00:00Z",
        },
        {
            "id": "d2",
            "from": "agent:bot",
            "to": "agent:sub",
            "actions": ["read"],
            "expires_at": "2098-01-01T00:00:00Z",
        },
    ],
}


def load(client: Any) -> str:
    """Import GRAPH through the API and return the consistency token."""
    response = client.post("/v1/graph/import", json=GRAPH, headers=ADMIN)
    assert response.status_code == 200, response.text
    return str(response.json()["consistency_token"])
