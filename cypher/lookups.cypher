// Lookup queries: accountability, reach and who_can. `{{NAME}}` marks a path
// bound that queries.bounded_query replaces with a validated integer.
//
// A live edge is unrevoked, inside its time window and leaves an enabled
// principal; a live chain is a trail of live edges with distinct nodes, at
// most MAX_CHAIN long, where each edge allows as many edges after it as its
// max_depth. These are the check's rules minus action, scope and conditions,
// which the engine applies per resource.

// The live chains that end at the subject, each with its far end (the
// holder) and every edge's properties, the edge nearest the subject first.
// query: chains_to
MATCH (s:Principal {ref: $subject})
WHERE NOT coalesce(s.disabled, false)
MATCH (s)
      ((b:Principal)<-[d:DELEGATES_TO]-(a:Principal)
        WHERE d.revoked_at IS NULL
          AND (d.not_before IS NULL OR d.not_before <= $now)
          AND (d.expires_at IS NULL OR d.expires_at > $now)
          AND NOT coalesce(a.disabled, false)
      ){0,{{MAX_CHAIN}}}
      (holder:Principal)
WHERE all(i IN range(0, size(d) - 1) WHERE coalesce(d[i].max_depth, 0) >= i)
  AND all(i IN range(0, size(a) - 1) WHERE a[i] <> s AND NOT a[i] IN a[i + 1..])
WITH s, a, d, holder
LIMIT $max_paths
RETURN [s.ref] + [x IN a | x.ref] AS principals,
       [x IN d | properties(x)] AS edges,
       holder.ref AS holder, holder:User AS holder_is_user

// The subject, its kind, whether it is disabled, and the owners of every
// principal named in $principals, with the users who act for an owning group.
// query: owners
OPTIONAL MATCH (s:Principal {ref: $subject})
CALL (s) {
  UNWIND $principals AS ref
  MATCH (p:Principal {ref: ref})-[:OWNED_BY]->(owner:Principal)
  OPTIONAL MATCH (human:User)-[:MEMBER_OF*1..{{GROUP_DEPTH}}]->(owner)
  WHERE NOT coalesce(human.disabled, false)
  WITH p, owner, collect(DISTINCT human.ref) AS humans
  RETURN collect({
    principal: p.ref,
    owner: owner.ref,
    owner_is_user: owner:User,
    members: humans
  }) AS owners
}
RETURN s IS NOT NULL AS found, coalesce(s.disabled, false) AS disabled, owners

// The live grants that each holder in $holders can use, through its own
// grants or a group's (no disabled principal on the membership path), and
// every stored resource each grant covers: the target, its descendants and,
// for a wildcard target, every stored resource of its type. Each covered
// resource comes with its ancestors' refs and its sensitivity, so that the
// engine can test delegation scopes on it.
// query: holder_grants
UNWIND $holders AS holder_ref
MATCH membership = (holder:Principal {ref: holder_ref})
      -[:MEMBER_OF*0..{{GROUP_DEPTH}}]->(h:Principal)-[g:HAS_ACCESS]->(t:Resource)
WHERE (g.expires_at IS NULL OR g.expires_at > $now)
  AND all(n IN nodes(membership) WHERE NOT coalesce(n.disabled, false))
WITH DISTINCT holder, h, g, t
WITH holder, h, g, t, COLLECT {
  MATCH (x:Resource)-[:CHILD_OF*0..{{HIERARCHY_DEPTH}}]->(t)
  RETURN x
  UNION
  MATCH (x:Resource {type: t.type})
  WHERE t.ref ENDS WITH ':*'
  RETURN x
} AS below
WITH holder, h, g, t, [x IN below | {
  ref: x.ref,
  sensitivity: x.sensitivity,
  ancestors: [(x)-[:CHILD_OF*1..{{HIERARCHY_DEPTH}}]->(up:Resource) | up.ref]
}][..$max_resources] AS covered
RETURN holder.ref AS holder, h.ref AS grant_principal, t.ref AS grant_resource,
       g.actions AS actions, g.condition AS condition, covered

// Who can act on one resource. The first part finds the live grants on the
// resource, its ancestors or its wildcard, and every principal that holds
// one (itself or through enabled groups). The second walks forward from each
// holder along live edges that carry $action (when given) and cover the
// resource by scope and sensitivity.
// query: holders_of
OPTIONAL MATCH (r:Resource {ref: $resource})
OPTIONAL MATCH (w:Resource {ref: $wildcard})
CALL (r) {
  OPTIONAL MATCH (r)-[:CHILD_OF*1..{{HIERARCHY_DEPTH}}]->(ancestor:Resource)
  RETURN collect(DISTINCT ancestor) AS ancestors
}
WITH r, w, [t IN [r] + ancestors + [w] WHERE t IS NOT NULL] AS targets,
     [$resource, $wildcard] + [x IN ancestors | x.ref] AS scope_refs
CALL (targets) {
  UNWIND targets AS t
  MATCH (h:Principal)-[g:HAS_ACCESS]->(t)
  WHERE (g.expires_at IS NULL OR g.expires_at > $now)
    AND ($action IS NULL OR $action IN g.actions)
  MATCH membership = (holder:Principal)-[:MEMBER_OF*0..{{GROUP_DEPTH}}]->(h)
  WHERE all(n IN nodes(membership) WHERE NOT coalesce(n.disabled, false))
  WITH DISTINCT holder, h, g, t
  RETURN collect({
    holder: holder.ref,
    grant_principal: h.ref,
    grant_resource: t.ref,
    actions: g.actions,
    condition: g.condition
  }) AS grants
}
RETURN r IS NOT NULL AS resource_found, w IS NOT NULL AS wildcard_found,
       r.sensitivity AS sensitivity, scope_refs, grants

// query: chains_from
UNWIND $holders AS holder_ref
MATCH (holder:Principal {ref: holder_ref})
      ((a:Principal)-[d:DELEGATES_TO]->(b:Principal)
        WHERE d.revoked_at IS NULL
          AND ($action IS NULL OR $action IN d.actions)
          AND (d.not_before IS NULL OR d.not_before <= $now)
          AND (d.expires_at IS NULL OR d.expires_at > $now)
          AND (d.resources IS NULL OR any(x IN d.resources WHERE x IN $scope_refs))
          AND (d.resource_types IS NULL OR $resource_type IN d.resource_types)
          AND (d.max_sensitivity IS NULL OR $sensitivity IS NULL
               OR $sensitivity <= d.max_sensitivity)
          AND NOT coalesce(b.disabled, false)
      ){1,{{MAX_CHAIN}}}
      (delegate:Principal)
WHERE all(i IN range(0, size(d) - 1)
          WHERE coalesce(d[i].max_depth, 0) >= size(d) - 1 - i)
  AND all(i IN range(0, size(b) - 1) WHERE b[i] <> holder AND NOT b[i] IN b[i + 1..])
WITH holder, b, d
LIMIT $max_paths
RETURN holder.ref AS holder, [holder.ref] + [x IN b | x.ref] AS principals,
       [x IN d | properties(x)] AS edges
