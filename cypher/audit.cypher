// The decision log: (:Decision) nodes written in batches by the log's writer
// thread, each in its own write transaction, never inside a check.
//
// A Decision links to what it is about, so analysts can walk from it in
// Neo4j Browser:
//   (:Decision)-[:SUBJECT]->(:Principal)       the subject of the request
//   (:Decision)-[:ON_BEHALF_OF]->(:Principal)  the on_behalf_of principal
//   (:Decision)-[:RESOURCE]->(:Resource)       the resource (or its TYPE:* node)
//   (:Decision)-[:CHAIN {position, delegation}]->(:Principal)
//       every principal P0..Pk of the deciding chain; `delegation` is the id
//       of the DELEGATES_TO edge into that principal (null for the holder P0).
// A ref that is not stored gets no link; the node keeps the ref as a string.

// MERGE on the id makes a retried batch write each decision once: a node
// that already has its links is left as it is. row.at is ISO 8601 text (see
// query_time in cypher/queries.py).
// query: write_decisions
UNWIND $decisions AS row
MERGE (d:Decision {id: row.id})
ON CREATE SET d += row.properties, d.at = datetime(row.at)
WITH d, row
WHERE NOT EXISTS { (d)-->() }
CALL (d, row) {
  OPTIONAL MATCH (s:Principal {ref: row.properties.subject})
  FOREACH (x IN CASE WHEN s IS NULL THEN [] ELSE [s] END |
    CREATE (d)-[:SUBJECT]->(x))
}
CALL (d, row) {
  OPTIONAL MATCH (u:Principal {ref: row.properties.on_behalf_of})
  FOREACH (x IN CASE WHEN u IS NULL THEN [] ELSE [u] END |
    CREATE (d)-[:ON_BEHALF_OF]->(x))
}
CALL (d, row) {
  OPTIONAL MATCH (r:Resource {ref: row.properties.resource})
  OPTIONAL MATCH (w:Resource {ref: row.wildcard})
  WITH d, coalesce(r, w) AS target
  FOREACH (x IN CASE WHEN target IS NULL THEN [] ELSE [target] END |
    CREATE (d)-[:RESOURCE]->(x))
}
CALL (d, row) {
  UNWIND row.chain AS link
  MATCH (p:Principal {ref: link.principal})
  CREATE (d)-[:CHAIN {position: link.position, delegation: link.delegation}]->(p)
}
RETURN count(*) AS linked

// The shared tail of the decision reads. A prelude binds `d` from the most
// selective index it can use; this tail applies the other filters, then
// orders newest first, with the id breaking ties among equal times.
// Keyset paging: after_at and after_id are the last row of the previous page.
// query: decisions_filter
WITH d
WHERE d.at >= $since AND d.at < $until
  AND ($subject IS NULL OR d.subject = $subject)
  AND ($on_behalf_of IS NULL OR d.on_behalf_of = $on_behalf_of)
  AND ($resource IS NULL OR d.resource = $resource)
  AND ($delegation IS NULL OR $delegation IN d.delegations)
  AND ($outcome IS NULL OR d.outcome = $outcome)
  AND ($after_at IS NULL OR d.at < $after_at
       OR (d.at = $after_at AND d.id < $after_id))
RETURN properties(d) AS d
ORDER BY d.at DESC, d.id DESC
LIMIT $limit

// query: decisions_by_subject
MATCH (d:Decision {subject: $subject})

// query: decisions_by_resource
MATCH (d:Decision {resource: $resource})

// query: decisions_by_on_behalf_of
MATCH (d:Decision {on_behalf_of: $on_behalf_of})

// query: decisions_by_delegation
MATCH (d:Decision)-[:CHAIN {delegation: $delegation}]->(:Principal)

// query: decisions_by_time
MATCH (d:Decision)
WHERE d.at >= $since AND d.at < $until

// query: count_decisions
MATCH (d:Decision)
RETURN count(d) AS decisions

// Used by scripts/measure_decision_log_loss.py to find one run's records.
// query: decision_request_ids
MATCH (d:Decision)
WHERE d.request_id STARTS WITH $prefix
RETURN d.request_id AS request_id
