// Overview: the organisation as it stands now, for a first look at a graph.
// No parameters.
// Shows every principal and resource (up to 300 nodes; Decision and schema nodes
// are left out) with their OWNED_BY, MEMBER_OF and CHILD_OF relationships, the
// HAS_ACCESS grants that have not expired and the live DELEGATES_TO edges
// (unrevoked, not_before <= now < expires_at, neither end disabled). Disabled
// principals stay visible but carry no live delegation. Each edge is judged on
// its own, so an edge below a revoked edge still shows (agent_chains.cypher
// applies the whole-chain rules). Revoked and expired edges are left out, and
// revoked_cuts.cypher shows the revoked ones. Browser's "Connect result nodes"
// setting draws every relationship between the shown nodes, revoked ones
// included, so turn it off to see only what this query returns.
// The table view lists one row per node and relationship (relationship is null
// for a node without any).
MATCH (node)
WHERE node:Principal OR node:Resource
WITH node
ORDER BY node.ref
LIMIT 300
WITH collect(node) AS shown
UNWIND shown AS node
OPTIONAL MATCH (node)-[relationship:OWNED_BY|MEMBER_OF|CHILD_OF|HAS_ACCESS|DELEGATES_TO]->(other)
WHERE other IN shown
  AND (NOT relationship:HAS_ACCESS
       OR relationship.expires_at IS NULL
       OR datetime() < relationship.expires_at)
  AND (NOT relationship:DELEGATES_TO
       OR (relationship.revoked_at IS NULL
           AND (relationship.not_before IS NULL OR relationship.not_before <= datetime())
           AND (relationship.expires_at IS NULL OR datetime() < relationship.expires_at)
           AND NOT coalesce(node.disabled, false)
           AND NOT coalesce(other.disabled, false)))
RETURN node, relationship, other
