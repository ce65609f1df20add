"""MLflow 3 logged models: what every `log_model` and autolog creates before uploading files.

A logged model belongs to an experiment (and usually a source run); its files go to
`mlflow-artifacts:/<experiment>/models/<model id>/artifacts`. It starts PENDING and the client
finalizes it READY (or UPLOAD_FAILED) once the files are up. Registering it as a model version
snapshots those files into immutable content (see `registry`).
"""

from __future__ import annotations

import uuid

from forgeml.artifacts.base import FileInfo
from forgeml.core import mlflow_search as search
from forgeml.core.errors import NotFoundError
from forgeml.core.tracking import (
    ACTIVE,
    DELETED,
    LOGGED_MODEL_STATUSES,
    MAX_TAG_VALUE,
    LoggedModel,
    check_key,
    check_status,
    invalid,
    random_run_name,
    truncate,
)
from forgeml.services import experiments, mlflow_artifacts
from forgeml.services.authz import authorize
from forgeml.services.context import Context
from forgeml.services.experiments import now_ms, parse_id
from forgeml.store.repositories.experiments import ExperimentRepository
from forgeml.store.repositories.logged_models import LoggedModelRepository
from forgeml.store.repositories.runs import RunRepository

MAX_RESULTS = 1000


def _require(
    repo: LoggedModelRepository, model_id: str, *, allow_deleted: bool = False
) -> LoggedModel:
    found = repo.get(model_id)
    if found is None or (found.lifecycle_stage != ACTIVE and not allow_deleted):
        raise NotFoundError(f"Logged model with ID '{model_id}' not found.")
    return found


def create(
    ctx: Context,
    *,
    experiment_id: str | None,
    name: str | None,
    model_type: str | None,
    source_run_id: str | None,
    params: dict[str, str],
    tags: dict[str, str],
) -> LoggedModel:
    authorize(ctx, "models.write", name or "*")
    eid = parse_id(experiment_id)
    for key in [*params, *tags]:
        check_key(key)
    model_id = f"m-{uuid.uuid4().hex}"
    now = now_ms()
    with ctx.db.write() as session:
        found = experiments.require(ExperimentRepository(session), eid)
        if found.lifecycle_stage != ACTIVE:
            raise invalid(f"The experiment {eid} must be in the 'active' state.")
        if source_run_id and RunRepository(session).state(source_run_id) is None:
            raise NotFoundError(f"Run with id={source_run_id} not found")
        model = LoggedModel(
            model_id=model_id,
            experiment_id=str(eid),
            name=name or random_run_name(),
            artifact_uri=f"{found.artifact_location.rstrip('/')}/models/{model_id}/artifacts",
            status="LOGGED_MODEL_PENDING",
            creation_time=now,
            last_updated_time=now,
            model_type=model_type,
            source_run_id=source_run_id,
            creator_id=ctx.principal.name,
            tags={k: truncate(v, MAX_TAG_VALUE) for k, v in tags.items()},
            params=dict(params),
        )
        LoggedModelRepository(session).create(model)
    return model


def get(ctx: Context, model_id: str, *, allow_deleted: bool = False) -> LoggedModel:
    authorize(ctx, "models.read", model_id)
    with ctx.db.read() as session:
        return _require(LoggedModelRepository(session), model_id, allow_deleted=allow_deleted)


def finalize(ctx: Context, model_id: str, status: str | None) -> LoggedModel:
    authorize(ctx, "models.write", model_id)
    if not status:
        raise invalid("Missing value for required parameter 'status'.", "status")
    check_status(status, LOGGED_MODEL_STATUSES[1:])
    with ctx.db.write() as session:
        repo = LoggedModelRepository(session)
        _require(repo, model_id)
        repo.update(model_id, status=status, last_updated_time=now_ms())
        return _require(repo, model_id)


def delete(ctx: Context, model_id: str) -> None:
    authorize(ctx, "models.write", model_id)
    with ctx.db.write() as session:
        repo = LoggedModelRepository(session)
        _require(repo, model_id)
        repo.update(model_id, lifecycle_stage=DELETED, last_updated_time=now_ms())


def set_tags(ctx: Context, model_id: str, tags: dict[str, str]) -> None:
    authorize(ctx, "models.write", model_id)
    for key in tags:
        check_key(key)
    with ctx.db.write() as session:
        repo = LoggedModelRepository(session)
        _require(repo, model_id)
        repo.set_tags(model_id, {k: truncate(v, MAX_TAG_VALUE) for k, v in tags.items()})
        repo.update(model_id, last_updated_time=now_ms())


def delete_tag(ctx: Context, model_id: str, key: str) -> None:
    authorize(ctx, "models.write", model_id)
    with ctx.db.write() as session:
        repo = LoggedModelRepository(session)
        _require(repo, model_id)
        if repo.delete_tag(model_id, key) == 0:
            raise NotFoundError(f"No tag with key '{key}' on logged model '{model_id}'.")


def log_params(ctx: Context, model_id: str, params: dict[str, str]) -> None:
    authorize(ctx, "models.write", model_id)
    for key in params:
        check_key(key)
    with ctx.db.write() as session:
        repo = LoggedModelRepository(session)
        _require(repo, model_id)
        repo.log_params(model_id, params)


def _value(m: LoggedModel, kind: str, key: str) -> object:
    if kind == "tag":
        return m.tags.get(key)
    if kind == "param":
        return m.params.get(key)
    if kind == "metric":
        latest = [x for x in m.metrics if x.key == key]
        return max(latest, key=lambda x: (x.step, x.timestamp)).value if latest else None
    return {
        "name": m.name,
        "model_id": m.model_id,
        "model_type": m.model_type,
        "status": m.status,
        "source_run_id": m.source_run_id,
        "creation_timestamp": m.creation_time,
        "last_updated_timestamp": m.last_updated_time,
    }[key]


def search_models(
    ctx: Context,
    *,
    experiment_ids: list[str],
    filter_string: str | None,
    max_results: int | None,
    order_by: list[tuple[str, bool]],
    page_token: str | None,
) -> tuple[list[LoggedModel], str | None]:
    authorize(ctx, "models.read")
    limit = max_results or 50
    if limit < 1 or limit > MAX_RESULTS:
        raise invalid(
            f"Invalid value {limit} for parameter 'max_results': at most {MAX_RESULTS}.",
            "max_results",
        )
    comparisons = search.parse_filter(filter_string, search.LOGGED_MODELS)
    order = [
        search.parse_order_by([f"{f} {'ASC' if asc else 'DESC'}"], search.LOGGED_MODELS)[0]
        for f, asc in order_by
    ]
    offset = search.page_offset(page_token)
    ids = [int(e) for e in experiment_ids if str(e).lstrip("-").isdigit()]
    names = tuple(
        str(c.value)
        for c in comparisons
        if c.kind == "attribute" and c.key == "name" and c.op == "="
    )
    with ctx.db.read() as session:
        found = LoggedModelRepository(session).in_experiments(ids, (ACTIVE,), names[:1])
    found = search.select_items(found, comparisons, _value)
    found.sort(key=lambda m: (-m.creation_time, m.model_id))
    found = search.order_items(found, order, _value)
    return search.paginate(found, offset, limit)


def list_artifacts(ctx: Context, model_id: str, path: str | None) -> tuple[str, list[FileInfo]]:
    """(root URI, children of `path`) with paths relative to the model's artifact root."""
    model = get(ctx, model_id)
    root = mlflow_artifacts.path_of_uri(model.artifact_uri)
    if root is None:
        raise invalid(f"The artifacts of logged model '{model_id}' are not served here.")
    sub = mlflow_artifacts.clean(path)
    entries = mlflow_artifacts.list_dir(ctx, f"{root}/{sub}" if sub else root)
    prefix = f"{sub}/" if sub else ""
    return model.artifact_uri, [FileInfo(prefix + e.path, e.is_dir, e.size) for e in entries]
