"""What every use case receives: who is calling, and the workspace's stores."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from forgeml.artifacts import ArtifactStore
    from forgeml.store import Database
    from forgeml.store.secrets import SecretBox


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


def _ephemeral_secrets() -> SecretBox:
    from forgeml.store.secrets import SecretBox

    return SecretBox.ephemeral()


@dataclass
class Workspace:
    """The stores one server (or one test) works on."""

    db: Database
    artifacts: ArtifactStore
    policy: Policy = field(default=allow_all)
    secrets: SecretBox = field(default_factory=_ephemeral_secrets)
    #: the URL clients reach this workspace at (scoring URIs are made from it)
    public_url: str = "http://127.0.0.1:8080"
    #: called with a topic ("serving") after a change that in-process caches must see at once
    listeners: list[Callable[[str], None]] = field(default_factory=list)

    def notify(self, topic: str) -> None:
        for listener in list(self.listeners):
            listener(topic)


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
