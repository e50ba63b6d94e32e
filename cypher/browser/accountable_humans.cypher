// Accountable humans: who answers for what one agent (or workload) does.
// Set the parameter first:  :param agent => 'agent:receipt-reader'
// Two kinds of accountability, one row per human and reason:
// - owner: the agent's OWNED_BY owner, or every user in the owning group
//   (groups nest through MEMBER_OF, up to 8 levels);
// - chain root: a user at the root of a live delegation chain to the agent,
//   with the same live-chain rules as agent_chains.cypher (unrevoked, inside
//   the time window, nobody disabled, no node twice, max_depth, at most 8 edges).
// Disabled users are listed too (disabled = true) because they stay accountable
// for what an agent did while they owned it. Chain roots are never disabled.
MATCH (agent:Principal {ref: $agent})
CALL (agent) {
  MATCH (agent)-[:OWNED_BY]->(owner:User)
  RETURN owner AS human, 'owner' AS reason, [] AS delegations
  UNION
  MATCH (agent)-[:OWNED_BY]->(owning:Group)<-[:MEMBER_OF]-{1,8}(member:User)
  RETURN member AS human, 'owner via ' + owning.ref AS reason, [] AS delegations
  UNION
  MATCH chain = (root:User WHERE NOT coalesce(root.disabled, false))
    ((source)-[d:DELEGATES_TO]->(target)
      WHERE d.revoked_at IS NULL
        AND (d.not_before IS NULL OR d.not_before <= datetime())
        AND (d.expires_at IS NULL OR datetime() < d.expires_at)
        AND NOT coalesce(target.disabled, false)){1,8}
    (agent)
  WITH root, d, nodes(chain) AS path_nodes
  WHERE all(i IN range(0, size(path_nodes) - 2) WHERE NOT path_nodes[i] IN path_nodes[i + 1..])
    AND all(i IN range(0, size(d) - 1) WHERE size(d) - 1 - i <= coalesce(d[i].max_depth, 0))
  RETURN root AS human, 'chain root' AS reason, [e IN d | e.id] AS delegations
}
RETURN human.ref AS human,
       reason,
       delegations,
       coalesce(human.disabled, false) AS disabled
ORDER BY human, reason, delegations
