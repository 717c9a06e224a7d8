"""The ASGI app: DeepCall envelope, body parsing, auth, routes."""
