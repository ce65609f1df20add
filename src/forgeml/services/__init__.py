"""Use cases: one transaction each, every business rule, and the one authorization point."""

from forgeml.services.context import LOCAL_USER, Context, Policy, Principal, Workspace, allow_all

__all__ = ["LOCAL_USER", "Context", "Policy", "Principal", "Workspace", "allow_all"]
