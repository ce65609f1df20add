"""The queue's use cases, for the scheduler: take queued jobs, record launches, settle ends.

A scheduler takes queued jobs compute by compute, never more than the compute's
`max_concurrent_jobs` minus the jobs already holding a slot, and moves each to `preparing` with a
lease in the same transaction, so a job is launched once. Once a runner process is started, its
handle (pid, start time, host) is stored: after a restart, the next scheduler uses it to tell a
runner that still lives (adopted) from one that is gone (the job fails, with the reason).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from forgeml.core.errors import ConflictError, ForgemlError, NotFoundError
from forgeml.core.states import ACTIVE, TERMINAL, JobStatus
from forgeml.services import computes
from forgeml.services.authz import authorize
from forgeml.services.context import Context
from forgeml.services.job_state import Moved, after_move, move, move_in, publish, requeue_in
from forgeml.store.repositories import JobRecord, JobRepository
from forgeml.store.repositories.common import utcnow


@dataclass(frozen=True)
class ActiveJob:
    """What the scheduler needs to know of a job that holds (or held) a process."""

    name: str
    status: JobStatus
    compute: str
    host: str | None
    handle: dict[str, Any] | None
    lease_owner: str | None
    lease_expires_at: datetime | None
    cancel_requested: bool
    prepared_at: datetime | None
    started_at: datetime | None
    timeout_s: int | None
    resources: dict[str, Any] | None = None
    distribution: dict[str, Any] | None = None


#: per compute, a check of whether a job asking for some `resources` (and `distribution`)
#: can start there (None: it can; else the reason it waits); None when the compute never refuses
Check = Callable[[dict[str, Any] | None, dict[str, Any] | None], str | None]
Admission = Callable[[str], Check | None]
#: how many more queued jobs than free slots a dispatch looks at, past those that must wait
_LOOK_AHEAD = 32


def _active(record: JobRecord) -> ActiveJob:
    return ActiveJob(
        name=record.name,
        status=JobStatus(record.status),
        compute=record.compute,
        host=record.host,
        handle=record.handle,
        lease_owner=record.lease_owner,
        lease_expires_at=record.lease_expires_at,
        cancel_requested=record.cancel_requested,
        prepared_at=record.prepared_at,
        started_at=record.started_at,
        timeout_s=record.runner.get("timeout_s"),
        resources=record.runner.get("resources"),
        distribution=record.runner.get("distribution"),
    )


def _slots(ctx: Context, compute: str) -> int | None:
    try:
        entity = computes.get(ctx, compute)
    except NotFoundError:
        return None
    return int(getattr(entity, "max_concurrent_jobs", 1))


def take(
    ctx: Context, *, owner: str, host: str, lease_s: float, admit: Admission | None = None
) -> list[str]:
    """Lease the queued jobs that fit their computes' free slots; they become `preparing`.

    With `admit`, a job the compute cannot hold stays queued, with the reason recorded (and
    logged once) so that `job show` says why it waits; younger jobs that fit go ahead of it.
    """
    authorize(ctx, "jobs.schedule")
    with ctx.db.read() as session:
        waiting = JobRepository(session).computes_with_queued_jobs()
    taken: list[str] = []
    for compute in waiting:
        slots = _slots(ctx, compute)
        if slots is None:
            _fail_queued(ctx, compute)
            continue
        check = admit(compute) if admit is not None else None
        moved: list[Moved] = []
        with ctx.db.write() as session:
            repo = JobRepository(session)
            repo.serialise_compute(compute)
            free = slots - repo.count_active(compute)
            expires = utcnow() + timedelta(seconds=lease_s)
            look_ahead = _LOOK_AHEAD if check is not None and free > 0 else 0
            names = repo.take_queued(compute, free + look_ahead)
            for name in names:
                if free <= 0:
                    break
                waited = check is not None and _must_wait(repo, name, check)
                if waited is True:
                    continue
                free -= 1
                moved.append(
                    move_in(
                        repo,
                        name,
                        JobStatus.preparing,
                        # said once: a job that waited and is tried again says only how it ends
                        message=None if waited is None else f"dispatched to compute '{compute}'",
                        lease_owner=owner,
                        lease_expires_at=expires,
                        host=host,
                        waiting=None,
                    )
                )
        for item in moved:
            after_move(ctx, item)
            taken.append(item.record.name)
    return taken


def _must_wait(repo: JobRepository, name: str, check: Check) -> bool | None:
    """True: the job waits; False: it goes; None: it goes, after it waited before."""
    record = repo.get(name)
    if record is None:
        return True
    try:
        reason = check(record.runner.get("resources"), record.runner.get("distribution"))
    except ForgemlError as exc:
        reason = f"the compute could not be asked whether it can hold the job: {exc.message}"
    if reason is None:
        return None if record.waiting else False
    if reason != record.waiting:
        repo.update(name, waiting=reason)
        repo.append_log(name, "system", f"waiting: {reason}\n")
    return True


def _fail_queued(ctx: Context, compute: str) -> None:
    from forgeml.store.repositories.jobs import JobFilter

    with ctx.db.read() as session:
        names = [
            r.name
            for r in JobRepository(session).search(
                JobFilter(statuses=("queued",), compute=compute), limit=1000
            )
        ]
    for name in names:
        fail(
            ctx,
            name,
            f"the compute '{compute}' no longer exists; create it again or submit the job to "
            "another compute.",
        )


def requeue(ctx: Context, name: str, reason: str) -> None:
    """Put a job the compute could not take just now back in the queue, saying why."""
    authorize(ctx, "jobs.schedule", name)
    with ctx.db.write() as session:
        repo = JobRepository(session)
        current = repo.lock(name)
        if current is None or current.status != JobStatus.preparing.value:
            return
        if current.cancel_requested:
            moved = move_in(repo, name, JobStatus.canceled, message="canceled")
        else:
            moved = requeue_in(
                repo,
                name,
                message=f"waiting: {reason}" if reason != current.waiting else "",
                waiting=reason,
                host=None,
                lease_owner=None,
                lease_expires_at=None,
            )
    after_move(ctx, moved)


def runner_spec(ctx: Context, name: str) -> dict[str, Any]:
    authorize(ctx, "jobs.schedule")
    with ctx.db.read() as session:
        record = JobRepository(session).get(name)
    if record is None:
        raise NotFoundError(f"no job named '{name}' exists in this workspace.")
    return record.runner


def launched(
    ctx: Context, name: str, *, pid: int | None, host: str, handle: dict[str, Any], detail: str
) -> None:
    """Record the process a backend started for a job, so a restart can find it."""
    authorize(ctx, "jobs.schedule", name)
    with ctx.db.write() as session:
        repo = JobRepository(session)
        repo.update(name, pid=pid, host=host, handle=handle)
        repo.append_log(name, "system", detail.rstrip("\n") + "\n")
    publish(ctx.workspace, name, "log")


def fail(
    ctx: Context, name: str, reason: str, *, exit_code: int | None = None, retry: bool = False
) -> JobStatus:
    """End a job that cannot go on: `canceled` if a cancel was asked for, else `failed`.

    With `retry` (its runner was lost before it reported a result), a job that asked for
    retries (`retry_settings.max_retries`) and has some left goes back to the queue instead.
    A job that has already ended (its runner reported in time) keeps its state.
    """
    authorize(ctx, "jobs.schedule", name)
    with ctx.db.write() as session:
        repo = JobRepository(session)
        current = repo.lock(name)
        if current is None:
            raise NotFoundError(f"no job named '{name}' exists in this workspace.")
        status = JobStatus(current.status)
        if status in TERMINAL:
            return status
        allowed = int(current.runner.get("max_retries") or 0)
        attempt = current.attempts or 1
        if current.cancel_requested:
            moved = move_in(repo, name, JobStatus.canceled, message="canceled")
        elif retry and attempt <= allowed and status in (JobStatus.preparing, JobStatus.running):
            moved = requeue_in(
                repo,
                name,
                message=f"{reason}\nretrying: attempt {attempt + 1} of {allowed + 1}",
                attempts=attempt + 1,
                pid=None,
                host=None,
                handle=None,
                lease_owner=None,
                lease_expires_at=None,
            )
        else:
            fields: dict[str, Any] = {"error": reason}
            if exit_code is not None:
                fields["exit_code"] = exit_code
            moved = move_in(repo, name, JobStatus.failed, message=f"failed: {reason}", **fields)
    after_move(ctx, moved)
    return JobStatus(moved.record.status)


def active(ctx: Context) -> list[ActiveJob]:
    """Every job in a state that holds a process (`preparing`, `running`, `canceling`)."""
    authorize(ctx, "jobs.schedule")
    with ctx.db.read() as session:
        return [_active(r) for r in JobRepository(session).active()]


def get_active(ctx: Context, name: str) -> ActiveJob | None:
    authorize(ctx, "jobs.schedule", name)
    with ctx.db.read() as session:
        record = JobRepository(session).get(name)
    if record is None or JobStatus(record.status) not in ACTIVE:
        return None
    return _active(record)


def adopt(
    ctx: Context,
    name: str,
    *,
    owner: str,
    lease_s: float,
    detail: str,
    handle: dict[str, Any] | None = None,
    pid: int | None = None,
) -> None:
    """Take over the lease of a job whose runner outlived its scheduler (and record the
    runner's handle when the earlier scheduler never could)."""
    authorize(ctx, "jobs.schedule", name)
    with ctx.db.write() as session:
        repo = JobRepository(session)
        fields: dict[str, Any] = {}
        if handle is not None:
            fields.update(handle=handle, pid=pid)
        repo.update(
            name,
            lease_owner=owner,
            lease_expires_at=utcnow() + timedelta(seconds=lease_s),
            **fields,
        )
        repo.append_log(name, "system", detail.rstrip("\n") + "\n")
    publish(ctx.workspace, name, "log")


def renew(ctx: Context, *, owner: str, names: list[str], lease_s: float) -> None:
    authorize(ctx, "jobs.schedule")
    if names:
        with ctx.db.write() as session:
            JobRepository(session).renew_leases(owner, names, utcnow() + timedelta(seconds=lease_s))


def request_cancel(ctx: Context, name: str, reason: str) -> None:
    """Ask for a job to stop on the workspace's own initiative (a timeout, a shutdown)."""
    authorize(ctx, "jobs.schedule", name)
    with contextlib.suppress(ConflictError):  # it ended meanwhile
        move(
            ctx,
            name,
            JobStatus.canceling,
            message=f"cancel requested: {reason}",
            cancel_requested=True,
        )
