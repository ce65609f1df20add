"""MLflow experiments: create, read, search, rename, delete/restore, tags.

Experiment "0" ("Default") exists from the first migration. Deleting an experiment is a soft
delete that also marks its runs deleted, as MLflow's SQL store does. Ids are integers stored as
such and exchanged as decimal strings.
"""

from __future__ import annotations

import time

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from forgeml.core import mlflow_search as search
from forgeml.core.errors import ConflictError, NotFoundError, UserError
from forgeml.core.tracking import (
    ACTIVE,
    DELETED,
    MAX_EXPERIMENT_TAG_VALUE,
    Experiment,
    check_experiment_name,
    check_key,
    check_length,
    invalid,
)
from forgeml.services.authz import authorize
from forgeml.services.context import Context
from forgeml.store.repositories.experiments import ExperimentRepository

MAX_RESULTS = 50_000
VIEW_TYPES = {"ACTIVE_ONLY": (ACTIVE,), "DELETED_ONLY": (DELETED,), "ALL": (ACTIVE, DELETED)}


def now_ms() -> int:
    return int(time.time() * 1000)


def parse_id(experiment_id: str | int | None, *, field: str = "experiment_id") -> int:
    """An experiment id as stored; anything not an integer cannot name one."""
    if experiment_id is None or experiment_id == "":
        raise invalid(
            f"Missing value for required parameter '{field}'. See the API docs for more "
            "information about request parameters.",
            field,
        )
    text = str(experiment_id)
    if not text.lstrip("-").isdigit():
        raise NotFoundError(f"No Experiment with id={text} exists")
    return int(text)


def stages(view_type: str | None) -> tuple[str, ...]:
    key = (view_type or "ACTIVE_ONLY").upper()
    if key not in VIEW_TYPES:
        raise invalid(f"Invalid view type '{view_type}': use ACTIVE_ONLY, DELETED_ONLY or ALL.")
    return VIEW_TYPES[key]


def require(repo: ExperimentRepository, experiment_id: int) -> Experiment:
    found = repo.get(experiment_id)
    if found is None:
        raise NotFoundError(f"No Experiment with id={experiment_id} exists")
    return found


def _insert(
    session: Session, name: str, artifact_location: str | None, tags: dict[str, str]
) -> int:
    repo = ExperimentRepository(session)
    if repo.get_by_name(name) is not None:
        raise ConflictError(f"Experiment(name={name}) already exists.")
    return repo.create(name, artifact_location, tags, now_ms())


def create(
    ctx: Context, name: str | None, artifact_location: str | None, tags: dict[str, str]
) -> str:
    authorize(ctx, "experiments.write", name or "*")
    check_experiment_name(name)
    assert name is not None
    if artifact_location and artifact_location.startswith("runs:"):
        raise invalid(
            f"Artifact location cannot be a runs:/ URI. Given: '{artifact_location}'",
            "artifact_location",
        )
    for key, value in tags.items():
        check_key(key)
        check_length(value, MAX_EXPERIMENT_TAG_VALUE, f"Experiment tag '{key}'")
    try:
        with ctx.db.write() as session:
            return str(_insert(session, name, artifact_location, tags))
    except IntegrityError:
        raise ConflictError(f"Experiment(name={name}) already exists.") from None


def get_or_create(ctx: Context, name: str) -> str:
    """The id of the active experiment called `name`, created when absent (job submission)."""
    authorize(ctx, "experiments.write", name)
    check_experiment_name(name)
    for _ in range(3):
        with ctx.db.read() as session:
            found = ExperimentRepository(session).get_by_name(name)
        if found is not None:
            if found.lifecycle_stage != ACTIVE:
                raise UserError(
                    f"the experiment '{name}' is deleted. Restore it (mlflow "
                    "MlflowClient().restore_experiment) or choose another experiment_name.",
                    details={"field": "experiment_name"},
                )
            return found.experiment_id
        try:
            with ctx.db.write() as session:
                return str(_insert(session, name, None, {}))
        except (IntegrityError, ConflictError):
            continue  # created concurrently: read it back
    raise ConflictError(f"the experiment '{name}' could not be created; try again.")


def get(ctx: Context, experiment_id: str) -> Experiment:
    authorize(ctx, "experiments.read", experiment_id)
    eid = parse_id(experiment_id)
    with ctx.db.read() as session:
        return require(ExperimentRepository(session), eid)


def get_by_name(ctx: Context, name: str | None) -> Experiment:
    authorize(ctx, "experiments.read", name or "*")
    if not name:
        raise invalid(
            "Missing value for required parameter 'experiment_name'. See the API docs for more "
            "information about request parameters.",
            "experiment_name",
        )
    with ctx.db.read() as session:
        found = ExperimentRepository(session).get_by_name(name)
    if found is None:
        raise NotFoundError(f"Could not find experiment with name '{name}'")
    return found


def search_experiments(
    ctx: Context,
    *,
    view_type: str | None,
    max_results: int | None,
    filter_string: str | None,
    order_by: list[str],
    page_token: str | None,
) -> tuple[list[Experiment], str | None]:
    authorize(ctx, "experiments.read")
    if max_results is None or max_results < 1 or max_results > MAX_RESULTS:
        raise invalid(
            f"Invalid value {max_results or 0} for parameter 'max_results' supplied. It must be "
            f"a positive integer at most {MAX_RESULTS}.",
            "max_results",
        )
    comparisons = search.parse_filter(filter_string, search.EXPERIMENTS)
    order = search.parse_order_by(order_by, search.EXPERIMENTS)
    offset = search.page_offset(page_token)
    with ctx.db.read() as session:
        items = ExperimentRepository(session).all(stages(view_type))

    def value(e: Experiment, kind: str, key: str) -> object:
        return e.tags.get(key) if kind == "tag" else getattr(e, key)

    def sort_value(e: Experiment, kind: str, key: str) -> object:
        return int(e.experiment_id) if key == "experiment_id" else value(e, kind, key)

    items = search.select_items(items, comparisons, value)
    items.sort(key=lambda e: (-e.creation_time, int(e.experiment_id)))
    items = search.order_items(items, order, sort_value)
    return search.paginate(items, offset, max_results)


def _write(ctx: Context, experiment_id: str) -> int:
    authorize(ctx, "experiments.write", experiment_id)
    return parse_id(experiment_id)


def rename(ctx: Context, experiment_id: str, new_name: str | None) -> None:
    eid = _write(ctx, experiment_id)
    if not new_name:
        raise invalid(
            "Missing value for required parameter 'new_name'. See the API docs for more "
            "information about request parameters.",
            "new_name",
        )
    check_experiment_name(new_name)
    try:
        with ctx.db.write() as session:
            repo = ExperimentRepository(session)
            found = require(repo, eid)
            if found.lifecycle_stage != ACTIVE:
                raise invalid(
                    f"Cannot rename a non-active experiment {eid}: restore it first.", "new_name"
                )
            other = repo.get_by_name(new_name)
            if other is not None and other.experiment_id != found.experiment_id:
                raise ConflictError(f"Experiment(name={new_name}) already exists.")
            repo.update(eid, now_ms(), name=new_name)
    except IntegrityError:
        raise ConflictError(f"Experiment(name={new_name}) already exists.") from None


def set_deleted(ctx: Context, experiment_id: str, deleted: bool) -> None:
    eid = _write(ctx, experiment_id)
    if deleted and eid == 0:
        raise invalid("Cannot delete the default experiment '0'.", "experiment_id")
    with ctx.db.write() as session:
        repo = ExperimentRepository(session)
        require(repo, eid)
        stage = DELETED if deleted else ACTIVE
        repo.update(eid, now_ms(), lifecycle_stage=stage)
        repo.set_runs_stage(eid, stage)


def set_tag(ctx: Context, experiment_id: str, key: str | None, value: str) -> None:
    eid = _write(ctx, experiment_id)
    check_key(key)
    assert key is not None
    check_length(value, MAX_EXPERIMENT_TAG_VALUE, f"Experiment tag '{key}'")
    with ctx.db.write() as session:
        repo = ExperimentRepository(session)
        found = require(repo, eid)
        if found.lifecycle_stage != ACTIVE:
            raise invalid(
                f"The experiment {eid} must be in the 'active' state. Current state is "
                f"{found.lifecycle_stage}."
            )
        repo.set_tags(eid, {key: value})


def delete_tag(ctx: Context, experiment_id: str, key: str | None) -> None:
    eid = _write(ctx, experiment_id)
    if not key:
        raise invalid("Missing value for required parameter 'key'.", "key")
    with ctx.db.write() as session:
        repo = ExperimentRepository(session)
        require(repo, eid)
        if repo.delete_tag(eid, key) == 0:
            raise NotFoundError(f"No tag with name: {key} in experiment with id {eid}")
