// Revoked delegations and what they cut: one row per revoked DELEGATES_TO edge and
// per principal at or below its target, reached through unrevoked edges (up to 7
// more hops; expiry is not checked below the revoked edge).
// No parameters.
// still_live is true when that principal keeps another live chain from a human
// (unrevoked, inside the time window, nobody disabled, no node twice, max_depth,
// at most 8 edges). Rows with still_live = false are agents that the revocation
// cut off from every human.
MATCH cut = (source:Principal)-[revoked:DELEGATES_TO WHERE revoked.revoked_at IS NOT NULL]->
  (target:Principal)
  (()-[next:DELEGATES_TO WHERE next.revoked_at IS NULL]->()){0,7}
  (below:Principal)
WITH revoked, source, below, min(size(relationships(cut)) - 1) AS hops_below,
     collect(cut)[0] AS cut
RETURN cut,
       revoked.id AS delegation,
       source.ref AS from,
       revoked.revoked_at AS revoked_at,
       revoked.revoked_by AS revoked_by,
       revoked.revoke_reason AS reason,
       below.ref AS downstream,
       hops_below,
       EXISTS {
         MATCH chain = (root:User WHERE NOT coalesce(root.disabled, false))
           ((s)-[d:DELEGATES_TO]->(t)
             WHERE d.revoked_at IS NULL
               AND (d.not_before IS NULL OR d.not_before <= datetime())
               AND (d.expires_at IS NULL OR datetime() < d.expires_at)
               AND NOT coalesce(t.disabled, false)){1,8}
           (below)
         WITH d, nodes(chain) AS path_nodes
         WHERE all(i IN range(0, size(path_nodes) - 2) WHERE NOT path_nodes[i] IN path_nodes[i + 1..])
           AND all(i IN range(0, size(d) - 1) WHERE size(d) - 1 - i <= coalesce(d[i].max_depth, 0))
       } AS still_live
ORDER BY delegation, hops_below, downstream
