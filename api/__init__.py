"""HTTP API: FastAPI app factory, dependencies, errors, middleware and one router module per resource."""
