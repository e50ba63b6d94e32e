// Schema of the delegraph graph. Every statement is idempotent (IF NOT EXISTS),
// so start-up applies the whole file each time and records SCHEMA_VERSION.
// Statements are separated by a semicolon at the end of a line.

CREATE CONSTRAINT principal_ref IF NOT EXISTS FOR (p:Principal) REQUIRE p.ref IS UNIQUE;
CREATE CONSTRAINT user_ref IF NOT EXISTS FOR (p:User) REQUIRE p.ref IS UNIQUE;
CREATE CONSTRAINT agent_ref IF NOT EXISTS FOR (p:Agent) REQUIRE p.ref IS UNIQUE;
CREATE CONSTRAINT workload_ref IF NOT EXISTS FOR (p:Workload) REQUIRE p.ref IS UNIQUE;
CREATE CONSTRAINT group_ref IF NOT EXISTS FOR (p:Group) REQUIRE p.ref IS UNIQUE;
CREATE CONSTRAINT resource_ref IF NOT EXISTS FOR (r:Resource) REQUIRE r.ref IS UNIQUE;
CREATE CONSTRAINT delegation_id IF NOT EXISTS FOR ()-[d:DELEGATES_TO]-() REQUIRE d.id IS UNIQUE;
CREATE CONSTRAINT decision_id IF NOT EXISTS FOR (d:Decision) REQUIRE d.id IS UNIQUE;
CREATE CONSTRAINT schema_name IF NOT EXISTS FOR (s:DelegraphSchema) REQUIRE s.name IS UNIQUE;
CREATE INDEX resource_type IF NOT EXISTS FOR (r:Resource) ON (r.type);
CREATE INDEX delegation_expires IF NOT EXISTS FOR ()-[d:DELEGATES_TO]-() ON (d.expires_at);
CREATE INDEX delegation_revoked IF NOT EXISTS FOR ()-[d:DELEGATES_TO]-() ON (d.revoked_at);
CREATE INDEX decision_time IF NOT EXISTS FOR (d:Decision) ON (d.at);
CREATE INDEX decision_subject IF NOT EXISTS FOR (d:Decision) ON (d.subject);
CREATE INDEX decision_resource IF NOT EXISTS FOR (d:Decision) ON (d.resource);
CREATE INDEX decision_on_behalf_of IF NOT EXISTS FOR (d:Decision) ON (d.on_behalf_of);
CREATE INDEX decision_chain_delegation IF NOT EXISTS FOR ()-[c:CHAIN]-() ON (c.delegation);
