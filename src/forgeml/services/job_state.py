"""Moving a job between states, and telling this process's listeners that a job changed.

`move` is the one writer of a job's status: it locks the row, checks the transition against
`core.states`, stamps the time, mirrors the change onto the job's MLflow run in the same
transaction, and after the commit wakes whoever listens (the scheduler, live log streams). The
listeners are in-process only; a second server replica notices changes by reading the store, a
little later.
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from forgeml.core.errors import ConflictError, NotFoundError
from forgeml.core.states import MLFLOW_STATUS, TERMINAL, JobStatus, check_transition
from forgeml.services.context import Context, Workspace
from forgeml.store.repositories import JobRecord, JobRepository
from forgeml.store.repositories.common import utcnow

log = logging.getLogger("forgeml.jobs")

#: (job name, what changed: "state" or "log")
Listener = Callable[[str, str], None]


class _Hub:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._listeners: list[Listener] = []

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        with self._lock:
            self._listeners.append(listener)

        def unsubscribe() -> None:
            with self._lock:
                if listener in self._listeners:
                    self._listeners.remove(listener)

        return unsubscribe

    def publish(self, job: str, kind: str) -> None:
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            try:
                listener(job, kind)
            except Exception:  # a listener's fault must not fail the caller's request
                log.exception("a job listener failed")


_hubs: dict[int, _Hub] = {}
_hubs_lock = threading.Lock()


def _hub(workspace: Workspace) -> _Hub:
    key = id(workspace)
    with _hubs_lock:
        hub = _hubs.get(key)
        if hub is None:
            hub = _hubs[key] = _Hub()
            weakref.finalize(workspace, _hubs.pop, key, None)
        return hub


def subscribe(workspace: Workspace, listener: Listener) -> Callable[[], None]:
    """Call `listener(job name, "state" | "log")` whenever a job of `workspace` changes (in
    this process); returns the function that unsubscribes."""
    return _hub(workspace).subscribe(listener)


def publish(workspace: Workspace, job: str, kind: str = "state") -> None:
    _hub(workspace).publish(job, kind)


@dataclass(frozen=True)
class Moved:
    record: JobRecord
    changed: bool
    before: JobStatus


_STAMP = {
    JobStatus.queued: "queued_at",
    JobStatus.preparing: "prepared_at",
    JobStatus.running: "started_at",
}


def move_in(
    repo: JobRepository, name: str, new: JobStatus, *, message: str | None = None, **fields: Any
) -> Moved:
    """Within a write transaction: check and apply one transition (and `fields`)."""
    current = repo.lock(name)
    if current is None:
        raise NotFoundError(f"no job named '{name}' exists in this workspace.")
    before = JobStatus(current.status)
    changed = check_transition(before, new, job=name)
    values = dict(fields)
    if changed:
        values["status"] = new.value
        now = utcnow()
        stamp = _STAMP.get(new)
        if stamp is not None and getattr(current, stamp) is None:
            values[stamp] = now
        if new in TERMINAL:
            values["ended_at"] = now
    record = repo.update(name, **values) if values else current
    if changed and message:
        repo.append_log(name, "system", message.rstrip("\n") + "\n")
    if changed and MLFLOW_STATUS[new] != MLFLOW_STATUS[before]:
        _mirror_in(repo, name, MLFLOW_STATUS[new])
    return Moved(record, changed, before)


def requeue_in(repo: JobRepository, name: str, *, message: str, **fields: Any) -> Moved:
    """Within a write transaction: put a job whose runner was lost back in the queue (a retry
    the job asked for). Only a job that holds a runner and was not asked to stop goes back."""
    current = repo.lock(name)
    if current is None:
        raise NotFoundError(f"no job named '{name}' exists in this workspace.")
    before = JobStatus(current.status)
    if before not in (JobStatus.preparing, JobStatus.running) or current.cancel_requested:
        raise ConflictError(f"job '{name}' is {before.value} and cannot be retried.")
    record = repo.update(name, status=JobStatus.queued.value, queued_at=utcnow(), **fields)
    if message:
        repo.append_log(name, "system", message.rstrip("\n") + "\n")
    if MLFLOW_STATUS[JobStatus.queued] != MLFLOW_STATUS[before]:
        _mirror_in(repo, name, MLFLOW_STATUS[JobStatus.queued])
    return Moved(record, True, before)


def _mirror_in(repo: JobRepository, name: str, status: str) -> None:
    """The job's MLflow run follows its state, in the same transaction."""
    from forgeml.services.experiments import now_ms
    from forgeml.store.repositories.runs import RunRepository

    values: dict[str, object] = {"status": status}
    if status in ("FINISHED", "FAILED", "KILLED"):
        values["end_time"] = now_ms()
    elif status == "RUNNING":
        values["start_time"] = now_ms()
        values["end_time"] = None
    RunRepository(repo.session).update(name, **values)


def move(
    ctx: Context, name: str, new: JobStatus, *, message: str | None = None, **fields: Any
) -> Moved:
    with ctx.db.write() as session:
        moved = move_in(JobRepository(session), name, new, message=message, **fields)
    after_move(ctx, moved)
    return moved


def after_move(ctx: Context, moved: Moved) -> None:
    """Once committed: wake the listeners (the MLflow run was updated in the transaction); a
    child that ended also wakes its pipeline or sweep."""
    publish(ctx.workspace, moved.record.name)
    if moved.changed and moved.record.parent and JobStatus(moved.record.status) in TERMINAL:
        publish(ctx.workspace, moved.record.parent, "child")
