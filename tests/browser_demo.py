"""A small organisation for the Neo4j Browser queries, their tests and the screenshot.

Times are relative to ``now`` so that "expires within 24 h" and "expired" stay
true whenever the graph is loaded. What each delegation exercises:

- d1 alice -> expense-bot -> (d2) receipt-reader: a live two-hop chain, d2
  expires in 6 h.
- d3 bob -> planner -> (d4, revoked) coder -> (d5) tester: d4 cuts coder off
  from every human, while tester keeps its own chain d11 from bob.
- d6 bob -> researcher: live, expires in 30 h (outside the 24 h window).
- d7 carol (disabled) -> helper: cut because carol is disabled.
- d8 alice -> payments-api: expired yesterday.
- d9 expense-bot -> auditor with max_depth 0 below d1 (max_depth 1), then
  d10 auditor -> archiver: d1 allows one hop after it, so archiver's chain of
  three hops breaks the depth limit of d1.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def demo_document(now: datetime | None = None) -> dict[str, Any]:
    """Return the demo organisation as a document for ``parse_document``."""
    now = now or datetime.now(UTC)
    far = "2099-01-01T00:00:00Z"
    return {
        "users": ["alice", "bob", {"id": "carol", "disabled": True}],
        "groups": ["finance", "engineering"],
        "agents": [
            {"id": "expense-bot", "owner": "user:alice"},
            {"id": "receipt-reader", "owner": "group:finance"},
            {"id": "auditor", "owner": "user:alice"},
            {"id": "archiver", "owner": "user:alice"},
            {"id": "planner", "owner": "user:bob"},
            {"id": "coder", "owner": "user:bob"},
            {"id": "tester", "owner": "user:bob"},
            {"id": "researcher", "owner": "user:bob"},
            {"id": "helper", "owner": "user:carol"},
        ],
        "workloads": [{"id": "payments-api", "owner": "group:finance"}],
        "resources": [
            {"ref": "folder:finance"},
            {"ref": "document:q3", "parent": "folder:finance", "sensitivity": 2},
            {"ref": "document:q4-draft", "parent": "folder:finance", "sensitivity": 4},
            {"ref": "spreadsheet:budget", "parent": "folder:finance"},
            {"ref": "repo:delegraph"},
            {"ref": "tool:web-search"},
        ],
        "memberships": [
            {"member": "user:alice", "group": "group:finance"},
            {"member": "user:bob", "group": "group:engineering"},
        ],
        "grants": [
            {
                "principal": "group:finance",
                "resource": "folder:finance",
                "actions": ["read", "write"],
            },
            {
                "principal": "group:engineering",
                "resource": "repo:delegraph",
                "actions": ["read", "write"],
            },
            {
                "principal": "user:bob",
                "resource": "tool:web-search",
                "actions": ["invoke"],
            },
            {
                "principal": "user:carol",
                "resource": "repo:delegraph",
                "actions": ["read"],
            },
        ],
        "delegations": [
            {
                "id": "d1",
                "from": "user:alice",
                "to": "agent:expense-bot",
                "actions": ["read"],
                "resource_types": ["document"],
                "max_sensitivity": 3,
                "max_depth": 1,
                "expires_at": far,
                "condition": 'context.purpose == "expenses"',
            },
            {
                "id": "d2",
                "from": "agent:expense-bot",
                "to": "agent:receipt-reader",
                "actions": ["read"],
                "resources": ["folder:finance"],
                "max_depth": 0,
                "expires_at": _iso(now + timedelta(hours=6)),
            },
            {
                "id": "d3",
                "from": "user:bob",
                "to": "agent:planner",
                "actions": ["read", "write"],
                "resources": ["repo:delegraph"],
                "max_depth": 2,
            },
            {
                "id": "d4",
                "from": "agent:planner",
                "to": "agent:coder",
                "actions": ["read", "write"],
                "max_depth": 1,
                "revoked_at": _iso(now - timedelta(hours=1)),
                "revoked_by": "user:bob",
                "revoke_reason": "coder pushed to the wrong branch",
            },
            {
                "id": "d5",
                "from": "agent:coder",
                "to": "agent:tester",
                "actions": ["read"],
                "max_depth": 0,
            },
            {
                "id": "d6",
                "from": "user:bob",
                "to": "agent:researcher",
                "actions": ["invoke"],
                "resources": ["tool:web-search"],
                "max_depth": 0,
                "expires_at": _iso(now + timedelta(hours=30)),
            },
            {
                "id": "d7",
                "from": "user:carol",
                "to": "agent:helper",
                "actions": ["read"],
                "max_depth": 0,
            },
            {
                "id": "d8",
                "from": "user:alice",
                "to": "workload:payments-api",
                "actions": ["read"],
                "max_depth": 0,
                "expires_at": _iso(now - timedelta(days=1)),
            },
            {
                "id": "d9",
                "from": "agent:expense-bot",
                "to": "agent:auditor",
                "actions": ["read"],
                "max_depth": 0,
            },
            {
                "id": "d10",
                "from": "agent:auditor",
                "to": "agent:archiver",
                "actions": ["read"],
                "max_depth": 0,
            },
            {
                "id": "d11",
                "from": "user:bob",
                "to": "agent:tester",
                "actions": ["read"],
                "resources": ["repo:delegraph"],
                "max_depth": 0,
            },
        ],
    }
