"""Data, models, environments and components: one set of routes per kind, typed per kind."""

from __future__ import annotations

from enum import Enum
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, Response

from forgeml.core.specs import CommandComponent, Data, Environment, Model, VersionedAsset
from forgeml.schemas import AssetContainer, Page
from forgeml.server.deps import context
from forgeml.services import Context
from forgeml.services import assets as service

router = APIRouter(prefix="/api/v1", tags=["assets"])
Ctx = Annotated[Context, Depends(context)]

KIND_MODELS: dict[str, type[VersionedAsset]] = {
    "data": Data,
    "models": Model,
    "environments": Environment,
    "components": CommandComponent,
}


def _add_routes(kind: str, model: type[VersionedAsset]) -> None:
    tag: list[str | Enum] = [kind]

    def create(
        response: Response, ctx: Ctx, body: Annotated[dict[str, Any], Body()]
    ) -> VersionedAsset:
        entity, created = service.create(ctx, kind, body)
        response.status_code = 201 if created else 200
        return entity

    def create_version(
        name: str,
        version: str,
        response: Response,
        ctx: Ctx,
        body: Annotated[dict[str, Any], Body()],
    ) -> VersionedAsset:
        entity, created = service.create(
            ctx, kind, {**body, "name": body.get("name", name)}, version=version
        )
        response.status_code = 201 if created else 200
        return entity

    def list_containers(
        ctx: Ctx,
        name_contains: str | None = None,
        include_archived: bool = False,
        page_token: str | None = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> Page[AssetContainer]:
        return service.list_containers(
            ctx,
            kind,
            name_contains=name_contains,
            include_archived=include_archived,
            page_token=page_token,
            limit=limit,
        )

    def list_versions(
        name: str,
        ctx: Ctx,
        include_archived: bool = False,
        page_token: str | None = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> Page[Any]:
        return service.list_versions(
            ctx, kind, name, include_archived=include_archived, page_token=page_token, limit=limit
        )

    def get_version(name: str, version: str, ctx: Ctx) -> VersionedAsset:
        return service.get(ctx, kind, name, version=version)

    def get_label(name: str, label: str, ctx: Ctx) -> VersionedAsset:
        return service.get(ctx, kind, name, label=label)

    def resolve(ctx: Ctx, ref: str) -> VersionedAsset:
        return service.resolve(ctx, kind, ref)

    def archive(name: str, ctx: Ctx, version: str | None = None) -> Response:
        service.set_archived(ctx, kind, name, version, True)
        return Response(status_code=204)

    def restore(name: str, ctx: Ctx, version: str | None = None) -> Response:
        service.set_archived(ctx, kind, name, version, False)
        return Response(status_code=204)

    # the service validates the body (with file/field/line messages); OpenAPI still shows its type
    typed_body = {
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {"$ref": f"#/components/schemas/{model.__name__}"}}
            },
        }
    }
    router.add_api_route(
        f"/{kind}",
        create,
        methods=["POST"],
        response_model=model,
        openapi_extra=typed_body,
        status_code=201,
        tags=tag,
        name=f"create_{kind}",
        summary=f"Create a {service.SINGULAR[kind]} version (next number if none given)",
    )
    router.add_api_route(
        f"/{kind}",
        list_containers,
        methods=["GET"],
        response_model=Page[AssetContainer],
        tags=tag,
        name=f"list_{kind}",
    )
    router.add_api_route(
        f"/{kind}/resolve",
        resolve,
        methods=["GET"],
        response_model=model,
        tags=tag,
        name=f"resolve_{kind}",
    )
    router.add_api_route(
        f"/{kind}/{{name}}/versions",
        list_versions,
        methods=["GET"],
        response_model=Page[model],  # type: ignore[valid-type]
        tags=tag,
        name=f"list_{kind}_versions",
    )
    router.add_api_route(
        f"/{kind}/{{name}}/versions/{{version}}",
        create_version,
        methods=["PUT"],
        openapi_extra=typed_body,
        response_model=model,
        status_code=201,
        tags=tag,
        name=f"put_{kind}_version",
    )
    router.add_api_route(
        f"/{kind}/{{name}}/versions/{{version}}",
        get_version,
        methods=["GET"],
        response_model=model,
        tags=tag,
        name=f"get_{kind}_version",
    )
    router.add_api_route(
        f"/{kind}/{{name}}/labels/{{label}}",
        get_label,
        methods=["GET"],
        response_model=model,
        tags=tag,
        name=f"get_{kind}_label",
    )
    router.add_api_route(
        f"/{kind}/{{name}}/archive",
        archive,
        methods=["POST"],
        status_code=204,
        tags=tag,
        name=f"archive_{kind}",
    )
    router.add_api_route(
        f"/{kind}/{{name}}/restore",
        restore,
        methods=["POST"],
        status_code=204,
        tags=tag,
        name=f"restore_{kind}",
    )


for _kind, _model in KIND_MODELS.items():
    _add_routes(_kind, _model)
