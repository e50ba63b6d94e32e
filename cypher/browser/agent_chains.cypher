// Agent chains: every live delegation chain from a human (User) down to one agent.
// Set the parameter first:  :param agent => 'agent:receipt-reader'
// A chain is live when every DELEGATES_TO edge on it is unrevoked and inside its
// time window (not_before <= now < expires_at), no principal on it is disabled,
// it visits no node twice, each edge allows the hops after it (max_depth), and
// it has at most 8 edges (the server's default maximum chain length).
// Returns the chain as a path (graph view) and as lists of refs and edge ids (table).
MATCH chain = (human:User WHERE NOT coalesce(human.disabled, false))
  ((source)-[d:DELEGATES_TO]->(target)
    WHERE d.revoked_at IS NULL
      AND (d.not_before IS NULL OR d.not_before <= datetime())
      AND (d.expires_at IS NULL OR datetime() < d.expires_at)
      AND NOT coalesce(target.disabled, false)){1,8}
  (agent:Principal {ref: $agent})
WITH chain, d, nodes(chain) AS path_nodes
WHERE all(i IN range(0, size(path_nodes) - 2) WHERE NOT path_nodes[i] IN path_nodes[i + 1..])
  AND all(i IN range(0, size(d) - 1) WHERE size(d) - 1 - i <= coalesce(d[i].max_depth, 0))
RETURN chain,
       [n IN path_nodes | n.ref] AS principals,
       [e IN d | e.id] AS delegations,
       size(d) AS hops
ORDER BY hops, principals
