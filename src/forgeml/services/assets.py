"""Versioned assets (data, models, environments, components): create, get, list, archive.

Rules that live here: a version is immutable (same content again is a no-op, different content a
409 that says what exists); omitted versions take the next number atomically; references inside
a component are resolved and pinned; local paths must have been uploaded as content first.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from sqlalchemy.exc import IntegrityError

from forgeml.core.content import CONTENT_PREFIX, is_local_path
from forgeml.core.curated import CURATED_ENVIRONMENTS, curated_key
from forgeml.core.errors import ConflictError, ForbiddenError, NotFoundError, SpecError
from forgeml.core.refs import AssetRef, is_reference, parse_ref
from forgeml.core.specs import (
    ASSET_KINDS,
    CommandComponent,
    CreationContext,
    Data,
    Environment,
    Model,
    VersionedAsset,
    component_model,
    validate_spec,
)
from forgeml.schemas import AssetContainer, Page
from forgeml.schemas.asset_views import AssetLineage, LineageJob
from forgeml.services.authz import authorize
from forgeml.services.content import check_content_uri
from forgeml.services.context import Context
from forgeml.store.repositories import AssetRecord, AssetRepository, JobRecord, JobRepository
from forgeml.store.repositories.assets import CONTAINER_ORDERS, ContainerRecord

SINGULAR = {
    "data": "data asset",
    "models": "model",
    "environments": "environment",
    "components": "component",
}
MUTABLE = ("description", "tags")
MAX_PAGE = 1000
#: at most this many jobs per side of a version's lineage (a popular data set feeds many jobs)
MAX_LINEAGE = 200


def _kind(kind: str) -> type[VersionedAsset]:
    model = ASSET_KINDS.get(kind)
    if model is None:
        raise NotFoundError(f"'{kind}' is not an asset kind; use one of {', '.join(ASSET_KINDS)}.")
    return model


def _identity(spec: dict[str, Any]) -> str:
    immutable = {k: v for k, v in spec.items() if k not in (*MUTABLE, "name", "version")}
    return hashlib.sha256(
        json.dumps(immutable, sort_keys=True, separators=(",", ":")).encode()
    ).hexdigest()


def to_entity(
    kind: str, record: AssetRecord, *, container_archived: bool = False
) -> VersionedAsset:
    data = {
        **record.spec,
        "name": record.name,
        "version": record.version,
        "description": record.description,
        "tags": record.tags,
    }
    model = component_model(data) if kind == "components" else _kind(kind)
    entity = model.model_validate(data)
    entity.creation_context = CreationContext(
        created_at=record.created_at,
        created_by=record.created_by,
        last_modified_at=record.updated_at,
    )
    entity.archived = record.archived or container_archived
    return entity


# ---------------------------------------------------------------- validation of paths and refs


def _check_path(
    ctx: Context, value: str, *, field: str, kind: str, must_contain: str | None = None
) -> None:
    if value.startswith(CONTENT_PREFIX):
        check_content_uri(ctx, value, kind=kind, field=field, must_contain=must_contain)
    elif is_local_path(value):
        raise SpecError(
            f"'{value}' is a local path, which the server cannot read. Create the asset with the "
            "forgeml CLI or SDK, which upload local files first.",
            field=field,
        )


def _prepare_environment(ctx: Context, env: Environment, field: str) -> None:
    if isinstance(env.conda_file, str):
        raise SpecError(
            "'conda_file' must reach the server as the file's content; the CLI and SDK inline it.",
            field=f"{field}conda_file",
        )
    if env.build is not None:
        _check_path(ctx, env.build.path, field=f"{field}build.path", kind="folder")


def _prepare(ctx: Context, kind: str, entity: VersionedAsset) -> VersionedAsset:
    if isinstance(entity, Data | Model) and entity.path.startswith("azureml://jobs/"):
        # a job's output (as Azure ML writes it): the content it names, and a model its job
        from forgeml.services.jobs import job_output_uri

        entity.path, job = job_output_uri(ctx, entity.path, field="path")
        if isinstance(entity, Model) and entity.job_name is None:
            entity.job_name = job
    if isinstance(entity, Data):
        expect = "file" if entity.type == "uri_file" else "folder"
        _check_path(
            ctx,
            entity.path,
            field="path",
            kind=expect,
            must_contain="MLTable" if entity.type == "mltable" else None,
        )
    elif isinstance(entity, Model):
        _check_path(
            ctx,
            entity.path,
            field="path",
            kind="any",
            must_contain="MLmodel" if entity.type == "mlflow_model" else None,
        )
    elif isinstance(entity, Environment):
        _prepare_environment(ctx, entity, "")
    elif isinstance(entity, CommandComponent):
        if entity.code is not None and not entity.code.startswith("git+"):
            _check_path(ctx, entity.code, field="code", kind="folder")
        if isinstance(entity.environment, str):
            entity.environment = pin_environment(ctx, entity.environment, field="environment")
        else:
            _prepare_environment(ctx, entity.environment, "environment.")
    return entity


def pin_environment(ctx: Context, value: str, *, field: str) -> str:
    """Resolve an environment reference now and store it pinned to one version."""
    if not is_reference(value):
        raise SpecError(
            f"'{value}' is not an environment reference; write azureml:<name>:<version>, "
            "azureml:<name>@latest, or an inline environment with 'image:'.",
            field=field,
        )
    ref = parse_ref(value, field=field)
    if ref.kind and ref.kind != "environments":
        raise SpecError(f"'{value}' points at {ref.kind}, not at an environment.", field=field)
    with ctx.db.read() as session:
        record = _lookup(
            AssetRepository(session), "environments", ref, value, field=field, curated_ok=True
        )
    if record is None:  # a curated alias
        return str(ref)
    return f"azureml:{record.name}:{record.version}"


def _lookup(
    repo: AssetRepository,
    kind: str,
    ref: AssetRef,
    text: str,
    *,
    field: str | None = None,
    curated_ok: bool = False,
) -> AssetRecord | None:
    """Find the record a reference names; `None` means a curated environment alias."""
    # one registry: every registry name resolves in this workspace, then in the curated table
    if ref.version:
        record = repo.get(kind, ref.name, ref.version)
    elif ref.label == "latest":
        record = repo.latest(kind, ref.name)
    else:
        raise SpecError(f"'{text}': the only label is 'latest'.", field=field)
    if record is not None:
        return record
    if curated_ok and curated_key(ref.name):
        return None
    existing = repo.recent_versions(kind, ref.name)
    what = SINGULAR.get(kind, kind)
    if existing:
        raise NotFoundError(
            f"'{text}': {what} '{ref.name}' has no version '{ref.version or ref.label}'. "
            f"Existing versions (newest first): {', '.join(existing)}.",
            details={"field": field} if field else None,
        )
    hint = ""
    if curated_ok:
        hint = f" Curated environments: {', '.join(sorted(CURATED_ENVIRONMENTS))}."
    raise NotFoundError(
        f"'{text}': no {what} named '{ref.name}' exists in this workspace. Create it first "
        f"(forgeml {kind.removesuffix('s')} create ...).{hint}",
        details={"field": field} if field else None,
    )


# ---------------------------------------------------------------------------- use cases


def create(
    ctx: Context, kind: str, body: dict[str, Any], *, version: str | None = None
) -> tuple[VersionedAsset, bool]:
    """Create one version; returns the stored entity and whether anything new was written."""
    model = _kind(kind)
    # decide before validating: a caller who may not write learns nothing about the body
    authorize(ctx, f"{kind}.write", str(body.get("name") or "*"))
    if kind == "components" and isinstance(body, dict):
        model = component_model(body)
    if version is not None:
        if body.get("version") not in (None, version):
            raise SpecError(
                f"the URL says version '{version}' but the body says '{body.get('version')}'.",
                field="version",
            )
        body = {**body, "version": version}
    entity = validate_spec(model, body)
    if not entity.name:
        raise SpecError("an asset needs a 'name'.", field="name")
    _prepare(ctx, kind, entity)
    spec = entity.to_wire()
    spec.pop("name", None)
    spec.pop("version", None)
    identity = _identity(spec)
    stored = {k: v for k, v in spec.items() if k not in MUTABLE}
    for attempt in range(3):
        try:
            return _store(ctx, kind, entity, stored, identity)
        except IntegrityError:
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def _store(
    ctx: Context, kind: str, entity: VersionedAsset, stored: dict[str, Any], identity: str
) -> tuple[VersionedAsset, bool]:
    assert entity.name
    with ctx.db.write() as session:
        repo = AssetRepository(session)
        # under the name's lock, so that concurrent creates agree on one version
        container = repo.lock_container(kind, entity.name)
        if entity.version is None:
            latest = repo.latest(kind, entity.name, include_archived=True)
            if latest is not None and latest.identity == identity and not latest.archived:
                return _touch(repo, kind, latest, entity)
            version = repo.allocate_version(kind, entity.name)
        else:
            version = entity.version
            existing = repo.get(kind, entity.name, version)
            if existing is not None:
                if existing.identity != identity:
                    raise ConflictError(
                        f"{SINGULAR[kind]} '{entity.name}' version '{version}' already exists with "
                        f"different content (created {existing.created_at:%Y-%m-%d %H:%M} UTC by "
                        f"{existing.created_by}). Versions are immutable: omit 'version' to create "
                        "the next one, or choose a new version number.",
                        details={"name": entity.name, "version": version},
                    )
                return _touch(repo, kind, existing, entity)
            repo.note_explicit_version(kind, entity.name, version)
        record = repo.insert(
            kind=kind,
            name=entity.name,
            version=version,
            spec=stored,
            identity=identity,
            description=entity.description,
            tags=dict(entity.tags),
            created_by=ctx.principal.name,
        )
        return to_entity(kind, record, container_archived=container.archived), True


def _touch(
    repo: AssetRepository, kind: str, record: AssetRecord, entity: VersionedAsset
) -> tuple[VersionedAsset, bool]:
    """Same content again: keep the version, update description and tags if they changed."""
    changed = False
    if (entity.description is not None and entity.description != record.description) or (
        entity.tags and entity.tags != record.tags
    ):
        record = repo.update_metadata(
            record,
            description=entity.description
            if entity.description is not None
            else record.description,
            tags={**record.tags, **entity.tags},
        )
        changed = True
    container = repo.container(kind, record.name)
    return to_entity(
        kind, record, container_archived=bool(container and container.archived)
    ), changed


def get(
    ctx: Context, kind: str, name: str, *, version: str | None = None, label: str | None = None
) -> VersionedAsset:
    _kind(kind)
    authorize(ctx, f"{kind}.read", name)
    if version is not None and label is not None:
        raise SpecError("give a version or a label, not both.")
    ref = AssetRef(name=name, version=version, label=None if version else (label or "latest"))
    text = f"{name}:{version}" if version else f"{name}@{ref.label}"
    with ctx.db.read() as session:
        repo = AssetRepository(session)
        record = _lookup(repo, kind, ref, text)
        assert record is not None
        container = repo.container(kind, name)
        return to_entity(kind, record, container_archived=bool(container and container.archived))


def resolve(ctx: Context, kind: str, reference: str) -> VersionedAsset:
    """Resolve any reference form to one asset version; curated environments included."""
    _kind(kind)
    ref = parse_ref(reference)
    if ref.kind and ref.kind != kind:
        raise SpecError(f"'{reference}' points at {ref.kind}, not at {kind}.")
    authorize(ctx, f"{kind}.read", ref.name)
    with ctx.db.read() as session:
        repo = AssetRepository(session)
        record = _lookup(repo, kind, ref, reference, curated_ok=kind == "environments")
        if record is not None:
            container = repo.container(kind, record.name)
            return to_entity(
                kind, record, container_archived=bool(container and container.archived)
            )
    key = curated_key(ref.name)
    assert key is not None
    return Environment(
        name=key,
        version="curated",
        description=f"Curated environment '{key}' (forgeml alias table).",
        image="python:3.11",
        conda_file={
            "name": key,
            "dependencies": ["python=3.11", {"pip": list(CURATED_ENVIRONMENTS[key])}],
        },
    )


def _page(offset: int, limit: int, got: int) -> str | None:
    return str(offset + limit) if got == limit else None


def _offset(token: str | None) -> int:
    if not token:
        return 0
    if not token.isdigit():
        raise SpecError(f"'{token}' is not a page token from this server.", field="page_token")
    return int(token)


def list_versions(
    ctx: Context,
    kind: str,
    name: str,
    *,
    include_archived: bool = False,
    page_token: str | None = None,
    limit: int = 100,
    order: str = "desc",
) -> Page[VersionedAsset]:
    _kind(kind)
    authorize(ctx, f"{kind}.read", name)
    limit = max(1, min(limit, MAX_PAGE))
    offset = _offset(page_token)
    with ctx.db.read() as session:
        repo = AssetRepository(session)
        container = repo.container(kind, name)
        if container is None:
            raise NotFoundError(f"no {SINGULAR[kind]} named '{name}' exists in this workspace.")
        records = repo.list_versions(
            kind,
            name,
            include_archived=include_archived,
            offset=offset,
            limit=limit,
            descending=_descending(order),
        )
        items = [to_entity(kind, r, container_archived=container.archived) for r in records]
    return Page[VersionedAsset](items=items, next_token=_page(offset, limit, len(records)))


def list_containers(
    ctx: Context,
    kind: str,
    *,
    name_contains: str | None = None,
    include_archived: bool = False,
    page_token: str | None = None,
    limit: int = 100,
    order_by: str = "name",
    order: str | None = None,
) -> Page[AssetContainer]:
    _kind(kind)
    authorize(ctx, f"{kind}.read")
    limit = max(1, min(limit, MAX_PAGE))
    offset = _offset(page_token)
    if order_by not in CONTAINER_ORDERS:
        raise SpecError(
            f"cannot order by '{order_by}'; use one of {', '.join(CONTAINER_ORDERS)}.",
            field="order_by",
        )
    # names read A to Z; times newest first, unless the caller says otherwise
    descending = _descending(order) if order else order_by != "name"
    with ctx.db.read() as session:
        repo = AssetRepository(session)
        rows = repo.list_containers(
            kind,
            name_contains=name_contains,
            include_archived=include_archived,
            offset=offset,
            limit=limit,
            order_by=order_by,
            descending=descending,
        )
        items = _summaries(repo, kind, rows)
    return Page[AssetContainer](items=items, next_token=_page(offset, limit, len(rows)))


def get_container(ctx: Context, kind: str, name: str) -> AssetContainer:
    """One name summarised, archived or not: what the studio's page of a name shows on top."""
    _kind(kind)
    authorize(ctx, f"{kind}.read", name)
    with ctx.db.read() as session:
        repo = AssetRepository(session)
        rows = repo.list_containers(kind, name=name, include_archived=True, limit=1)
        if not rows:
            raise NotFoundError(
                f"no {SINGULAR[kind]} named '{name}' exists in this workspace. Create it first "
                f"(forgeml {kind.removesuffix('s')} create ...)."
            )
        return _summaries(repo, kind, rows)[0]


def _summaries(
    repo: AssetRepository, kind: str, rows: list[ContainerRecord]
) -> list[AssetContainer]:
    latest = repo.get_many(
        kind, [(r.name, r.latest_version) for r in rows if r.latest_version is not None]
    )
    items = []
    for r in rows:
        record = latest.get((r.name, r.latest_version or ""))
        spec_type = record.spec.get("type") if record else None
        items.append(
            AssetContainer(
                name=r.name,
                latest_version=r.latest_version,
                version_count=r.version_count,
                archived=r.archived,
                created_at=r.created_at,
                last_modified_at=r.updated_at,
                type=str(spec_type) if spec_type is not None else None,
                description=record.description if record else None,
                tags=record.tags if record else {},
            )
        )
    return items


def _descending(order: str) -> bool:
    if order not in ("asc", "desc"):
        raise SpecError(f"order must be 'asc' or 'desc', not '{order}'.", field="order")
    return order == "desc"


def lineage(ctx: Context, kind: str, name: str, version: str) -> AssetLineage:
    """The jobs on either side of one version: the one whose output registered it, and the
    ones that took it as an input (pinned at submission, so `@latest` inputs count too)."""
    _kind(kind)
    authorize(ctx, f"{kind}.read", name)
    try:
        authorize(ctx, "jobs.read")
    except ForbiddenError:
        # a reader of assets who may not see jobs learns the asset has no visible lineage
        return AssetLineage()
    with ctx.db.read() as session:
        repo = AssetRepository(session)
        record = _lookup(
            repo, kind, AssetRef(name=name, version=version, label=None), f"{name}:{version}"
        )
        assert record is not None
        jobs = JobRepository(session)
        edges = jobs.edges(asset=(kind, name, version))
        produced: list[LineageJob] = []
        used: list[LineageJob] = []
        seen: set[tuple[str, str]] = set()
        truncated = False
        for edge in edges:
            side = produced if edge.direction == "output" else used
            if (edge.direction, edge.job) in seen:
                continue
            if len(side) >= MAX_LINEAGE:
                truncated = True
                continue
            job = jobs.get(edge.job)
            if job is not None:
                seen.add((edge.direction, edge.job))
                side.append(_lineage_job(job, edge.port))
        # a model logged by an MLflow run names its job without an output edge
        producer = record.spec.get("job_name") or record.tags.get("job_name")
        if not produced and isinstance(producer, str) and (job := jobs.get(producer)):
            produced.append(_lineage_job(job, None))
    return AssetLineage(produced_by=produced, used_by=used, truncated=truncated)


def _lineage_job(job: JobRecord, port: str | None) -> LineageJob:
    return LineageJob(
        name=job.name,
        display_name=job.display_name,
        type=job.type,
        status=job.status,
        experiment_name=job.experiment_name,
        created_at=job.created_at,
        port=port,
    )


def set_archived(ctx: Context, kind: str, name: str, version: str | None, archived: bool) -> None:
    _kind(kind)
    authorize(ctx, f"{kind}.write", name)
    with ctx.db.write() as session:
        repo = AssetRepository(session)
        if repo.container(kind, name) is None:
            raise NotFoundError(f"no {SINGULAR[kind]} named '{name}' exists in this workspace.")
        if repo.set_archived(kind, name, version, archived) == 0:
            existing = repo.recent_versions(kind, name)
            raise NotFoundError(
                f"{SINGULAR[kind]} '{name}' has no version '{version}'. "
                f"Existing versions (newest first): {', '.join(existing)}."
            )
