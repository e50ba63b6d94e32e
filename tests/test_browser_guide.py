"""The guide and style sheet server of scripts/browser_guide.py, read over loopback HTTP."""

from __future__ import annotations

import html
import re
import sys
import urllib.request
from pathlib import Path

from browser_queries import QUERY_NAMES, browser_file

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
from browser_guide import GUIDE_NAME, QUERY_ORDER, STYLE_NAME, serving

GRASS_RULE = re.compile(r"^(node|relationship)(\.[A-Za-z_]+)? \{$")
GRASS_PROPERTY = re.compile(r"^  [a-z-]+: [^:;]+;$")


def fetch(url: str) -> tuple[str, str]:
    with urllib.request.urlopen(url, timeout=10) as reply:  # noqa: S310 - loopback
        return reply.read().decode(), reply.headers.get(
            "Access-Control-Allow-Origin", ""
        )


def test_guide_slide_per_query() -> None:
    assert sorted(QUERY_ORDER) == sorted(QUERY_NAMES)
    with serving() as port:
        guide, allow_origin = fetch(f"http://127.0.0.1:{port}/{GUIDE_NAME}")
    assert allow_origin == "*"
    assert guide.count("<slide>") == len(QUERY_NAMES) + 1
    assert f":style http://localhost:{port}/{STYLE_NAME}" in guide
    assert html.escape(":param agent => 'agent:receipt-reader'") in guide


def test_style_sheet_served() -> None:
    with serving() as port:
        grass, allow_origin = fetch(f"http://127.0.0.1:{port}/{STYLE_NAME}")
    assert allow_origin == "*"
    assert grass == browser_file(STYLE_NAME)


def test_grass_parses_in_browser() -> None:
    # Browser 5.24's GraSS parser has no comments and splits each property at
    # its only colon, so every line must be a rule opening, a property or "}".
    for number, line in enumerate(browser_file(STYLE_NAME).splitlines(), start=1):
        assert GRASS_RULE.match(line) or GRASS_PROPERTY.match(line) or line == "}", (
            f"delegraph.grass line {number} is not plain GraSS: {line!r}"
        )
    for label in ("User", "Agent", "Workload", "Group", "Resource"):
        assert f"node.{label} {{" in browser_file(STYLE_NAME)
