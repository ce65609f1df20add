"""What every use case receives: who is calling, and the workspace's stores."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from forgeml.artifacts import ArtifactStore
    from forgeml.store import Database


@dataclass(frozen=True)
class Principal:
    """The caller. Today the workspace has one local user; roles come with access control."""

    name: str
    roles: frozenset[str] = frozenset({"owner"})


LOCAL_USER = Principal(name="local")

#: (principal, action, resource) -> allowed? Swapped in one place when roles arrive.
Policy = Callable[[Principal, str, str], bool]


def allow_all(_principal: Principal, _action: str, _resource: str) -> bool:
    return True


@dataclass
class Workspace:
    """The stores one server (or one test) works on."""

    db: Database
    artifacts: ArtifactStore
    policy: Policy = field(default=allow_all)


@dataclass(frozen=True)
class Context:
    workspace: Workspace
    principal: Principal = LOCAL_USER

    @property
    def db(self) -> Database:
        return self.workspace.db

    @property
    def artifacts(self) -> ArtifactStore:
        return self.workspace.artifacts
