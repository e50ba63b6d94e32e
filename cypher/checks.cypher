// The check query. cypher/checks.py joins one prelude (single request or
// batch) with the shared body, so both decide with the same text.
//
// After a prelude these variables are bound for each request: subject_ref,
// action, resource_ref, resource_type, wildcard_ref, on_behalf_of, now.
// $now is ISO 8601 text (cypher/queries.py query_time gives the reason).
// `{{NAME}}` marks a path bound; queries.bounded_query replaces it with a
// validated integer, because Cypher takes no parameters in path bounds.

// query: prelude_single
WITH $subject AS subject_ref, $action AS action, $resource AS resource_ref,
     $resource_type AS resource_type, $wildcard AS wildcard_ref,
     $on_behalf_of AS on_behalf_of, datetime($now) AS now, 0 AS request_index

// query: prelude_batch
UNWIND $requests AS request
WITH request.subject AS subject_ref, request.action AS action,
     request.resource AS resource_ref, request.resource_type AS resource_type,
     request.wildcard AS wildcard_ref, request.on_behalf_of AS on_behalf_of,
     datetime($now) AS now, request.index AS request_index

// The body walks back from the subject. Each edge of the quantified path is
// pruned inline: unrevoked, inside its time window, carrying the action,
// covering the resource by scope and sensitivity, from an enabled principal.
// What needs the whole path (max_depth per edge counted from the subject,
// distinct nodes) is checked after the match. The holder at the far end must
// hold the action on a target through its own grant or a group's.
// Conditions are returned, not evaluated: the engine runs them in CEL.
// query: body
OPTIONAL MATCH (s:Principal {ref: subject_ref})
OPTIONAL MATCH (r:Resource {ref: resource_ref})
OPTIONAL MATCH (w:Resource {ref: wildcard_ref})
CALL (r) {
  OPTIONAL MATCH (r)-[:CHILD_OF*1..{{HIERARCHY_DEPTH}}]->(ancestor:Resource)
  RETURN collect(DISTINCT ancestor) AS ancestors
}
WITH s, action, resource_ref, resource_type, wildcard_ref, on_behalf_of,
     now, request_index, r, w,
     [t IN [r] + ancestors + [w] WHERE t IS NOT NULL] AS targets,
     [resource_ref, wildcard_ref] + [a IN ancestors | a.ref] AS scope_refs,
     r.sensitivity AS sensitivity
CALL (s, action, resource_type, on_behalf_of, now, targets, scope_refs, sensitivity) {
  WITH s WHERE s IS NOT NULL AND NOT coalesce(s.disabled, false)
  MATCH (s)
        ((b:Principal)<-[d:DELEGATES_TO]-(a:Principal)
          WHERE d.revoked_at IS NULL
            AND action IN d.actions
            AND (d.not_before IS NULL OR d.not_before <= now)
            AND (d.expires_at IS NULL OR d.expires_at > now)
            AND (d.resources IS NULL OR any(x IN d.resources WHERE x IN scope_refs))
            AND (d.resource_types IS NULL OR resource_type IN d.resource_types)
            AND (d.max_sensitivity IS NULL OR sensitivity IS NULL
                 OR sensitivity <= d.max_sensitivity)
            AND NOT coalesce(a.disabled, false)
        ){0,{{MAX_CHAIN}}}
        (holder:Principal)
  WHERE (on_behalf_of IS NULL OR holder.ref = on_behalf_of)
    AND all(i IN range(0, size(d) - 1) WHERE coalesce(d[i].max_depth, 0) >= i)
    AND all(i IN range(0, size(a) - 1) WHERE a[i] <> s AND NOT a[i] IN a[i + 1..])
  MATCH membership = (holder)-[:MEMBER_OF*0..{{GROUP_DEPTH}}]->(h:Principal)
        -[g:HAS_ACCESS]->(t:Resource)
  WHERE t IN targets
    AND action IN g.actions
    AND (g.expires_at IS NULL OR g.expires_at > now)
    AND all(n IN nodes(membership) WHERE NOT coalesce(n.disabled, false))
  WITH d, a, s, h, t, g,
       g.condition IS NOT NULL OR any(x IN d WHERE x.condition IS NOT NULL)
         AS conditional
  ORDER BY conditional, size(d), h.ref, t.ref
  LIMIT {{MAX_CANDIDATES}}
  RETURN collect({
    principals: [s.ref] + [x IN a | x.ref],
    delegations: [x IN d | x.id],
    conditions: [x IN d | x.condition],
    grant_principal: h.ref,
    grant_resource: t.ref,
    grant_condition: g.condition,
    conditional: conditional
  }) AS candidates
}
RETURN request_index,
       s IS NOT NULL AS subject_found,
       coalesce(s.disabled, false) AS subject_disabled,
       r IS NOT NULL AS resource_found,
       w IS NOT NULL AS wildcard_found,
       r.sensitivity AS sensitivity,
       candidates
