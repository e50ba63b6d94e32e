"""The saved Neo4j Browser queries, run on the demo graph of browser_demo.py."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from browser_demo import demo_document
from browser_queries import QUERY_NAMES, browser_query, run_browser_query
from delegraph.cypher.store import Store
from delegraph.engine.documents import parse_document
from delegraph.engine.graph import import_document


@pytest.fixture
def demo_store(clean_store: Store) -> Store:
    import_document(clean_store, parse_document(demo_document(datetime.now(UTC))))
    return clean_store


@pytest.mark.parametrize("name", QUERY_NAMES)
def test_query_file_has_header(name: str) -> None:
    text = browser_query(name)
    header = [line for line in text.splitlines() if line.startswith("//")]
    assert len(header) >= 2, f"{name}.cypher needs a header comment"
    assert text.startswith("//"), f"{name}.cypher must open with its header comment"
    for parameter in sorted(set(re.findall(r"\$([a-z_]+)", text))):
        assert f":param {parameter} =>" in text, (
            f"{name}.cypher uses ${parameter} but its header shows no :param line"
        )


def test_agent_chains_two_hops(demo_store: Store) -> None:
    rows = run_browser_query(demo_store, "agent_chains", agent="agent:receipt-reader")
    assert [row["principals"] for row in rows] == [
        ["user:alice", "agent:expense-bot", "agent:receipt-reader"]
    ]
    assert rows[0]["delegations"] == ["d1", "d2"]
    assert rows[0]["hops"] == 2
    assert len(rows[0]["chain"].relationships) == 2


@pytest.mark.parametrize(
    ("agent", "why"),
    [
        ("agent:archiver", "three hops below d1, which allows one"),
        ("agent:coder", "d4 is revoked"),
        ("agent:helper", "carol is disabled"),
        ("workload:payments-api", "d8 expired"),
    ],
)
def test_agent_chains_dead(demo_store: Store, agent: str, why: str) -> None:
    rows = run_browser_query(demo_store, "agent_chains", agent=agent)
    assert rows == [], f"{agent} should have no live chain because {why}: {rows}"


def test_agent_chains_skip_revoked_branch(demo_store: Store) -> None:
    rows = run_browser_query(demo_store, "agent_chains", agent="agent:tester")
    assert [row["delegations"] for row in rows] == [["d11"]]


def test_accountable_owner_group_and_root(demo_store: Store) -> None:
    rows = run_browser_query(
        demo_store, "accountable_humans", agent="agent:receipt-reader"
    )
    assert [(row["human"], row["reason"], row["delegations"]) for row in rows] == [
        ("user:alice", "chain root", ["d1", "d2"]),
        ("user:alice", "owner via group:finance", []),
    ]


def test_accountable_disabled_owner(demo_store: Store) -> None:
    rows = run_browser_query(demo_store, "accountable_humans", agent="agent:helper")
    assert [(row["human"], row["reason"], row["disabled"]) for row in rows] == [
        ("user:carol", "owner", True)
    ]


def test_expiring_within_24_hours(demo_store: Store) -> None:
    rows = run_browser_query(demo_store, "expiring_delegations", hours=24)
    assert [row["delegation"] for row in rows] == ["d2"]
    assert rows[0]["from"] == "agent:expense-bot"
    assert rows[0]["to"] == "agent:receipt-reader"
    assert 5.0 < rows[0]["hours_left"] <= 6.0


def test_expiring_wider_window(demo_store: Store) -> None:
    rows = run_browser_query(demo_store, "expiring_delegations", hours=48)
    assert [row["delegation"] for row in rows] == ["d2", "d6"]


def test_revoked_cuts_downstream(demo_store: Store) -> None:
    rows = run_browser_query(demo_store, "revoked_cuts")
    assert [
        (row["delegation"], row["downstream"], row["hops_below"], row["still_live"])
        for row in rows
    ] == [
        ("d4", "agent:coder", 0, False),
        ("d4", "agent:tester", 1, True),
    ]
    assert rows[0]["revoked_by"] == "user:bob"
    assert rows[0]["reason"] == "coder pushed to the wrong branch"


def test_blast_radius_attenuated(demo_store: Store) -> None:
    rows = run_browser_query(demo_store, "blast_radius", agent="agent:receipt-reader")
    # d1 admits documents up to sensitivity 3: the spreadsheet and q4-draft (4) drop out.
    assert [(row["resource"], row["actions"]) for row in rows] == [
        ("document:q3", ["read"])
    ]
    assert rows[0]["chains"] == [
        "user:alice -d1-> agent:expense-bot -d2-> agent:receipt-reader"
    ]
    assert rows[0]["grants"] == ["group:finance on folder:finance"]


def test_blast_radius_resource_scope(demo_store: Store) -> None:
    rows = run_browser_query(demo_store, "blast_radius", agent="agent:planner")
    assert [(row["resource"], row["actions"]) for row in rows] == [
        ("repo:delegraph", ["read", "write"])
    ]


@pytest.mark.parametrize("agent", ["agent:coder", "agent:helper", "agent:archiver"])
def test_blast_radius_empty_when_cut(demo_store: Store, agent: str) -> None:
    rows = run_browser_query(demo_store, "blast_radius", agent=agent)
    assert rows == []


def test_blast_radius_own_grant(demo_store: Store) -> None:
    # A chain of 0 edges: bob's own grants, directly and through group:engineering.
    rows = run_browser_query(demo_store, "blast_radius", agent="user:bob")
    assert [(row["resource"], row["actions"]) for row in rows] == [
        ("repo:delegraph", ["read", "write"]),
        ("tool:web-search", ["invoke"]),
    ]


def test_overview_live_org(demo_store: Store) -> None:
    rows = run_browser_query(demo_store, "overview")
    nodes = {row["node"]["ref"] for row in rows}
    assert len(nodes) == 21
    edges = {
        (row["node"]["ref"], row["relationship"].type, row["other"]["ref"])
        for row in rows
        if row["relationship"] is not None
    }
    assert len(edges) == 27
    delegations = sorted(
        row["relationship"]["id"]
        for row in rows
        if row["relationship"] is not None
        and row["relationship"].type == "DELEGATES_TO"
    )
    # d4 is revoked, d7 starts at disabled carol and d8 expired.
    assert delegations == ["d1", "d10", "d11", "d2", "d3", "d5", "d6", "d9"]
    assert ("agent:receipt-reader", "OWNED_BY", "group:finance") in edges
    assert ("user:carol", "HAS_ACCESS", "repo:delegraph") in edges
