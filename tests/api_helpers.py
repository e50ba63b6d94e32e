"""Tokens and a small graph for the API tests."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn
from delegraph.api.app import create_app
from delegraph.api.auth import issue_token
from delegraph.api.settings import Settings
from delegraph.engine.service import Engine

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


@contextmanager
def serve_api(engine: Engine) -> Iterator[str]:
    """Serve the REST API over ``engine`` from a uvicorn thread; yield its URL."""
    settings = Settings().model_copy(update={"jwt_secret": SECRET, "auth": "on"})
    app = create_app(settings, engine=engine)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start within 30 s"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
