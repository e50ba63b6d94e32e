from delegraph.cypher.store import SCHEMA_VERSION, Store, decode_token


def test_driver_writes_and_reads_back(clean_store: Store) -> None:
    written = clean_store.write(
        lambda tx: tx.run(
            "CREATE (n:Probe {name: $name}) RETURN id(n) AS i", name="x"
        ).single()
    )
    names = clean_store.read(
        lambda tx: [r["name"] for r in tx.run("MATCH (n:Probe) RETURN n.name AS name")],
        consistency_token=written.consistency_token,
    )
    assert names == ["x"]


def test_consistency_token_round_trips(clean_store: Store) -> None:
    written = clean_store.write(lambda tx: tx.run("CREATE (:Probe)").consume())
    bookmarks = decode_token(written.consistency_token)
    assert len(bookmarks.raw_values) == 1


def test_schema_applied_and_versioned(store: Store) -> None:
    assert store.apply_schema() == SCHEMA_VERSION
    assert store.schema_version() == SCHEMA_VERSION
    records, _, _ = store.driver.execute_query(
        "SHOW CONSTRAINTS YIELD name RETURN name"
    )
    names = {r["name"] for r in records}
    assert {"principal_ref", "resource_ref", "delegation_id"} <= names
