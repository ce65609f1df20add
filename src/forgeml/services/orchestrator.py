"""Advance every open pipeline and sweep: the scheduler calls this on each tick.

A parent job holds no process: it is moved forward by reading its children from the store,
so any scheduler (after a restart, or on another replica) picks up where the last one stopped.
"""

from __future__ import annotations

import contextlib
import logging
import threading

from forgeml.core.states import TERMINAL, JobStatus
from forgeml.services.authz import authorize
from forgeml.services.context import Context
from forgeml.store.repositories import JobRepository

log = logging.getLogger("forgeml.orchestrator")

#: consecutive failures to advance one parent before it is failed with the error
MAX_FAILURES = 5
_failures: dict[str, int] = {}
_failures_lock = threading.Lock()


def advance_all(ctx: Context, *, only: set[str] | None = None) -> int:
    """Advance each pipeline and sweep that has not ended (or those of them in `only`); how
    many were looked at."""
    authorize(ctx, "jobs.schedule")
    with ctx.db.read() as session:
        repo = JobRepository(session)
        kinds = dict(repo.open_parents(only))
    for name, kind in kinds.items():
        try:
            advance(ctx, name, kind)
        except Exception as exc:
            # one broken parent must not stop the others; the next tick tries it again, and a
            # parent that cannot be advanced at all is failed with the reason instead of hanging
            log.exception("advancing %s %s failed", kind, name)
            with _failures_lock:
                count = _failures[name] = _failures.get(name, 0) + 1
            if count >= MAX_FAILURES:
                _give_up(ctx, name, f"the workspace could not advance this {kind}: {exc!r}")
        else:
            with _failures_lock:
                _failures.pop(name, None)
    return len(kinds)


def _give_up(ctx: Context, name: str, reason: str) -> None:
    from forgeml.services import jobs
    from forgeml.services.job_state import after_move, move_in

    with _failures_lock:
        _failures.pop(name, None)
    with contextlib.suppress(Exception):
        for child in _open_children(ctx, name):
            jobs.cancel_record(ctx, child, f"canceled: {reason}")
    with ctx.db.write() as session:
        repo = JobRepository(session)
        current = repo.lock(name)
        if current is None or JobStatus(current.status) in TERMINAL:
            return
        if current.status == JobStatus.queued.value:
            move_in(repo, name, JobStatus.preparing)
        moved = move_in(repo, name, JobStatus.failed, message=f"failed: {reason}", error=reason)
    after_move(ctx, moved)


def _open_children(ctx: Context, name: str) -> list[str]:
    with ctx.db.read() as session:
        return [
            c.name
            for c in JobRepository(session).child_states(name)
            if JobStatus(c.status) not in TERMINAL
        ]


def advance(ctx: Context, name: str, kind: str) -> None:
    if kind == "pipeline":
        from forgeml.services import pipelines

        pipelines.advance(ctx, name)
    elif kind == "sweep":
        from forgeml.services import sweeps

        sweeps.advance(ctx, name)
