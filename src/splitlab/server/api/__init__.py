"""HTTP API routers of the splitlab server (one module per resource family)."""
