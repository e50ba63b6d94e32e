// Expiring delegations: live DELEGATES_TO edges whose expires_at falls within the
// next $hours hours, soonest first.
// Set the parameter first:  :param hours => 24
// Live means unrevoked, not_before <= now < expires_at, and neither end disabled.
// Each row also lists the agents below the edge (through unrevoked edges, up to
// 7 more hops) whose access may depend on it.
MATCH edge = (source:Principal)-[d:DELEGATES_TO]->(target:Principal)
WHERE d.revoked_at IS NULL
  AND (d.not_before IS NULL OR d.not_before <= datetime())
  AND d.expires_at IS NOT NULL
  AND datetime() < d.expires_at
  AND d.expires_at <= datetime() + duration({hours: $hours})
  AND NOT coalesce(source.disabled, false)
  AND NOT coalesce(target.disabled, false)
RETURN edge,
       d.id AS delegation,
       source.ref AS from,
       target.ref AS to,
       d.expires_at AS expires_at,
       round(duration.inSeconds(datetime(), d.expires_at).seconds / 3600.0, 1) AS hours_left,
       COLLECT {
         MATCH (target)-[next:DELEGATES_TO WHERE next.revoked_at IS NULL]->{1,7}(below:Principal)
         RETURN DISTINCT below.ref
       } AS downstream
ORDER BY expires_at, delegation
