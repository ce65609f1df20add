"""MLflow experiments: /api/2.0/mlflow/experiments/*."""

from __future__ import annotations

from typing import Any

from forgeml.server.routers.mlflow import render
from forgeml.server.routers.mlflow._base import MlflowApi, Params
from forgeml.services import Context
from forgeml.services import experiments as service

api = MlflowApi("experiments")
READ, WRITE = "experiments.read", "experiments.write"


@api.route("POST", "/experiments/create", WRITE)
def create(ctx: Context, p: Params) -> dict[str, Any]:
    """Create an experiment."""
    tags = dict(p.key_values("tags"))
    return {"experiment_id": service.create(ctx, p.text("name"), p.text("artifact_location"), tags)}


@api.route("GET", "/experiments/get", READ)
def get(ctx: Context, p: Params) -> dict[str, Any]:
    """Get an experiment by id (deleted ones too)."""
    return {"experiment": render.experiment(service.get(ctx, p.need("experiment_id")))}


@api.route("GET", "/experiments/get-by-name", READ)
def get_by_name(ctx: Context, p: Params) -> dict[str, Any]:
    """Get an experiment by name."""
    return {"experiment": render.experiment(service.get_by_name(ctx, p.text("experiment_name")))}


@api.route(["POST", "GET"], "/experiments/search", READ)
def search(ctx: Context, p: Params) -> dict[str, Any]:
    """Search experiments with MLflow's filter grammar."""
    found, token = service.search_experiments(
        ctx,
        view_type=p.text("view_type"),
        max_results=p.integer("max_results"),
        filter_string=p.text("filter"),
        order_by=p.texts("order_by"),
        page_token=p.text("page_token"),
    )
    out: dict[str, Any] = {"experiments": [render.experiment(e) for e in found]}
    if token:
        out["next_page_token"] = token
    return out


@api.route("POST", "/experiments/update", WRITE)
def update(ctx: Context, p: Params) -> dict[str, Any]:
    """Rename an experiment."""
    service.rename(ctx, p.need("experiment_id"), p.text("new_name"))
    return {}


@api.route("POST", "/experiments/delete", WRITE)
def delete(ctx: Context, p: Params) -> dict[str, Any]:
    """Delete an experiment (soft delete, with its runs)."""
    service.set_deleted(ctx, p.need("experiment_id"), True)
    return {}


@api.route("POST", "/experiments/restore", WRITE)
def restore(ctx: Context, p: Params) -> dict[str, Any]:
    """Restore a deleted experiment and its runs."""
    service.set_deleted(ctx, p.need("experiment_id"), False)
    return {}


@api.route("POST", "/experiments/set-experiment-tag", WRITE)
def set_tag(ctx: Context, p: Params) -> dict[str, Any]:
    """Set a tag on an experiment."""
    service.set_tag(ctx, p.need("experiment_id"), p.text("key"), p.text("value") or "")
    return {}


@api.route(["POST", "DELETE"], "/experiments/delete-experiment-tag", WRITE)
def delete_tag(ctx: Context, p: Params) -> dict[str, Any]:
    """Delete a tag of an experiment."""
    service.delete_tag(ctx, p.need("experiment_id"), p.text("key"))
    return {}
