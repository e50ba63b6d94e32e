"""Neo4j Browser in headless Chromium: log in, style the graph, run a saved query.

Needs Debian's ``chromium`` package (see chromium_cdp.INSTALL_COMMAND). A
missing or broken Chromium fails the test, it never skips.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
from browser_demo import demo_document
from browser_session import DEMO_AGENT, run_agent_chains, screenshot_saved_query
from chromium_cdp import ChromiumError, find_chromium
from delegraph.api import neo4j_local
from delegraph.api.demo.org import load_organisation
from delegraph.cypher.store import Store
from delegraph.engine.documents import parse_document
from delegraph.engine.graph import import_document
from delegraph.engine.service import Engine
from neo4j_target import Target

USER_COLOUR = "#4C8EDA"
AGENT_COLOUR = "#F79767"


def browser_url(target: Target) -> str:
    """Return the Neo4j Browser URL of the Neo4j the tests run against."""
    configured = os.environ.get("DELEGRAPH_BROWSER_URL")
    if configured:
        return configured
    if target.source == "local":
        return neo4j_local.LocalNeo4jConfig.from_env().browser_url
    pytest.fail(
        f"Neo4j comes from {target.reason}; set DELEGRAPH_BROWSER_URL to its Browser "
        "URL (e.g. http://127.0.0.1:7474/browser/) for the Browser test",
        pytrace=False,
    )


def test_chromium_installed() -> None:
    try:
        find_chromium()
    except ChromiumError as error:
        pytest.fail(str(error), pytrace=False)


def test_browser_agent_chains(
    clean_store: Store,
    neo4j_connection: tuple[str, str, str],
    neo4j_target: Target,
    tmp_path: Path,
) -> None:
    import_document(clean_store, parse_document(demo_document(datetime.now(UTC))))
    uri, user, password = neo4j_connection
    screenshot = tmp_path / "browser-agent-chains.png"

    try:
        result = run_agent_chains(
            browser_url(neo4j_target), uri, user, password, screenshot
        )
    except ChromiumError as error:
        pytest.fail(f"Neo4j Browser test failed in Chromium: {error}", pytrace=False)

    assert result.summary == "Displaying 3 nodes, 2 relationships", result
    captions = sorted(node.caption.rstrip("…") for node in result.nodes)
    assert captions == ["alice", "expense-bot", "receipt-reader"], (
        f"captions of the chain to {DEMO_AGENT}: {result.nodes}"
    )
    fills = {node.caption.rstrip("…"): node.fill for node in result.nodes}
    assert fills["alice"] == USER_COLOUR, result.nodes
    assert fills["expense-bot"] == AGENT_COLOUR, result.nodes
    assert fills["receipt-reader"] == AGENT_COLOUR, result.nodes
    assert "delegraph: delegation chains" in result.guide_text, result.guide_text
    assert screenshot.stat().st_size > 20_000, "the screenshot looks empty"
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_browser_demo_overview(
    clean_store: Store,
    neo4j_connection: tuple[str, str, str],
    neo4j_target: Target,
    tmp_path: Path,
) -> None:
    """The picture of scripts/demo_screenshot.py: the demo organisation's overview."""
    load_organisation(Engine(clean_store))
    uri, user, password = neo4j_connection
    screenshot = tmp_path / "demo-graph.png"

    try:
        result = screenshot_saved_query(
            browser_url(neo4j_target), uri, user, password, "overview", {}, screenshot
        )
    except ChromiumError as error:
        pytest.fail(f"Neo4j Browser test failed in Chromium: {error}", pytrace=False)

    # 27 principals and 49 resources; 15 OWNED_BY, 42 CHILD_OF, 11 MEMBER_OF,
    # 15 HAS_ACCESS and the 16 delegations that are live (one has expired).
    assert result.summary == "Displaying 76 nodes, 99 relationships", result.summary
    assert len(result.nodes) == 76, result.nodes
    fills = {node.caption.rstrip("…"): node.fill for node in result.nodes}
    assert fills["alice"] == USER_COLOUR, fills
    assert fills["ocr-worker"] == AGENT_COLOUR, fills
    assert screenshot.stat().st_size > 50_000, "the screenshot looks empty"
