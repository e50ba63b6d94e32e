"""delegraph.cypher: the Neo4j store, the check compiler and the .cypher files."""
