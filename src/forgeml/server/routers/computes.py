"""Compute targets."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Response

from forgeml.core.specs import Resource
from forgeml.core.specs.compute import AnyCompute
from forgeml.schemas import Page
from forgeml.schemas.computes import ComputeStatus
from forgeml.server.deps import context
from forgeml.services import Context
from forgeml.services import computes as service

router = APIRouter(prefix="/api/v1/computes", tags=["computes"])
Ctx = Annotated[Context, Depends(context)]
_typed = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "oneOf": [
                        {"$ref": "#/components/schemas/LocalCompute"},
                        {"$ref": "#/components/schemas/RayCompute"},
                    ]
                }
            }
        },
    }
}


@router.post("", response_model=AnyCompute, openapi_extra=_typed)
def create_or_update(ctx: Ctx, body: Annotated[dict[str, Any], Body()]) -> Resource:
    return service.create_or_update(ctx, body)


@router.get("", response_model=Page[AnyCompute])
def list_computes(ctx: Ctx) -> Page[Resource]:
    return service.list_all(ctx)


@router.get("/{name}", response_model=AnyCompute)
def get(name: str, ctx: Ctx) -> Resource:
    return service.get(ctx, name)


@router.get("/{name}/status", response_model=ComputeStatus)
def status(name: str, ctx: Ctx) -> ComputeStatus:
    """The compute's nodes with their total and free resources, and its jobs."""
    return service.status(ctx, name)


@router.delete("/{name}", status_code=204)
def delete(name: str, ctx: Ctx) -> Response:
    service.delete(ctx, name)
    return Response(status_code=204)
