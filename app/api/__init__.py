"""HTTP layer: routers translate HTTP to calls into app/ and back, nothing more."""
