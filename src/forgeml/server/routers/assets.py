"""Data, models, environments and components: one set of routes per kind, typed per kind."""

from __future__ import annotations

from enum import Enum
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Query, Response

from forgeml.core.specs import CommandComponent, Data, Environment, Model, VersionedAsset
from forgeml.schemas import AssetContainer, Page
from forgeml.schemas.asset_views import AssetLineage
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
        order_by: Annotated[
            Literal["name", "created_at", "last_modified_at"],
            Query(description="Sort key; names sort A to Z and times newest first by default."),
        ] = "name",
        order: Literal["asc", "desc"] | None = None,
    ) -> Page[AssetContainer]:
        return service.list_containers(
            ctx,
            kind,
            name_contains=name_contains,
            include_archived=include_archived,
            page_token=page_token,
            limit=limit,
            order_by=order_by,
            order=order,
        )

    def list_versions(
        name: str,
        ctx: Ctx,
        include_archived: bool = False,
        page_token: str | None = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        order: Annotated[
            Literal["asc", "desc"], Query(description="By creation time; newest first by default.")
        ] = "desc",
    ) -> Page[Any]:
        return service.list_versions(
            ctx,
            kind,
            name,
            include_archived=include_archived,
            page_token=page_token,
            limit=limit,
            order=order,
        )

    def get_container(name: str, ctx: Ctx) -> AssetContainer:
        return service.get_container(ctx, kind, name)

    def get_version(name: str, version: str, ctx: Ctx) -> VersionedAsset:
        return service.get(ctx, kind, name, version=version)

    def lineage(name: str, version: str, ctx: Ctx) -> AssetLineage:
        return service.lineage(ctx, kind, name, version)

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
    page: Any = Page[model]  # type: ignore[valid-type]
    routes: list[tuple[str, Any, str, Any, dict[str, Any]]] = [
        # (path, endpoint, method, response model, extra)
        ("", create, "POST", model, {"openapi_extra": typed_body, "status_code": 201}),
        ("", list_containers, "GET", Page[AssetContainer], {}),
        ("/resolve", resolve, "GET", model, {}),
        ("/{name}", get_container, "GET", AssetContainer, {}),
        ("/{name}/versions", list_versions, "GET", page, {}),
        (
            "/{name}/versions/{version}",
            create_version,
            "PUT",
            model,
            {"openapi_extra": typed_body, "status_code": 201},
        ),
        ("/{name}/versions/{version}", get_version, "GET", model, {}),
        ("/{name}/versions/{version}/lineage", lineage, "GET", AssetLineage, {}),
        ("/{name}/labels/{label}", get_label, "GET", model, {}),
        ("/{name}/archive", archive, "POST", None, {"status_code": 204}),
        ("/{name}/restore", restore, "POST", None, {"status_code": 204}),
    ]
    for path, endpoint, method, response, extra in routes:
        router.add_api_route(
            f"/{kind}{path}",
            endpoint,
            methods=[method],
            response_model=response,
            tags=tag,
            name=f"{endpoint.__name__}_{kind}",
            **extra,
        )


for _kind, _model in KIND_MODELS.items():
    _add_routes(_kind, _model)
