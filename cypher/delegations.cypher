// Delegation writes: create with the attenuation rules, revoke, disable and
// enable, and the bounded neighbourhood reads that revoke impact walks.
//
// `{{NAME}}` marks a path bound; queries.bounded_query replaces it with a
// validated integer, because Cypher takes no parameters in path bounds.
//
// Write transactions lock the principals their rules read by setting and
// removing `_delegraph_lock` on them. The node keeps no property, but the
// write lock stays until commit, so a concurrent revoke, disable or grant
// change of the same principals waits instead of racing the check.

// query: lock_endpoints
OPTIONAL MATCH (s:Principal {ref: $source})
OPTIONAL MATCH (t:Principal {ref: $target})
FOREACH (n IN [x IN [s, t] WHERE x IS NOT NULL] |
  SET n._delegraph_lock = true REMOVE n._delegraph_lock)
RETURN s IS NOT NULL AS source_found, coalesce(s.disabled, false) AS source_disabled,
       t IS NOT NULL AS target_found, coalesce(t.disabled, false) AS target_disabled

// query: delegation_id_used
OPTIONAL MATCH (s:Principal)-[d:DELEGATES_TO {id: $id}]->(t:Principal)
RETURN s.ref AS from, t.ref AS to
LIMIT 1

// query: incoming_delegations
MATCH (u:Principal)-[d:DELEGATES_TO]->(:Principal {ref: $source})
RETURN u.ref AS from, coalesce(u.disabled, false) AS from_disabled, properties(d) AS d
ORDER BY d.id

// query: scope_resources
UNWIND $refs AS ref
OPTIONAL MATCH (r:Resource {ref: ref})
OPTIONAL MATCH (r)-[:CHILD_OF*1..{{HIERARCHY_DEPTH}}]->(a:Resource)
RETURN ref, r IS NOT NULL AS stored, collect(DISTINCT a.ref) AS ancestors

// A grant overlaps the delegated scope when its resource is a scope resource,
// an ancestor or a descendant of one, or shares a type with a wildcard or
// with resource_types (directly or through a descendant). The groups of the
// source are locked too, so a grant or membership change waits for commit.
// query: source_grants
MATCH (:Principal {ref: $source})-[:MEMBER_OF*0..{{GROUP_DEPTH}}]->(h:Principal)
WITH DISTINCT h
SET h._delegraph_lock = true REMOVE h._delegraph_lock
WITH h
WHERE NOT coalesce(h.disabled, false)
MATCH (h)-[g:HAS_ACCESS]->(r:Resource)
WHERE g.expires_at IS NULL OR g.expires_at > $now
RETURN h.ref AS holder, r.ref AS resource, g.actions AS actions,
  r.ref IN $scope_refs
    OR (r.id = '*' AND r.type IN $scope_ref_types)
    OR EXISTS {
      MATCH (s:Resource)-[:CHILD_OF*1..{{HIERARCHY_DEPTH}}]->(r)
      WHERE s.ref IN $scope_refs
    }
    OR EXISTS {
      MATCH (r)-[:CHILD_OF*1..{{HIERARCHY_DEPTH}}]->(s:Resource)
      WHERE s.ref IN $scope_refs
    } AS hits_refs,
  r.type IN $wildcard_types
    OR EXISTS {
      MATCH (d:Resource)-[:CHILD_OF*1..{{HIERARCHY_DEPTH}}]->(r)
      WHERE d.type IN $wildcard_types
    } AS hits_wildcards,
  r.type IN $resource_types
    OR EXISTS {
      MATCH (d:Resource)-[:CHILD_OF*1..{{HIERARCHY_DEPTH}}]->(r)
      WHERE d.type IN $resource_types
    } AS hits_types
ORDER BY holder, resource

// query: create_delegation
MATCH (s:Principal {ref: $source})
MATCH (t:Principal {ref: $target})
CREATE (s)-[d:DELEGATES_TO]->(t)
SET d = $properties
RETURN properties(d) AS d

// The target is locked as well as the edge, because create_delegation reads
// the target's incoming edges under the lock of that node.
// query: lock_delegation
MATCH (s:Principal)-[d:DELEGATES_TO {id: $id}]->(t:Principal)
SET t._delegraph_lock = true REMOVE t._delegraph_lock
SET d._delegraph_lock = true REMOVE d._delegraph_lock
RETURN s.ref AS from, t.ref AS to, properties(d) AS d

// query: revoke_delegation
MATCH (:Principal)-[d:DELEGATES_TO {id: $id}]->(:Principal)
SET d.revoked_at = $now, d.revoked_by = $by, d.revoke_reason = $reason
RETURN properties(d) AS d

// query: get_delegation
MATCH (s:Principal)-[d:DELEGATES_TO {id: $id}]->(t:Principal)
RETURN s.ref AS from, t.ref AS to, properties(d) AS d

// query: lock_principal
MATCH (p:Principal {ref: $ref})
SET p._delegraph_lock = true REMOVE p._delegraph_lock
RETURN coalesce(p.disabled, false) AS disabled, p.disabled_at AS disabled_at,
       p.disabled_by AS disabled_by

// query: disable_principal
MATCH (p:Principal {ref: $ref})
SET p.disabled = true, p.disabled_at = $now, p.disabled_by = $by

// query: enable_principal
MATCH (p:Principal {ref: $ref})
SET p.disabled = false, p.enabled_at = $now, p.enabled_by = $by

// query: edges_out
UNWIND $refs AS ref
MATCH (s:Principal {ref: ref})-[d:DELEGATES_TO]->(t:Principal)
RETURN s.ref AS from, t.ref AS to, properties(d) AS d

// query: edges_in
UNWIND $refs AS ref
MATCH (s:Principal)-[d:DELEGATES_TO]->(t:Principal {ref: ref})
RETURN s.ref AS from, t.ref AS to, properties(d) AS d

// A holder has a live grant itself or through its groups (nested, bounded);
// a disabled group conveys nothing.
// query: principal_facts
UNWIND $refs AS ref
MATCH (p:Principal {ref: ref})
RETURN ref, coalesce(p.disabled, false) AS disabled,
  EXISTS {
    MATCH (p)-[:MEMBER_OF*0..{{GROUP_DEPTH}}]->(h:Principal)-[g:HAS_ACCESS]->(:Resource)
    WHERE (g.expires_at IS NULL OR g.expires_at > $now)
      AND NOT coalesce(h.disabled, false)
  } AS holder
