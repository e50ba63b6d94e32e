"""delegraph.engine: the domain model, the rules and the decisions."""
