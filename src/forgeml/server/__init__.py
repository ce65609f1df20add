"""The HTTP server: app factory, thin routers, error mapping, the studio's static files."""

from forgeml.server.app import create_app, open_workspace

__all__ = ["create_app", "open_workspace"]
