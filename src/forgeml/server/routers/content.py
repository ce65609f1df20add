"""Uploading and reading content-addressed files, and previewing the start of one."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import PurePosixPath
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from forgeml.core.content import Manifest
from forgeml.schemas import ContentRef, ManifestBody, MissingBlobs, WantedBlobs
from forgeml.schemas.asset_views import ContentPreview
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

    # a browser following the link saves the file under its own name
    filename = quote(PurePosixPath(path).name)
    return StreamingResponse(
        chunks(),
        media_type="application/octet-stream",
        headers={
            "content-length": str(size),
            "content-disposition": f"attachment; filename*=UTF-8''{filename}",
        },
    )


@router.get("/{digest}/preview/{path:path}", response_model=ContentPreview)
def preview_file(
    digest: str,
    path: str,
    ctx: Ctx,
    rows: Annotated[int, Query(ge=1, le=1000, description="Table rows to show (CSV/TSV).")] = 50,
    max_bytes: Annotated[
        int, Query(ge=1, le=service.PREVIEW_MAX_BYTES, description="Bytes of the file to read.")
    ] = 64 << 10,
) -> ContentPreview:
    return service.preview(ctx, digest, path, rows=rows, max_bytes=max_bytes)
