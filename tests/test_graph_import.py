from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import wipe
from delegraph.cypher.store import Store
from delegraph.engine.documents import document_to_dict, parse_document
from delegraph.engine.errors import Conflict, InvalidRequest
from delegraph.engine.graph import export_document, import_document
from delegraph.engine.refs import parse_ref
from delegraph.engine.service import Engine

CASES = Path(__file__).resolve().parents[1].parent / "shared" / "cases"

ORG: dict[str, Any] = {
    "users": ["alice", "bob"],
    "groups": ["finance"],
    "agents": [{"id": "expense-bot", "owner": "user:alice"}],
    "workloads": [{"id": "payments-api", "owner": "group:finance"}],
    "resources": [
        {"ref": "folder:finance"},
        {"ref": "document:q3", "parent": "folder:finance", "sensitivity": 3},
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
            "resource_types": ["document"],
            "max_depth": 1,
            "expires_at": "2099-01-01T00:00:00Z",
            "condition": 'context.purpose == "expenses"',
        }
    ],
}


def counts(store: Store) -> dict[str, int]:
    records, _, _ = store.driver.execute_query(
        "MATCH (n) WHERE NOT n:DelegraphSchema WITH count(n) AS nodes "
        "OPTIONAL MATCH ()-[r]->() RETURN nodes, count(r) AS edges"
    )
    return {"nodes": records[0]["nodes"], "edges": records[0]["edges"]}


def test_import_export_round_trip(clean_store: Store) -> None:
    result = import_document(clean_store, parse_document(ORG))
    assert result.counts["delegations"] == 1
    assert result.consistency_token
    exported = document_to_dict(export_document(clean_store, result.consistency_token))
    delegation = exported["delegations"][0]
    assert delegation["expires_at"] == "2099-01-01T00:00:00+00:00"
    assert delegation["created_by"] == "import"
    for key in (
        "users",
        "groups",
        "agents",
        "workloads",
        "resources",
        "memberships",
        "grants",
    ):
        assert sorted(map(str, exported[key])) == sorted(map(str, ORG[key])) or key in (
            "users",
            "groups",
        )
    assert sorted(u["id"] for u in exported["users"]) == ["alice", "bob"]


def test_import_twice_changes_nothing(clean_store: Store) -> None:
    import_document(clean_store, parse_document(ORG))
    first = (counts(clean_store), document_to_dict(export_document(clean_store)))
    import_document(clean_store, parse_document(ORG))
    second = (counts(clean_store), document_to_dict(export_document(clean_store)))
    assert first == second


def test_reimport_keeps_revoke_and_disable(clean_store: Store) -> None:
    engine = Engine(clean_store)
    engine.import_document(parse_document(ORG))
    engine.revoke("d1", "user:alice", "leaked")
    engine.disable(parse_ref("agent:expense-bot", "ref"), "user:alice")
    engine.import_document(parse_document(ORG))
    exported = document_to_dict(export_document(clean_store))
    delegation = exported["delegations"][0]
    assert delegation["revoked_by"] == "user:alice"
    assert delegation["revoke_reason"] == "leaked"
    assert delegation["revoked_at"] is not None
    agent = exported["agents"][0]
    assert agent["disabled"] is True
    # An imported revocation of a live edge is written as given.
    revoked = dict(
        ORG["delegations"][0],
        id="d2",
        revoked_at="2030-01-01T00:00:00Z",
        revoked_by="user:bob",
        revoke_reason="restored",
    )
    engine.import_document(parse_document({**ORG, "delegations": [revoked]}))
    by_id = {
        d["id"]: d
        for d in document_to_dict(export_document(clean_store))["delegations"]
    }
    assert by_id["d2"]["revoked_by"] == "user:bob"
    assert by_id["d2"]["revoke_reason"] == "restored"


def test_every_case_document_imports(clean_store: Store) -> None:
    files = sorted(CASES.glob("*.yaml"))
    assert files, f"no case files found in {CASES}"
    for path in files:
        case = yaml.safe_load(path.read_text())
        wipe(clean_store)
        result = import_document(clean_store, parse_document(case["graph"]))
        assert result.counts.get("delegations", 0) == len(
            case["graph"].get("delegations", [])
        )


HOSTILE_IDS = [
    "o'brien",
    'say "hi"',
    "back`tick`",
    "{braces}",
    "x}) DETACH DELETE n //",
    "MATCH (n) RETURN n",
    "ünïcödé-名前",
    "with:colons:inside",
    "$param",
]


@pytest.mark.parametrize("ident", HOSTILE_IDS)
def test_hostile_ids_are_data(clean_store: Store, ident: str) -> None:
    import_document(
        clean_store,
        parse_document(
            {"users": ["bystander"], "resources": [{"ref": "document:keep"}]}
        ),
    )
    document = {
        "users": [ident],
        "agents": [{"id": ident, "owner": f"user:{ident}"}],
        "resources": [{"ref": f"document:{ident}"}],
        "grants": [
            {
                "principal": f"user:{ident}",
                "resource": f"document:{ident}",
                "actions": [ident],
            }
        ],
        "delegations": [
            {
                "id": ident,
                "from": f"user:{ident}",
                "to": f"agent:{ident}",
                "actions": [ident],
            }
        ],
    }
    import_document(clean_store, parse_document(document))
    exported = document_to_dict(export_document(clean_store))
    assert {u["id"] for u in exported["users"]} == {"bystander", ident}
    assert exported["delegations"][0]["id"] == ident
    assert {r["ref"] for r in exported["resources"]} == {
        "document:keep",
        f"document:{ident}",
    }
    assert counts(clean_store) == {"nodes": 5, "edges": 3}


@pytest.mark.parametrize(
    ("document", "field"),
    [
        ({"users": [""]}, "users[0]"),
        ({"users": [" alice"]}, "users[0]"),
        ({"users": ["a\nb"]}, "users[0]"),
        ({"agents": [{"id": "bot"}]}, "agents[0].owner"),
        ({"agents": [{"id": "bot", "owner": "agent:x"}]}, "agents[0].owner"),
        ({"resources": [{"ref": "user:x"}]}, "resources[0].ref"),
        (
            {"resources": [{"ref": "document:x", "sensitivity": 9}]},
            "resources[0].sensitivity",
        ),
        (
            {
                "delegations": [
                    {"id": "d", "from": "user:a", "to": "agent:b", "actions": []}
                ]
            },
            "delegations[0].actions",
        ),
        (
            {
                "delegations": [
                    {"id": "d", "from": "user:a", "to": "user:b", "actions": ["r"]}
                ]
            },
            "delegations[0].to",
        ),
        (
            {
                "delegations": [
                    {
                        "id": "d",
                        "from": "user:a",
                        "to": "agent:b",
                        "actions": ["r"],
                        "expires_at": "2099-01-01T00:00:00",
                    }
                ]
            },
            "delegations[0].expires_at",
        ),
        (
            {
                "delegations": [
                    {
                        "id": "d",
                        "from": "user:a",
                        "to": "agent:b",
                        "actions": ["r"],
                        "condition": "a ==",
                    }
                ]
            },
            "delegations[0].condition",
        ),
        ({"unknown": []}, "unknown"),
    ],
)
def test_invalid_document_names_field(document: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidRequest) as raised:
        parse_document(document)
    assert raised.value.field == field, raised.value.message


def test_unknown_ref_rejected_before_writing(clean_store: Store) -> None:
    document = {
        "users": ["alice"],
        "delegations": [
            {"id": "d", "from": "user:alice", "to": "agent:ghost", "actions": ["r"]}
        ],
    }
    with pytest.raises(InvalidRequest) as raised:
        import_document(clean_store, parse_document(document))
    assert raised.value.field == "delegations[0].to"
    assert "agent:ghost" in raised.value.message
    assert counts(clean_store)["nodes"] == 0


def test_delegation_id_reused_between_other_principals(clean_store: Store) -> None:
    import_document(clean_store, parse_document(ORG))
    other = {
        "agents": [{"id": "other", "owner": "user:bob"}],
        "delegations": [
            {"id": "d1", "from": "user:bob", "to": "agent:other", "actions": ["read"]}
        ],
    }
    with pytest.raises(Conflict) as raised:
        import_document(clean_store, parse_document(other))
    assert raised.value.value == "d1"
