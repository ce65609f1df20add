"""The one authorization point: every use case calls `authorize` before it reads or writes.

Actions are `<resource kind>.<verb>` (`data.read`, `models.write`, `content.write`, ...). The
decision belongs to the workspace's policy, so role-based access replaces one function.
"""

from __future__ import annotations

from forgeml.core.errors import ForbiddenError
from forgeml.services.context import Context


def authorize(ctx: Context, action: str, resource: str = "*") -> None:
    if not ctx.workspace.policy(ctx.principal, action, resource):
        raise ForbiddenError(
            f"'{ctx.principal.name}' may not {action.replace('.', ' ')} on '{resource}'. "
            "Ask a workspace owner for access."
        )
