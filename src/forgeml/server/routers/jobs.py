"""Jobs: submit, show, list, cancel, logs (JSON and a live SSE stream), outputs; and the runner's
routes of the runtime contract (`/api/v1/jobs/{name}/runtime/...`)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from enum import Enum, StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Header, Query, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from forgeml.schemas.jobs import (
    AnyJob,
    Job,
    JobArtifacts,
    JobList,
    JobLogs,
    JobOutputs,
    JobYaml,
    PipelineJobInfo,
    SweepJobInfo,
)
from forgeml.schemas.runtime import RunnerAck, RunnerJob, RunnerLogs, RunnerOutputDone, RunnerState
from forgeml.server.deps import context
from forgeml.services import Context, job_runtime
from forgeml.services import jobs as service
from forgeml.services.job_state import subscribe

router = APIRouter(prefix="/api/v1/jobs", tags=["jobs"])
Ctx = Annotated[Context, Depends(context)]
#: a comment line every so often keeps proxies from closing a quiet stream
KEEPALIVE_S = 15.0
#: without a wake-up from this process (another replica writes), look again this often
POLL_S = 1.0


def _typed(*models: type[Any]) -> dict[str, Any]:
    # the service validates the body (so authorization comes first); OpenAPI still shows its type
    refs = [{"$ref": f"#/components/schemas/{m.__name__}"} for m in models]
    schema = refs[0] if len(refs) == 1 else {"oneOf": refs}
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


@router.post(
    "",
    response_model=AnyJob,
    status_code=201,
    openapi_extra=_typed(Job, PipelineJobInfo, SweepJobInfo),
)
def create(ctx: Ctx, body: Annotated[Any, Body()]) -> Any:
    return service.submit(ctx, body)


@router.post("/{name}/rerun", response_model=AnyJob, status_code=201)
def rerun(name: str, ctx: Ctx) -> Any:
    """Submit the same job again under a new name; a pipeline reuses its completed steps."""
    return service.rerun(ctx, name)


class JobType(StrEnum):
    command = "command"
    pipeline = "pipeline"
    sweep = "sweep"


class JobOrder(StrEnum):
    created_at = "created_at"
    name = "name"
    status = "status"
    experiment = "experiment"
    started_at = "started_at"
    duration = "duration"


class SortDirection(StrEnum):
    asc = "asc"
    desc = "desc"


@router.get("", response_model=JobList)
def list_jobs(
    ctx: Ctx,
    status: Annotated[list[str] | None, Query(description="repeatable")] = None,
    type: Annotated[list[JobType] | None, Query(description="repeatable")] = None,
    experiment_name: str | None = None,
    compute: str | None = None,
    search: Annotated[
        str | None, Query(description="a part of the name or display name (any case)")
    ] = None,
    tag: Annotated[list[str] | None, Query(description="key or key=value; repeatable")] = None,
    parent: str | None = None,
    order_by: JobOrder = JobOrder.created_at,
    order: SortDirection = SortDirection.desc,
    page_token: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    all: Annotated[bool, Query(description="also list pipeline steps and sweep trials")] = False,
    total: Annotated[bool, Query(description="count the matching jobs too")] = False,
) -> Any:
    return service.list_jobs(
        ctx,
        status=status,
        job_type=[t.value for t in type or []],
        experiment_name=experiment_name,
        compute=compute,
        search=search,
        tags=tag,
        parent=parent,
        include_children=all,
        order_by=order_by.value,
        order=order.value,
        page_token=page_token,
        limit=limit,
        with_total=total,
    )


@router.post("/yaml", response_model=AnyJob, status_code=201)
def create_from_yaml(ctx: Ctx, body: JobYaml) -> Any:
    """Submit a job from its YAML text (what the studio's submit page sends), read as
    `forgeml job create -f` reads a file, with errors naming the line. A job that needs local
    files (a `code` folder, a local input) is refused: submit it with the CLI or SDK, which
    upload them first."""
    return service.submit_yaml(ctx, body.yaml, file=body.file)


@router.get("/{name}", response_model=AnyJob)
def get(name: str, ctx: Ctx) -> Any:
    return service.get(ctx, name)


@router.post("/{name}/cancel", response_model=AnyJob)
def cancel(name: str, ctx: Ctx) -> Any:
    return service.cancel(ctx, name)


@router.get("/{name}/logs", response_model=JobLogs)
def logs(
    name: str,
    ctx: Ctx,
    after: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=10000)] = 1000,
    stream: Annotated[list[str] | None, Query()] = None,
) -> JobLogs:
    return service.logs(ctx, name, after=after, limit=limit, streams=stream)


@router.get("/{name}/outputs", response_model=JobOutputs)
def outputs(name: str, ctx: Ctx) -> JobOutputs:
    return service.outputs(ctx, name)


@router.get("/{name}/artifacts", response_model=JobArtifacts)
def artifacts(name: str, ctx: Ctx, path: str = "") -> JobArtifacts:
    """One folder of the job's MLflow run artifacts (what it wrote to ./outputs and ./logs)."""
    return service.artifacts(ctx, name, path)


def _event(kind: str, data: Any, event_id: int | None = None) -> str:
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {kind}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


@router.get(
    "/{name}/logs/stream",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "Server-sent events."}},
)
async def stream_logs(
    name: str,
    request: Request,
    ctx: Ctx,
    after: Annotated[int, Query(ge=0)] = 0,
    last_event_id: Annotated[str | None, Header()] = None,
) -> StreamingResponse:
    """Follow a job's logs live: `log` events (id = sequence number) as chunks arrive, a
    `status` event at each state change, and a final `end` event once the job has ended."""
    if last_event_id and last_event_id.isdigit():
        after = max(after, int(last_event_id))  # a reconnecting EventSource resumes
    loop = asyncio.get_running_loop()
    changed = asyncio.Event()

    def on_change(job: str, _kind: str) -> None:
        if job == name:
            with contextlib.suppress(RuntimeError):  # the stream's loop has closed
                loop.call_soon_threadsafe(changed.set)

    unsubscribe = subscribe(ctx.workspace, on_change)
    try:
        # authorization and existence are checked before the stream starts
        first = await run_in_threadpool(service.logs, ctx, name, after=after)
    except BaseException:
        unsubscribe()
        raise
    return StreamingResponse(
        _follow(ctx, name, first, changed, unsubscribe, request),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


async def _follow(
    ctx: Context,
    name: str,
    page: JobLogs,
    changed: asyncio.Event,
    unsubscribe: Any,
    request: Request,
) -> AsyncIterator[str]:
    status = None
    quiet = 0.0
    try:
        while True:
            for chunk in page.items:
                yield _event("log", chunk.model_dump(mode="json"), chunk.seq)
            if page.status != status:
                status = page.status
                yield _event("status", {"status": status.value})
            if page.done:
                job = await run_in_threadpool(service.get, ctx, name)
                yield _event(
                    "end",
                    {"status": job.status.value, "exit_code": job.exit_code, "error": job.error},
                )
                return
            if not page.items:
                try:
                    await asyncio.wait_for(changed.wait(), POLL_S)
                    quiet = 0.0
                except TimeoutError:
                    quiet += POLL_S
                    if quiet >= KEEPALIVE_S:
                        quiet = 0.0
                        yield ": keepalive\n\n"
                changed.clear()
                if await request.is_disconnected():
                    return
            page = await run_in_threadpool(service.logs, ctx, name, after=page.last_seq)
    finally:
        unsubscribe()


# ------------------------------------------------------------------------- runtime contract

RUNTIME: list[str | Enum] = ["job runtime"]


@router.get("/{name}/runtime/spec", response_model=RunnerJob, tags=RUNTIME)
def runner_spec(name: str, ctx: Ctx) -> RunnerJob:
    return job_runtime.spec(ctx, name)


@router.post("/{name}/runtime/state", response_model=RunnerAck, tags=RUNTIME)
def runner_state(name: str, ctx: Ctx, body: RunnerState) -> RunnerAck:
    return job_runtime.report_state(ctx, name, body)


@router.post("/{name}/runtime/logs", response_model=RunnerAck, tags=RUNTIME)
def runner_logs(name: str, ctx: Ctx, body: RunnerLogs) -> RunnerAck:
    return job_runtime.append_logs(ctx, name, body)


@router.post("/{name}/runtime/outputs", response_model=RunnerAck, tags=RUNTIME)
def runner_output(name: str, ctx: Ctx, body: RunnerOutputDone) -> RunnerAck:
    return job_runtime.output_done(ctx, name, body)


@router.post("/{name}/runtime/heartbeat", response_model=RunnerAck, tags=RUNTIME)
def runner_heartbeat(name: str, ctx: Ctx) -> RunnerAck:
    return job_runtime.heartbeat(ctx, name)
