"""Uploading and reading content-addressed files."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from forgeml.core.content import Manifest
from forgeml.schemas import ContentRef, ManifestBody, MissingBlobs, WantedBlobs
from forgeml.server.deps import context
from forgeml.services import Context
from forgeml.services import content as service

router = APIRouter(prefix="/api/v1/content", tags=["content"])
Ctx = Annotated[Context, Depends(context)]


@router.post("/missing", response_model=MissingBlobs)
def missing(body: WantedBlobs, ctx: Ctx) -> MissingBlobs:
    return service.missing(ctx, body)


@router.put(
    "/blobs/{digest}",
    status_code=201,
    openapi_extra={
        "requestBody": {
            "content": {
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
            }
        }
    },
)
async def put_blob(digest: str, request: Request, ctx: Ctx) -> dict[str, int]:
    # spool the body first: the store hashes it and keeps it only if it matches `digest`
    with tempfile.SpooledTemporaryFile(max_size=8 << 20) as spool:
        async for chunk in request.stream():
            spool.write(chunk)
        spool.seek(0)
        size = await run_in_threadpool(service.put_blob, ctx, digest, spool)  # type: ignore[arg-type]
    return {"size": size}


@router.post("/manifests", response_model=ContentRef, status_code=201)
def put_manifest(body: ManifestBody, ctx: Ctx) -> ContentRef:
    return service.put_manifest(ctx, body)


@router.get("/{digest}", response_model=ManifestBody)
def get_manifest(digest: str, ctx: Ctx) -> ManifestBody:
    manifest: Manifest = service.get_manifest(ctx, digest)
    return ManifestBody.model_validate(manifest.to_json())


@router.get("/{digest}/files/{path:path}")
def get_file(digest: str, path: str, ctx: Ctx) -> StreamingResponse:
    stream, size = service.open_file(ctx, digest, path)

    def chunks() -> Iterator[bytes]:
        with stream:
            while data := stream.read(1 << 20):
                yield data

    return StreamingResponse(
        chunks(), media_type="application/octet-stream", headers={"content-length": str(size)}
    )
