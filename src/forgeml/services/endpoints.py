"""Online and batch endpoints: create, update, traffic, keys, delete.

An endpoint is a name, a scoring URL and (online) the split of traffic between its deployments.
Keys are made here, stored encrypted with the workspace's key and shown only by `keys()`. A
deleted endpoint is marked `Deleting`; the serving controller stops its instances and then
removes it.
"""

from __future__ import annotations

import secrets
from typing import Any

from forgeml.core.errors import ConflictError, NotFoundError, SpecError
from forgeml.core.specs import CreationContext, validate_spec
from forgeml.core.specs.endpoints import BatchEndpoint, OnlineEndpoint, check_traffic
from forgeml.schemas.serving import EndpointKeys, RegenerateKeys, TrafficUpdate
from forgeml.services.authz import authorize
from forgeml.services.context import Context
from forgeml.store.repositories import EndpointRecord, EndpointRepository

ONLINE, BATCH = "online", "batch"
SERVING_TOPIC = "serving"
_NOUN = {ONLINE: "online endpoint", BATCH: "batch endpoint"}
_LIST_CMD = {ONLINE: "forgeml online-endpoint list", BATCH: "forgeml batch-endpoint list"}


def new_key() -> str:
    return secrets.token_urlsafe(32)


def scoring_uri(ctx: Context, name: str, kind: str) -> str:
    base = ctx.workspace.public_url.rstrip("/")
    if kind == ONLINE:
        return f"{base}/endpoints/{name}/score"
    return f"{base}/api/v1/batch-endpoints/{name}/jobs"


def to_view(ctx: Context, record: EndpointRecord) -> OnlineEndpoint | BatchEndpoint:
    entity: OnlineEndpoint | BatchEndpoint
    data = {**record.spec, "name": record.name}
    if record.kind == ONLINE:
        data.update(traffic=record.traffic, mirror_traffic=record.mirror_traffic)
        entity = OnlineEndpoint.model_validate(data)
        entity.openapi_uri = (
            f"{ctx.workspace.public_url.rstrip('/')}/endpoints/{record.name}/swagger.json"
        )
    else:
        entity = BatchEndpoint.model_validate(data)
    entity.scoring_uri = scoring_uri(ctx, record.name, record.kind)
    entity.provisioning_state = record.state
    entity.creation_context = CreationContext(
        created_at=record.created_at,
        created_by=record.created_by,
        last_modified_at=record.updated_at,
    )
    return entity


def record(ctx: Context, name: str, kind: str) -> EndpointRecord:
    with ctx.db.read() as session:
        found = EndpointRepository(session).get(name)
    if found is None or found.kind != kind:
        raise NotFoundError(
            f"no {_NOUN[kind]} named '{name}' exists; `{_LIST_CMD[kind]}` shows them."
        )
    return found


def create_or_update(
    ctx: Context, kind: str, body: dict[str, Any]
) -> OnlineEndpoint | BatchEndpoint:
    authorize(ctx, "endpoints.write", str(body.get("name") or "*"))
    model = OnlineEndpoint if kind == ONLINE else BatchEndpoint
    entity = validate_spec(model, body)
    if not entity.name:
        raise SpecError(f"an {_NOUN[kind]} needs a 'name'.", field="name")
    if isinstance(entity, OnlineEndpoint) and entity.auth_mode != "key":
        raise SpecError(
            f"auth_mode '{entity.auth_mode}' is not supported by forgeml; use 'key' (the "
            "workspace makes two keys, shown by `get-credentials`).",
            field="auth_mode",
        )
    spec = entity.to_wire()
    for key in ("name", "traffic", "mirror_traffic"):
        spec.pop(key, None)
    with ctx.db.write() as session:
        repo = EndpointRepository(session)
        current = repo.get(entity.name, lock=True)
        if current is None:
            keys = {
                "primary": ctx.workspace.secrets.encrypt(new_key()),
                "secondary": ctx.workspace.secrets.encrypt(new_key()),
            }
            saved = repo.create(entity.name, kind, spec, keys, ctx.principal.name)
        else:
            if current.kind != kind:
                raise ConflictError(
                    f"'{entity.name}' is already a {_NOUN[current.kind]}; endpoint names are "
                    "shared by online and batch endpoints, so pick another name."
                )
            if current.state == "Deleting":
                raise ConflictError(f"{_NOUN[kind]} '{entity.name}' is being deleted.")
            saved = repo.update(entity.name, spec=spec)
        if isinstance(entity, OnlineEndpoint) and ("traffic" in body or "mirror_traffic" in body):
            saved = _set_traffic(
                repo,
                saved,
                body.get("traffic") if "traffic" in body else None,
                body.get("mirror_traffic") if "mirror_traffic" in body else None,
            )
    ctx.workspace.notify(SERVING_TOPIC)
    return to_view(ctx, saved)


def _set_traffic(
    repo: EndpointRepository,
    current: EndpointRecord,
    traffic: dict[str, int] | None,
    mirror: dict[str, int] | None,
) -> EndpointRecord:
    live = dict(current.traffic) if traffic is None else {k: int(v) for k, v in traffic.items()}
    shadow = (
        dict(current.mirror_traffic) if mirror is None else {k: int(v) for k, v in mirror.items()}
    )
    live = {k: v for k, v in live.items() if v}
    shadow = {k: v for k, v in shadow.items() if v}
    try:
        check_traffic(live, shadow)
    except ValueError as exc:
        raise SpecError(str(exc), field="traffic") from None
    deployments = {d.name: d for d in repo.deployments(current.name)}
    for name in [*live, *shadow]:
        found = deployments.get(name)
        if found is None:
            raise SpecError(
                f"endpoint '{current.name}' has no deployment named '{name}'; "
                f"its deployments: {', '.join(sorted(deployments)) or 'none yet'}.",
                field="traffic",
            )
        if found.state == "Deleting":
            raise ConflictError(f"deployment '{name}' is being deleted; it cannot take traffic.")
    return repo.update(current.name, traffic=live, mirror_traffic=shadow)


def update_traffic(ctx: Context, name: str, body: TrafficUpdate) -> OnlineEndpoint | BatchEndpoint:
    authorize(ctx, "endpoints.write", name)
    with ctx.db.write() as session:
        repo = EndpointRepository(session)
        current = repo.get(name, lock=True)
        if current is None or current.kind != ONLINE:
            raise NotFoundError(f"no online endpoint named '{name}' exists.")
        saved = _set_traffic(repo, current, body.traffic, body.mirror_traffic)
    ctx.workspace.notify(SERVING_TOPIC)
    return to_view(ctx, saved)


def get(ctx: Context, kind: str, name: str) -> OnlineEndpoint | BatchEndpoint:
    authorize(ctx, "endpoints.read", name)
    return to_view(ctx, record(ctx, name, kind))


ORDER_BY = ("created_at", "name")


def list_page(
    ctx: Context,
    kind: str,
    *,
    name: str | None = None,
    order_by: str = "name",
    descending: bool = False,
    limit: int | None = None,
    page_token: str | None = None,
) -> tuple[list[OnlineEndpoint | BatchEndpoint], str | None]:
    """One page (all of them without a `limit`) of the endpoints whose name contains `name`,
    and the next page's token.

    A workspace holds tens of endpoints, not thousands: they are filtered and ordered here
    after one read, and the token is the next page's offset."""
    if order_by not in ORDER_BY:
        raise SpecError(
            f"cannot order endpoints by '{order_by}'; use one of {', '.join(ORDER_BY)}.",
            field="order_by",
        )
    try:
        offset = int(page_token) if page_token else 0
        if offset < 0:
            raise ValueError(page_token)
    except ValueError:
        raise SpecError(
            f"'{page_token}' is not a page token of this listing; pass the next_token of the "
            "previous page.",
            field="page_token",
        ) from None
    authorize(ctx, "endpoints.read")
    with ctx.db.read() as session:
        records = EndpointRepository(session).endpoints(kind)
    if name:
        needle = name.lower()
        records = [r for r in records if needle in r.name.lower()]
    if order_by == "name":
        records.sort(key=lambda r: r.name, reverse=descending)
    else:
        records.sort(key=lambda r: (r.created_at, r.name), reverse=descending)
    end = len(records) if limit is None else offset + limit
    more = end < len(records)
    return [to_view(ctx, r) for r in records[offset:end]], str(end) if more else None


def keys(ctx: Context, name: str) -> EndpointKeys:
    """The plain keys: the one place they leave the workspace."""
    authorize(ctx, "endpoints.keys", name)
    found = record(ctx, name, ONLINE)
    box = ctx.workspace.secrets
    return EndpointKeys(
        primary_key=box.decrypt(found.keys["primary"]),
        secondary_key=box.decrypt(found.keys["secondary"]),
    )


def invocation_key(ctx: Context, name: str) -> str:
    """A key to score with on the caller's behalf (the studio's test console): the key stays
    inside the workspace; the caller needs the right to invoke, not to read keys."""
    authorize(ctx, "endpoints.invoke", name)
    found = record(ctx, name, ONLINE)
    return ctx.workspace.secrets.decrypt(found.keys["primary"])


def regenerate_keys(ctx: Context, name: str, body: RegenerateKeys) -> None:
    authorize(ctx, "endpoints.keys", name)
    with ctx.db.write() as session:
        repo = EndpointRepository(session)
        current = repo.get(name, lock=True)
        if current is None or current.kind != ONLINE:
            raise NotFoundError(f"no online endpoint named '{name}' exists.")
        stored = dict(current.keys)
        stored[body.key_type] = ctx.workspace.secrets.encrypt(body.key_value or new_key())
        repo.update(name, keys=stored)
    ctx.workspace.notify(SERVING_TOPIC)


def delete(ctx: Context, kind: str, name: str) -> None:
    """Mark the endpoint and its deployments for deletion; the controller finishes it."""
    authorize(ctx, "endpoints.write", name)
    with ctx.db.write() as session:
        repo = EndpointRepository(session)
        current = repo.get(name, lock=True)
        if current is None or current.kind != kind:
            raise NotFoundError(f"no {_NOUN[kind]} named '{name}' exists.")
        if kind == BATCH:
            repo.delete(name)
        else:
            repo.update(name, state="Deleting", traffic={}, mirror_traffic={})
            for dep in repo.deployments(name):
                repo.update_deployment(name, dep.name, state="Deleting")
    ctx.workspace.notify(SERVING_TOPIC)
