"""MLflow 3 logged models: /api/2.0/mlflow/logged-models/*."""

from __future__ import annotations

from typing import Any

from forgeml.server.routers.mlflow import render
from forgeml.server.routers.mlflow._base import MlflowApi, Params
from forgeml.services import Context
from forgeml.services import logged_models as service

api = MlflowApi("logged-models")
READ, WRITE = "models.read", "models.write"


@api.route("POST", "/logged-models", WRITE)
def create(ctx: Context, p: Params) -> dict[str, Any]:
    """Create a logged model (PENDING until finalized)."""
    model = service.create(
        ctx,
        experiment_id=p.text("experiment_id"),
        name=p.text("name"),
        model_type=p.text("model_type"),
        source_run_id=p.text("source_run_id"),
        params=dict(p.key_values("params")),
        tags=dict(p.key_values("tags")),
    )
    return {"model": render.logged_model(model)}


@api.route("POST", "/logged-models/search", READ)
def search(ctx: Context, p: Params) -> dict[str, Any]:
    """Search logged models of experiments."""
    order = []
    for item in p.items("order_by"):
        o = Params(item if isinstance(item, dict) else {"field_name": item})
        asc = o.raw("ascending")
        order.append((o.need("field_name"), True if asc is None else o.flag("ascending")))
    found, token = service.search_models(
        ctx,
        experiment_ids=p.texts("experiment_ids"),
        filter_string=p.text("filter"),
        max_results=p.integer("max_results"),
        order_by=order,
        page_token=p.text("page_token"),
    )
    out: dict[str, Any] = {}
    if found:
        out["models"] = [render.logged_model(m) for m in found]
    if token:
        out["next_page_token"] = token
    return out


@api.route("GET", "/logged-models/{model_id}", READ)
def get(ctx: Context, p: Params) -> dict[str, Any]:
    """Get a logged model."""
    model = service.get(ctx, p.need("model_id"), allow_deleted=p.flag("allow_deleted"))
    return {"model": render.logged_model(model)}


@api.route("PATCH", "/logged-models/{model_id}", WRITE)
def finalize(ctx: Context, p: Params) -> dict[str, Any]:
    """Finalize a logged model: READY or UPLOAD_FAILED."""
    return {
        "model": render.logged_model(service.finalize(ctx, p.need("model_id"), p.text("status")))
    }


@api.route("DELETE", "/logged-models/{model_id}", WRITE)
def delete(ctx: Context, p: Params) -> dict[str, Any]:
    """Delete a logged model."""
    service.delete(ctx, p.need("model_id"))
    return {}


@api.route("PATCH", "/logged-models/{model_id}/tags", WRITE)
def set_tags(ctx: Context, p: Params) -> dict[str, Any]:
    """Set tags on a logged model."""
    service.set_tags(ctx, p.need("model_id"), dict(p.key_values("tags")))
    return {}


@api.route("DELETE", "/logged-models/{model_id}/tags/{tag_key}", WRITE)
def delete_tag(ctx: Context, p: Params) -> dict[str, Any]:
    """Delete a tag of a logged model."""
    service.delete_tag(ctx, p.need("model_id"), p.need("tag_key"))
    return {}


@api.route("POST", "/logged-models/{model_id}/params", WRITE)
def log_params(ctx: Context, p: Params) -> dict[str, Any]:
    """Log params on a logged model."""
    service.log_params(ctx, p.need("model_id"), dict(p.key_values("params")))
    return {}


@api.route("GET", "/logged-models/{model_id}/artifacts/directories", READ)
def list_artifacts(ctx: Context, p: Params) -> dict[str, Any]:
    """List a folder of a logged model's artifacts."""
    root, files = service.list_artifacts(ctx, p.need("model_id"), p.text("artifact_directory_path"))
    return {
        "root_uri": root,
        "files": [
            {"path": f.path, "is_dir": f.is_dir, **({} if f.is_dir else {"file_size": f.size})}
            for f in files
        ],
    }
