"""The dispatch loop: lease queued jobs, start their runners, watch them, stop them on cancel.

One background thread per workspace process. It wakes at once when a job is submitted or
canceled in this process (the services publish every change), and otherwise every `poll_s`
seconds, which is how it notices work queued by another replica and runners that died. At start
it reconciles: every job left `preparing`/`running` by an earlier process is re-attached if its
runner still lives (the runner keeps reporting over HTTP), or failed with the reason if not.
Completed jobs are never touched; queued ones simply start.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from forgeml.compute.base import ComputeBackend, ComputeBusy, Exited, Handle, Launch
from forgeml.compute.local import LocalBackend
from forgeml.core.errors import NotFoundError
from forgeml.core.states import JobStatus
from forgeml.services import Context, Principal, Workspace, computes, job_queue, orchestrator
from forgeml.services.job_queue import ActiveJob
from forgeml.services.job_state import subscribe

log = logging.getLogger("forgeml.scheduler")

SCHEDULER = Principal(name="forgeml-scheduler", roles=frozenset({"system"}))
RESTART_REASON = "the workspace restarted while the job ran and its process is gone"
#: how long past `limits.timeout` the runner may take before the workspace stops it itself
TIMEOUT_SLACK_S = 60.0


@dataclass
class SchedulerConfig:
    public_url: str
    home: Path
    lease_s: float = 60.0
    poll_s: float = 1.0
    cancel_grace_s: float = 5.0
    #: keep one runner process started ahead of the next job (`LocalBackend(warm=...)`)
    warm_runner: bool = True

    @property
    def jobs_root(self) -> Path:
        return self.home / "jobs"


@dataclass
class _Tracked:
    handle: Handle
    backend: ComputeBackend
    cancel_sent: float | None = None
    killed: bool = False
    workdir: Path | None = None


class Scheduler:
    """Runs a workspace's jobs on their computes; `start()` it, `stop()` it."""

    def __init__(
        self,
        workspace: Workspace,
        config: SchedulerConfig,
        *,
        backends: dict[str, ComputeBackend] | None = None,
    ) -> None:
        self.ctx = Context(workspace=workspace, principal=SCHEDULER)
        self.config = config
        self.host = socket.gethostname()
        self.owner = f"{self.host}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.backends = backends or {"local": LocalBackend(host=self.host, warm=config.warm_runner)}
        self._tracked: dict[str, _Tracked] = {}
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._unsubscribe: object = None
        self._last_renew = 0.0
        self._last_full = 0.0
        #: jobs whose change may move a parent forward (a parent itself, or a child that ended)
        self._dirty: set[str] = set()
        self._dirty_lock = threading.Lock()
        self.reconciled = threading.Event()

    # --------------------------------------------------------------------------- control
    def start(self) -> None:
        def on_change(job: str, kind: str) -> None:
            if kind in ("state", "child"):
                with self._dirty_lock:
                    self._dirty.add(job)
                self._wake.set()

        self._unsubscribe = subscribe(self.ctx.workspace, on_change)
        for backend in self.backends.values():
            backend.prestart(self.config.jobs_root)
        self._thread = threading.Thread(target=self._run, name="forgeml-scheduler", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop dispatching. Runners keep running; the next start re-attaches them."""
        self._stop.set()
        self._wake.set()
        if callable(self._unsubscribe):
            self._unsubscribe()
        if self._thread is not None:
            self._thread.join(timeout)
        for backend in self.backends.values():
            backend.close()

    def wake(self) -> None:
        self._wake.set()

    # ------------------------------------------------------------------------------ loop
    def _run(self) -> None:
        try:
            self.reconcile()
        except Exception:
            log.exception("reconciling jobs after start failed")
        finally:
            self.reconciled.set()
        while not self._stop.is_set():
            self._wake.clear()
            try:
                self.tick()
            except Exception:
                # the store may be briefly unavailable; the next tick tries again
                log.exception("the scheduler's tick failed")
            self._wake.wait(self.config.poll_s)

    def tick(self) -> None:
        now = time.monotonic()
        with self._dirty_lock:
            dirty, self._dirty = self._dirty, set()
        if now - self._last_full >= self.config.poll_s:
            # every open parent, now and then: another replica's changes, early termination
            self._last_full = now
            orchestrator.advance_all(self.ctx)
        elif dirty:
            orchestrator.advance_all(self.ctx, only=dirty)
        self._dispatch()
        self._watch()
        now = time.monotonic()
        if now - self._last_renew > self.config.lease_s / 3:
            self._last_renew = now
            job_queue.renew(
                self.ctx, owner=self.owner, names=list(self._tracked), lease_s=self.config.lease_s
            )
            self._reconcile_orphans()

    # ------------------------------------------------------------------------ dispatching
    def _backend(self, compute: str) -> ComputeBackend:
        """The backend that runs `compute`'s jobs: this machine's, or one per Ray cluster."""
        try:
            spec = computes.get(self.ctx, compute).to_wire()
        except NotFoundError:
            return self.backends["local"]
        if spec.get("type") != "ray":
            return self.backends["local"]
        return self._ray(compute, spec)

    def _ray(self, compute: str, spec: dict[str, Any] | None = None) -> ComputeBackend:
        from forgeml.compute.ray import RayBackend, RayTarget

        key = f"ray:{compute}"
        current = self.backends.get(key)
        if spec is None:
            if current is not None:
                return current
            spec = computes.get(self.ctx, compute).to_wire()
        target = RayTarget.from_spec(compute, spec)
        if isinstance(current, RayBackend) and current.target == target:
            return current
        # a new or changed compute: jobs already running keep the backend that started them
        backend = RayBackend(target)
        self.backends[key] = backend
        return backend

    def _admission(self, compute: str) -> job_queue.Check | None:
        backend = self._backend(compute)
        return None if isinstance(backend, LocalBackend) else backend.admit

    def _dispatch(self) -> None:
        taken = job_queue.take(
            self.ctx,
            owner=self.owner,
            host=self.host,
            lease_s=self.config.lease_s,
            admit=self._admission,
        )
        for name in taken:
            self._launch(name)

    def _launch(self, name: str) -> None:
        job = job_queue.get_active(self.ctx, name)
        if job is None:
            return
        backend = self._backend(job.compute)
        workdir = self.config.jobs_root / name
        launch = Launch(
            job=name,
            workspace_url=self.config.public_url,
            workdir=workdir,
            home=self.config.home,
            resources=job.resources,
            distribution=job.distribution,
        )
        try:
            handle = backend.submit(launch)
        except ComputeBusy as exc:
            job_queue.requeue(self.ctx, name, f"the compute cannot take it yet: {exc.message}")
            return
        except Exception as exc:
            log.exception("starting the runner of job %s failed", name)
            job_queue.fail(self.ctx, name, f"the compute could not start the job's runner: {exc}")
            return
        self._tracked[name] = _Tracked(handle, backend, workdir=workdir)
        job_queue.launched(
            self.ctx,
            name,
            pid=handle.pid,
            host=handle.host,
            handle=handle.to_json(),
            detail=f"started the {backend.describe(handle)}",
        )

    # --------------------------------------------------------------------------- watching
    def _watch(self) -> None:
        for name, tracked in list(self._tracked.items()):
            gone = tracked.backend.poll(tracked.handle)
            if gone is not None:
                self._settle(name, tracked, gone)
        if not self._tracked:
            return
        active = {j.name: j for j in job_queue.active(self.ctx)}
        now = time.monotonic()
        for name, tracked in list(self._tracked.items()):
            job = active.get(name)
            if job is None:
                continue  # it ended; its runner exits on its own and is settled above
            if job.cancel_requested and tracked.cancel_sent is None:
                tracked.cancel_sent = now
                tracked.backend.cancel(tracked.handle)
            elif (
                tracked.cancel_sent is not None
                and not tracked.killed
                and now - tracked.cancel_sent > self.config.cancel_grace_s
            ):
                tracked.killed = True
                tracked.backend.kill(tracked.handle)
            elif not job.cancel_requested and self._overdue(job):
                job_queue.request_cancel(
                    self.ctx, name, f"it ran past its limits.timeout of {job.timeout_s} s"
                )

    @staticmethod
    def _overdue(job: ActiveJob) -> bool:
        if job.timeout_s is None or job.started_at is None:
            return False
        limit = timedelta(seconds=job.timeout_s + TIMEOUT_SLACK_S)
        return utcnow() - job.started_at > limit

    def _settle(self, name: str, tracked: _Tracked, gone: Exited) -> None:
        """The runner is gone: a job it did not end is failed (or canceled, if asked), or
        queued again when it asked for retries."""
        self._tracked.pop(name, None)
        if tracked.cancel_sent is not None and not tracked.killed:
            # the tree must stop whole, even if the runner left something behind
            tracked.backend.kill(tracked.handle)
        if job_queue.get_active(self.ctx, name) is None:
            return  # the runner reported the job's end before it exited
        code = f" with code {gone.code}" if gone.code is not None else ""
        reason = f"the job's runner exited{code} before reporting a result"
        try:
            details = tracked.backend.exit_details(tracked.handle, tracked.workdir, 10)
        except Exception:
            log.exception("reading why the runner of job %s ended failed", name)
            details = []
        if details:
            reason += ":\n" + "\n".join(details)
        job_queue.fail(self.ctx, name, reason, exit_code=gone.code, retry=True)

    # ------------------------------------------------------------------------ reconciling
    def reconcile(self) -> None:
        """Adopt or fail every active job that no live scheduler owns."""
        for job in job_queue.active(self.ctx):
            if job.name in self._tracked or not self._orphaned(job):
                continue
            self._recover(job)

    def _owner_of(self, handle: Handle) -> ComputeBackend | None:
        if handle.backend == "ray" and handle.data.get("compute"):
            try:
                return self._ray(str(handle.data["compute"]))
            except NotFoundError:
                return None  # the compute was deleted: its jobs cannot be followed
        return next((b for b in self.backends.values() if b.owns(handle)), None)

    def _reconcile_orphans(self) -> None:
        self.reconcile()

    def _orphaned(self, job: ActiveJob) -> bool:
        if job.lease_owner == self.owner:
            return job.name not in self._tracked
        if job.lease_owner is None or job.lease_expires_at is None:
            return True
        if job.lease_expires_at < utcnow():
            return True
        # a scheduler of this machine that is no longer running owns it
        host, _, rest = job.lease_owner.partition(":")
        pid = rest.partition(":")[0]
        if host != self.host or not pid.isdigit():
            return False
        return int(pid) == os.getpid() or not _pid_alive(int(pid))

    def _recover(self, job: ActiveJob) -> None:
        handle = Handle.from_json(job.handle) if job.handle else None
        if handle is None and (job.host is None or job.host == self.host):
            # the workspace stopped between starting the runner and recording it: look for it
            for candidate in {
                id(b): b for b in (self.backends["local"], self._backend(job.compute))
            }.values():
                handle = candidate.find(self.config.jobs_root / job.name)
                if handle is not None:
                    break
        backend = self._owner_of(handle) if handle is not None else None
        if handle is not None and backend is not None and backend.alive(handle):
            self._tracked[job.name] = _Tracked(
                handle, backend, workdir=self.config.jobs_root / job.name
            )
            job_queue.adopt(
                self.ctx,
                job.name,
                owner=self.owner,
                lease_s=self.config.lease_s,
                detail=f"re-attached to the {backend.describe(handle)} after a restart",
                handle=None if job.handle else handle.to_json(),
                pid=handle.pid,
            )
            if job.status is JobStatus.canceling:
                self._wake.set()
            return
        if handle is not None and backend is None and job.host != self.host:
            reason = f"the scheduler on {job.host} that ran the job stopped and its lease expired"
        else:
            reason = RESTART_REASON
        job_queue.fail(self.ctx, job.name, reason)


def utcnow() -> datetime:
    return datetime.now(UTC)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
