// Bulk upsert, export and CRUD of the graph. Every query takes its rows as
// $rows (UNWIND) so that one transaction writes a whole batch. Times in rows
// are ISO 8601 text that datetime() parses (see query_time in cypher/queries.py).

// query: existing_refs
UNWIND $refs AS ref
OPTIONAL MATCH (p:Principal {ref: ref})
OPTIONAL MATCH (r:Resource {ref: ref})
RETURN ref, p IS NOT NULL AS principal, r IS NOT NULL AS resource

// An import never undoes a kill switch: a disabled principal stays disabled
// (enable it explicitly) and a revoked delegation stays revoked, with its
// revoked_at, revoked_by and reason, so re-running a provisioning job after
// an incident cannot bring a cut chain back.

// query: upsert_users
UNWIND $rows AS row
MERGE (p:Principal:User {ref: row.ref})
SET p.kind = 'user', p.id = row.id,
    p.disabled = coalesce(p.disabled, false) OR row.disabled

// query: upsert_groups
UNWIND $rows AS row
MERGE (p:Principal:Group {ref: row.ref})
SET p.kind = 'group', p.id = row.id,
    p.disabled = coalesce(p.disabled, false) OR row.disabled

// query: upsert_agents
UNWIND $rows AS row
MERGE (p:Principal:Agent {ref: row.ref})
SET p.kind = 'agent', p.id = row.id,
    p.disabled = coalesce(p.disabled, false) OR row.disabled

// query: upsert_workloads
UNWIND $rows AS row
MERGE (p:Principal:Workload {ref: row.ref})
SET p.kind = 'workload', p.id = row.id,
    p.disabled = coalesce(p.disabled, false) OR row.disabled

// query: set_owners
UNWIND $rows AS row
MATCH (p:Principal {ref: row.ref})
MATCH (owner:Principal {ref: row.owner})
OPTIONAL MATCH (p)-[old:OWNED_BY]->(previous)
WHERE previous <> owner
DELETE old
MERGE (p)-[:OWNED_BY]->(owner)

// query: upsert_resources
UNWIND $rows AS row
MERGE (r:Resource {ref: row.ref})
SET r.type = row.type, r.id = row.id, r.sensitivity = row.sensitivity

// query: set_parents
UNWIND $rows AS row
MATCH (r:Resource {ref: row.ref})
OPTIONAL MATCH (parent:Resource {ref: row.parent})
OPTIONAL MATCH (r)-[old:CHILD_OF]->(previous)
WHERE parent IS NULL OR previous <> parent
DELETE old
WITH r, parent
WHERE parent IS NOT NULL
MERGE (r)-[:CHILD_OF]->(parent)

// query: upsert_memberships
UNWIND $rows AS row
MATCH (member:Principal {ref: row.member})
MATCH (g:Group {ref: row.group})
MERGE (member)-[:MEMBER_OF]->(g)

// query: upsert_grants
UNWIND $rows AS row
MATCH (p:Principal {ref: row.principal})
MATCH (r:Resource {ref: row.resource})
MERGE (p)-[g:HAS_ACCESS]->(r)
SET g.actions = row.actions, g.expires_at = datetime(row.expires_at), g.condition = row.condition

// query: upsert_delegations
// Every property is written from the row, where a null removes it, except
// that a revocation stays (revoked_at is set last, so the two CASEs read the
// stored value). A new edge gets created_at = $now and created_by = $by, and
// a re-imported one keeps its own. The plan has no Eager.
UNWIND $rows AS row
MATCH (source:Principal {ref: row.from})
MATCH (target:Principal {ref: row.to})
MERGE (source)-[d:DELEGATES_TO {id: row.id}]->(target)
ON CREATE SET d.created_at = $now, d.created_by = $by
SET d.actions = row.actions,
    d.resources = row.resources,
    d.resource_types = row.resource_types,
    d.max_sensitivity = row.max_sensitivity,
    d.max_depth = row.max_depth,
    d.not_before = datetime(row.not_before),
    d.expires_at = datetime(row.expires_at),
    d.condition = row.condition,
    d.revoked_by = CASE WHEN d.revoked_at IS NULL THEN row.revoked_by ELSE d.revoked_by END,
    d.revoke_reason = CASE WHEN d.revoked_at IS NULL THEN row.revoke_reason
                           ELSE d.revoke_reason END,
    d.revoked_at = coalesce(d.revoked_at, datetime(row.revoked_at))

// query: upsert_delegations_with_origin
// The same for rows whose document gives created_at and created_by.
UNWIND $rows AS row
MATCH (source:Principal {ref: row.from})
MATCH (target:Principal {ref: row.to})
MERGE (source)-[d:DELEGATES_TO {id: row.id}]->(target)
SET d.created_at = datetime(row.created_at),
    d.created_by = row.created_by,
    d.actions = row.actions,
    d.resources = row.resources,
    d.resource_types = row.resource_types,
    d.max_sensitivity = row.max_sensitivity,
    d.max_depth = row.max_depth,
    d.not_before = datetime(row.not_before),
    d.expires_at = datetime(row.expires_at),
    d.condition = row.condition,
    d.revoked_by = CASE WHEN d.revoked_at IS NULL THEN row.revoked_by ELSE d.revoked_by END,
    d.revoke_reason = CASE WHEN d.revoked_at IS NULL THEN row.revoke_reason
                           ELSE d.revoke_reason END,
    d.revoked_at = coalesce(d.revoked_at, datetime(row.revoked_at))

// query: export_principals
MATCH (p:Principal)
OPTIONAL MATCH (p)-[:OWNED_BY]->(owner:Principal)
RETURN p.ref AS ref, p.kind AS kind, p.id AS id, coalesce(p.disabled, false) AS disabled,
       owner.ref AS owner
ORDER BY ref

// query: export_resources
MATCH (r:Resource)
OPTIONAL MATCH (r)-[:CHILD_OF]->(parent:Resource)
RETURN r.ref AS ref, r.type AS type, r.id AS id, r.sensitivity AS sensitivity,
       parent.ref AS parent
ORDER BY ref

// query: export_memberships
MATCH (member:Principal)-[:MEMBER_OF]->(g:Group)
RETURN member.ref AS member, g.ref AS group
ORDER BY member, group

// query: export_grants
MATCH (p:Principal)-[g:HAS_ACCESS]->(r:Resource)
RETURN p.ref AS principal, r.ref AS resource, g.actions AS actions,
       g.expires_at AS expires_at, g.condition AS condition
ORDER BY principal, resource

// query: export_delegations
MATCH (source:Principal)-[d:DELEGATES_TO]->(target:Principal)
RETURN source.ref AS from, target.ref AS to, properties(d) AS d
ORDER BY d.id

// query: delete_grant
MATCH (:Principal {ref: $principal})-[g:HAS_ACCESS]->(:Resource {ref: $resource})
DELETE g
RETURN count(*) AS deleted

// query: delete_graph_batch
// Deletes up to $batch principals, resources and decision nodes with their
// relationships; the schema marker stays. Callers repeat it until it deletes 0.
MATCH (n)
WHERE NOT n:DelegraphSchema
WITH n
LIMIT $batch
DETACH DELETE n
RETURN count(*) AS deleted
