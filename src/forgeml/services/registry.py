"""The MLflow model registry over forgeml model assets: registered models, aliases, tags, search.

One registry: an MLflow registered model is the model asset container of that name, and its
versions are the asset versions (`forgeml model list` and MLflow show the same things). Assets
stay immutable; MLflow's mutable fields (model description and tags, aliases, stages) live
beside them, and a version's description and tags are the asset version's own mutable
metadata. Deleting through MLflow archives (the files stay for lineage); names cannot be
changed, because jobs and components refer to models by name. Versions: `registry_versions`.
"""

from __future__ import annotations

from datetime import datetime

from forgeml.core import mlflow_search as search
from forgeml.core.errors import ConflictError, NotFoundError
from forgeml.core.specs.base import NAME_PATTERN
from forgeml.core.tracking import (
    MAX_REGISTRY_TAG_VALUE,
    STAGES,
    ModelVersion,
    RegisteredModel,
    check_alias,
    check_key,
    check_length,
    invalid,
)
from forgeml.services import mlflow_artifacts
from forgeml.services.authz import authorize
from forgeml.services.context import Context
from forgeml.services.experiments import now_ms
from forgeml.store.repositories import AssetRepository
from forgeml.store.repositories.assets import AssetRecord
from forgeml.store.repositories.registry import RegistryRepository, VersionMeta

PROMPT_TAG = "mlflow.prompt.is_prompt"
MAX_MODELS = 1000


def ms(value: datetime) -> int:
    return int(value.timestamp() * 1000)


def version_order(version: str) -> tuple[int, int, str]:
    """Numeric versions in numeric order, then the others by name."""
    return (0, int(version), "") if version.isdigit() else (1, 0, version)


def check_name(name: str | None) -> str:
    if not name:
        raise invalid("Registered model name cannot be empty.", "name")
    if not NAME_PATTERN.match(name):
        raise invalid(
            f"Invalid registered model name '{name}': in this workspace a model name is also a "
            "model asset name, so it may hold only letters, digits, '-', '_' and '.', start "
            "with a letter or digit, and be at most 255 characters.",
            "name",
        )
    return name


def not_found(name: str) -> NotFoundError:
    return NotFoundError(f"Registered Model with name={name} not found")


def version_not_found(name: str, version: str) -> NotFoundError:
    return NotFoundError(f"Model Version (name={name}, version={version}) not found")


def _stage(meta: VersionMeta | None, record: AssetRecord) -> str:
    if meta is not None:
        return meta.stage
    declared = str(record.spec.get("stage") or "")
    return next((s for s in STAGES if s.lower() == declared.lower()), "None")


def source_of(record: AssetRecord) -> str:
    """What an asset made outside MLflow reports as its source: a URI the client can read."""
    path = str(record.spec.get("path", ""))
    try:
        return f"{mlflow_artifacts.SCHEME}/{mlflow_artifacts.content_path(path)}"
    except Exception:
        return path


def version_view(
    record: AssetRecord, meta: VersionMeta | None, aliases: list[tuple[str, str]]
) -> ModelVersion:
    created = ms(record.created_at)
    updated = max(ms(record.updated_at), meta.last_updated_time if meta else 0)
    job = record.spec.get("job_name")
    return ModelVersion(
        name=record.name,
        version=record.version,
        creation_timestamp=created,
        last_updated_timestamp=updated,
        source=meta.source if meta else source_of(record),
        current_stage=_stage(meta, record),
        description=record.description,
        user_id=(meta.user_id if meta else None) or record.created_by,
        run_id=(meta.run_id if meta else None) or (str(job) if job else None),
        run_link=meta.run_link if meta else None,
        model_id=meta.model_id if meta else None,
        tags=dict(record.tags),
        aliases=[a for a, v in aliases if v == record.version],
    )


def version_views(repo: RegistryRepository, records: list[AssetRecord]) -> list[ModelVersion]:
    metas = repo.version_meta([(r.name, r.version) for r in records])
    aliases = repo.aliases(sorted({r.name for r in records}))
    return [version_view(r, metas.get((r.name, r.version)), aliases[r.name]) for r in records]


def model_views(repo: RegistryRepository, names: list[str] | None = None) -> list[RegisteredModel]:
    metas = repo.models(names)
    found = [m.name for m in metas]
    tags, aliases = repo.model_tags(found), repo.aliases(found)
    latest: dict[str, dict[str, ModelVersion]] = {n: {} for n in found}
    records = sorted(repo.versions(found), key=lambda r: version_order(r.version))
    for view in version_views(repo, records):
        latest[view.name][view.current_stage] = view  # ascending order: the last one wins
    return [
        RegisteredModel(
            name=m.name,
            creation_timestamp=m.creation_time or ms(m.created_at),
            last_updated_timestamp=max(m.last_updated_time or 0, ms(m.updated_at)),
            description=m.description,
            user_id=m.user_id,
            tags=tags[m.name],
            aliases=aliases[m.name],
            latest_versions=sorted(latest[m.name].values(), key=lambda v: version_order(v.version)),
        )
        for m in metas
    ]


def require_model(repo: RegistryRepository, name: str) -> RegisteredModel:
    views = model_views(repo, [name])
    if not views:
        raise not_found(name)
    return views[0]


# ------------------------------------------------------------------------------ use cases


def create_model(
    ctx: Context, name: str | None, tags: dict[str, str], description: str | None
) -> RegisteredModel:
    name = check_name(name)
    authorize(ctx, "models.write", name)
    for key, value in tags.items():
        check_key(key)
        check_length(value, MAX_REGISTRY_TAG_VALUE, f"Registered model tag '{key}'")
    with ctx.db.write() as session:
        repo = RegistryRepository(session)
        state = repo.container_state(name)
        if state is False:
            raise ConflictError(f"Registered Model (name={name}) already exists.")
        if state is None:
            AssetRepository(session).ensure_container("models", name)
        else:  # deleted through MLflow before: bring the name back, without its old versions
            repo.unarchive_container(name)
        repo.put_model(name, description=description, user_id=ctx.principal.name, now=now_ms())
        repo.set_model_tags(name, tags)
        return require_model(repo, name)


def get_model(ctx: Context, name: str | None) -> RegisteredModel:
    name = check_name(name)
    authorize(ctx, "models.read", name)
    with ctx.db.read() as session:
        return require_model(RegistryRepository(session), name)


def update_model(ctx: Context, name: str | None, description: str | None) -> RegisteredModel:
    name = check_name(name)
    authorize(ctx, "models.write", name)
    with ctx.db.write() as session:
        repo = RegistryRepository(session)
        require_model(repo, name)
        if description is not None:
            repo.touch_model(name, now_ms(), description=description)
        return require_model(repo, name)


def rename_model(ctx: Context, name: str | None, new_name: str | None) -> RegisteredModel:
    name = check_name(name)
    authorize(ctx, "models.write", name)
    get_model(ctx, name)
    raise invalid(
        f"Registered models cannot be renamed in this workspace: '{name}' is also a model "
        "asset name that jobs and components refer to. Register the versions under "
        f"'{new_name}' instead (mlflow.register_model with the same source).",
        "new_name",
    )


def delete_model(ctx: Context, name: str | None) -> None:
    name = check_name(name)
    authorize(ctx, "models.write", name)
    with ctx.db.write() as session:
        repo = RegistryRepository(session)
        require_model(repo, name)
        repo.forget_model(name)
        AssetRepository(session).set_archived("models", name, None, True)


def prompt_mode(comparisons: list[search.Comparison]) -> tuple[bool, list[search.Comparison]]:
    """MLflow's prompt rule: clauses on the prompt tag choose prompts or models, not a match."""
    prompts, rest = False, []
    for c in comparisons:
        if c.kind == "tag" and c.key == PROMPT_TAG:
            value = str(c.value).lower()
            prompts = (c.op == "=" and value == "true") or (c.op == "!=" and value == "false")
        else:
            rest.append(c)
    return prompts, rest


def _model_value(m: RegisteredModel, kind: str, key: str) -> object:
    if kind == "tag":
        return m.tags.get(key)
    return {
        "name": m.name,
        "creation_timestamp": m.creation_timestamp,
        "last_updated_timestamp": m.last_updated_timestamp,
    }[key]


def search_models(
    ctx: Context,
    *,
    filter_string: str | None,
    max_results: int | None,
    order_by: list[str],
    page_token: str | None,
) -> tuple[list[RegisteredModel], str | None]:
    authorize(ctx, "models.read")
    limit = 100 if max_results is None else max_results
    if limit < 1 or limit > MAX_MODELS:
        raise invalid(
            f"Invalid value \"{limit}\" for parameter 'max_results' supplied. It must be at most "
            f"{MAX_MODELS}.",
            "max_results",
        )
    prompts, comparisons = prompt_mode(search.parse_filter(filter_string, search.REGISTERED_MODELS))
    order = search.parse_order_by(order_by, search.REGISTERED_MODELS)
    offset = search.page_offset(page_token)
    with ctx.db.read() as session:
        models = model_views(RegistryRepository(session))
    models = [m for m in models if (m.tags.get(PROMPT_TAG, "").lower() == "true") == prompts]
    models = search.select_items(models, comparisons, _model_value)
    models.sort(key=lambda m: m.name)
    models = search.order_items(models, order, _model_value)
    return search.paginate(models, offset, limit)


def set_model_tag(ctx: Context, name: str | None, key: str | None, value: str) -> None:
    name = check_name(name)
    authorize(ctx, "models.write", name)
    check_key(key)
    assert key is not None
    check_length(value, MAX_REGISTRY_TAG_VALUE, f"Registered model tag '{key}'")
    with ctx.db.write() as session:
        repo = RegistryRepository(session)
        require_model(repo, name)
        repo.set_model_tags(name, {key: value})
        repo.touch_model(name, now_ms())


def delete_model_tag(ctx: Context, name: str | None, key: str | None) -> None:
    name = check_name(name)
    authorize(ctx, "models.write", name)
    if not key:
        raise invalid("Missing value for required parameter 'key'.", "key")
    with ctx.db.write() as session:
        repo = RegistryRepository(session)
        require_model(repo, name)
        repo.delete_model_tag(name, key)


def set_alias(ctx: Context, name: str | None, alias: str | None, version: str | None) -> None:
    name = check_name(name)
    authorize(ctx, "models.write", name)
    alias = check_alias(alias)
    if not version:
        raise invalid("Missing value for required parameter 'version'.", "version")
    with ctx.db.write() as session:
        repo = RegistryRepository(session)
        require_model(repo, name)
        if repo.version(name, version) is None:
            raise version_not_found(name, version)
        repo.set_alias(name, alias, version)
        repo.touch_model(name, now_ms())


def delete_alias(ctx: Context, name: str | None, alias: str | None) -> None:
    name = check_name(name)
    authorize(ctx, "models.write", name)
    if not alias:
        raise invalid("Registered model alias name cannot be empty.", "alias")
    with ctx.db.write() as session:
        repo = RegistryRepository(session)
        require_model(repo, name)
        repo.delete_alias(name, alias)


def get_by_alias(ctx: Context, name: str | None, alias: str | None) -> ModelVersion:
    name = check_name(name)
    authorize(ctx, "models.read", name)
    with ctx.db.read() as session:
        repo = RegistryRepository(session)
        model = require_model(repo, name)
        version = dict(model.aliases).get(alias or "")
        record = repo.version(name, version) if version else None
        if record is None:
            raise NotFoundError(f"Registered model alias {alias} not found.")
        return version_views(repo, [record])[0]


def latest_versions(ctx: Context, name: str | None, stages: list[str]) -> list[ModelVersion]:
    name = check_name(name)
    authorize(ctx, "models.read", name)
    with ctx.db.read() as session:
        model = require_model(RegistryRepository(session), name)
    wanted = {s.lower() for s in stages}
    return [v for v in model.latest_versions if not wanted or v.current_stage.lower() in wanted]
