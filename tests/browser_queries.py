"""Load the saved Neo4j Browser queries of cypher/browser/ and run them like Browser does."""

from __future__ import annotations

from importlib import resources
from typing import Any

import neo4j
from delegraph.cypher.store import Store

QUERY_NAMES = (
    "agent_chains",
    "accountable_humans",
    "blast_radius",
    "expiring_delegations",
    "overview",
    "revoked_cuts",
)


def browser_file(name: str) -> str:
    """Return the text of ``cypher/browser/NAME`` as installed with the package."""
    return resources.files("delegraph.cypher").joinpath("browser", name).read_text()


def browser_query(name: str) -> str:
    return browser_file(f"{name}.cypher")


def run_browser_query(store: Store, name: str, **parameters: Any) -> list[neo4j.Record]:
    """Run a saved query with its Browser parameters and return its records.

    The queries read properties that a small graph may never set (``not_before``),
    so the server's "unknown property" notifications are switched off here.
    """
    with store.driver.session(
        database=store.database, notifications_min_severity="OFF"
    ) as session:
        result = session.run(browser_query(name), parameters)
        return list(result)
