"""What pipelines and sweeps share as jobs that hold no process of their own.

A parent job is queued with its MLflow run like any job, moves straight to `running` when the
orchestrator first looks at it, and ends when its children let it; its outputs are rows copied
from a child's (the same content URIs, and the asset versions they were registered as).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from forgeml.core.errors import ConflictError
from forgeml.core.states import TERMINAL, JobStatus
from forgeml.services.context import Context
from forgeml.services.job_state import after_move, move_in
from forgeml.store.repositories import JobRecord, JobRepository
from forgeml.store.repositories.common import utcnow
from forgeml.store.repositories.jobs import LineageEdge, ParentState


def queue(
    ctx: Context,
    *,
    name: str,
    type_: str,
    spec: dict[str, Any],
    plan: dict[str, Any],
    display_name: str,
    description: str | None,
    tags: dict[str, str],
    compute: str,
    parent: JobRecord | ParentState | None,
    step: str | None,
    message: str,
    warnings: list[str] | None = None,
    edges: list[LineageEdge] | None = None,
) -> JobRecord:
    """Create the parent's MLflow run and its row (`queued`), with its first log line."""
    from forgeml.services import jobs, tracking

    experiment = str(spec["experiment_name"])
    experiment_id = tracking.start_job_run(
        ctx,
        run_id=name,
        experiment_name=experiment,
        run_name=display_name,
        tags=jobs.child_tags(parent, dict(tags)),
    )
    now = utcnow()
    with ctx.db.write() as session:
        repo = JobRepository(session)
        if repo.exists(name):
            raise ConflictError(f"a job named '{name}' already exists.", details={"field": "name"})
        record = repo.insert(
            name=name,
            type=type_,
            status=JobStatus.queued.value,
            spec=spec,
            runner=plan,
            experiment_name=experiment,
            experiment_id=str(experiment_id),
            display_name=display_name,
            description=description,
            tags=dict(tags),
            compute=compute,
            parent=parent.name if parent else None,
            step=step,
            created_by=ctx.principal.name,
            created_at=now,
            queued_at=now,
            warnings=list(warnings or []),
        )
        for edge in edges or []:
            repo.add_edge(edge)
        repo.append_log(name, "system", message.rstrip("\n") + "\n", now)
    return record


def start(ctx: Context, name: str, message: str) -> None:
    """queued -> running (through preparing, as the state table requires), once."""
    with ctx.db.write() as session:
        repo = JobRepository(session)
        current = repo.lock(name)
        if current is None or current.status != JobStatus.queued.value:
            return
        move_in(repo, name, JobStatus.preparing)
        moved = move_in(repo, name, JobStatus.running, message=message)
    after_move(ctx, moved)


def end(
    ctx: Context,
    name: str,
    status: JobStatus,
    message: str,
    *,
    copies: Sequence[tuple[str, dict[str, str] | None]] = (),
    **fields: Any,
) -> None:
    """End a parent (if it has not ended): copy its children's outputs (`copies`: a child and
    which of its outputs, the parent's name -> the child's, all when None), then move it to
    `status`."""
    with ctx.db.write() as session:
        repo = JobRepository(session)
        current = repo.lock(name)
        if current is None or JobStatus(current.status) in TERMINAL:
            return
        if current.status == JobStatus.queued.value:
            move_in(repo, name, JobStatus.preparing)
        for source, ports in copies:
            copy_outputs(repo, source, name, ports)
        if status is JobStatus.failed:
            fields.setdefault("error", message)
        if status is JobStatus.completed:
            fields.setdefault("exit_code", 0)
        moved = move_in(repo, name, status, message=f"{status.value}: {message}", **fields)
    after_move(ctx, moved)


def copy_outputs(
    repo: JobRepository, source: str, target: str, ports: dict[str, str] | None = None
) -> None:
    """`target`'s outputs become `source`'s (the same content, the same registered versions)."""
    found = {o.name: o for o in repo.outputs(source)}
    wanted = ports if ports is not None else {name: name for name in found}
    for mine, theirs in wanted.items():
        out = found.get(theirs)
        if out is None:
            continue
        repo.put_output(
            target,
            name=mine,
            type=out.type,
            uri=out.uri,
            asset_kind=out.asset_kind,
            asset_name=out.asset_name,
            asset_version=out.asset_version,
        )
