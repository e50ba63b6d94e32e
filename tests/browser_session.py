"""Log in to Neo4j Browser in headless Chromium, run one saved query and take a screenshot.

Used by tests/test_browser_ui.py and by scripts/browser_screenshot.py, which
writes docs/img/browser-demo.png. Neo4j Browser 5.24 is driven through its
page: the data-testid attributes below are those of that release.
"""

from __future__ import annotations

import json
import sys
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from browser_queries import browser_query
from chromium_cdp import Page, chromium_page

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
from browser_guide import GUIDE_NAME, STYLE_NAME, serving

DEMO_AGENT = "agent:receipt-reader"
# Browser settings stored in its localStorage before it starts: no usage or
# crash reports, no consent banner, and "Connect result nodes" off so that the
# graph view shows exactly what the query returns.
BROWSER_SETTINGS = {
    "allowUserStats": False,
    "allowCrashReports": False,
    "autoComplete": False,
}
SEED_SCRIPT = (
    f"localStorage.setItem('neo4j.settings', {json.dumps(json.dumps(BROWSER_SETTINGS))});"
    f"localStorage.setItem('neo4j.udc', {json.dumps(json.dumps({'consentBannerShownCount': 100}))});"
)
NODES_IN_VIEW = """JSON.stringify([...document.querySelectorAll('svg g.node')].map(g => ({
  caption: (g.querySelector('text.caption')?.textContent || '').trim(),
  fill: g.querySelector('circle.b-outline')?.getAttribute('fill') || null,
})))"""


@dataclass
class GraphNode:
    """A node as drawn in the graph view: its caption text and fill colour."""

    caption: str
    fill: str | None


@dataclass
class BrowserResult:
    """What the result frame showed after the saved query ran."""

    summary: str
    nodes: list[GraphNode]
    guide_text: str
    blocked_urls: list[str] = field(default_factory=list)


def _fill(page: Page, test_id: str, text: str) -> None:
    page.evaluate(
        f"(() => {{ const e = document.querySelector('[data-testid={test_id}]');"
        " e.focus(); e.select(); return true; })()"
    )
    page.insert_text(text)


def _run(page: Page, command: str) -> None:
    """Type a command or query into Browser's main editor and run it with Ctrl+Enter."""
    page.evaluate(
        "document.querySelector('[data-testid=activeEditor] textarea').focus()"
    )
    page.insert_text(command)
    page.press("Enter", "Enter", 13, modifiers=2)


def log_in(
    page: Page, browser_url: str, bolt_uri: str, user: str, password: str
) -> None:
    connect_url = urllib.parse.quote(bolt_uri.replace("://", f"://{user}@", 1), safe="")
    page.navigate(f"{browser_url}?connectURL={connect_url}")
    page.wait_for(
        "document.querySelector('[data-testid=password]') !== null",
        60,
        "Browser's login form",
    )
    _fill(page, "username", user)
    _fill(page, "password", password)
    page.evaluate("document.querySelector('[data-testid=connect]').click()")
    page.wait_for(
        "document.body.innerText.includes('You are connected as user')",
        30,
        f"Browser to connect to {bolt_uri} as {user}",
    )


@contextmanager
def logged_in_page(
    browser_url: str,
    bolt_uri: str,
    user: str,
    password: str,
    width: int = 1400,
    height: int = 900,
) -> Iterator[tuple[Page, int]]:
    """Yield a Browser page, logged in and styled, and the port serving the guide."""
    with serving() as port, chromium_page(width, height) as page:
        page.allow_only_loopback()
        page.run_before_each_document(SEED_SCRIPT)
        log_in(page, browser_url, bolt_uri, user, password)

        _run(page, f":style http://localhost:{port}/{STYLE_NAME}")
        page.wait_for(
            "(localStorage.getItem('neo4j.grass') || '').includes('#F79767')",
            30,
            "Browser to load the delegraph style sheet",
        )
        yield page, port


def show_saved_query(
    page: Page, name: str, parameters: dict[str, str]
) -> tuple[str, list[GraphNode]]:
    """Set ``parameters``, run cypher/browser/NAME.cypher, return the graph view."""
    count_confirmations = (
        "document.body.innerText.split('Successfully set your parameters').length"
    )
    for key, value in parameters.items():
        before = page.evaluate(count_confirmations)
        _run(page, f":param {key} => '{value}'")
        page.wait_for(f"{count_confirmations} > {before}", 30, f"Browser to set ${key}")
    _run(page, browser_query(name))
    summary: str = page.wait_for(
        "(document.body.innerText.match(/Displaying \\d+ nodes?, \\d+ relationships?/) || [''])[0]",
        60,
        f"the graph view of {name}.cypher",
    )
    # The force layout moves nodes for a moment after the frame appears.
    time.sleep(2)
    nodes = [GraphNode(**item) for item in json.loads(page.evaluate(NODES_IN_VIEW))]
    return summary, nodes


def run_agent_chains(
    browser_url: str, bolt_uri: str, user: str, password: str, screenshot: Path
) -> BrowserResult:
    """Apply the style sheet, run agent_chains.cypher for DEMO_AGENT and save a PNG.

    Then opens the guide in Browser's side drawer and returns its text as well.
    """
    with logged_in_page(browser_url, bolt_uri, user, password) as (page, port):
        summary, nodes = show_saved_query(page, "agent_chains", {"agent": DEMO_AGENT})
        page.screenshot(screenshot)

        _run(page, f":guide http://localhost:{port}/{GUIDE_NAME}")
        guide_text = page.wait_for(
            "(t => t.includes('delegraph: delegation chains') && t)"
            "(document.querySelector('[data-testid=guidesDrawer]')?.innerText || '')",
            30,
            "Browser to open the delegraph guide",
        )
        return BrowserResult(summary, nodes, guide_text, list(page.blocked_urls))


def screenshot_saved_query(
    browser_url: str,
    bolt_uri: str,
    user: str,
    password: str,
    name: str,
    parameters: dict[str, str],
    screenshot: Path,
    width: int = 1400,
    height: int = 900,
) -> BrowserResult:
    """Run one saved query with the style sheet applied and save its graph as a PNG.

    The result frame is switched to full screen, the side panel is collapsed and
    the graph is zoomed to fit, so the picture shows the graph alone.
    """
    with logged_in_page(browser_url, bolt_uri, user, password, width, height) as (
        page,
        _,
    ):
        summary, nodes = show_saved_query(page, name, parameters)
        for selector in (
            "article button[title=Fullscreen]",
            "button[aria-label='Collapse the node properties display']",
            "button[aria-label=zoom-to-fit]",
        ):
            page.evaluate(f'document.querySelector("{selector}").click()')
            time.sleep(1)
        time.sleep(2)
        page.screenshot(screenshot)
        return BrowserResult(summary, nodes, "", list(page.blocked_urls))
