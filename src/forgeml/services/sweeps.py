"""Sweep jobs: submit (check the search space and a first trial), then advance trial by trial.

A sweep's trials are child command jobs named `<sweep>--<n>`. Each trial's hyperparameters are
fixed when the trial is created and kept as its literal inputs (`${{search_space.x}}` in a
standalone sweep's command becomes `${{inputs.x}}`; in a component trial, search-space names
replace the component's inputs of the same name, as in Azure ML). `advance`, called by the
scheduler on every change and poll, rebuilds the sweep's state from the store each time: the
trials, their primary-metric history as logged through MLflow, the early-termination decisions,
and the next suggestions (Optuna's samplers, seeded per sweep and per trial number, so a restart
asks for the same trial it would have asked for). A trial is created once, whatever happens.

When no trial is left to run, the sweep ends `completed` with its best trial (by the last value
of the primary metric each trial logged), that trial's parameters and metric, and the best
trial's outputs as its own; `failed` if no trial completed.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from forgeml.core.errors import ConflictError, SpecError, UserError
from forgeml.core.refs import is_reference
from forgeml.core.specs import validate_spec
from forgeml.core.specs.component import LITERAL_TYPES, CommandComponent
from forgeml.core.specs.job import CommandJob, JobInput, literal_type
from forgeml.core.specs.pipeline import SweepJob, SweepTrial, component_from_dict
from forgeml.core.states import TERMINAL, JobStatus
from forgeml.pipelines import sweep as logic
from forgeml.services import assets, jobs, parent_jobs
from forgeml.services.context import Context
from forgeml.services.job_state import publish
from forgeml.store.repositories import JobRecord, JobRepository
from forgeml.store.repositories.common import utcnow
from forgeml.store.repositories.jobs import ChildState, ParentState
from forgeml.store.repositories.runs import RunRepository

_SEARCH = "${{search_space."
#: a trial as advancing reads it: a full record when just created, else its state row
Trial = JobRecord | ChildState


def trial_name(sweep: str, index: int) -> str:
    name = f"{sweep}--{index}"
    if len(name) <= 255:
        return name
    digest = hashlib.sha256(sweep.encode()).hexdigest()[:16]
    return f"{sweep[:200]}-{digest}--{index}"


@dataclass(frozen=True)
class Plan:
    template: dict[str, Any]
    space: logic.SearchSpace
    sampling: logic.Sampling
    objective: logic.Objective
    policy: logic.Policy | None
    max_total: int
    max_concurrent: int
    timeout_s: int | None
    seed: int


# ------------------------------------------------------------------------------ submit


def _trial_component(ctx: Context, job: SweepJob) -> tuple[CommandComponent | None, Any]:
    """(the trial as a component, or None for a standalone command trial; the stored form)."""
    trial = job.trial
    if isinstance(trial, str):
        ref = trial if is_reference(trial) else f"azureml:{trial}"
        try:
            comp = assets.resolve(ctx, "components", ref)
        except UserError as exc:
            raise SpecError(exc.message, field="trial") from None
        assert isinstance(comp, CommandComponent)
        return comp, f"azureml:{comp.name}:{comp.version}"
    if isinstance(trial, CommandComponent):
        return trial, trial.to_wire()
    if isinstance(trial, dict) and ({"inputs", "outputs", "type", "name"} & set(trial)):
        comp = component_from_dict(trial, field="trial")
        assert isinstance(comp, CommandComponent)
        return comp, trial
    if not isinstance(trial, dict):
        raise SpecError(
            "'trial' must be a command (command, environment, code) or a command component.",
            field="trial",
        )
    validate_spec(SweepTrial, trial)
    return None, trial


def _template(
    job: SweepJob, comp: CommandComponent | None, space: logic.SearchSpace
) -> dict[str, Any]:
    """A trial's command job document, without its hyperparameters."""
    doc: dict[str, Any] = {"type": "command"}
    given_inputs = {
        k: (v.model_dump(mode="json", exclude_none=True) if isinstance(v, JobInput) else v)
        for k, v in job.inputs.items()
    }
    outputs = {k: v.model_dump(mode="json", exclude_none=True) for k, v in job.outputs.items()}
    if comp is None:
        trial = dict(job.trial)
        command = str(trial["command"])
        for hp in space.names:
            command = command.replace(f"{_SEARCH}{hp}}}}}", f"${{{{inputs.{hp}}}}}")
        if _SEARCH in command:
            raise SpecError(
                "the trial command uses ${{search_space.<name>}} for a name the search space "
                f"does not define (defined: {', '.join(space.names)}).",
                field="trial.command",
            )
        doc.update(command=command, environment=trial["environment"])
        for key in ("code", "environment_variables", "distribution", "resources"):
            if trial.get(key):
                doc[key] = trial[key]
        doc["inputs"] = given_inputs
        doc["outputs"] = outputs
    else:
        doc.update(command=comp.command, environment=_wire_env(comp.environment))
        if comp.code:
            doc["code"] = comp.code
        for key in ("distribution", "resources"):
            if getattr(comp, key):
                doc[key] = getattr(comp, key)
        inputs: dict[str, Any] = {}
        for key, port in comp.inputs.items():
            if key in space.names:
                continue
            declared = port.model_dump(mode="json", exclude_none=True, exclude={"description"})
            given = given_inputs.get(key)
            if isinstance(given, dict):
                declared.update({k: v for k, v in given.items() if k != "type"})
            elif given is not None:
                declared["value"] = given
            elif port.default is not None and port.type in LITERAL_TYPES:
                declared["value"] = port.default
            declared.pop("default", None)
            inputs[key] = declared
        doc["inputs"] = inputs
        doc["outputs"] = {
            k: {"type": o.type, **outputs.get(k, {})} for k, o in comp.outputs.items()
        }
    if job.compute:
        doc["compute"] = job.compute
    if job.limits.trial_timeout:
        doc["limits"] = {"timeout": job.limits.trial_timeout}
    return doc


def _wire_env(env: Any) -> Any:
    return env.to_wire() if hasattr(env, "to_wire") else env


def trial_document(
    plan: Plan, sweep: JobRecord | ParentState, index: int, params: dict[str, Any]
) -> dict[str, Any]:
    doc = {k: (dict(v) if isinstance(v, dict) else v) for k, v in plan.template.items()}
    inputs = dict(doc.get("inputs") or {})
    for hp, value in params.items():
        inputs[hp] = {"type": literal_type(value), "value": value}
    doc["inputs"] = inputs
    doc["display_name"] = f"{sweep.display_name or sweep.name} trial {index}"
    doc["experiment_name"] = sweep.experiment_name
    doc["tags"] = {**dict(doc.get("tags") or {}), "forgeml.sweep": sweep.name}
    return doc


def _parse(raw: dict[str, Any]) -> Plan:
    space = logic.parse_search_space(raw["search_space"])
    sampling = logic.parse_sampling(raw.get("sampling_algorithm"))
    logic.check_compatible(space, sampling)
    limits = raw.get("limits") or {}
    total = int(limits.get("max_total_trials") or 1000)
    return Plan(
        template=raw.get("template") or {},
        space=space,
        sampling=sampling,
        objective=logic.parse_objective(raw.get("objective")),
        policy=logic.parse_early_termination(raw.get("early_termination")),
        max_total=total,
        max_concurrent=int(limits.get("max_concurrent_trials") or total),
        timeout_s=limits.get("timeout"),
        seed=int(raw.get("seed") or 0),
    )


def _field(exc: SpecError, prefix: str) -> SpecError:
    return SpecError(exc._bare, field=f"{prefix}.{exc.field}" if exc.field else prefix)


def submit(
    ctx: Context,
    job: SweepJob,
    *,
    name: str,
    parent: JobRecord | ParentState | None = None,
    step: str | None = None,
) -> JobRecord:
    comp, stored_trial = _trial_component(ctx, job)
    raw = {
        "search_space": job.search_space,
        "sampling_algorithm": job.sampling_algorithm,
        "objective": job.objective,
        "early_termination": job.early_termination,
        "limits": job.limits.model_dump(mode="json", exclude_none=True),
        "seed": int.from_bytes(hashlib.sha256(name.encode()).digest()[:4], "big"),
    }
    plan = _parse(raw)
    if comp is not None:
        unknown = [hp for hp in plan.space.names if hp not in comp.inputs]
        if unknown:
            known = ", ".join(sorted(comp.inputs)) or "none"
            raise SpecError(
                f"the search space names '{unknown[0]}', which is not an input of the trial "
                f"component (its inputs: {known}).",
                field=f"search_space.{unknown[0]}",
            )
    template = _template(job, comp, plan.space)
    raw["template"] = template
    plan = _parse(raw)
    experiment = job.experiment_name or jobs.DEFAULT_EXPERIMENT
    display = job.display_name or name

    # a first trial, checked now: the command, its environment, code and compute
    first = logic.suggest(
        plan.space, plan.sampling, 0, [], plan.objective.goal, default_seed=plan.seed
    )
    if first is not None:
        probe = {k: v for k, v in template.items()}
        probe["inputs"] = {
            **template.get("inputs", {}),
            **{hp: {"type": literal_type(v), "value": v} for hp, v in first.items()},
        }
        try:
            trial = validate_spec(CommandJob, probe)
            jobs.check_environment_and_code(ctx, trial)
        except SpecError as exc:
            raise _field(exc, "trial") from None
        jobs.check_compute(ctx, trial.compute or "local")

    spec = job.to_wire()
    spec.pop("name", None)
    spec.update(trial=stored_trial, experiment_name=experiment, display_name=display)
    return parent_jobs.queue(
        ctx,
        name=name,
        type_="sweep",
        spec=spec,
        plan=raw,
        display_name=display,
        description=job.description,
        tags=dict(job.tags),
        compute=job.compute or "local",
        parent=parent,
        step=step,
        message=f"queued a sweep of up to {plan.max_total} trials ({plan.sampling.type} "
        f"sampling, {plan.max_concurrent} at a time)",
    )


# ------------------------------------------------------------------------------ advance

_plans: OrderedDict[str, Plan] = OrderedDict()
_plans_lock = threading.Lock()


def _plan(ctx: Context, name: str, runner: dict[str, Any] | None = None) -> Plan:
    with _plans_lock:
        found = _plans.get(name)
        if found is not None:
            return found
    if runner is None:
        with ctx.db.read() as session:
            runner = JobRepository(session).runner_doc(name)
        if runner is None:
            raise SpecError(f"no sweep named '{name}' exists in this workspace.")
    plan = _parse(runner)
    with _plans_lock:
        _plans[name] = plan
        while len(_plans) > 256:
            _plans.popitem(last=False)
    return plan


def _params(plan: Plan, spec: dict[str, Any]) -> dict[str, Any]:
    inputs = spec.get("inputs") or {}
    out: dict[str, Any] = {}
    for hp in plan.space.names:
        given = inputs.get(hp)
        out[hp] = given.get("value") if isinstance(given, dict) else given
    return out


#: a trial's hyperparameters never change once it exists: read each trial's document once
_trial_params: OrderedDict[str, dict[str, Any]] = OrderedDict()


def _trials(ctx: Context, plan: Plan, children: Sequence[Trial]) -> list[logic.TrialRecord]:
    metric = plan.objective.primary_metric
    with ctx.db.read() as session:
        curves = RunRepository(session).histories([c.name for c in children], metric)
        with _plans_lock:
            missing = [c.name for c in children if c.name not in _trial_params]
        specs = JobRepository(session).specs_of(missing) if missing else {}
    with _plans_lock:
        for trial, spec in specs.items():
            _trial_params[trial] = _params(plan, spec)
        while len(_trial_params) > 20_000:
            _trial_params.popitem(last=False)
        params = {c.name: _trial_params.get(c.name, {}) for c in children}
    out: list[logic.TrialRecord] = []
    for child in children:
        assert child.step is not None
        curve = curves.get(child.name, [])
        state = child.status if child.status in ("completed", "failed", "canceled") else "running"
        if child.status == "queued":
            state = "queued"
        value = curve[-1][1] if curve and child.status == "completed" else None
        out.append(
            logic.TrialRecord(int(child.step), params[child.name], state, value, list(curve))
        )
    return out


def advance(ctx: Context, name: str) -> None:
    """Move a sweep forward: stop trials the policy cuts, start new ones, end it."""
    with ctx.db.read() as session:
        repo = JobRepository(session)
        record = repo.parent_state(name)
        if record is None or JobStatus(record.status) in TERMINAL:
            return
        children: list[Trial] = [c for c in repo.child_states(name) if c.step is not None]
    plan = _plan(ctx, name)
    if record.status == JobStatus.queued.value:
        parent_jobs.start(ctx, name, "running trials")
        with ctx.db.read() as session:
            record = JobRepository(session).parent_state(name) or record
    active = [c for c in children if JobStatus(c.status) not in TERMINAL]
    if record.cancel_requested:
        for child in active:
            if not child.cancel_requested:
                jobs.cancel_record(ctx, child.name, f"canceled with sweep '{name}'")
        if not active:
            _finish(ctx, record, plan, children, canceled=True)
        return
    trials = _trials(ctx, plan, children)
    timed_out = (
        plan.timeout_s is not None
        and record.started_at is not None
        and (utcnow() - record.started_at).total_seconds() > plan.timeout_s
    )
    if timed_out:
        for child in active:
            if not child.cancel_requested:
                jobs.cancel_record(
                    ctx,
                    child.name,
                    f"canceled: the sweep reached its timeout of {plan.timeout_s} s",
                )
    elif plan.policy is not None:
        by_index = {int(c.step or -1): c for c in active}
        decisions = logic.to_stop(
            plan.policy, plan.objective.goal, trials, metric=plan.objective.primary_metric
        )
        for index, reason in decisions.items():
            victim = by_index.get(index)
            if victim is not None and not victim.cancel_requested:
                jobs.cancel_record(ctx, victim.name, f"early termination: {reason}")
                _log(ctx, name, f"trial {index} stopped early: {reason}")
    exhausted = False
    created = len(children)
    running = len(active)
    while not timed_out and created < plan.max_total and running < plan.max_concurrent:
        params = logic.suggest(
            plan.space,
            plan.sampling,
            created,
            trials,
            plan.objective.goal,
            default_seed=plan.seed,
        )
        if params is None:
            exhausted = True
            break
        made = _create_trial(ctx, record, plan, created, params)
        if made is None:
            return
        trials.append(logic.TrialRecord(created, params, "queued", None, []))
        children.append(made)
        created += 1
        running += 1
    if running == 0 and (timed_out or exhausted or created >= plan.max_total):
        _finish(ctx, record, plan, children, canceled=False)


def _log(ctx: Context, name: str, text: str) -> None:
    with ctx.db.write() as session:
        JobRepository(session).append_log(name, "system", text.rstrip("\n") + "\n")
    publish(ctx.workspace, name, "log")


def _create_trial(
    ctx: Context, sweep: ParentState, plan: Plan, index: int, params: dict[str, Any]
) -> JobRecord | None:
    name = trial_name(sweep.name, index)
    doc = trial_document(plan, sweep, index, params)
    try:
        job = validate_spec(CommandJob, doc)
        record = jobs.submit_document(ctx, job, name=name, parent=sweep, step=str(index))
    except ConflictError:
        with ctx.db.read() as session:
            existing = JobRepository(session).get(name)
        if existing is None:
            raise
        return existing
    except UserError as exc:
        _end(ctx, sweep.name, JobStatus.failed, f"trial {index} could not start: {exc.message}")
        return None
    publish(ctx.workspace, name)
    return record


def _end(
    ctx: Context,
    name: str,
    status: JobStatus,
    message: str,
    *,
    result: dict[str, Any] | None = None,
    best: Trial | None = None,
) -> None:
    copies: list[tuple[str, dict[str, str] | None]] = [(best.name, None)] if best else []
    parent_jobs.end(ctx, name, status, message, copies=copies, result=result)


def _finish(
    ctx: Context, record: ParentState, plan: Plan, children: list[Trial], *, canceled: bool
) -> None:
    trials = _trials(ctx, plan, children)
    best = logic.best_trial(plan.objective.goal, trials)
    counts: dict[str, int] = {}
    for t in trials:
        counts[t.state] = counts.get(t.state, 0) + 1
    summary = ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "no trials"
    result: dict[str, Any] = {"trials": counts}
    best_record = None
    if best is not None:
        best_record = next(c for c in children if c.step == str(best.index))
        result.update(
            best_trial=best_record.name,
            parameters=best.params,
            metric=plan.objective.primary_metric,
            value=best.value,
        )
    if canceled:
        _end(ctx, record.name, JobStatus.canceled, summary, result=result)
        return
    if not counts.get("completed"):
        _end(ctx, record.name, JobStatus.failed, f"no trial completed ({summary})", result=result)
        return
    if best is None:
        message = (
            f"{summary}; no completed trial logged the primary metric "
            f"'{plan.objective.primary_metric}', so there is no best trial"
        )
    else:
        message = (
            f"{summary}; best trial {best_record.name if best_record else best.index}: "
            f"{plan.objective.primary_metric} = {best.value} with {best.params}"
        )
    _end(ctx, record.name, JobStatus.completed, message, result=result, best=best_record)


# ------------------------------------------------------------------------------- views


def trial_infos(ctx: Context, record: JobRecord) -> dict[str, Any]:
    """The trials so far (parameters, state, last primary-metric value) and the best one."""
    try:
        plan = _plan(ctx, record.name, record.runner)
    except SpecError:
        return {}
    with ctx.db.read() as session:
        children = [c for c in JobRepository(session).children(record.name) if c.step]
    trials = _trials(ctx, plan, children)
    names = {int(c.step or -1): c for c in children}
    out = []
    for t in sorted(trials, key=lambda t: t.index):
        last = t.history[-1][1] if t.history else None
        out.append(
            {
                "job": names[t.index].name,
                "status": names[t.index].status,
                "parameters": t.params,
                "metric": t.value if t.value is not None else last,
            }
        )
    best = None
    result = record.result or {}
    if result.get("best_trial"):
        best = {
            "job": result["best_trial"],
            "status": "completed",
            "parameters": result.get("parameters") or {},
            "metric": result.get("value"),
        }
    else:
        found = logic.best_trial(plan.objective.goal, trials)
        if found is not None:
            best = {
                "job": names[found.index].name,
                "status": names[found.index].status,
                "parameters": found.params,
                "metric": found.value,
            }
    return {"trials": out, "best_trial": best}
