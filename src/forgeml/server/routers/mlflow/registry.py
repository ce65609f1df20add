"""The MLflow model registry: /api/2.0/mlflow/registered-models/* and /model-versions/*."""

from __future__ import annotations

from typing import Any

from forgeml.server.routers.mlflow import render
from forgeml.server.routers.mlflow._base import MlflowApi, Params
from forgeml.services import Context
from forgeml.services import registry as models
from forgeml.services import registry_versions as versions

api = MlflowApi("registry")
READ, WRITE = "models.read", "models.write"


def _model(m: Any) -> dict[str, Any]:
    return {"registered_model": render.registered_model(m)}


def _version(v: Any) -> dict[str, Any]:
    return {"model_version": render.model_version(v)}


@api.route("POST", "/registered-models/create", WRITE)
def create_model(ctx: Context, p: Params) -> dict[str, Any]:
    """Create a registered model (a model asset name)."""
    tags = dict(p.key_values("tags"))
    return _model(models.create_model(ctx, p.text("name"), tags, p.text("description")))


@api.route("GET", "/registered-models/get", READ)
def get_model(ctx: Context, p: Params) -> dict[str, Any]:
    """Get a registered model with its latest version per stage."""
    return _model(models.get_model(ctx, p.text("name")))


@api.route("POST", "/registered-models/rename", WRITE)
def rename_model(ctx: Context, p: Params) -> dict[str, Any]:
    """Rename a registered model (refused: model names are asset references)."""
    return _model(models.rename_model(ctx, p.text("name"), p.text("new_name")))


@api.route("PATCH", "/registered-models/update", WRITE)
def update_model(ctx: Context, p: Params) -> dict[str, Any]:
    """Update a registered model's description."""
    return _model(models.update_model(ctx, p.text("name"), p.text("description")))


@api.route("DELETE", "/registered-models/delete", WRITE)
def delete_model(ctx: Context, p: Params) -> dict[str, Any]:
    """Delete a registered model (its asset versions are archived, not erased)."""
    models.delete_model(ctx, p.text("name"))
    return {}


@api.route("GET", "/registered-models/search", READ)
def search_models(ctx: Context, p: Params) -> dict[str, Any]:
    """Search registered models."""
    found, token = models.search_models(
        ctx,
        filter_string=p.text("filter"),
        max_results=p.integer("max_results"),
        order_by=p.texts("order_by"),
        page_token=p.text("page_token"),
    )
    out: dict[str, Any] = {"registered_models": [render.registered_model(m) for m in found]}
    if token:
        out["next_page_token"] = token
    return out


@api.route(["POST", "GET"], "/registered-models/get-latest-versions", READ)
def latest_versions(ctx: Context, p: Params) -> dict[str, Any]:
    """The latest version of a model in each requested stage (all stages if none)."""
    found = models.latest_versions(ctx, p.text("name"), p.texts("stages"))
    return {"model_versions": [render.model_version(v) for v in found]}


@api.route("POST", "/registered-models/set-tag", WRITE)
def set_model_tag(ctx: Context, p: Params) -> dict[str, Any]:
    """Set a tag on a registered model."""
    models.set_model_tag(ctx, p.text("name"), p.text("key"), p.text("value") or "")
    return {}


@api.route("DELETE", "/registered-models/delete-tag", WRITE)
def delete_model_tag(ctx: Context, p: Params) -> dict[str, Any]:
    """Delete a tag of a registered model."""
    models.delete_model_tag(ctx, p.text("name"), p.text("key"))
    return {}


@api.route("POST", "/registered-models/alias", WRITE)
def set_alias(ctx: Context, p: Params) -> dict[str, Any]:
    """Point an alias at a version (moving it if it exists)."""
    models.set_alias(ctx, p.text("name"), p.text("alias"), p.text("version"))
    return {}


@api.route("DELETE", "/registered-models/alias", WRITE)
def delete_alias(ctx: Context, p: Params) -> dict[str, Any]:
    """Delete an alias."""
    models.delete_alias(ctx, p.text("name"), p.text("alias"))
    return {}


@api.route("GET", "/registered-models/alias", READ)
def get_by_alias(ctx: Context, p: Params) -> dict[str, Any]:
    """The version an alias points at."""
    return _version(models.get_by_alias(ctx, p.text("name"), p.text("alias")))


@api.route("POST", "/model-versions/create", WRITE)
def create_version(ctx: Context, p: Params) -> dict[str, Any]:
    """Register a version: snapshot the source's files as a model asset version."""
    version = versions.create_version(
        ctx,
        name=p.text("name"),
        source=p.text("source"),
        run_id=p.text("run_id") or None,
        tags=dict(p.key_values("tags")),
        run_link=p.text("run_link") or None,
        description=p.text("description"),
        model_id=p.text("model_id") or None,
    )
    return _version(version)


@api.route("GET", "/model-versions/get", READ)
def get_version(ctx: Context, p: Params) -> dict[str, Any]:
    """Get a model version."""
    return _version(versions.get_version(ctx, p.text("name"), p.text("version")))


@api.route("PATCH", "/model-versions/update", WRITE)
def update_version(ctx: Context, p: Params) -> dict[str, Any]:
    """Update a model version's description."""
    return _version(
        versions.update_version(ctx, p.text("name"), p.text("version"), p.text("description"))
    )


@api.route("POST", "/model-versions/transition-stage", WRITE)
def transition_stage(ctx: Context, p: Params) -> dict[str, Any]:
    """Move a version to a stage (None, Staging, Production, Archived)."""
    version = versions.transition_stage(
        ctx,
        p.text("name"),
        p.text("version"),
        p.text("stage"),
        p.flag("archive_existing_versions"),
    )
    return _version(version)


@api.route("DELETE", "/model-versions/delete", WRITE)
def delete_version(ctx: Context, p: Params) -> dict[str, Any]:
    """Delete a model version (the asset version is archived)."""
    versions.delete_version(ctx, p.text("name"), p.text("version"))
    return {}


@api.route("GET", "/model-versions/search", READ)
def search_versions(ctx: Context, p: Params) -> dict[str, Any]:
    """Search model versions."""
    found, token = versions.search_versions(
        ctx,
        filter_string=p.text("filter"),
        max_results=p.integer("max_results"),
        order_by=p.texts("order_by"),
        page_token=p.text("page_token"),
    )
    out: dict[str, Any] = {"model_versions": [render.model_version(v) for v in found]}
    if token:
        out["next_page_token"] = token
    return out


@api.route("GET", "/model-versions/get-download-uri", READ)
def download_uri(ctx: Context, p: Params) -> dict[str, Any]:
    """Where a version's files can be downloaded."""
    return {"artifact_uri": versions.download_uri(ctx, p.text("name"), p.text("version"))}


@api.route("POST", "/model-versions/set-tag", WRITE)
def set_version_tag(ctx: Context, p: Params) -> dict[str, Any]:
    """Set a tag on a model version."""
    versions.set_version_tag(ctx, p.text("name"), p.text("version"), p.text("key"), p.text("value"))
    return {}


@api.route("DELETE", "/model-versions/delete-tag", WRITE)
def delete_version_tag(ctx: Context, p: Params) -> dict[str, Any]:
    """Delete a tag of a model version."""
    versions.delete_version_tag(ctx, p.text("name"), p.text("version"), p.text("key"))
    return {}
