"""MLflow model versions as forgeml model asset versions.

Registering a version (`mlflow.register_model`, `log_model(registered_model_name=...)`) reads the
source (`models:/m-<id>`, `runs:/<run>/<path>`, `mlflow-artifacts:/...`, `models:/<name>/<v>`),
snapshots its files into content-addressed storage and creates a model asset version through
`services.assets` (type `mlflow_model` when an `MLmodel` file is present), whose `job_name` is
the source run: that is the job -> model lineage. The version number is the asset's. The files
are then served read-only for `models:/name/<version>` through `mlflow_artifacts`.
"""

from __future__ import annotations

from typing import Any

from forgeml.core import mlflow_search as search
from forgeml.core.content import parse_content_uri
from forgeml.core.errors import NotFoundError
from forgeml.core.tracking import (
    MAX_REGISTRY_TAG_VALUE,
    ModelVersion,
    canonical_stage,
    check_key,
    check_length,
    invalid,
)
from forgeml.services import assets, logged_models, mlflow_artifacts, registry, tracking
from forgeml.services.authz import authorize
from forgeml.services.context import Context
from forgeml.services.experiments import now_ms
from forgeml.store.repositories import AssetRepository
from forgeml.store.repositories.registry import RegistryRepository, VersionMeta

MAX_VERSIONS = 200_000


def _from_registered(ctx: Context, ref: str) -> tuple[str, str | None, str | None]:
    """(content path, run id, model id) of `models:/<name>/<version>` or `<name>@<alias>`."""
    if "@" in ref:
        name, alias = ref.split("@", 1)
        view = registry.get_by_alias(ctx, name, alias)
    else:
        name, _, version = ref.partition("/")
        view = get_version(ctx, name, version.strip("/"))
    with ctx.db.read() as session:
        record = AssetRepository(session).get("models", view.name, view.version)
    assert record is not None
    return mlflow_artifacts.content_path(str(record.spec["path"])), view.run_id, view.model_id


def _from_run(ctx: Context, run_id: str, sub: str) -> tuple[str, str | None]:
    """(artifact path, logged model id) of `runs:/<run>/<sub>`, following MLflow 3's models."""
    run = tracking.get_run(ctx, run_id)
    root = mlflow_artifacts.path_of_uri(run.info.artifact_uri)
    sub = mlflow_artifacts.clean(sub)
    if root is not None:
        path = f"{root}/{sub}" if sub else root
        if mlflow_artifacts.exists(ctx, path):
            return path, None
    # MLflow 3 keeps models beside the run: runs:/<run>/model names the run's logged model
    name = sub.split("/")[0] if sub else ""
    found, _ = logged_models.search_models(
        ctx,
        experiment_ids=[run.info.experiment_id],
        filter_string=f"name = '{name}' AND source_run_id = '{run_id}'",
        max_results=1,
        order_by=[],
        page_token=None,
    )
    if not found:
        raise invalid(f"Unable to find a model at '{sub}' in run '{run_id}'.", "source")
    model_root = mlflow_artifacts.path_of_uri(found[0].artifact_uri)
    rest = sub.split("/", 1)[1] if "/" in sub else ""
    if model_root is None:
        raise invalid(f"The artifacts of model '{found[0].model_id}' are not served here.")
    return (f"{model_root}/{rest}" if rest else model_root), found[0].model_id


def resolve_source(
    ctx: Context, source: str, run_id: str | None, model_id: str | None
) -> tuple[str, str | None, str | None]:
    """(artifact path to snapshot, run id, logged model id) for a version's source."""
    if source.startswith("models:/"):
        ref = source[len("models:/") :].strip("/")
        if ref.startswith("m-") and "/" not in ref:
            if model_id and model_id != ref:
                raise invalid(
                    f"The source '{source}' names logged model '{ref}', but model_id is "
                    f"'{model_id}'.",
                    "source",
                )
            model = logged_models.get(ctx, ref)
            path = mlflow_artifacts.path_of_uri(model.artifact_uri)
            if path is None:
                raise invalid(f"The artifacts of model '{ref}' are not served here.", "source")
            return path, run_id or model.source_run_id, ref
        path, src_run, src_model = _from_registered(ctx, ref)
        return path, run_id or src_run, model_id or src_model
    if source.startswith("runs:/"):
        src_run, _, sub = source[len("runs:/") :].partition("/")
        if run_id and run_id != src_run:
            raise invalid(
                f"The source '{source}' is in run '{src_run}', but run_id is '{run_id}'.", "source"
            )
        path, found_model = _from_run(ctx, src_run, sub)
        return path, src_run, model_id or found_model
    path = mlflow_artifacts.path_of_uri(source)
    if path is None:
        raise invalid(
            f"The source '{source}' cannot be read by the workspace. Register a model from "
            "runs:/<run id>/<path>, models:/<model id> or mlflow-artifacts:/<path> (log it with "
            "mlflow first).",
            "source",
        )
    if model_id is None and "/models/m-" in f"/{path}":
        model_id = path.split("/models/", 1)[1].split("/")[0]
    return path, run_id, model_id


def _mlmodel_flavors(ctx: Context, uri: str) -> dict[str, Any] | None:
    digest, _ = parse_content_uri(uri)
    manifest = ctx.artifacts.get_manifest(digest)
    entry = next((e for e in manifest.entries if e.path == "MLmodel"), None) if manifest else None
    if entry is None:
        return None
    from ruamel.yaml import YAML

    with ctx.artifacts.open_blob(entry.sha256) as fh:
        data = YAML(typ="safe").load(fh.read().decode("utf-8", "replace"))
    flavors = data.get("flavors") if isinstance(data, dict) else None
    return dict(flavors) if isinstance(flavors, dict) else {}


def create_version(
    ctx: Context,
    *,
    name: str | None,
    source: str | None,
    run_id: str | None,
    tags: dict[str, str],
    run_link: str | None,
    description: str | None,
    model_id: str | None,
) -> ModelVersion:
    name = registry.check_name(name)
    authorize(ctx, "models.write", name)
    if not source:
        raise invalid("Missing value for required parameter 'source'.", "source")
    for key, value in tags.items():
        check_key(key)
        check_length(value, MAX_REGISTRY_TAG_VALUE, f"Model version tag '{key}'")
    registry.get_model(ctx, name)
    path, run_id, model_id = resolve_source(ctx, source, run_id, model_id)
    uri = mlflow_artifacts.snapshot(ctx, path)
    flavors = _mlmodel_flavors(ctx, uri)
    body: dict[str, Any] = {
        "name": name,
        "type": "mlflow_model" if flavors is not None else "custom_model",
        "path": uri,
        "description": description,
        "tags": tags,
        "properties": {"mlflow.source": source},
    }
    if flavors:
        body["flavors"] = flavors
    if run_id:
        body["job_name"] = run_id
    entity, _ = assets.create(ctx, "models", body)
    assert entity.version is not None
    meta = VersionMeta(source, run_id, run_link, model_id, "None", ctx.principal.name, now_ms())
    with ctx.db.write() as session:
        repo = RegistryRepository(session)
        if not repo.version_meta([(name, entity.version)]):
            repo.put_version_meta(name, entity.version, meta)
        repo.touch_model(name, now_ms())
    return get_version(ctx, name, entity.version)


def _require(repo: RegistryRepository, name: str, version: str | None) -> Any:
    if not version:
        raise invalid("Missing value for required parameter 'version'.", "version")
    record = repo.version(name, version)
    if record is None:
        registry.require_model(repo, name)
        raise registry.version_not_found(name, version)
    return record


def get_version(ctx: Context, name: str | None, version: str | None) -> ModelVersion:
    name = registry.check_name(name)
    authorize(ctx, "models.read", name)
    with ctx.db.read() as session:
        repo = RegistryRepository(session)
        return registry.version_views(repo, [_require(repo, name, version)])[0]


def _meta(repo: RegistryRepository, record: Any) -> VersionMeta:
    found = repo.version_meta([(record.name, record.version)]).get((record.name, record.version))
    if found is not None:
        return found
    view = registry.version_view(record, None, [])
    return VersionMeta(view.source, view.run_id, None, None, view.current_stage, view.user_id, 0)


def update_version(
    ctx: Context, name: str | None, version: str | None, description: str | None
) -> ModelVersion:
    name = registry.check_name(name)
    authorize(ctx, "models.write", name)
    with ctx.db.write() as session:
        repo = RegistryRepository(session)
        record = _require(repo, name, version)
        if description is not None:
            record = AssetRepository(session).update_metadata(
                record, description=description, tags=record.tags
            )
        return registry.version_views(repo, [record])[0]


def transition_stage(
    ctx: Context, name: str | None, version: str | None, stage: str | None, archive_existing: bool
) -> ModelVersion:
    name = registry.check_name(name)
    authorize(ctx, "models.write", name)
    if not stage:
        raise invalid("Missing value for required parameter 'stage'.", "stage")
    target = canonical_stage(stage)
    now = now_ms()
    with ctx.db.write() as session:
        repo = RegistryRepository(session)
        record = _require(repo, name, version)
        if archive_existing and target in ("Staging", "Production"):
            for other in repo.versions([name]):
                meta = _meta(repo, other)
                if other.version != record.version and meta.stage == target:
                    repo.put_version_meta(
                        name, other.version, _replace(meta, stage="Archived", updated=now)
                    )
        repo.put_version_meta(name, record.version, _replace(_meta(repo, record), target, now))
        return registry.version_views(repo, [record])[0]


def _replace(meta: VersionMeta, stage: str, updated: int) -> VersionMeta:
    return VersionMeta(
        meta.source, meta.run_id, meta.run_link, meta.model_id, stage, meta.user_id, updated
    )


def delete_version(ctx: Context, name: str | None, version: str | None) -> None:
    name = registry.check_name(name)
    authorize(ctx, "models.write", name)
    with ctx.db.write() as session:
        repo = RegistryRepository(session)
        record = _require(repo, name, version)
        repo.archive_version(name, record.version)


def set_version_tag(
    ctx: Context, name: str | None, version: str | None, key: str | None, value: str | None
) -> None:
    name = registry.check_name(name)
    authorize(ctx, "models.write", name)
    check_key(key)
    assert key is not None
    check_length(value, MAX_REGISTRY_TAG_VALUE, f"Model version tag '{key}'")
    with ctx.db.write() as session:
        record = _require(RegistryRepository(session), name, version)
        AssetRepository(session).update_metadata(
            record, description=record.description, tags={**record.tags, key: value or ""}
        )


def delete_version_tag(
    ctx: Context, name: str | None, version: str | None, key: str | None
) -> None:
    name = registry.check_name(name)
    authorize(ctx, "models.write", name)
    if not key:
        raise invalid("Missing value for required parameter 'key'.", "key")
    with ctx.db.write() as session:
        record = _require(RegistryRepository(session), name, version)
        if key not in record.tags:
            raise NotFoundError(f"No tag with key '{key}' on model version {name}/{version}.")
        tags = {k: v for k, v in record.tags.items() if k != key}
        AssetRepository(session).update_metadata(record, description=record.description, tags=tags)


def download_uri(ctx: Context, name: str | None, version: str | None) -> str:
    """Where the client downloads a version's files: its immutable content, served read-only."""
    name = registry.check_name(name)
    authorize(ctx, "models.read", name)
    with ctx.db.read() as session:
        record = _require(RegistryRepository(session), name, version)
    path = str(record.spec.get("path", ""))
    try:
        return f"{mlflow_artifacts.SCHEME}/{mlflow_artifacts.content_path(path)}"
    except Exception:
        raise invalid(f"Model version {name}/{version} has no content served here.") from None


def _version_value(v: ModelVersion, kind: str, key: str) -> object:
    if kind == "tag":
        return v.tags.get(key)
    if key == "version_number":
        return int(v.version) if v.version.isdigit() else None
    return {
        "name": v.name,
        "run_id": v.run_id,
        "source": v.source,
        "creation_timestamp": v.creation_timestamp,
        "last_updated_timestamp": v.last_updated_timestamp,
    }[key]


def search_versions(
    ctx: Context,
    *,
    filter_string: str | None,
    max_results: int | None,
    order_by: list[str],
    page_token: str | None,
) -> tuple[list[ModelVersion], str | None]:
    authorize(ctx, "models.read")
    limit = MAX_VERSIONS if max_results is None else max_results
    if limit < 1 or limit > MAX_VERSIONS:
        raise invalid(
            f"Invalid value {limit} for parameter 'max_results': at most {MAX_VERSIONS}.",
            "max_results",
        )
    prompts, comparisons = registry.prompt_mode(
        search.parse_filter(filter_string, search.MODEL_VERSIONS)
    )
    order = search.parse_order_by(order_by, search.MODEL_VERSIONS)
    offset = search.page_offset(page_token)
    names = [
        str(c.value)
        for c in comparisons
        if c.kind == "attribute" and c.key == "name" and c.op == "="
    ]
    with ctx.db.read() as session:
        repo = RegistryRepository(session)
        models = registry.model_views(repo, names[:1] or None)
        kept = [
            m.name
            for m in models
            if (m.tags.get(registry.PROMPT_TAG, "").lower() == "true") == prompts
        ]
        views = registry.version_views(repo, repo.versions(kept))
    views = search.select_items(views, comparisons, _version_value)
    views.sort(key=lambda v: registry.version_order(v.version), reverse=True)
    views.sort(key=lambda v: v.name)
    views = search.order_items(views, order, _version_value)
    return search.paginate(views, offset, limit)
