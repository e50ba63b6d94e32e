"""``delegraph demo``: the demo organisation, the narrated scenario and the server."""
