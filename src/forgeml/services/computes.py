"""Compute targets: the built-in `local` target and the ones users register."""

from __future__ import annotations

from typing import Any

from forgeml.core.errors import ConflictError, NotFoundError, SpecError
from forgeml.core.specs import CreationContext, LocalCompute, Resource, compute_model, validate_spec
from forgeml.schemas import Page
from forgeml.services.authz import authorize
from forgeml.services.context import Context
from forgeml.store.repositories import ComputeRecord, ComputeRepository
from forgeml.store.repositories.common import utcnow

BUILTIN = "local"


def _entity(record: ComputeRecord) -> Resource:
    model = compute_model(record.spec)
    entity = model.model_validate({**record.spec, "name": record.name})
    entity.creation_context = CreationContext(
        created_at=record.created_at,
        created_by=record.created_by,
        last_modified_at=record.updated_at,
    )
    return entity


def _builtin() -> Resource:
    now = utcnow()
    entity = LocalCompute(name=BUILTIN, description="This machine (built in).")
    entity.creation_context = CreationContext(
        created_at=now, created_by="system", last_modified_at=now
    )
    return entity


def create_or_update(ctx: Context, body: dict[str, Any]) -> Resource:
    # decide before validating: a caller who may not write learns nothing about the body
    authorize(ctx, "computes.write", str(body.get("name") or "*"))
    entity = validate_spec(compute_model(body), body)
    if not entity.name:
        raise SpecError("a compute target needs a 'name'.", field="name")
    spec = entity.to_wire()
    spec.pop("name", None)
    with ctx.db.write() as session:
        repo = ComputeRepository(session)
        current = repo.get(entity.name)
        if current is not None and current.type != spec["type"]:
            raise ConflictError(
                f"compute '{entity.name}' exists with type '{current.type}'; delete it before "
                f"creating it again as '{spec['type']}'."
            )
        return _entity(repo.upsert(entity.name, str(spec["type"]), spec, ctx.principal.name))


def get(ctx: Context, name: str) -> Resource:
    authorize(ctx, "computes.read", name)
    with ctx.db.read() as session:
        record = ComputeRepository(session).get(name)
    if record is None:
        if name == BUILTIN:
            return _builtin()
        raise NotFoundError(f"no compute named '{name}' exists; `forgeml compute list` shows them.")
    return _entity(record)


def list_all(ctx: Context) -> Page[Resource]:
    authorize(ctx, "computes.read")
    with ctx.db.read() as session:
        items = [_entity(r) for r in ComputeRepository(session).list(limit=10_000)]
    if not any(c.name == BUILTIN for c in items):
        items.insert(0, _builtin())
    return Page[Resource](items=items)


def delete(ctx: Context, name: str) -> None:
    authorize(ctx, "computes.write", name)
    with ctx.db.write() as session:
        if not ComputeRepository(session).delete(name):
            raise NotFoundError(f"no compute named '{name}' exists.")
