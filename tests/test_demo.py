"""The narrated demo scenario, run on the test Neo4j, asserted step by step."""

from __future__ import annotations

import io
import socket
import threading
import time

import httpx
import pytest
from delegraph.api.demo.org import organisation
from delegraph.api.demo.run import DemoError, DemoOptions, build_api, run_scenario
from delegraph.api.demo.scenario import Step
from delegraph.api.settings import Settings
from delegraph.cypher.store import Store
from delegraph.engine.service import Engine, utc_now
from rich.console import Console

EXPECTED_STEPS = [
    "chain_allowed",
    "token_issued",
    "revoked",
    "token_verifies",
    "denied_after_revoke",
    "introspection",
    "explained",
    "accountability",
    "blast_radius",
    "disabled",
    "confused_deputy",
]


@pytest.fixture(scope="module")
def scenario(store: Store) -> tuple[dict[str, Step], str]:
    """Run the whole scenario once on a freshly loaded demo organisation."""
    output = io.StringIO()
    console = Console(file=output, width=120, color_system=None)
    steps = run_scenario(Engine(store), console).steps
    return {step.key: step for step in steps}, output.getvalue()


def test_organisation_size() -> None:
    document = organisation(utc_now())
    kinds = [p.ref.kind for p in document.principals]
    assert kinds.count("user") >= 6
    assert kinds.count("group") >= 3
    assert kinds.count("agent") >= 10
    assert kinds.count("workload") == 2
    assert all(
        p.owner is not None for p in document.principals if p.ref.kind == "workload"
    )
    assert len([r for r in document.resources if not r.ref.is_wildcard]) >= 40
    assert all(
        r.sensitivity is not None for r in document.resources if not r.ref.is_wildcard
    )


def test_organisation_delegation_kinds() -> None:
    document = organisation(utc_now())
    delegations = document.delegations
    assert any(d.condition for d in delegations)
    assert any(d.resources for d in delegations)
    assert any(d.resource_types for d in delegations)
    assert all(d.expires_at is not None for d in delegations)


def test_organisation_relative_times() -> None:
    now = utc_now()
    by_id = {d.id: d for d in organisation(now).delegations}
    soon = by_id["d-dan-ci"].expires_at
    expired = by_id["d-bob-expenses-q2"].expires_at
    assert soon is not None and 0 < (soon - now).total_seconds() <= 24 * 3600
    assert expired is not None and expired < now


def test_scenario_step_order(scenario: tuple[dict[str, Step], str]) -> None:
    steps, _ = scenario
    assert list(steps) == EXPECTED_STEPS


def test_scenario_chain_allowed(scenario: tuple[dict[str, Step], str]) -> None:
    step = scenario[0]["chain_allowed"]
    assert step.ok, step.summary
    assert step.data["allowed"] is True
    assert step.data["principals"] == [
        "user:alice",
        "agent:finance-copilot",
        "agent:invoice-agent",
        "agent:ocr-worker",
    ]
    assert step.data["delegations"] == [
        "d-alice-copilot",
        "d-copilot-invoices",
        "d-invoices-ocr",
    ]


def test_scenario_token_act_chain(scenario: tuple[dict[str, Step], str]) -> None:
    step = scenario[0]["token_issued"]
    assert step.ok, step.summary
    assert step.data["sub"] == "user:alice"
    assert step.data["actors"] == [
        "agent:finance-copilot",
        "agent:invoice-agent",
        "agent:ocr-worker",
    ]
    assert step.data["scope"] == "read"


def test_scenario_revoke_then_deny(scenario: tuple[dict[str, Step], str]) -> None:
    steps, _ = scenario
    revoked = steps["revoked"]
    assert revoked.ok, revoked.summary
    assert "agent:ocr-worker" in revoked.data["lost_access"]
    verified = steps["token_verifies"]
    assert verified.data == {"verified": True, "unexpired": True}
    denied = steps["denied_after_revoke"]
    assert denied.data["allowed"] is False, denied.summary


def test_scenario_introspection_inactive(
    scenario: tuple[dict[str, Step], str],
) -> None:
    steps, _ = scenario
    assert steps["token_issued"].data["active"] is True
    step = steps["introspection"]
    assert step.ok, step.summary
    assert step.data["active"] is False
    assert step.data["stale_claims"] == ["read"]
    assert step.data["revoked"] == ["d-alice-copilot"]


def test_scenario_explain_names_edge(scenario: tuple[dict[str, Step], str]) -> None:
    step = scenario[0]["explained"]
    assert step.data["allowed"] is False
    assert step.data["code"] == "revoked"
    assert ("d-alice-copilot", "revoked") in step.data["broken_edges"]
    assert "user:grace" in step.data["reason"]


def test_scenario_accountability(scenario: tuple[dict[str, Step], str]) -> None:
    step = scenario[0]["accountability"]
    assert step.data["chain_roots"] == ["user:carol", "user:dan"]
    assert [
        "user:carol",
        "agent:dev-assistant",
        "agent:code-reviewer",
        "agent:test-runner",
    ] in step.data["chains"]
    assert "user:dan" in step.data["humans"]


def test_scenario_blast_radius(scenario: tuple[dict[str, Step], str]) -> None:
    step = scenario[0]["blast_radius"]
    reach = set(step.data["reach"])
    below = set(step.data["sub_agent_reach"])
    assert ("record:acme", "write") in reach
    assert ("tool:email-send", "use") in reach
    assert ("record:acme", "read") in below
    assert ("record:acme", "write") not in below
    assert below <= reach
    assert not any(resource.startswith("folder:people") for resource, _ in reach)


def test_scenario_disable_cuts(scenario: tuple[dict[str, Step], str]) -> None:
    step = scenario[0]["disabled"]
    assert step.data["lost_access"] == ["agent:research-crawler"]
    assert step.data["sub_agent_reach_after"] == 0
    assert step.data["sub_agent_allowed"] is False


def test_scenario_confused_deputy(scenario: tuple[dict[str, Step], str]) -> None:
    step = scenario[0]["confused_deputy"]
    assert step.data["other_allowed"] is False
    assert step.data["other_code"] == "not_on_behalf_of"
    assert step.data["owner_allowed"] is True


def test_scenario_all_as_expected(scenario: tuple[dict[str, Step], str]) -> None:
    steps, output = scenario
    assert [key for key, step in steps.items() if not step.ok] == []
    assert "all 11 steps as expected" in output
    for number in range(1, 12):
        assert f"Step {number}." in output


def test_demo_api_check_and_introspect(
    store: Store, neo4j_connection: tuple[str, str, str]
) -> None:
    """The API and tokens that the demo prints: a check, a 401, an introspection."""
    scenario = run_scenario(Engine(store), Console(file=io.StringIO()))
    settings = Settings()
    uri, user, password = neo4j_connection
    settings = settings.model_copy(
        update={"neo4j_uri": uri, "neo4j_user": user, "neo4j_password": password}
    )
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    api = build_api(settings, DemoOptions(host="127.0.0.1", port=port), scenario)
    assert api.act_token == scenario.token
    thread = threading.Thread(target=api.server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 60
        while not api.server.started:
            assert time.monotonic() < deadline, "the demo API did not start in 60 s"
            time.sleep(0.05)
        response = httpx.post(
            f"{api.base_url}/v1/check",
            json={
                "subject": "agent:code-reviewer",
                "action": "read",
                "resource": "repo:web-app",
            },
            headers={"Authorization": f"Bearer {api.token}"},
            timeout=60,
        )
        assert response.status_code == 200, response.text
        assert response.json()["allowed"] is True, response.text
        refused = httpx.post(
            f"{api.base_url}/v1/check",
            json={"subject": "agent:x", "action": "read", "resource": "repo:y"},
            timeout=60,
        )
        assert refused.status_code == 401, refused.text
        introspection = httpx.post(
            f"{api.base_url}/v1/tokens/introspect",
            data={"token": api.act_token},
            headers={"Authorization": f"Bearer {api.token}"},
            timeout=60,
        )
        assert introspection.status_code == 200, introspection.text
        body = introspection.json()
        assert body["active"] is False, body
        assert body["stale_claims"] == ["read"], body
        assert body["sub"] == "user:alice", body
    finally:
        api.server.should_exit = True
        thread.join(timeout=15)


def test_demo_api_port_in_use() -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        with pytest.raises(DemoError, match=f"port {port} on 127.0.0.1 is in use"):
            build_api(Settings(), DemoOptions(host="127.0.0.1", port=port))
