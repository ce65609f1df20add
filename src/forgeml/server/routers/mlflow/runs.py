"""MLflow runs and metrics: /api/2.0/mlflow/runs/* and /metrics/get-history."""

from __future__ import annotations

from typing import Any

from forgeml.core.tracking import MAX_BATCH_BYTES, Dataset, DatasetInput, Metric, invalid, missing
from forgeml.server.routers.mlflow import render
from forgeml.server.routers.mlflow._base import MlflowApi, Params
from forgeml.services import Context
from forgeml.services import tracking as service

api = MlflowApi("runs")
READ, WRITE = "runs.read", "runs.write"


def _metric(item: Any) -> Metric:
    # the fast path, taken by well-formed metrics (a batch holds up to 1000 of them)
    try:
        key = item["key"]
        step = item.get("step")
        if isinstance(key, str) and key:
            return Metric(
                key,
                float(item["value"]),
                int(item["timestamp"]),
                0 if step is None else int(step),
                item.get("model_id"),
                item.get("dataset_name"),
                item.get("dataset_digest"),
            )
    except (KeyError, TypeError, ValueError, AttributeError):
        pass  # the careful path below says what is wrong
    return _checked_metric(item)


def _checked_metric(item: Any) -> Metric:
    if not isinstance(item, dict):
        raise invalid("Each metric must be an object with key, value and timestamp.", "metrics")
    p = Params(item)
    key = p.text("key")
    if key is None:
        raise missing("key")
    value = p.number("value", required=True)
    timestamp = p.integer("timestamp", required=True)
    assert value is not None and timestamp is not None
    return Metric(
        key=key,
        value=value,
        timestamp=timestamp,
        step=p.integer("step") or 0,
        model_id=p.text("model_id"),
        dataset_name=p.text("dataset_name"),
        dataset_digest=p.text("dataset_digest"),
    )


def _dataset_input(item: Any) -> DatasetInput:
    if not isinstance(item, dict) or not isinstance(item.get("dataset"), dict):
        raise invalid("Each dataset input needs a 'dataset' object.", "datasets")
    d = Params(item["dataset"])
    dataset = Dataset(
        name=d.text("name") or "",
        digest=d.text("digest") or "",
        source_type=d.text("source_type") or "",
        source=d.text("source") or "",
        schema=d.text("schema"),
        profile=d.text("profile"),
    )
    return DatasetInput(dataset, Params(item).key_values("tags"))


@api.route("POST", "/runs/create", WRITE)
def create(ctx: Context, p: Params) -> dict[str, Any]:
    """Create a run."""
    run = service.create_run(
        ctx,
        experiment_id=p.text("experiment_id"),
        user_id=p.text("user_id"),
        run_name=p.text("run_name"),
        start_time=p.integer("start_time"),
        tags=dict(p.key_values("tags")),
    )
    return {"run": render.run(run)}


@api.route("GET", "/runs/get", READ)
def get(ctx: Context, p: Params) -> dict[str, Any]:
    """Get a run with its latest metrics, params, tags, inputs and outputs."""
    return {"run": render.run(service.get_run(ctx, p.run_id()))}


@api.route("POST", "/runs/update", WRITE)
def update(ctx: Context, p: Params) -> dict[str, Any]:
    """Update a run's status, end time or name."""
    info = service.update_run(
        ctx,
        p.run_id(),
        status=p.text("status"),
        end_time=p.integer("end_time"),
        run_name=p.text("run_name"),
    )
    return {"run_info": render.run_info(info)}


@api.route("POST", "/runs/delete", WRITE)
def delete(ctx: Context, p: Params) -> dict[str, Any]:
    """Delete a run (soft delete)."""
    service.set_run_deleted(ctx, p.run_id(), True)
    return {}


@api.route("POST", "/runs/restore", WRITE)
def restore(ctx: Context, p: Params) -> dict[str, Any]:
    """Restore a deleted run."""
    service.set_run_deleted(ctx, p.run_id(), False)
    return {}


@api.route("POST", "/runs/log-metric", WRITE)
def log_metric(ctx: Context, p: Params) -> dict[str, Any]:
    """Log one metric value."""
    service.log_batch(ctx, p.run_id(), metrics=[_metric(p.data)], params=[], tags=[])
    return {}


@api.route("POST", "/runs/log-parameter", WRITE)
def log_param(ctx: Context, p: Params) -> dict[str, Any]:
    """Log one parameter (write-once)."""
    key = p.text("key")
    if not key:
        raise missing("key")
    service.log_batch(ctx, p.run_id(), metrics=[], params=[(key, p.text("value") or "")], tags=[])
    return {}


@api.route("POST", "/runs/set-tag", WRITE)
def set_tag(ctx: Context, p: Params) -> dict[str, Any]:
    """Set a tag on a run."""
    key = p.text("key")
    if not key:
        raise missing("key")
    service.log_batch(ctx, p.run_id(), metrics=[], params=[], tags=[(key, p.text("value") or "")])
    return {}


@api.route("POST", "/runs/delete-tag", WRITE)
def delete_tag(ctx: Context, p: Params) -> dict[str, Any]:
    """Delete a tag of a run."""
    service.delete_tag(ctx, p.run_id(), p.text("key"))
    return {}


@api.route("POST", "/runs/log-batch", WRITE, max_bytes=MAX_BATCH_BYTES)
def log_batch(ctx: Context, p: Params) -> dict[str, Any]:
    """Log up to 1000 metrics, 100 params and 100 tags at once."""
    service.log_batch(
        ctx,
        p.run_id(),
        metrics=[_metric(m) for m in p.items("metrics")],
        params=p.key_values("params"),
        tags=p.key_values("tags"),
    )
    return {}


@api.route("POST", "/runs/log-inputs", WRITE)
def log_inputs(ctx: Context, p: Params) -> dict[str, Any]:
    """Record the datasets (and logged models) a run used."""
    datasets = [_dataset_input(d) for d in p.items("datasets")]
    models = [str(m.get("model_id")) for m in p.items("models") if isinstance(m, dict)]
    service.log_inputs(ctx, p.run_id(), datasets, models)
    return {}


@api.route("POST", "/runs/outputs", WRITE)
def log_outputs(ctx: Context, p: Params) -> dict[str, Any]:
    """Record the logged models a run produced."""
    models = []
    for item in p.items("models"):
        m = Params(item if isinstance(item, dict) else {})
        models.append((m.need("model_id"), m.integer("step") or 0))
    service.log_outputs(ctx, p.run_id(), models)
    return {}


@api.route("POST", "/runs/log-model", WRITE)
def log_model(ctx: Context, p: Params) -> dict[str, Any]:
    """Record a model the legacy way (Spark flavors): appended to the run's history tag."""
    service.log_model_json(ctx, p.run_id(), p.text("model_json"))
    return {}


@api.route("POST", "/runs/search", READ)
def search(ctx: Context, p: Params) -> dict[str, Any]:
    """Search runs with MLflow's filter grammar, order_by and paging."""
    runs, token = service.search_runs(
        ctx,
        experiment_ids=p.texts("experiment_ids"),
        filter_string=p.text("filter"),
        run_view_type=p.text("run_view_type"),
        max_results=p.integer("max_results"),
        order_by=p.texts("order_by"),
        page_token=p.text("page_token"),
    )
    out: dict[str, Any] = {"runs": [render.run(r) for r in runs]}
    if token:
        out["next_page_token"] = token
    return out


@api.route("GET", "/metrics/get-history", READ)
def history(ctx: Context, p: Params) -> dict[str, Any]:
    """Every logged value of one metric of a run, paged."""
    metrics, token = service.metric_history(
        ctx,
        p.run_id(),
        p.text("metric_key"),
        max_results=p.integer("max_results"),
        page_token=p.text("page_token"),
    )
    out: dict[str, Any] = {"metrics": [render.metric(m) for m in metrics]}
    if token:
        out["next_page_token"] = token
    return out
