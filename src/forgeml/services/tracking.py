"""MLflow runs: create, read, update, delete/restore, logging, metric history, search.

Also the contract with jobs: every job is an MLflow run whose id is the job's name, created by
`start_job_run` at submission and moved by `set_job_run_status` as the job moves. Every logging
call is one write transaction: the run's state is checked (missing: 404, deleted: 400) and the
rows written in bulk. Rules follow MLflow's SQL store: params are write-once, identical metric
rows are stored once, over-long param and tag values are truncated rather than refused.
"""

from __future__ import annotations

import json
import uuid

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from forgeml.core import mlflow_search as search
from forgeml.core.errors import NotFoundError
from forgeml.core.tracking import (
    ACTIVE,
    DELETED,
    MAX_PARAM_VALUE,
    MAX_TAG_VALUE,
    RUN_NAME_TAG,
    RUN_STATUSES,
    TERMINAL_STATUSES,
    USER_TAG,
    DatasetInput,
    Experiment,
    Metric,
    Run,
    RunInfo,
    check_batch,
    check_key,
    check_run_id,
    check_status,
    invalid,
    random_run_name,
    truncate,
)
from forgeml.services import experiments
from forgeml.services.authz import authorize
from forgeml.services.context import Context
from forgeml.services.experiments import now_ms, parse_id
from forgeml.store.repositories.experiments import ExperimentRepository
from forgeml.store.repositories.runs import RunRepository
from forgeml.store.repositories.runs_search import search_runs as sql_search

MAX_SEARCH_RESULTS = 50_000
HISTORY_TAG = "mlflow.log-model.history"


def run_artifact_uri(experiment_location: str, run_id: str) -> str:
    return f"{experiment_location.rstrip('/')}/{run_id}/artifacts"


# --------------------------------------------------------------------------- job contract


def start_job_run(
    ctx: Context, *, run_id: str, experiment_name: str, run_name: str | None, tags: dict[str, str]
) -> str:
    """Get or create the experiment by name and create the job's run (SCHEDULED); its id.

    Calling it again for a run that exists returns that run's experiment id and changes
    nothing, so a retried submission is harmless.
    """
    authorize(ctx, "runs.write", run_id)
    check_run_id(run_id)
    experiment_id = experiments.get_or_create(ctx, experiment_name)
    name = run_name or run_id
    all_tags = {
        **{k: truncate(str(v), MAX_TAG_VALUE) for k, v in tags.items()},
        RUN_NAME_TAG: name,
        USER_TAG: ctx.principal.name,
        "mlflow.source.type": "JOB",
        "mlflow.source.name": run_id,
    }
    try:
        with ctx.db.write() as session:
            runs = RunRepository(session)
            existing = runs.info(run_id)
            if existing is not None:
                return existing.experiment_id
            location = _active_experiment(session, int(experiment_id)).artifact_location
            runs.create(
                RunInfo(
                    run_id=run_id,
                    experiment_id=experiment_id,
                    run_name=name,
                    user_id=ctx.principal.name,
                    status="SCHEDULED",
                    start_time=now_ms(),
                    end_time=None,
                    artifact_uri=run_artifact_uri(location, run_id),
                    lifecycle_stage=ACTIVE,
                ),
                all_tags,
            )
    except IntegrityError:
        with ctx.db.read() as session:
            again = RunRepository(session).info(run_id)
        if again is None:
            raise
        return again.experiment_id
    return experiment_id


def set_job_run_status(ctx: Context, run_id: str, status: str) -> None:
    """Mirror a job's state on its run; terminal states set `end_time`."""
    authorize(ctx, "runs.write", run_id)
    check_status(status, RUN_STATUSES)
    values: dict[str, object] = {"status": status}
    now = now_ms()
    if status in TERMINAL_STATUSES:
        values["end_time"] = now
    elif status == "RUNNING":
        values["start_time"] = now
        values["end_time"] = None
    with ctx.db.write() as session:
        if RunRepository(session).update(run_id, **values) == 0:
            raise NotFoundError(f"Run with id={run_id} not found")


# ------------------------------------------------------------------------------- helpers


def _active_experiment(session: Session, experiment_id: int) -> Experiment:
    found = experiments.require(ExperimentRepository(session), experiment_id)
    if found.lifecycle_stage != ACTIVE:
        raise invalid(
            f"The experiment {experiment_id} must be in the 'active' state. Current state is "
            f"{found.lifecycle_stage}."
        )
    return found


def _active_run(runs: RunRepository, run_id: str) -> int:
    """Check the run exists and is active; its experiment id."""
    state = runs.state(run_id)
    if state is None:
        raise NotFoundError(f"Run with id={run_id} not found")
    if state[0] != ACTIVE:
        raise invalid(
            f"The run {run_id} must be in the 'active' state. Current state is {state[0]}."
        )
    return state[1]


def _run_id(run_id: str | None) -> str:
    if not run_id:
        raise invalid(
            "Missing value for required parameter 'run_id'. See the API docs for more "
            "information about request parameters.",
            "run_id",
        )
    return run_id


# ---------------------------------------------------------------------------------- runs


def create_run(
    ctx: Context,
    *,
    experiment_id: str | None,
    user_id: str | None,
    run_name: str | None,
    start_time: int | None,
    tags: dict[str, str],
) -> Run:
    authorize(ctx, "runs.write")
    eid = parse_id(experiment_id or "0")
    name_tag = tags.get(RUN_NAME_TAG)
    if run_name and name_tag and run_name != name_tag:
        raise invalid(
            "Both 'run_name' argument and 'mlflow.runName' tag are specified, but with "
            f"different values (run_name='{run_name}', mlflow.runName='{name_tag}').",
            "run_name",
        )
    for key in tags:
        check_key(key)
    name = run_name or name_tag or random_run_name()
    tags = {k: truncate(v, MAX_TAG_VALUE) for k, v in tags.items()}
    tags[RUN_NAME_TAG] = name
    run_id = uuid.uuid4().hex
    with ctx.db.write() as session:
        location = _active_experiment(session, eid).artifact_location
        info = RunInfo(
            run_id=run_id,
            experiment_id=str(eid),
            run_name=name,
            user_id=user_id or tags.get(USER_TAG, ""),
            status="RUNNING",
            start_time=start_time if start_time is not None else now_ms(),
            end_time=None,
            artifact_uri=run_artifact_uri(location, run_id),
            lifecycle_stage=ACTIVE,
        )
        RunRepository(session).create(info, tags)
    return Run(info=info, tags=tags)


def get_run(ctx: Context, run_id: str | None) -> Run:
    run_id = _run_id(run_id)
    authorize(ctx, "runs.read", run_id)
    with ctx.db.read() as session:
        run = RunRepository(session).get(run_id)
    if run is None:
        raise NotFoundError(f"Run with id={run_id} not found")
    return run


def update_run(
    ctx: Context,
    run_id: str | None,
    *,
    status: str | None,
    end_time: int | None,
    run_name: str | None,
) -> RunInfo:
    run_id = _run_id(run_id)
    authorize(ctx, "runs.write", run_id)
    values: dict[str, object] = {}
    if status:
        values["status"] = check_status(status, RUN_STATUSES)
    if end_time is not None:
        values["end_time"] = end_time
    if run_name:
        values["run_name"] = run_name
    with ctx.db.write() as session:
        runs = RunRepository(session)
        _active_run(runs, run_id)
        if values:
            runs.update(run_id, **values)
        if run_name:
            runs.set_tags(run_id, {RUN_NAME_TAG: run_name})
        info = runs.info(run_id)
    assert info is not None
    return info


def set_run_deleted(ctx: Context, run_id: str | None, deleted: bool) -> None:
    run_id = _run_id(run_id)
    authorize(ctx, "runs.write", run_id)
    with ctx.db.write() as session:
        runs = RunRepository(session)
        if runs.state(run_id) is None:
            raise NotFoundError(f"Run with id={run_id} not found")
        runs.update(run_id, lifecycle_stage=DELETED if deleted else ACTIVE)


def log_batch(
    ctx: Context,
    run_id: str | None,
    *,
    metrics: list[Metric],
    params: dict[str, str] | list[tuple[str, str]],
    tags: dict[str, str] | list[tuple[str, str]],
) -> None:
    """Log metrics, params and tags in one transaction (log-metric/-parameter/set-tag too)."""
    run_id = _run_id(run_id)
    authorize(ctx, "runs.write", run_id)
    param_items = list(params.items()) if isinstance(params, dict) else params
    tag_items = list(tags.items()) if isinstance(tags, dict) else tags
    check_batch(len(metrics), len(param_items), len(tag_items))
    for key in {m.key for m in metrics}:  # a batch repeats a few keys many times
        check_key(key, "name")
    new_params: dict[str, str] = {}
    dupes: set[str] = set()
    for key, value in param_items:
        check_key(key)
        value = truncate(value, MAX_PARAM_VALUE)
        if key in new_params and new_params[key] != value:
            dupes.add(key)
        new_params[key] = value
    if dupes:
        raise invalid(
            f"Duplicate parameter keys have been submitted: {sorted(dupes)}. Please ensure the "
            "request contains only one param value per param key."
        )
    new_tags: dict[str, str] = {}
    for key, value in tag_items:
        check_key(key)
        new_tags[key] = truncate(value, MAX_TAG_VALUE)
    with ctx.db.write() as session:
        runs = RunRepository(session)
        _active_run(runs, run_id)
        if new_params:
            _check_params(runs, run_id, new_params)
            runs.insert_params(run_id, new_params)
        if new_tags:
            runs.set_tags(run_id, new_tags)
            if RUN_NAME_TAG in new_tags:
                runs.update(run_id, run_name=new_tags[RUN_NAME_TAG])
        if metrics:
            runs.log_metrics(run_id, metrics)


def _check_params(runs: RunRepository, run_id: str, params: dict[str, str]) -> None:
    existing = runs.params(run_id, params)
    changed = {k: v for k, v in existing.items() if params[k] != v}
    if changed:
        logged = [{"key": k, "old_value": v, "new_value": params[k]} for k, v in changed.items()]
        raise invalid(
            "Changing param values is not allowed. Params were already logged='"
            f"{logged}' for run ID='{run_id}'."
        )
    for key in existing:
        del params[key]


def delete_tag(ctx: Context, run_id: str | None, key: str | None) -> None:
    run_id = _run_id(run_id)
    authorize(ctx, "runs.write", run_id)
    if not key:
        raise invalid("Missing value for required parameter 'key'.", "key")
    with ctx.db.write() as session:
        runs = RunRepository(session)
        _active_run(runs, run_id)
        if runs.delete_tag(run_id, key) == 0:
            raise NotFoundError(f"No tag with name: {key} in run with id {run_id}")


def log_inputs(
    ctx: Context, run_id: str | None, datasets: list[DatasetInput], model_ids: list[str]
) -> None:
    run_id = _run_id(run_id)
    authorize(ctx, "runs.write", run_id)
    if len(datasets) > 1000:
        raise invalid(f"At most 1000 datasets can be logged at once; got {len(datasets)}.")
    for item in datasets:
        if not item.dataset.name or not item.dataset.digest:
            raise invalid("Each dataset input needs a dataset with a 'name' and a 'digest'.")
    with ctx.db.write() as session:
        runs = RunRepository(session)
        experiment_id = _active_run(runs, run_id)
        runs.log_inputs(run_id, experiment_id, datasets)
        runs.log_models(run_id, [(m, 0) for m in model_ids], "input")


def log_outputs(ctx: Context, run_id: str | None, models: list[tuple[str, int]]) -> None:
    run_id = _run_id(run_id)
    authorize(ctx, "runs.write", run_id)
    with ctx.db.write() as session:
        runs = RunRepository(session)
        _active_run(runs, run_id)
        runs.log_models(run_id, models, "output")


def metric_history(
    ctx: Context,
    run_id: str | None,
    key: str | None,
    *,
    max_results: int | None,
    page_token: str | None,
) -> tuple[list[Metric], str | None]:
    run_id = _run_id(run_id)
    authorize(ctx, "runs.read", run_id)
    if not key:
        raise invalid(
            "Missing value for required parameter 'metric_key'. See the API docs for more "
            "information about request parameters.",
            "metric_key",
        )
    if max_results is not None and max_results <= 0:
        raise invalid(
            f"Invalid value {max_results} for parameter 'max_results': it must be positive.",
            "max_results",
        )
    offset = search.page_offset(page_token)
    with ctx.db.read() as session:
        runs = RunRepository(session)
        if runs.state(run_id) is None:
            raise NotFoundError(f"Run with id={run_id} not found")
        limit = None if max_results is None else max_results + 1
        found = runs.history(run_id, key, offset, limit)
    if max_results is not None and len(found) > max_results:
        return found[:max_results], search.page_token(offset + max_results)
    return found, None


def search_runs(
    ctx: Context,
    *,
    experiment_ids: list[str],
    filter_string: str | None,
    run_view_type: str | None,
    max_results: int | None,
    order_by: list[str],
    page_token: str | None,
) -> tuple[list[Run], str | None]:
    authorize(ctx, "runs.read")
    limit = 1000 if max_results is None else max_results
    if limit < 1 or limit > MAX_SEARCH_RESULTS:
        raise invalid(
            f"Invalid value {limit} for parameter 'max_results' supplied. It must be at most "
            f"{MAX_SEARCH_RESULTS}",
            "max_results",
        )
    comparisons = search.parse_filter(filter_string, search.RUNS)
    order = search.parse_order_by(order_by, search.RUNS)
    offset = search.page_offset(page_token)
    ids = [int(e) for e in experiment_ids if str(e).lstrip("-").isdigit()]
    if not ids:
        return [], None
    with ctx.db.read() as session:
        infos = sql_search(
            session,
            experiment_ids=ids,
            stages=experiments.stages(run_view_type),
            comparisons=comparisons,
            order=order,
            offset=offset,
            limit=limit + 1,
        )
        more = len(infos) > limit
        runs = RunRepository(session).hydrate(infos[:limit])
    return runs, search.page_token(offset + limit) if more else None


def log_model_json(ctx: Context, run_id: str | None, model_json: str | None) -> None:
    """The legacy `runs/log-model` (Spark flavors): the MLmodel dict joins the run's history tag."""
    run_id = _run_id(run_id)
    authorize(ctx, "runs.write", run_id)
    try:
        model = json.loads(model_json or "")
    except ValueError:
        raise invalid("'model_json' must be the MLmodel document as a JSON string.") from None
    if not isinstance(model, dict):
        raise invalid("'model_json' must be a JSON object.", "model_json")
    for key in ("artifact_path", "flavors", "utc_time_created", "run_id"):
        if key not in model:
            raise invalid(f"'model_json' lacks '{key}'.", "model_json")
    with ctx.db.write() as session:
        runs = RunRepository(session)
        _active_run(runs, run_id)
        current = runs.tag(run_id, HISTORY_TAG)
        history = json.loads(current) if current else []
        history.append(model)
        runs.set_tags(run_id, {HISTORY_TAG: json.dumps(history)})
