"""The store's driver does not report unknown property keys on every query."""

from __future__ import annotations

from delegraph.cypher.store import Store
from neo4j import ManagedTransaction


def test_unknown_property_gives_no_notification(clean_store: Store) -> None:
    def work(tx: ManagedTransaction) -> list[object]:
        result = tx.run(
            "OPTIONAL MATCH (p:Principal {ref: 'user:nobody'}) "
            "RETURN p.property_that_no_node_has AS value"
        )
        result.single()
        return list(result.consume().summary_notifications)

    notifications = clean_store.read(work)

    assert notifications == [], notifications
