// Reads of token introspection: the principals and delegation edges of the
// chain that a token's `sub` and nested `act` claims name, and what the
// subject holds.
//
// `{{NAME}}` marks a path bound; queries.bounded_query replaces it with a
// validated integer, because Cypher takes no parameters in path bounds.

// One row per principal of $refs (subject first, current actor last), with
// every DELEGATES_TO edge into it from the principal before it.
// query: chain_hops
UNWIND range(0, size($refs) - 1) AS i
OPTIONAL MATCH (p:Principal {ref: $refs[i]})
RETURN i, $refs[i] AS ref, p IS NOT NULL AS found,
       coalesce(p.disabled, false) AS disabled,
       COLLECT {
         MATCH (:Principal {ref: $refs[i - 1]})-[d:DELEGATES_TO]->(p)
         WHERE i > 0
         RETURN properties(d) AS d ORDER BY d.id
       } AS edges
ORDER BY i

// The live grants of the subject, its own or through groups (nested,
// bounded); a disabled group on the way conveys nothing.
// query: held_grants
MATCH path = (:Principal {ref: $subject})-[:MEMBER_OF*0..{{GROUP_DEPTH}}]->(h:Principal)
             -[g:HAS_ACCESS]->(r:Resource)
WHERE all(n IN nodes(path) WHERE n:Resource OR NOT coalesce(n.disabled, false))
  AND (g.expires_at IS NULL OR g.expires_at > $now)
RETURN h.ref AS holder, r.ref AS resource, g.actions AS actions,
       g.condition AS condition
ORDER BY holder, resource
