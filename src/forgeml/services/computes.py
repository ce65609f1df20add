"""Compute targets: the built-in `local` target and the ones users register.

A `ray` target is checked when it is created or changed: the workspace must reach the cluster's
Jobs API at its address, or the request fails with the address and the connection error, so a
typo never leaves jobs queued against a cluster that does not exist.
"""

from __future__ import annotations

import os
import socket
from typing import Any

from forgeml.core.errors import ConflictError, NotFoundError, SpecError, UserError
from forgeml.core.specs import (
    CreationContext,
    LocalCompute,
    RayCompute,
    Resource,
    compute_model,
    validate_spec,
)
from forgeml.schemas import Page
from forgeml.schemas.computes import ComputeNode, ComputeStatus
from forgeml.services.authz import authorize
from forgeml.services.context import Context
from forgeml.store.repositories import ComputeRecord, ComputeRepository, JobRepository
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
    if isinstance(entity, RayCompute):
        _check_reachable(entity)
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


def _check_reachable(entity: RayCompute) -> None:
    from forgeml.compute.ray import RayUnreachable, dashboard_url

    try:
        dashboard_url(entity.address, timeout_s=60.0)
    except RayUnreachable as exc:
        raise SpecError(f"compute '{entity.name}': {exc.message}", field="address") from None


def status(ctx: Context, name: str) -> ComputeStatus:
    """The compute's nodes with their total and free resources, and how many jobs it holds."""
    entity = get(ctx, name)
    with ctx.db.read() as session:
        repo = JobRepository(session)
        active, queued = repo.count_active(name), repo.count_queued(name)
    slots = int(getattr(entity, "max_concurrent_jobs", 1))
    out = ComputeStatus(
        name=name,
        type=str(getattr(entity, "type", "local")),
        max_concurrent_jobs=slots,
        active_jobs=active,
        queued_jobs=queued,
    )
    if isinstance(entity, RayCompute):
        _ray_status(entity, out)
    else:
        cpus = float(os.cpu_count() or 1)
        out.address = socket.gethostname()
        out.nodes = [
            ComputeNode(
                node_id=out.address,
                address="127.0.0.1",
                head=True,
                total={"CPU": cpus, "jobs": float(slots)},
                available={"CPU": cpus, "jobs": float(max(0, slots - active))},
            )
        ]
        out.total, out.available = dict(out.nodes[0].total), dict(out.nodes[0].available)
    return out


def _ray_status(entity: RayCompute, out: ComputeStatus) -> None:
    from forgeml.compute.ray import RayCluster

    out.address = entity.address
    cluster = RayCluster(entity.address, resolve_timeout_s=15.0)
    try:
        out.dashboard_url = cluster.url
        nodes = cluster.nodes(max_age_s=0)
    except UserError as exc:
        out.state = "unreachable"
        out.message = exc.message
        return
    finally:
        cluster.close()
    for node in nodes:
        out.nodes.append(
            ComputeNode(
                node_id=node.node_id,
                address=node.ip,
                alive=node.alive,
                head=node.head,
                total=node.total,
                available=node.available,
            )
        )
        if node.alive:
            for key, value in node.total.items():
                out.total[key] = out.total.get(key, 0.0) + value
            for key, value in node.available.items():
                out.available[key] = out.available.get(key, 0.0) + value
