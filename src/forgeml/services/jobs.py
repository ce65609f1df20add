"""Jobs: submit, show, list, cancel, read logs and outputs.

Submitting checks everything a user can fix before anything is queued (the document's own rules,
the compute, the environment, every input reference and uploaded path) and refuses with a message
naming the field. It pins references (`@latest` becomes the version it meant at submit time),
creates the job's MLflow run, and writes the job row (state `queued`) with its lineage edges in
one transaction. The scheduler takes it from there.
"""

from __future__ import annotations

import base64
import json
from datetime import datetime
from typing import Any

from forgeml.core.content import CONTENT_PREFIX, is_local_path, parse_content_uri
from forgeml.core.errors import ConflictError, NotFoundError, SpecError
from forgeml.core.refs import is_reference, parse_ref
from forgeml.core.specs import (
    ASSET_KINDS,
    ComponentInput,
    CreationContext,
    Environment,
    validate_spec,
)
from forgeml.core.specs.component import check_literal
from forgeml.core.specs.job import (
    MODEL_TYPES,
    CommandJob,
    JobInput,
    environment_key,
    generate_job_name,
    job_model,
)
from forgeml.core.specs.yamlio import parse_yaml
from forgeml.core.states import TERMINAL, JobStatus, parse_status
from forgeml.pipelines.steps import reuse_key
from forgeml.schemas.jobs import (
    Job,
    JobArtifact,
    JobArtifacts,
    JobList,
    JobLogChunk,
    JobLogs,
    JobOutputInfo,
    JobOutputs,
    LineageEdgeInfo,
    PipelineJobInfo,
    SweepJobInfo,
    parse_job,
)
from forgeml.schemas.runtime import RunnerInput, RunnerJob, RunnerOutput
from forgeml.services import assets, computes
from forgeml.services.authz import authorize
from forgeml.services.content import check_content_uri
from forgeml.services.context import Context
from forgeml.services.job_state import after_move, move_in, publish
from forgeml.store.repositories import JobRecord, JobRepository
from forgeml.store.repositories.common import utcnow
from forgeml.store.repositories.jobs import SORTS as SORT_KEYS
from forgeml.store.repositories.jobs import JobFilter, LineageEdge, ParentState

DEFAULT_EXPERIMENT = "Default"
MAX_PAGE = 1000
JOB_TYPES = ("command", "pipeline", "sweep")


# ------------------------------------------------------------------------------- rendering


AnyJobView = Job | PipelineJobInfo | SweepJobInfo


def to_view(ctx: Context, record: JobRecord) -> AnyJobView:
    """A job as the API shows it: its document, its lifecycle, and for a pipeline its steps,
    for a sweep its trials and the best one."""
    data: dict[str, Any] = {
        **record.spec,
        "name": record.name,
        "status": record.status,
        "experiment_id": record.experiment_id,
        "parent_job_name": record.parent,
        "step": record.step,
        "reused_from": record.reused_from,
        "queued_at": record.queued_at,
        "prepared_at": record.prepared_at,
        "started_at": record.started_at,
        "ended_at": record.ended_at,
        "exit_code": record.exit_code,
        "error": record.error,
        "warnings": record.warnings,
        "cancel_requested": record.cancel_requested,
        "waiting_reason": record.waiting if record.status == "queued" else None,
        "attempts": record.attempts or (0 if record.status == "queued" else 1),
    }
    data.setdefault("type", record.type)
    if record.type == "pipeline":
        from forgeml.services import pipelines

        data["steps"] = pipelines.step_infos(ctx, record)
    elif record.type == "sweep":
        from forgeml.services import sweeps

        data.update(sweeps.trial_infos(ctx, record))
    view = parse_job(data)
    view.creation_context = CreationContext(
        created_at=record.created_at,
        created_by=record.created_by,
        last_modified_at=record.updated_at,
    )
    return view


# ------------------------------------------------------------------------------- resolution


def _environment(ctx: Context, job: CommandJob) -> tuple[str | dict[str, Any], Environment]:
    """The environment as stored (pinned reference or inline) and as the runner gets it."""
    return environment_for(ctx, job.environment, field="environment")


def environment_for(
    ctx: Context, value: str | Environment, *, field: str
) -> tuple[str | dict[str, Any], Environment]:
    """An environment reference pinned to its version, or an inline one checked."""
    if isinstance(value, str):
        try:
            pinned = assets.pin_environment(ctx, value, field=field)
            env = assets.resolve(ctx, "environments", pinned)
        except NotFoundError as exc:
            raise SpecError(exc.message, field=field) from None
        assert isinstance(env, Environment)
        return pinned, env
    env = value
    if isinstance(env.conda_file, str):
        raise SpecError(
            "'conda_file' must reach the server as the file's content; the CLI and SDK inline it.",
            field=f"{field}.conda_file",
        )
    if env.build is not None:
        _check_uploaded(ctx, env.build.path, field=f"{field}.build.path", kind="folder")
    return env.to_wire(), env


def _check_uploaded(ctx: Context, value: str, *, field: str, kind: str) -> None:
    if value.startswith(CONTENT_PREFIX):
        check_content_uri(ctx, value, kind=kind, field=field)
    elif is_local_path(value):
        raise SpecError(
            f"'{value}' is a local path, which the server cannot read. Submit the job with the "
            "forgeml CLI or SDK, which upload local files first.",
            field=field,
        )


def _code(ctx: Context, job: CommandJob) -> str | None:
    return None if job.code is None else code_for(ctx, job.code, field="code")


def code_for(ctx: Context, code: str, *, field: str) -> str:
    """A code folder's content URI, checked (the CLI and SDK upload local folders)."""
    if code.startswith(CONTENT_PREFIX):
        check_content_uri(ctx, code, kind="folder", field=field)
        return code
    if is_local_path(code):
        _check_uploaded(ctx, code, field=field, kind="folder")
    raise SpecError(
        f"'{code}': only a local folder (uploaded by the CLI or SDK) is supported as code so "
        "far; git and http sources are not.",
        field=field,
    )


def check_environment_and_code(ctx: Context, job: CommandJob) -> None:
    """The checks of a command job that need no input values (a pipeline step's dry run)."""
    _environment(ctx, job)
    _code(ctx, job)


def data_input(
    ctx: Context, job: str, name: str, port: JobInput
) -> tuple[RunnerInput, str | None, LineageEdge | None]:
    """Resolve a data input: (what the runner gets, the pinned path, the lineage edge)."""
    field = f"inputs.{name}.path"
    mode = port.mode or "ro_mount"
    path = port.path
    if path is None:  # an optional input left unset
        return RunnerInput(type=port.type, mode=mode), None, None
    if path.startswith(CONTENT_PREFIX):
        kind = "file" if port.type == "uri_file" else "folder"
        check_content_uri(ctx, path, kind=kind, field=field)
        return RunnerInput(type=port.type, mode=mode, uri=path), path, None
    if path.startswith("azureml://datastores/") or path.startswith("azureml://subscriptions/"):
        raise SpecError(
            f"'{path}': datastores are not supported yet; register the data as a data asset and "
            "use azureml:<name>:<version>.",
            field=field,
        )
    if path.startswith(JOB_OUTPUT_PREFIX):
        return _job_output_input(ctx, path, port, mode, field)
    if is_reference(path):
        ref = parse_ref(path, field=field)
        kind = ref.kind or ("models" if port.type in MODEL_TYPES else "data")
        if kind not in ("data", "models"):
            raise SpecError(f"'{path}' points at {kind}, not at data or a model.", field=field)
        try:
            asset = assets.resolve(ctx, kind, path)
        except NotFoundError as exc:
            raise SpecError(exc.message, field=field) from None
        assert asset.name and asset.version
        uri = str(getattr(asset, "path"))  # noqa: B009 - data and models both carry a path
        edge = LineageEdge(job, "input", name, kind, asset.name, asset.version)
        return (
            RunnerInput(type=port.type, mode=mode, uri=uri),
            f"azureml:{asset.name}:{asset.version}",
            edge,
        )
    if is_local_path(path):
        _check_uploaded(ctx, path, field=field, kind="folder")
    # any other URI (https, s3, wasbs, runs:/ ...) is fetched by the runner
    return RunnerInput(type=port.type, mode=mode, uri=path), path, None


def _job_output_input(
    ctx: Context, path: str, port: JobInput, mode: Any, field: str
) -> tuple[RunnerInput, str, None]:
    uri, _ = job_output_uri(ctx, path, field=field)
    return RunnerInput(type=port.type, mode=mode, uri=uri), path, None


JOB_OUTPUT_PREFIX = "azureml://jobs/"


def job_output_uri(ctx: Context, path: str, *, field: str) -> tuple[str, str]:
    """Where `azureml://jobs/<job>/outputs/<output>[/paths/<path>]` lies (a content URI), and
    the job: what a job input or a model registered from a job's output points at."""
    parts = path[len(JOB_OUTPUT_PREFIX) :].split("/")
    if len(parts) < 3 or parts[1] != "outputs" or not parts[0] or not parts[2]:
        raise SpecError(
            f"'{path}' should look like azureml://jobs/<job>/outputs/<output>[/paths/<path>].",
            field=field,
        )
    authorize(ctx, "jobs.read", parts[0])
    with ctx.db.read() as session:
        found = {o.name: o for o in JobRepository(session).outputs(parts[0])}
    output = found.get(parts[2])
    if output is None:
        raise SpecError(f"job '{parts[0]}' has no output '{parts[2]}' (yet).", field=field)
    uri = output.uri
    if len(parts) > 4 and parts[3] == "paths":
        uri = uri.rstrip("/") + "/" + "/".join(p for p in parts[4:] if p)
    return uri, parts[0]


def _resolve_inputs(
    ctx: Context, name: str, job: CommandJob
) -> tuple[dict[str, RunnerInput], dict[str, Any], list[LineageEdge]]:
    runner: dict[str, RunnerInput] = {}
    stored: dict[str, Any] = {}
    edges: list[LineageEdge] = []
    for key, given in job.inputs.items():
        port = job.input_port(key)
        assert port is not None
        if port.is_literal:
            value = port.given
            if value is not None:
                spec = ComponentInput(type=port.type, min=port.min, max=port.max, enum=port.enum)
                value = check_literal(spec, value)
            runner[key] = RunnerInput(type=port.type, value=value)
            stored[key] = _doc(given) if isinstance(given, JobInput) else given
            continue
        resolved, pinned, edge = data_input(ctx, name, key, port)
        runner[key] = resolved
        doc = _doc(port)
        if pinned is not None:
            doc["path"] = pinned
        stored[key] = doc
        if edge is not None:
            edges.append(edge)
    return runner, stored, edges


def _doc(port: JobInput) -> dict[str, Any]:
    return port.model_dump(mode="json", exclude_none=True, exclude_defaults=True)


def _outputs(job: CommandJob) -> dict[str, RunnerOutput]:
    out: dict[str, RunnerOutput] = {}
    for key, port in job.outputs.items():
        if port.name is not None:
            try:
                validate_spec(
                    ASSET_KINDS[port.asset_kind],
                    {"name": port.name, "version": port.version, "type": port.type, "path": "x"},
                )
            except SpecError as exc:
                raise SpecError(exc._bare, field=f"outputs.{key}.{exc.field or 'name'}") from None
        out[key] = RunnerOutput(type=port.type, mode=port.mode or "rw_mount")
    return out


# ------------------------------------------------------------------------------- use cases


def submit(ctx: Context, body: dict[str, Any]) -> AnyJobView:
    """Validate, resolve and queue a job; nothing is written when any check fails."""
    given = body.get("name") if isinstance(body, dict) else None
    authorize(ctx, "jobs.write", given if isinstance(given, str) else "*")
    if not isinstance(body, dict):
        raise SpecError("the request body must be a job document (a JSON object).")
    job = validate_spec(job_model(body), body)
    name = job.name or generate_job_name()
    _check_free(ctx, name)
    record = submit_document(ctx, job, name=name)
    publish(ctx.workspace, name)
    return to_view(ctx, record)


#: what the studio's submit page names a pasted document in messages
PASTED = "<pasted YAML>"


def submit_yaml(ctx: Context, text: str, *, file: str | None = None) -> AnyJobView:
    """Submit a job from YAML text, read as `forgeml job create -f` reads a file (the same
    parser and rules; errors name the line). Local files cannot come along: a document that
    names a local `code` folder, input or component file is refused with what to do instead."""
    authorize(ctx, "jobs.write", "*")
    source = file or PASTED
    data, locator = parse_yaml(text, file=source)
    if not isinstance(data, dict):
        raise SpecError(
            "the document must be a mapping of keys to values (a job YAML), not "
            f"{'nothing' if data is None else 'a ' + type(data).__name__}.",
            file=source,
            line=1,
        )
    validate_spec(job_model(data, file=source), data, file=source, locator=locator)
    for where, value in _local_files(data, ()):
        raise SpecError(
            f"'{value}' is a file on your machine, which the studio cannot upload. Submit this "
            f"job with the CLI (forgeml job create -f {file or 'job.yml'}), which uploads local "
            "files first, or point it at a registered asset (azureml:<name>:<version>) or a "
            "URI the workspace can read.",
            file=source,
            field=".".join(str(p) for p in where),
            line=locator.line(where),
        )
    try:
        return submit(ctx, data)
    except SpecError as exc:
        if exc.line is not None or exc.field is None:
            raise
        # the job's rules do not see the text: name the line of the field they name
        line = locator.line(tuple(exc.field.split(".")))
        raise SpecError(exc._bare, file=source, field=exc.field, line=line) from None


def _local_files(node: Any, where: tuple[str, ...]) -> list[tuple[tuple[str, ...], str]]:
    """The fields of a job document that name files on the submitting machine."""
    from forgeml.core.specs.pipeline import is_local_ref

    found: list[tuple[tuple[str, ...], str]] = []
    if not isinstance(node, dict):
        return found
    for key, value in node.items():
        at = (*where, str(key))
        if isinstance(value, dict):
            if key != "outputs":
                found += _local_files(value, at)
        elif isinstance(value, str):
            if key in ("code", "path") and is_local_path(value):
                found.append((at, value))
            elif key == "conda_file" or (key in ("component", "trial") and is_local_ref(value)):
                found.append((at, value))
    return found


def _check_free(ctx: Context, name: str) -> None:
    with ctx.db.read() as session:
        if JobRepository(session).exists(name):
            raise ConflictError(
                f"a job named '{name}' already exists; job names are unique. Omit 'name' to get "
                "a generated one.",
                details={"field": "name"},
            )


def submit_document(
    ctx: Context,
    job: Any,
    *,
    name: str,
    parent: JobRecord | ParentState | None = None,
    step: str | None = None,
    reusable: bool = False,
    force_rerun: bool = False,
    keep_artifacts: bool = False,
) -> JobRecord:
    """Queue a validated job document of any type (a pipeline's step is one too)."""
    from forgeml.core.specs.pipeline import PipelineJob, SweepJob

    if isinstance(job, PipelineJob):
        from forgeml.services import pipelines

        return pipelines.submit(ctx, job, name=name, parent=parent, step=step)
    if isinstance(job, SweepJob):
        from forgeml.services import sweeps

        return sweeps.submit(ctx, job, name=name, parent=parent, step=step)
    assert isinstance(job, CommandJob)
    return _submit_command(
        ctx,
        job,
        name=name,
        parent=parent,
        step=step,
        reusable=reusable,
        force_rerun=force_rerun,
        keep_artifacts=keep_artifacts,
    )


def check_compute(ctx: Context, compute: str, field: str = "compute") -> None:
    try:
        computes.get(ctx, compute)
    except NotFoundError as exc:
        raise SpecError(exc.message, field=field) from None


def child_tags(parent: JobRecord | ParentState | None, tags: dict[str, str]) -> dict[str, str]:
    """The MLflow tags of a job's run: a child's run is nested under its parent's."""
    if parent is None:
        return dict(tags)
    return {**tags, "mlflow.parentRunId": parent.name}


def _submit_command(
    ctx: Context,
    job: CommandJob,
    *,
    name: str,
    parent: JobRecord | ParentState | None,
    step: str | None,
    reusable: bool,
    force_rerun: bool,
    keep_artifacts: bool = False,
) -> JobRecord:
    compute = job.compute or computes.BUILTIN
    check_compute(ctx, compute)
    env_stored, env = _environment(ctx, job)
    code = _code(ctx, job)
    runner_inputs, stored_inputs, edges = _resolve_inputs(ctx, name, job)
    runner_outputs = _outputs(job)
    experiment = job.experiment_name or DEFAULT_EXPERIMENT
    display = job.display_name or name
    spec = job.to_wire()
    spec.update(
        {"environment": env_stored, "inputs": stored_inputs, "compute": compute},
        experiment_name=experiment,
        display_name=display,
    )
    spec.pop("name", None)
    if code is not None:
        spec["code"] = code

    runner = RunnerJob(
        name=name,
        command=job.command,
        code=code,
        environment=env,
        environment_key=environment_key(env),
        inputs=runner_inputs,
        outputs=runner_outputs,
        environment_variables=dict(job.environment_variables),
        timeout_s=job.timeout_s,
        experiment_id="",
        experiment_name=experiment,
        run_id=name,
        distribution=job.distribution,
        resources=job.resources,
        max_retries=job.retry_settings.max_retries if job.retry_settings else 0,
        keep_artifacts=keep_artifacts,
    )
    runner_doc = runner.model_dump(mode="json")
    key = reuse_key(runner_doc, spec.get("outputs") or {}) if reusable else None
    hit = _reuse_hit(ctx, key) if key and not force_rerun else None

    from forgeml.services import tracking

    run_tags = child_tags(parent, dict(job.tags))
    if hit is not None:
        run_tags["forgeml.reused_from"] = hit.reused_from or hit.name
    experiment_id = tracking.start_job_run(
        ctx, run_id=name, experiment_name=experiment, run_name=display, tags=run_tags
    )
    runner_doc["experiment_id"] = str(experiment_id)
    now = utcnow()
    with ctx.db.write() as session:
        repo = JobRepository(session)
        if repo.exists(name):
            raise ConflictError(f"a job named '{name}' already exists.", details={"field": "name"})
        values: dict[str, Any] = {
            "name": name,
            "type": job.type,
            "status": JobStatus.queued.value,
            "spec": spec,
            "runner": runner_doc,
            "experiment_name": experiment,
            "experiment_id": str(experiment_id),
            "display_name": display,
            "description": job.description,
            "tags": dict(job.tags),
            "compute": compute,
            "parent": parent.name if parent else None,
            "step": step,
            "created_by": ctx.principal.name,
            "created_at": now,
            "queued_at": now,
            # a forced rerun is not offered for reuse later, as in Azure ML
            "reuse_key": None if force_rerun else key,
        }
        if hit is not None:
            original = hit.reused_from or hit.name
            values.update(
                status=JobStatus.completed.value,
                reused_from=original,
                started_at=now,
                ended_at=now,
                exit_code=0,
            )
        record = repo.insert(**values)
        for edge in edges:
            repo.add_edge(edge)
        if hit is None:
            repo.append_log(name, "system", f"queued on compute '{compute}'\n", now)
        else:
            repo.append_log(
                name,
                "system",
                f"reused the outputs of job '{values['reused_from']}': the same component, "
                "code, environment, inputs and settings completed before, so the step did not "
                "run again (set force_rerun to run it anyway)\n",
                now,
            )
            from forgeml.services.parent_jobs import copy_outputs

            copy_outputs(repo, hit.name, name)
    if hit is not None:
        tracking.set_job_run_status(ctx, name, "FINISHED")
    return record


def _reuse_hit(ctx: Context, key: str) -> JobRecord | None:
    """The newest completed job with this key whose outputs still exist in the store."""
    with ctx.db.read() as session:
        repo = JobRepository(session)
        candidates = [(c, repo.outputs(c.name)) for c in repo.reusable(key)]
    for record, outputs in candidates:
        if all(_content_exists(ctx, o.uri) for o in outputs):
            return record
    return None


def _content_exists(ctx: Context, uri: str) -> bool:
    if not uri.startswith(CONTENT_PREFIX):
        return True
    try:
        digest, _ = parse_content_uri(uri)
    except SpecError:
        return False
    manifest = ctx.artifacts.get_manifest(digest)
    if manifest is None:
        return False
    wanted = {e.sha256 for e in manifest.entries}
    return not ctx.artifacts.missing_blobs(wanted)


def rerun(ctx: Context, name: str) -> AnyJobView:
    """Submit a job's document again under a new name. Its references were pinned when it was
    first submitted, so it runs the same versions; a pipeline's completed deterministic steps
    are reused and only the failed ones and those downstream of them run."""
    authorize(ctx, "jobs.write", name)
    record = _record(ctx, name)
    if record.parent is not None:
        raise ConflictError(
            f"'{name}' is a step of '{record.parent}'; rerun the whole job '{record.parent}'.",
            details={"field": "name"},
        )
    body = dict(record.spec)
    body.pop("name", None)
    body["type"] = record.type
    tags = dict(body.get("tags") or {})
    tags["forgeml.rerun_of"] = name
    body["tags"] = tags
    return submit(ctx, body)


def get(ctx: Context, name: str) -> AnyJobView:
    authorize(ctx, "jobs.read", name)
    return to_view(ctx, _record(ctx, name))


def document(ctx: Context, name: str) -> dict[str, Any]:
    """The job document as it was stored (references pinned, local files uploaded)."""
    authorize(ctx, "jobs.read", name)
    return dict(_record(ctx, name).spec)


def _record(ctx: Context, name: str) -> JobRecord:
    with ctx.db.read() as session:
        record = JobRepository(session).get(name)
    if record is None:
        raise NotFoundError(f"no job named '{name}' exists in this workspace.")
    return record


def _tag_filter(tags: list[str]) -> tuple[tuple[str, str | None], ...]:
    out: list[tuple[str, str | None]] = []
    for item in tags:
        key, sep, value = item.partition("=")
        if not key:
            raise SpecError(f"'{item}' is not a tag filter; write key or key=value.", field="tag")
        out.append((key, value if sep else None))
    return tuple(out)


def _encode_token(doc: dict[str, Any]) -> str:
    raw = json.dumps(doc, separators=(",", ":"), default=str).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_token(token: str, order_by: str, descending: bool) -> dict[str, Any]:
    """A page token from this server for this order: {'after': [value, name]} or
    {'offset': n}. A bare number is an offset (the tokens of earlier versions)."""
    if token.isdigit():
        return {"offset": int(token)}
    bad = SpecError(
        f"'{token}' is not a page token from this server; pass back the next_token of the "
        "previous page, with the same filters and order.",
        field="page_token",
    )
    try:
        doc = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (ValueError, UnicodeDecodeError):
        raise bad from None
    if not isinstance(doc, dict) or doc.get("by") != order_by or doc.get("desc") != descending:
        raise bad
    after = doc.get("after")
    if after is not None:
        if not (isinstance(after, list) and len(after) == 2 and isinstance(after[1], str)):
            raise bad
        value = after[0]
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise bad
        if order_by == "created_at":
            try:
                datetime.fromisoformat(str(value))
            except ValueError:
                raise bad from None
    offset = doc.get("offset", 0)
    if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
        raise bad
    return doc


def list_jobs(
    ctx: Context,
    *,
    status: list[str] | None = None,
    experiment_name: str | None = None,
    tags: list[str] | None = None,
    parent: str | None = None,
    page_token: str | None = None,
    limit: int = 100,
    include_children: bool = False,
    job_type: list[str] | None = None,
    search: str | None = None,
    compute: str | None = None,
    order_by: str = "created_at",
    order: str = "desc",
    with_total: bool = False,
) -> JobList:
    """Jobs, newest first unless `order_by`/`order` say otherwise, filtered by status, type,
    experiment, compute, tag (`k` or `k=v`), a part of the name or display name, and parent.

    Without `parent`, only top-level jobs are listed (a pipeline's steps and a sweep's trials
    are listed with `parent=<name>`), unless `include_children` is set. `with_total` counts
    the matching jobs too (not with a tag filter, which is applied row by row)."""
    authorize(ctx, "jobs.read")
    limit = max(1, min(limit, MAX_PAGE))
    if order_by not in SORT_KEYS:
        raise SpecError(
            f"'{order_by}' is not an order; order_by is one of {', '.join(SORT_KEYS)}.",
            field="order_by",
        )
    if order not in ("asc", "desc"):
        raise SpecError(f"'{order}' is not an order; write asc or desc.", field="order")
    descending = order == "desc"
    for kind in job_type or []:
        if kind not in JOB_TYPES:
            raise SpecError(
                f"'{kind}' is not a job type; type is one of {', '.join(JOB_TYPES)}.",
                field="type",
            )
    token = _decode_token(page_token, order_by, descending) if page_token else {}
    after = token.get("after")
    where = JobFilter(
        statuses=tuple(parse_status(s).value for s in status or []),
        experiment_name=experiment_name or None,
        tags=_tag_filter(tags or []),
        parent=parent or None,
        top_level=not parent and not include_children,
        types=tuple(dict.fromkeys(job_type or [])),
        compute=compute or None,
        text=(search or "").strip() or None,
    )
    with ctx.db.read() as session:
        repo = JobRepository(session)
        found = repo.list_page(
            where,
            order_by=order_by,
            descending=descending,
            after=(after[0], str(after[1])) if after else None,
            offset=int(token.get("offset", 0)) if "after" not in token else 0,
            limit=limit,
        )
        total = repo.count(where) if with_total and not where.tags else None
    next_token = None
    if found.last_key is not None:
        value, name = found.last_key
        if isinstance(value, datetime):
            value = value.isoformat()
        next_token = _encode_token({"by": order_by, "desc": descending, "after": [value, name]})
    elif found.next_offset is not None:
        next_token = _encode_token(
            {"by": order_by, "desc": descending, "offset": found.next_offset}
        )
    return JobList(
        items=[to_view(ctx, r) for r in found.records], next_token=next_token, total=total
    )


def cancel(ctx: Context, name: str) -> AnyJobView:
    """Stop a job: a queued one is canceled at once, a running one is asked to stop (the
    scheduler stops its process tree; a pipeline or sweep cancels its children); an ended job
    stays as it is."""
    authorize(ctx, "jobs.write", name)
    moved = cancel_record(ctx, name, f"cancel requested by {ctx.principal.name}")
    return to_view(ctx, moved)


def cancel_record(ctx: Context, name: str, message: str) -> JobRecord:
    with ctx.db.write() as session:
        repo = JobRepository(session)
        current = repo.lock(name)
        if current is None:
            raise NotFoundError(f"no job named '{name}' exists in this workspace.")
        status = JobStatus(current.status)
        if status in TERMINAL or status is JobStatus.canceling:
            return current
        queued_command = status is JobStatus.queued and current.type == "command"
        target = JobStatus.canceled if queued_command else JobStatus.canceling
        if status is JobStatus.queued and target is JobStatus.canceling:
            move_in(repo, name, JobStatus.preparing)
        moved = move_in(repo, name, target, message=message, cancel_requested=True)
    after_move(ctx, moved)
    return moved.record


def logs(
    ctx: Context, name: str, *, after: int = 0, limit: int = 1000, streams: list[str] | None = None
) -> JobLogs:
    """Log chunks after `after`; `done` once the job ended and every chunk has been read."""
    authorize(ctx, "jobs.read", name)
    limit = max(1, min(limit, 10_000))
    with ctx.db.read() as session:
        repo = JobRepository(session)
        record = repo.get(name)
        if record is None:
            raise NotFoundError(f"no job named '{name}' exists in this workspace.")
        chunks = repo.logs(name, after=after, limit=limit, streams=tuple(streams or ()))
    # the job row is read first: when it had ended, every chunk was already committed
    ended = JobStatus(record.status) in TERMINAL
    return JobLogs(
        items=[JobLogChunk(seq=c.seq, stream=c.stream, text=c.text, ts=c.ts) for c in chunks],
        last_seq=chunks[-1].seq if chunks else after,
        status=JobStatus(record.status),
        done=ended and len(chunks) < limit,
    )


def outputs(ctx: Context, name: str) -> JobOutputs:
    authorize(ctx, "jobs.read", name)
    with ctx.db.read() as session:
        repo = JobRepository(session)
        if not repo.exists(name):
            raise NotFoundError(f"no job named '{name}' exists in this workspace.")
        rows = repo.outputs(name)
        edges = repo.edges(job=name)
    return JobOutputs(
        items=[
            JobOutputInfo(
                name=o.name,
                type=o.type,
                uri=o.uri,
                asset=f"azureml:{o.asset_name}:{o.asset_version}" if o.asset_name else None,
                asset_kind=o.asset_kind,
                created_at=o.created_at,
            )
            for o in rows
        ],
        lineage=[
            LineageEdgeInfo(
                direction=e.direction,
                port=e.port,
                asset_kind=e.asset_kind,
                asset=f"azureml:{e.asset_name}:{e.asset_version}",
            )
            for e in edges
        ],
    )


def artifacts(ctx: Context, name: str, path: str = "") -> JobArtifacts:
    """One folder of the job's MLflow run artifacts (its ./outputs and ./logs), each file with
    the MLflow artifact URL it downloads from."""
    from urllib.parse import quote

    from forgeml.services import mlflow_artifacts, tracking

    authorize(ctx, "jobs.read", name)
    _record(ctx, name)
    try:
        run = tracking.get_run(ctx, name)
    except NotFoundError:
        return JobArtifacts(path="", items=[])
    root = mlflow_artifacts.path_of_uri(run.info.artifact_uri or "")
    sub = mlflow_artifacts.clean(path) if path else ""
    if root is None:
        return JobArtifacts(path=sub, items=[])
    entries = mlflow_artifacts.list_dir(ctx, f"{root}/{sub}" if sub else root)
    items = []
    for entry in sorted(entries, key=lambda e: (not e.is_dir, e.path)):
        rel = f"{sub}/{entry.path}" if sub else entry.path
        url = (
            None
            if entry.is_dir
            else f"/api/2.0/mlflow-artifacts/artifacts/{quote(root)}/{quote(rel)}"
        )
        items.append(JobArtifact(path=rel, is_dir=entry.is_dir, size=entry.size, download_url=url))
    return JobArtifacts(path=sub, items=items)


def jobs_of_asset(ctx: Context, kind: str, name: str, version: str | None = None) -> list[str]:
    """The jobs that read (or produced) an asset version: lineage seen from the asset."""
    authorize(ctx, f"{kind}.read", name)
    with ctx.db.read() as session:
        edges = JobRepository(session).edges(asset=(kind, name, version))
    return list(dict.fromkeys(e.job for e in edges))
