"""Pipeline jobs: submit (check the whole graph first), then advance step by step.

Submitting resolves every `azureml:` component reference to the version it means now, builds
the graph (which refuses unknown steps and ports, cycles, type mismatches and unbound required
inputs, naming the step and port), resolves the pipeline's inputs, checks each command step as
far as it can before its inputs exist, and writes the pipeline row with its resolved plan.

The scheduler then calls `advance` whenever a child changes and on every poll. `advance` is
idempotent and keeps no state of its own: it reads the pipeline and its children from the store,
creates the children whose inputs are ready (under names derived from the pipeline's, so a step
is created once however often it runs, and after a restart), and ends the pipeline when nothing
is left to do. Each child goes through the ordinary submit path; a deterministic step whose
identity matches an earlier completed one is recorded as reused at once, with its outputs.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections import OrderedDict
from dataclasses import asdict
from typing import Any

from forgeml.core.errors import ConflictError, SpecError, UserError
from forgeml.core.refs import is_reference
from forgeml.core.specs import ComponentInput, validate_spec
from forgeml.core.specs.component import CommandComponent, check_literal
from forgeml.core.specs.job import CommandJob, JobInput, job_model
from forgeml.core.specs.pipeline import (
    PipelineComponent,
    PipelineJob,
    PipelineStep,
    component_from_dict,
    is_local_ref,
)
from forgeml.core.states import TERMINAL, JobStatus
from forgeml.pipelines.graph import (
    ARTIFACTS,
    Graph,
    Port,
    build_graph,
    port_of_input,
    port_of_output,
)
from forgeml.pipelines.steps import (
    Context as StepContext,
)
from forgeml.pipelines.steps import (
    Produced,
    step_document,
    steps_from_wire,
    steps_to_wire,
)
from forgeml.services import assets, jobs, parent_jobs
from forgeml.services.context import Context
from forgeml.services.job_state import publish
from forgeml.store.repositories import JobRecord, JobRepository
from forgeml.store.repositories.jobs import ChildState, ParentState

log = logging.getLogger("forgeml.pipelines")

#: a child as orchestration sees it: a full record when just created, else its state row
Child = JobRecord | ChildState
PLACEHOLDER_URI = "forgeml://content/" + "0" * 64


def child_name(parent: str, step: str) -> str:
    """A step's job name: derived from its pipeline's, so it is created only once."""
    name = f"{parent}--{step}"
    if len(name) <= 255:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:16]
    return f"{parent[:200]}--{digest}"


# ------------------------------------------------------------------------------- submit


def _resolve_component(ctx: Context, value: str, field: str) -> tuple[CommandComponent, str]:
    if is_local_ref(value):
        raise SpecError(
            f"'{value}' is a local file, which the server cannot read; submit the pipeline with "
            "the forgeml CLI or SDK, which load component files and upload their code.",
            field=field,
        )
    if not is_reference(value) and not value.startswith("azureml:"):
        value = f"azureml:{value}"
    try:
        comp = assets.resolve(ctx, "components", value)
    except UserError as exc:
        raise SpecError(exc.message, field=field) from None
    assert isinstance(comp, CommandComponent)
    return comp, f"azureml:{comp.name}:{comp.version}"


def resolve_steps(
    ctx: Context, steps: dict[str, PipelineStep], prefix: str = "jobs"
) -> dict[str, dict[str, str]]:
    """Resolve `azureml:` component and trial references in place; the pinned references."""
    pinned: dict[str, dict[str, str]] = {}
    for name, step in steps.items():
        for key in ("component", "trial"):
            value = getattr(step, key)
            field = f"{prefix}.{name}.{key}"
            if isinstance(value, str):
                comp, ref = _resolve_component(ctx, value, field)
                setattr(step, key, comp)
                pinned.setdefault(name, {})[key] = ref
            elif isinstance(value, dict):
                setattr(step, key, component_from_dict(value, field=field))
            value = getattr(step, key)
            if isinstance(value, PipelineComponent):
                resolve_steps(ctx, value.jobs, f"{field}.jobs")
    return pinned


def _ports(job: PipelineJob) -> tuple[dict[str, Port], dict[str, Port]]:
    inputs = {k: port_of_input(job.input_port(k)) for k in job.inputs}
    outputs = {k: port_of_output(v) for k, v in job.outputs.items()}
    return inputs, outputs


def _input_values(
    ctx: Context, name: str, job: PipelineJob
) -> tuple[dict[str, Any], dict[str, Any], list[Any]]:
    """(resolved values for the steps, the inputs as stored, lineage edges)."""
    values: dict[str, Any] = {}
    stored: dict[str, Any] = {}
    edges: list[Any] = []
    for key in job.inputs:
        port = job.input_port(key)
        assert port is not None
        if port.is_literal:
            value = port.given
            if value is not None:
                spec = ComponentInput(type=port.type, min=port.min, max=port.max, enum=port.enum)
                try:
                    value = check_literal(spec, value)
                except ValueError as exc:
                    raise SpecError(str(exc), field=f"inputs.{key}") from None
            values[key] = value
            raw = job.inputs[key]
            stored[key] = (
                raw.model_dump(mode="json", exclude_none=True, exclude_defaults=True)
                if isinstance(raw, JobInput)
                else raw
            )
            continue
        if port.path is None:
            if not port.optional:
                raise SpecError(
                    f"the pipeline input '{key}' ({port.type}) needs a 'path'.",
                    field=f"inputs.{key}",
                )
            values[key] = None
            stored[key] = port.model_dump(mode="json", exclude_none=True, exclude_defaults=True)
            continue
        resolved, pinned, edge = jobs.data_input(ctx, name, key, port)
        values[key] = {"type": port.type, "path": resolved.uri, "mode": port.mode}
        values[key] = {k: v for k, v in values[key].items() if v is not None}
        doc = port.model_dump(mode="json", exclude_none=True, exclude_defaults=True)
        doc["type"] = port.type
        if pinned is not None:
            doc["path"] = pinned
        stored[key] = doc
        if edge is not None:
            edges.append(edge)
    return values, stored, edges


def _step_context(plan: dict[str, Any]) -> StepContext:
    settings = plan.get("settings") or {}
    return StepContext(
        experiment_name=plan["experiment_name"],
        default_compute=settings.get("default_compute"),
        compute=plan.get("compute"),
        continue_on_step_failure=bool(settings.get("continue_on_step_failure")),
        force_rerun=bool(settings.get("force_rerun")),
        inputs=dict(plan.get("inputs") or {}),
        outputs=dict(plan.get("outputs") or {}),
        tags=dict(plan.get("tags") or {}),
    )


def _dry_run(ctx: Context, graph: Graph, sctx: StepContext) -> None:
    """Check every step's document with stand-ins for outputs that do not exist yet."""
    produced = {
        (node.name, port): Produced(out.type, PLACEHOLDER_URI)
        for node in graph.nodes.values()
        for port, out in [*node.outputs.items(), ("artifacts", Port("uri_folder"))]
    }
    computes: set[str] = set()
    for node in graph.nodes.values():
        if node.kind == "pipeline" and isinstance(node.component, PipelineComponent):
            _check_component_graph(node.component, f"jobs.{node.name}.component")
        doc = step_document(node, sctx, produced)
        field = f"jobs.{node.name}"
        try:
            job = validate_spec(job_model(doc), doc)
        except SpecError as exc:
            raise SpecError(exc._bare, field=f"{field}.{exc.field or ''}".rstrip(".")) from None
        if isinstance(job, CommandJob):
            try:
                jobs.check_environment_and_code(ctx, job)
            except SpecError as exc:
                raise SpecError(exc._bare, field=f"{field}.{exc.field or ''}".rstrip(".")) from None
        if job.compute and job.compute not in computes:
            jobs.check_compute(ctx, job.compute, field=f"{field}.compute")
            computes.add(job.compute)


def _check_component_graph(comp: PipelineComponent, prefix: str) -> None:
    """A pipeline component's own steps, checked like the pipeline's (and theirs, nested)."""
    inner = build_graph(
        comp.jobs,
        {k: port_of_input(v) for k, v in comp.inputs.items()},
        {k: port_of_output(v) for k, v in comp.outputs.items()},
        field_prefix=f"{prefix}.jobs",
    )
    for node in inner.nodes.values():
        if node.kind == "pipeline" and isinstance(node.component, PipelineComponent):
            _check_component_graph(node.component, f"{prefix}.jobs.{node.name}.component")


def submit(
    ctx: Context,
    job: PipelineJob,
    *,
    name: str,
    parent: JobRecord | ParentState | None = None,
    step: str | None = None,
) -> JobRecord:
    if job.component is not None:
        if job.jobs:
            raise SpecError(
                "a pipeline job has either 'jobs' or 'component', not both.", field="component"
            )
        comp = job.component
        if isinstance(comp, dict):
            comp = component_from_dict(comp, field="component")
        if not isinstance(comp, PipelineComponent):
            raise SpecError(
                "'component' of a pipeline job must be a pipeline component (type: pipeline).",
                field="component",
            )
        job.jobs = comp.jobs
        for key, port in comp.inputs.items():
            if key not in job.inputs and port.default is not None:
                job.inputs[key] = JobInput(type=port.type, value=port.default)
        job.component = None
    pinned = resolve_steps(ctx, job.jobs)
    in_ports, out_ports = _ports(job)
    graph = build_graph(job.jobs, in_ports, out_ports)
    values, stored_inputs, edges = _input_values(ctx, name, job)
    experiment = job.experiment_name or jobs.DEFAULT_EXPERIMENT
    settings = job.settings.model_dump(mode="json", exclude_none=True)
    settings.setdefault("continue_on_step_failure", False)
    settings.setdefault("force_rerun", False)
    plan: dict[str, Any] = {
        "jobs": {k: steps_to_wire(v) for k, v in job.jobs.items()},
        "input_ports": {k: asdict(v) for k, v in in_ports.items()},
        "output_ports": {k: asdict(v) for k, v in out_ports.items()},
        "inputs": values,
        "outputs": {
            k: v.model_dump(mode="json", exclude_none=True) for k, v in job.outputs.items()
        },
        "settings": settings,
        "experiment_name": experiment,
        "compute": job.compute,
        "tags": {},
    }
    sctx = _step_context(plan)
    _dry_run(ctx, graph, sctx)

    spec = job.to_wire()
    spec.pop("name", None)
    spec["jobs"] = {k: steps_to_wire(v) for k, v in job.jobs.items()}
    spec.update(inputs=stored_inputs, experiment_name=experiment)
    spec["display_name"] = job.display_name or name
    for step_name, refs in pinned.items():
        spec["jobs"][step_name].update(refs)
    compute = settings.get("default_compute") or job.compute or "local"

    return parent_jobs.queue(
        ctx,
        name=name,
        type_="pipeline",
        spec=spec,
        plan=plan,
        display_name=spec["display_name"],
        description=job.description,
        tags=dict(job.tags),
        compute=compute,
        parent=parent,
        step=step,
        message=f"queued a pipeline of {len(graph.nodes)} steps",
        warnings=list(graph.warnings),
        edges=edges,
    )


# ------------------------------------------------------------------------------ advance

_plans: OrderedDict[str, tuple[Graph, StepContext]] = OrderedDict()
_plans_lock = threading.Lock()


def _plan(
    ctx: Context, name: str, runner: dict[str, Any] | None = None
) -> tuple[Graph, StepContext]:
    """The pipeline's graph and step context (built once per process; plans never change)."""
    with _plans_lock:
        found = _plans.get(name)
        if found is not None:
            _plans.move_to_end(name)
            return found
    if runner is None:
        with ctx.db.read() as session:
            runner = JobRepository(session).runner_doc(name)
        if runner is None:
            raise SpecError(f"no pipeline named '{name}' exists in this workspace.")
    plan = runner
    steps = steps_from_wire(plan["jobs"])
    in_ports = {k: Port(**v) for k, v in plan["input_ports"].items()}
    out_ports = {k: Port(**v) for k, v in plan["output_ports"].items()}
    built = (build_graph(steps, in_ports, out_ports), _step_context(plan))
    with _plans_lock:
        _plans[name] = built
        while len(_plans) > 256:
            _plans.popitem(last=False)
    return built


#: the outputs of a completed job never change: each is read from the store once
_outputs: OrderedDict[str, tuple[tuple[str, Produced], ...]] = OrderedDict()


def _produced(repo: JobRepository, children: dict[str, Child]) -> dict[tuple[str, str], Produced]:
    done = {c.name: c for c in children.values() if c.status == JobStatus.completed.value}
    with _plans_lock:
        missing = [job for job in done if job not in _outputs]
    fresh = repo.outputs_of(missing) if missing else {}
    out: dict[tuple[str, str], Produced] = {}
    with _plans_lock:
        for job, rows in fresh.items():
            _outputs[job] = tuple((o.name, Produced(o.type, o.uri)) for o in rows)
        while len(_outputs) > 50_000:
            _outputs.popitem(last=False)
        for job, child in done.items():
            assert child.step is not None
            for port, value in _outputs.get(job, ()):
                out[(child.step, port)] = value
    return out


def _first_line(text: str | None) -> str:
    if not text:
        return "no reason was recorded"
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "no reason was recorded"


def advance(ctx: Context, name: str) -> None:
    """Move a pipeline forward: start ready steps, stop on failure or cancel, end it."""
    with ctx.db.read() as session:
        repo = JobRepository(session)
        record = repo.parent_state(name)
        if record is None or JobStatus(record.status) in TERMINAL:
            return
        children: dict[str, Child] = {
            c.step: c for c in repo.child_states(name) if c.step is not None
        }
        produced = _produced(repo, children)
    graph, sctx = _plan(ctx, name)
    if record.status == JobStatus.queued.value:
        parent_jobs.start(ctx, name, f"running {len(graph.nodes)} steps")
    active: list[Child] = [c for c in children.values() if JobStatus(c.status) not in TERMINAL]
    failed = [
        s
        for s in graph.order
        if s in children and children[s].status in (JobStatus.failed, JobStatus.canceled)
    ]
    if record.cancel_requested:
        for child in active:
            if not child.cancel_requested:
                jobs.cancel_record(ctx, child.name, f"canceled with pipeline '{name}'")
        if not active:
            _finish(ctx, name, JobStatus.canceled, "canceled")
        return
    if failed and not sctx.continue_on_step_failure:
        reason = f"step '{failed[0]}' {children[failed[0]].status}"
        for child in active:
            if not child.cancel_requested:
                jobs.cancel_record(ctx, child.name, f"canceled: {reason}")
        if not active:
            _finish(ctx, name, JobStatus.failed, _failure(graph, children, failed))
        return
    blocked: set[str] = set()
    for step in failed:
        blocked |= graph.downstream(step)
    status = {s: JobStatus(c.status) for s, c in children.items()}
    progress = True
    while progress:
        progress = False
        for step in graph.order:
            if step in status or step in blocked:
                continue
            node = graph.nodes[step]
            if not all(status.get(u) is JobStatus.completed for u in node.upstream):
                continue
            made = _create_step(ctx, record, step, step_document(node, sctx, produced))
            if made is None:
                return  # the pipeline failed: the step could not be created
            status[step] = JobStatus(made.status)
            children[step] = made
            if made.status == JobStatus.completed.value:
                with ctx.db.read() as session:
                    for o in JobRepository(session).outputs(made.name):
                        produced[(step, o.name)] = Produced(o.type, o.uri)
                progress = True
            else:
                active.append(made)
    if active or any(s not in status and s not in blocked for s in graph.order):
        return
    if failed:
        _finish(ctx, name, JobStatus.failed, _failure(graph, children, failed))
        return
    _complete(ctx, record, graph, children)


def _create_step(
    ctx: Context, pipeline: ParentState, step: str, doc: dict[str, Any]
) -> JobRecord | None:
    name = child_name(pipeline.name, step)
    graph, sctx = _plan(ctx, pipeline.name)
    node = graph.nodes[step]
    try:
        job = validate_spec(job_model(doc), doc)
        record = jobs.submit_document(
            ctx,
            job,
            name=name,
            parent=pipeline,
            step=step,
            reusable=node.is_deterministic,
            force_rerun=sctx.force_rerun or bool(node.step.force_rerun),
            keep_artifacts=any(
                b.kind == "step_output" and b.step == step and b.port == ARTIFACTS
                for other in graph.nodes.values()
                for b in other.bindings.values()
            ),
        )
    except ConflictError:
        # another scheduler created it a moment ago
        with ctx.db.read() as session:
            existing = JobRepository(session).get(name)
        if existing is None:
            raise
        return existing
    except UserError as exc:
        _finish(
            ctx,
            pipeline.name,
            JobStatus.failed,
            f"step '{step}' could not start: {exc.message}",
        )
        return None
    publish(ctx.workspace, name)
    return record


def _failure(graph: Graph, children: dict[str, Child], failed: list[str]) -> str:
    parts = [f"step '{s}' {children[s].status}: {_first_line(children[s].error)}" for s in failed]
    skipped = [s for s in graph.order if s not in children]
    if skipped:
        parts.append(f"not run: {', '.join(skipped)}")
    return "; ".join(parts)


def _finish(ctx: Context, name: str, status: JobStatus, reason: str) -> None:
    parent_jobs.end(ctx, name, status, reason)


def _complete(ctx: Context, record: ParentState, graph: Graph, children: dict[str, Child]) -> None:
    copies: list[tuple[str, dict[str, str] | None]] = [
        (children[step].name, {output: port}) for output, (step, port) in graph.sources.items()
    ]
    reused = sum(1 for c in children.values() if c.reused_from)
    note = f" ({reused} reused)" if reused else ""
    parent_jobs.end(
        ctx, record.name, JobStatus.completed, f"{len(children)} steps{note}", copies=copies
    )


# ------------------------------------------------------------------------------- views


def step_infos(ctx: Context, record: JobRecord) -> list[dict[str, Any]]:
    """Each step in order: its child job and state, or why it has none yet."""
    try:
        graph, _ = _plan(ctx, record.name, record.runner)
    except Exception:  # a plan from an older release: show the children alone
        log.exception("could not rebuild the plan of pipeline %s", record.name)
        graph = None
    with ctx.db.read() as session:
        children = {c.step: c for c in JobRepository(session).child_states(record.name) if c.step}
    if graph is None:
        order = list(children)
        kinds = {s: children[s].type for s in order}
    else:
        order = graph.order
        kinds = {s: graph.nodes[s].kind for s in order}
    failed = [s for s in order if s in children and children[s].status in ("failed", "canceled")]
    blocked: set[str] = set()
    if graph is not None:
        for step in failed:
            blocked |= graph.downstream(step)
    ended = JobStatus(record.status) in TERMINAL
    out: list[dict[str, Any]] = []
    for step in order:
        child = children.get(step)
        if child is not None:
            out.append(
                {
                    "name": step,
                    "type": kinds[step],
                    "status": child.status,
                    "job": child.name,
                    "reused_from": child.reused_from,
                }
            )
        else:
            state = "skipped" if step in blocked or ended else "not_started"
            out.append({"name": step, "type": kinds[step], "status": state})
    return out
