"""Request dependencies: the caller's context."""

from __future__ import annotations

from fastapi import Request

from forgeml.services import LOCAL_USER, Context


def context(request: Request) -> Context:
    # one local user today; authentication will set the principal here
    return Context(workspace=request.app.state.workspace, principal=LOCAL_USER)
