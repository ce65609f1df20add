"""The `ComputeBackend` seam: how the scheduler starts, watches and stops a job's runner.

A backend starts `python -m forgeml.runtime.runner` for one job where the work runs (a local
process, later a Ray task) and returns a `Handle`: plain JSON the scheduler stores with the job,
so that a scheduler started later (after a crash or a restart) can ask the backend whether that
runner still lives and adopt it. Backends never touch the metadata store; they answer the
scheduler, and the runner reports everything else over HTTP. Optional abilities are `supports_*`
flags; calling one a backend lacks raises `UnsupportedError` with a message that says so.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from forgeml.core.errors import UserError


class UnsupportedError(UserError):
    """The compute backend cannot do what was asked."""


class ComputeBusy(UserError):
    """The compute cannot take the job just now (unreachable, starting up): try again later."""


@dataclass(frozen=True)
class Launch:
    """Start the runner of `job`, calling back `workspace_url`, working in `workdir`."""

    job: str
    workspace_url: str
    workdir: Path
    home: Path | None = None
    env: dict[str, str] = field(default_factory=dict)
    #: the job's `resources` (instance_count, properties, ...), for backends that reserve them
    resources: dict[str, Any] | None = None
    #: the job's `distribution` (a `type: ray` job is one Ray driver, whatever its node count)
    distribution: dict[str, Any] | None = None


@dataclass(frozen=True)
class Handle:
    """Where a runner runs, as JSON: `data` is the backend's own (process start time, ...)."""

    backend: str
    host: str
    pid: int | None = None
    data: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"backend": self.backend, "host": self.host, "pid": self.pid, "data": self.data}

    @staticmethod
    def from_json(value: dict[str, Any]) -> Handle:
        return Handle(
            backend=str(value["backend"]),
            host=str(value["host"]),
            pid=value.get("pid"),
            data=dict(value.get("data") or {}),
        )


@dataclass(frozen=True)
class Exited:
    """A runner that is gone; `code` is None when the backend cannot know it (adopted ones)."""

    code: int | None = None


class ComputeBackend(ABC):
    """Starts and stops job runners on one kind of compute."""

    kind: ClassVar[str]
    #: a scheduler started later can find a runner again from its handle
    supports_reattach: ClassVar[bool] = False
    #: jobs may ask for several nodes (`resources.instance_count` > 1)
    supports_multi_node: ClassVar[bool] = False

    @abstractmethod
    def submit(self, launch: Launch) -> Handle:
        """Start the runner; return at once with its handle."""

    @abstractmethod
    def poll(self, handle: Handle) -> Exited | None:
        """None while the runner lives; `Exited` once it is gone."""

    def alive(self, handle: Handle) -> bool:
        return self.poll(handle) is None

    @abstractmethod
    def cancel(self, handle: Handle) -> None:
        """Ask the runner to stop (it stops the command's processes and reports `canceled`)."""

    @abstractmethod
    def kill(self, handle: Handle) -> None:
        """Stop the runner and every process it started, now."""

    def owns(self, handle: Handle) -> bool:
        """Whether this backend can see the handle's runner (same kind, reachable)."""
        return handle.backend == self.kind

    def describe(self, handle: Handle) -> str:
        where = f"pid {handle.pid} on {handle.host}" if handle.pid else handle.host
        return f"{self.kind} runner ({where})"

    def find(self, workdir: Path) -> Handle | None:
        """The runner working in `workdir`, if one lives (a runner started just before the
        workspace stopped, whose handle was never recorded)."""
        return None

    def admit(
        self, resources: dict[str, Any] | None, distribution: dict[str, Any] | None = None
    ) -> str | None:
        """Why a job asking for `resources` can never start on this compute, or None."""
        return None

    def exit_details(self, handle: Handle, workdir: Path | None, lines: int = 10) -> list[str]:
        """What the runner left to say after it ended without reporting (its last lines)."""
        return []

    def prestart(self, folder: Path) -> None:  # noqa: B027 - most backends start nothing
        """Get ready for the first job ahead of time (in the background)."""

    def close(self) -> None:  # noqa: B027 - most backends hold nothing
        """Release what the backend holds; runners keep running."""

    def require_reattach(self) -> None:
        if not self.supports_reattach:
            raise UnsupportedError(
                f"re-attaching to a running job is not supported by the {self.kind} backend."
            )
