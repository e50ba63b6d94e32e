"""delegraph.api: the FastAPI application and the command line."""
