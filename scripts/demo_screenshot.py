"""Write docs/img/demo-graph.png: the demo organisation of ``delegraph demo`` in Neo4j Browser.

Starts the local Neo4j of neo4j-local/ if it is not running (ports from
DELEGRAPH_NEO4J_BOLT_PORT and DELEGRAPH_NEO4J_HTTP_PORT), replaces its whole
graph with the demo organisation (api/demo/org.yaml), and drives headless
Chromium to run one saved query with the delegraph style sheet. Run from the
checkout:

    .venv/bin/python scripts/demo_screenshot.py [--query overview] [--output PATH]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from browser_session import screenshot_saved_query  # noqa: E402
from delegraph.api import neo4j_local  # noqa: E402
from delegraph.api.demo.org import load_organisation  # noqa: E402
from delegraph.cypher.store import Store  # noqa: E402
from delegraph.engine.service import Engine  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--query",
        default="overview",
        help="saved query of cypher/browser/ to show (default overview)",
    )
    parser.add_argument(
        "--agent",
        default="agent:ocr-worker",
        help="value of $agent for the queries that read it",
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=ROOT / "docs" / "img" / "demo-graph.png",
        help="PNG file to write (default docs/img/demo-graph.png)",
    )
    arguments = parser.parse_args()

    config = neo4j_local.LocalNeo4jConfig.from_env()
    neo4j_local.start(config)
    password = neo4j_local.read_password(config) or ""
    store = Store(config.bolt_uri, (neo4j_local.USER, password), query_timeout=60.0)
    try:
        store.apply_schema()
        loaded = load_organisation(Engine(store))
    finally:
        store.close()
    print(f"loaded the demo organisation: {loaded.result.counts}")

    parameters = {} if arguments.query == "overview" else {"agent": arguments.agent}
    result = screenshot_saved_query(
        config.browser_url,
        config.bolt_uri,
        neo4j_local.USER,
        password,
        arguments.query,
        parameters,
        arguments.output,
        width=1600,
        height=1000,
    )
    print(f"{result.summary}; wrote {arguments.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
