"""Write docs/img/browser-demo.png: the demo graph's agent chain in Neo4j Browser.

Starts the local Neo4j of neo4j-local/ if it is not running (ports from
DELEGRAPH_NEO4J_BOLT_PORT and DELEGRAPH_NEO4J_HTTP_PORT), replaces its whole
graph with the demo organisation of tests/browser_demo.py, and drives headless
Chromium as tests/test_browser_ui.py does. Run from the checkout:

    .venv/bin/python scripts/browser_screenshot.py [--output PATH]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from browser_demo import demo_document  # noqa: E402
from browser_session import run_agent_chains  # noqa: E402
from delegraph.api import neo4j_local  # noqa: E402
from delegraph.cypher.store import Store  # noqa: E402
from delegraph.engine.documents import parse_document  # noqa: E402
from delegraph.engine.graph import import_document  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--output",
        type=Path,
        default=ROOT / "docs" / "img" / "browser-demo.png",
        help="PNG file to write (default docs/img/browser-demo.png)",
    )
    arguments = parser.parse_args()

    config = neo4j_local.LocalNeo4jConfig.from_env()
    neo4j_local.start(config)
    password = neo4j_local.read_password(config) or ""
    store = Store(config.bolt_uri, (neo4j_local.USER, password), query_timeout=30.0)
    try:
        store.apply_schema()
        # CALL ... IN TRANSACTIONS needs an implicit (auto-commit) transaction.
        with store.driver.session(database=store.database) as session:
            session.run(
                "MATCH (n) WHERE NOT n:DelegraphSchema "
                "CALL (n) { DETACH DELETE n } IN TRANSACTIONS OF 5000 ROWS"
            ).consume()
        import_document(store, parse_document(demo_document()))
    finally:
        store.close()

    result = run_agent_chains(
        config.browser_url,
        config.bolt_uri,
        neo4j_local.USER,
        password,
        arguments.output,
    )
    print(f"{result.summary}; wrote {arguments.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
