// CRUD of principals, resources, memberships, grants and delegation reads.
// Lists page by the sort key: each takes $after (the last key of the previous
// page, or null) and $limit, and returns at most $limit rows.
// `{{NAME}}` is a path bound set by queries.bounded_query.

// Labels are literals chosen by $kind, never taken from input. Only a new
// node gets `disabled`; afterwards disable and enable change it.
// query: upsert_principal
MERGE (p:Principal {ref: $ref})
ON CREATE SET p.disabled = false
SET p.kind = $kind, p.id = $id
FOREACH (_ IN CASE WHEN $kind = 'user' THEN [1] ELSE [] END | SET p:User)
FOREACH (_ IN CASE WHEN $kind = 'agent' THEN [1] ELSE [] END | SET p:Agent)
FOREACH (_ IN CASE WHEN $kind = 'workload' THEN [1] ELSE [] END | SET p:Workload)
FOREACH (_ IN CASE WHEN $kind = 'group' THEN [1] ELSE [] END | SET p:Group)
WITH p
OPTIONAL MATCH (p)-[old:OWNED_BY]->(previous:Principal)
WHERE previous.ref <> $owner OR $owner IS NULL
DELETE old
WITH DISTINCT p
OPTIONAL MATCH (owner:Principal {ref: $owner})
FOREACH (o IN CASE WHEN owner IS NULL THEN [] ELSE [owner] END |
  MERGE (p)-[:OWNED_BY]->(o))
RETURN p.ref AS ref

// query: principal_exists
OPTIONAL MATCH (p:Principal {ref: $ref})
RETURN p IS NOT NULL AS found, p.kind AS kind

// query: get_principal
MATCH (p:Principal {ref: $ref})
OPTIONAL MATCH (p)-[:OWNED_BY]->(owner:Principal)
RETURN p.ref AS ref, owner.ref AS owner, coalesce(p.disabled, false) AS disabled

// query: list_principals
MATCH (p:Principal)
WHERE ($kind IS NULL OR p.kind = $kind) AND ($after IS NULL OR p.ref > $after)
WITH p
ORDER BY p.ref
LIMIT $limit
OPTIONAL MATCH (p)-[:OWNED_BY]->(owner:Principal)
RETURN p.ref AS ref, owner.ref AS owner, coalesce(p.disabled, false) AS disabled
ORDER BY ref

// query: principal_dependents
MATCH (p:Principal {ref: $ref})
RETURN
  COUNT { (p)-[:DELEGATES_TO]-() } AS delegations,
  COUNT { (p)-[d:DELEGATES_TO]-() WHERE d.revoked_at IS NOT NULL } AS revoked,
  COLLECT { MATCH (a:Principal)-[:OWNED_BY]->(p) RETURN a.ref ORDER BY a.ref } AS owned

// query: delete_principal
MATCH (p:Principal {ref: $ref})
DETACH DELETE p

// query: upsert_resource
MERGE (r:Resource {ref: $ref})
SET r.type = $type, r.id = $id, r.sensitivity = $sensitivity
WITH r
OPTIONAL MATCH (r)-[old:CHILD_OF]->(:Resource)
DELETE old
WITH DISTINCT r
OPTIONAL MATCH (parent:Resource {ref: $parent})
FOREACH (x IN CASE WHEN parent IS NULL THEN [] ELSE [parent] END |
  MERGE (r)-[:CHILD_OF]->(x))
RETURN r.ref AS ref

// A parent that descends from the resource (or is it) would close a cycle.
// query: parent_facts
OPTIONAL MATCH (parent:Resource {ref: $parent})
RETURN parent IS NOT NULL AS found,
  parent IS NOT NULL AND EXISTS {
    MATCH (parent)-[:CHILD_OF*0..{{HIERARCHY_DEPTH}}]->(r:Resource {ref: $ref})
  } AS cycle

// query: get_resource
MATCH (r:Resource {ref: $ref})
OPTIONAL MATCH (r)-[:CHILD_OF]->(parent:Resource)
RETURN r.ref AS ref, parent.ref AS parent, r.sensitivity AS sensitivity

// query: list_resources
MATCH (r:Resource)
WHERE ($type IS NULL OR r.type = $type) AND ($after IS NULL OR r.ref > $after)
WITH r
ORDER BY r.ref
LIMIT $limit
OPTIONAL MATCH (r)-[:CHILD_OF]->(parent:Resource)
RETURN r.ref AS ref, parent.ref AS parent, r.sensitivity AS sensitivity
ORDER BY ref

// query: resource_dependents
MATCH (r:Resource {ref: $ref})
RETURN COUNT { (:Resource)-[:CHILD_OF]->(r) } AS children,
       COUNT { (:Principal)-[:HAS_ACCESS]->(r) } AS grants

// query: delete_resource
MATCH (r:Resource {ref: $ref})
DETACH DELETE r

// A group that is already a member of the new member (or is it) would close
// a cycle of groups.
// query: membership_facts
OPTIONAL MATCH (m:Principal {ref: $member})
OPTIONAL MATCH (g:Group {ref: $group})
RETURN m IS NOT NULL AS member_found, g IS NOT NULL AS group_found,
  m IS NOT NULL AND g IS NOT NULL AND EXISTS {
    MATCH (g)-[:MEMBER_OF*0..{{GROUP_DEPTH}}]->(m)
  } AS cycle

// query: add_membership
MATCH (m:Principal {ref: $member})
MATCH (g:Group {ref: $group})
MERGE (m)-[:MEMBER_OF]->(g)

// query: list_memberships
MATCH (m:Principal)-[:MEMBER_OF]->(g:Group)
WHERE ($member IS NULL OR m.ref = $member) AND ($group IS NULL OR g.ref = $group)
  AND ($after IS NULL OR m.ref > $after[0]
       OR (m.ref = $after[0] AND g.ref > $after[1]))
RETURN m.ref AS member, g.ref AS group
ORDER BY member, group
LIMIT $limit

// query: remove_membership
MATCH (:Principal {ref: $member})-[x:MEMBER_OF]->(:Group {ref: $group})
DELETE x
RETURN count(*) AS removed

// query: list_grants
MATCH (p:Principal)-[g:HAS_ACCESS]->(r:Resource)
WHERE ($principal IS NULL OR p.ref = $principal)
  AND ($resource IS NULL OR r.ref = $resource)
  AND ($after IS NULL OR p.ref > $after[0]
       OR (p.ref = $after[0] AND r.ref > $after[1]))
RETURN p.ref AS principal, r.ref AS resource, g.actions AS actions,
       g.expires_at AS expires_at, g.condition AS condition
ORDER BY principal, resource
LIMIT $limit

// query: list_delegations
MATCH (s:Principal)-[d:DELEGATES_TO]->(t:Principal)
WHERE ($source IS NULL OR s.ref = $source) AND ($target IS NULL OR t.ref = $target)
  AND ($include_revoked OR d.revoked_at IS NULL)
  AND ($after IS NULL OR d.id > $after)
RETURN s.ref AS from, t.ref AS to, properties(d) AS d
ORDER BY d.id
LIMIT $limit
