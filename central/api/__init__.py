"""HTTP routers of the hub, one module per resource."""
