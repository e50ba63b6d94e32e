// Explain and lookup queries. `{{NAME}}` marks a path bound that
// queries.bounded_query replaces with a validated integer.

// Every trail back from the subject, up to one edge past the maximum chain
// length so that "too long" can be reported, whose far end holds the action
// on a target (or the subject itself), with no pruning: the engine gives each
// edge its verdict. Grants come back whether live or not, with the disabled
// principals on the membership path that leads to them.
// query: explain
OPTIONAL MATCH (s:Principal {ref: $subject})
OPTIONAL MATCH (r:Resource {ref: $resource})
OPTIONAL MATCH (w:Resource {ref: $wildcard})
CALL (r) {
  OPTIONAL MATCH (r)-[:CHILD_OF*1..{{HIERARCHY_DEPTH}}]->(ancestor:Resource)
  RETURN collect(DISTINCT ancestor) AS ancestors
}
WITH s, r, w,
     [t IN [r] + ancestors + [w] WHERE t IS NOT NULL] AS targets,
     [$resource, $wildcard] + [a IN ancestors | a.ref] AS scope_refs
CALL (s, targets) {
  WITH s WHERE s IS NOT NULL
  MATCH (s) ((b:Principal)<-[d:DELEGATES_TO]-(a:Principal)){0,{{LENGTH}}} (holder:Principal)
  CALL (holder, targets) {
    MATCH membership = (holder)-[:MEMBER_OF*0..{{GROUP_DEPTH}}]->(h:Principal)
          -[g:HAS_ACCESS]->(t:Resource)
    WHERE t IN targets AND $action IN g.actions
    RETURN collect({
      principal: h.ref,
      resource: t.ref,
      expires_at: g.expires_at,
      condition: g.condition,
      disabled: [n IN nodes(membership)
                 WHERE n <> holder AND coalesce(n.disabled, false) | n.ref]
    }) AS grants
  }
  WITH s, a, d, grants WHERE size(grants) > 0
  LIMIT {{MAX_PATHS}}
  RETURN collect({
    principals: [s.ref] + [x IN a | x.ref],
    disabled: [x IN [s] + a WHERE coalesce(x.disabled, false) | x.ref],
    edges: [x IN d | properties(x)],
    grants: grants
  }) AS paths
}
RETURN s IS NOT NULL AS subject_found,
       coalesce(s.disabled, false) AS subject_disabled,
       r IS NOT NULL AS resource_found,
       w IS NOT NULL AS wildcard_found,
       r.sensitivity AS sensitivity,
       scope_refs,
       size([t IN targets WHERE EXISTS {
         (t)<-[g:HAS_ACCESS]-(:Principal) WHERE $action IN g.actions
       }]) AS grants_on_resource,
       paths
