"""The workspace's side of the runner contract (`schemas/runtime.py`).

The runner of a job fetches its spec and reports: state changes (checked against the transition
table), log text, each output it uploaded, and heartbeats. Every answer carries
`cancel_requested`, so a runner on a machine the scheduler cannot signal still learns it should
stop. Outputs the job document names (`name`, optionally `version`) are registered as data or
model asset versions linked to the job.
"""

from __future__ import annotations

from typing import Any

from forgeml.core.content import CONTENT_PREFIX
from forgeml.core.errors import NotFoundError, SpecError
from forgeml.core.specs import validate_spec
from forgeml.core.specs.job import JobOutput
from forgeml.core.states import TERMINAL, JobStatus
from forgeml.schemas.runtime import RunnerAck, RunnerJob, RunnerLogs, RunnerOutputDone, RunnerState
from forgeml.services import assets
from forgeml.services.authz import authorize
from forgeml.services.content import check_content_uri
from forgeml.services.context import Context
from forgeml.services.job_state import Moved, after_move, move_in, publish
from forgeml.store.repositories import JobRecord, JobRepository
from forgeml.store.repositories.common import utcnow
from forgeml.store.repositories.jobs import LineageEdge

#: the most text one log report may carry; a runner sends far less every 200 ms
MAX_LOG_CHUNK = 4 << 20
MAX_ERROR = 8000


def _get(ctx: Context, name: str) -> JobRecord:
    with ctx.db.read() as session:
        record = JobRepository(session).get(name)
    if record is None:
        raise NotFoundError(f"no job named '{name}' exists in this workspace.")
    return record


def spec(ctx: Context, name: str) -> RunnerJob:
    authorize(ctx, "jobs.execute", name)
    return RunnerJob.model_validate(_get(ctx, name).runner)


def report_state(ctx: Context, name: str, report: RunnerState | dict[str, Any]) -> RunnerAck:
    authorize(ctx, "jobs.execute", name)
    body = validate_spec(RunnerState, report)
    new = JobStatus(body.state)
    fields: dict[str, object] = {}
    with ctx.db.write() as session:
        repo = JobRepository(session)
        current = repo.lock(name)
        if current is None:
            raise NotFoundError(f"no job named '{name}' exists in this workspace.")
        for item in body.logs:
            if item.text:
                repo.append_log(name, item.stream, item.text[:MAX_LOG_CHUNK])
        if body.pid is not None and current.pid is None:
            fields["pid"] = body.pid
        if body.warnings:
            merged = list(dict.fromkeys([*current.warnings, *body.warnings]))
            if merged != current.warnings:
                fields["warnings"] = merged
        status = JobStatus(current.status)
        if status is JobStatus.canceling and new not in TERMINAL:
            # the runner has not seen the cancel yet: keep canceling, and tell it
            if fields:
                repo.update(name, **fields)
            if body.logs:
                publish(ctx.workspace, name, "log")
            return RunnerAck(cancel_requested=True)
        if new in TERMINAL and status not in TERMINAL:
            if body.exit_code is not None:
                fields["exit_code"] = body.exit_code
            if body.error:
                fields["error"] = body.error[-MAX_ERROR:]
        message = _message(new, body)
        moved: Moved = move_in(repo, name, new, message=message, **fields)
    after_move(ctx, moved)
    return RunnerAck(cancel_requested=moved.record.cancel_requested)


def _message(new: JobStatus, body: RunnerState) -> str:
    if new is JobStatus.failed:
        code = f" (exit code {body.exit_code})" if body.exit_code is not None else ""
        return f"failed{code}"
    if new is JobStatus.preparing and body.pid is not None:
        return f"preparing (runner pid {body.pid})"
    return new.value


def append_logs(ctx: Context, name: str, report: RunnerLogs | dict[str, Any]) -> RunnerAck:
    authorize(ctx, "jobs.execute", name)
    body = validate_spec(RunnerLogs, report)
    if not body.text:
        return heartbeat(ctx, name)
    if len(body.text) > MAX_LOG_CHUNK:
        raise SpecError(
            f"one log report may carry at most {MAX_LOG_CHUNK} characters; send it in parts.",
            field="text",
        )
    with ctx.db.write() as session:
        repo = JobRepository(session)
        current = repo.get(name)
        if current is None:
            raise NotFoundError(f"no job named '{name}' exists in this workspace.")
        repo.append_log(name, body.stream, body.text)
        repo.update(name, heartbeat_at=utcnow())
    publish(ctx.workspace, name, "log")
    return RunnerAck(cancel_requested=current.cancel_requested)


def heartbeat(ctx: Context, name: str) -> RunnerAck:
    authorize(ctx, "jobs.execute", name)
    with ctx.db.write() as session:
        repo = JobRepository(session)
        current = repo.get(name)
        if current is None:
            raise NotFoundError(f"no job named '{name}' exists in this workspace.")
        repo.update(name, heartbeat_at=utcnow())
    return RunnerAck(cancel_requested=current.cancel_requested)


def output_done(ctx: Context, name: str, report: RunnerOutputDone | dict[str, Any]) -> RunnerAck:
    """Record an uploaded output; register it as an asset version if the job names it."""
    authorize(ctx, "jobs.execute", name)
    body = validate_spec(RunnerOutputDone, report)
    record = _get(ctx, name)
    declared = record.spec.get("outputs") or {}
    if body.name not in declared and body.name not in ("default", "artifacts"):
        names = ", ".join(sorted(declared)) or "none"
        raise SpecError(
            f"job '{name}' declares no output '{body.name}' (declared: {names}).", field="name"
        )
    port = JobOutput.model_validate(declared.get(body.name) or {})
    if not body.uri.startswith(CONTENT_PREFIX):
        raise SpecError(
            f"'{body.uri}' is not workspace content; upload the output first.", field="uri"
        )
    check_content_uri(ctx, body.uri, kind="file" if port.type == "uri_file" else "any", field="uri")
    asset_name = asset_version = None
    kind = port.asset_kind
    if port.name is not None:
        entity, _ = assets.create(ctx, kind, _asset_body(name, port, body.uri))
        asset_name, asset_version = entity.name, entity.version
    with ctx.db.write() as session:
        repo = JobRepository(session)
        repo.put_output(
            name,
            name=body.name,
            type=port.type,
            uri=body.uri,
            asset_kind=kind if asset_name else None,
            asset_name=asset_name,
            asset_version=asset_version,
        )
        if asset_name and asset_version:
            repo.add_edge(LineageEdge(name, "output", body.name, kind, asset_name, asset_version))
        where = f" as {kind} azureml:{asset_name}:{asset_version}" if asset_name else ""
        repo.append_log(name, "system", f"output '{body.name}' stored{where}\n")
    publish(ctx.workspace, name, "log")
    return RunnerAck(cancel_requested=record.cancel_requested)


def _asset_body(job: str, port: JobOutput, uri: str) -> dict[str, object]:
    body: dict[str, object] = {"name": port.name, "type": port.type, "path": uri}
    if port.version is not None:
        body["version"] = port.version
    body["description"] = port.description or f"Output of job {job}."
    if port.asset_kind == "models":
        body["job_name"] = job
    else:
        body["tags"] = {"job_name": job}
    return body
