// Blast radius: the resources one agent can reach now and the actions it may take
// on each, with the chains that carry them.
// Set the parameter first:  :param agent => 'agent:receipt-reader'
// NOTE: this approximates the check rules, it does not run them. It follows every
// live chain to the agent (unrevoked, inside the time window, nobody disabled, no
// node twice, max_depth, at most 8 edges; a chain of 0 edges is the agent's own
// grants), takes the root's unexpired grants (directly or through groups, up to 8
// MEMBER_OF levels) on a resource or its ancestors (up to 16 CHILD_OF levels) or on
// a TYPE:* wildcard, and keeps the actions and resources that every edge allows
// (actions, resources, resource_types, max_sensitivity; a resource without
// sensitivity counts as 0). It treats every condition (CEL) on a grant or an edge
// as true, so it can list more than a check with a given context would allow.
// Only stored resources appear; a wildcard shows as its own TYPE:* row.
MATCH (agent:Principal {ref: $agent})
WHERE NOT coalesce(agent.disabled, false)
CALL (agent) {
  RETURN agent AS root, [] AS edges
  UNION
  MATCH chain = (root:Principal WHERE NOT coalesce(root.disabled, false))
    ((source)-[d:DELEGATES_TO]->(target)
      WHERE d.revoked_at IS NULL
        AND (d.not_before IS NULL OR d.not_before <= datetime())
        AND (d.expires_at IS NULL OR datetime() < d.expires_at)
        AND NOT coalesce(target.disabled, false)){1,8}
    (agent)
  WITH root, d, nodes(chain) AS path_nodes
  WHERE all(i IN range(0, size(path_nodes) - 2) WHERE NOT path_nodes[i] IN path_nodes[i + 1..])
    AND all(i IN range(0, size(d) - 1) WHERE size(d) - 1 - i <= coalesce(d[i].max_depth, 0))
  RETURN root, d AS edges
}
MATCH (root)-[:MEMBER_OF]->{0,8}(holder:Principal)-[grant:HAS_ACCESS]->(granted:Resource)
WHERE grant.expires_at IS NULL OR datetime() < grant.expires_at
MATCH (resource:Resource)
WHERE (granted.id = '*' AND resource.type = granted.type)
   OR EXISTS { (resource)-[:CHILD_OF]->{0,16}(granted) }
WITH root, edges, holder, granted, resource,
     [action IN grant.actions WHERE all(e IN edges WHERE action IN e.actions)] AS actions
WHERE size(actions) > 0
  AND all(e IN edges WHERE
        (e.resource_types IS NULL OR resource.type IN e.resource_types)
    AND (e.max_sensitivity IS NULL OR coalesce(resource.sensitivity, 0) <= e.max_sensitivity)
    AND (e.resources IS NULL
         OR resource.type + ':*' IN e.resources
         OR EXISTS {
              MATCH (resource)-[:CHILD_OF]->{0,16}(scope:Resource)
              WHERE scope.ref IN e.resources
            }))
UNWIND actions AS action
WITH resource, action,
     reduce(text = root.ref, e IN edges | text + ' -' + e.id + '-> ' + endNode(e).ref) AS chain,
     holder.ref + ' on ' + granted.ref AS grant
WITH resource, collect(DISTINCT action) AS actions, collect(DISTINCT chain) AS chains,
     collect(DISTINCT grant) AS grants
RETURN resource.ref AS resource,
       resource.sensitivity AS sensitivity,
       COLLECT { UNWIND actions AS action RETURN action ORDER BY action } AS actions,
       COLLECT { UNWIND chains AS chain RETURN chain ORDER BY chain } AS chains,
       COLLECT { UNWIND grants AS grant RETURN grant ORDER BY grant } AS grants
ORDER BY resource
