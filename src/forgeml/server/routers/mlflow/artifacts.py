"""MLflow's proxied artifact service: /api/2.0/mlflow-artifacts/artifacts (PUT/GET/list/DELETE).

Bodies stream both ways: an upload is spooled to disk (in memory up to 8 MiB) as it arrives and
a download is sent in 1 MiB chunks, so file size is bounded by disk, not memory. Multipart
upload answers 501 NOT_IMPLEMENTED with the message the client recognises, which makes it fall
back to one streamed PUT.
"""

from __future__ import annotations

import mimetypes
import posixpath
import tempfile
from collections.abc import Iterator
from typing import Any

from fastapi import Request
from fastapi.responses import Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from forgeml.artifacts.base import FileInfo
from forgeml.core.errors import ForgemlError
from forgeml.server.deps import context
from forgeml.server.routers.mlflow._base import (
    MlflowApi,
    Params,
    error_response,
    render_error,
)
from forgeml.services import Context, tracking
from forgeml.services import mlflow_artifacts as service
from forgeml.services.authz import authorize

api = MlflowApi("artifacts")
PREFIX = "/api/2.0/mlflow-artifacts"
SPOOL_IN_MEMORY = 8 << 20
CHUNK = 1 << 20


def _files(entries: list[FileInfo]) -> list[dict[str, Any]]:
    return [
        {"path": e.path, "is_dir": e.is_dir, **({} if e.is_dir else {"file_size": e.size})}
        for e in entries
    ]


async def upload(request: Request) -> Response:
    """Upload (or overwrite) one artifact file; the body is the file's bytes."""
    try:
        ctx = context(request)
        path = request.path_params["artifact_path"]
        authorize(ctx, "artifacts.write", path)
        with tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY) as spool:
            async for chunk in request.stream():
                spool.write(chunk)
            spool.seek(0)
            await run_in_threadpool(service.put, ctx, path, spool)  # type: ignore[arg-type]
    except ForgemlError as exc:
        return render_error(exc)
    return Response(status_code=200)


async def download(request: Request) -> Response:
    """Download one artifact file."""
    try:
        ctx = context(request)
        path = request.path_params["artifact_path"]
        authorize(ctx, "artifacts.read", path)
        stream, size = await run_in_threadpool(service.open_file, ctx, path)
    except ForgemlError as exc:
        return render_error(exc)

    def chunks() -> Iterator[bytes]:
        with stream:
            while data := stream.read(CHUNK):
                yield data

    name = posixpath.basename(path.rstrip("/"))
    return StreamingResponse(
        chunks(),
        media_type=mimetypes.guess_type(name)[0] or "application/octet-stream",
        headers={
            "content-length": str(size),
            "content-disposition": f'attachment; filename="{name}"',
        },
    )


async def remove(request: Request) -> Response:
    """Delete an artifact file or folder."""
    try:
        ctx = context(request)
        path = request.path_params["artifact_path"]
        authorize(ctx, "artifacts.write", path)
        await run_in_threadpool(service.delete, ctx, path)
    except ForgemlError as exc:
        return render_error(exc)
    return Response("{}", media_type="application/json")


@api.route("GET", "/artifacts", "artifacts.read", prefixes=(PREFIX,))
def list_artifacts(ctx: Context, p: Params) -> dict[str, Any]:
    """List a folder's direct children (basenames); a file or a missing path gives {}."""
    entries = service.list_dir(ctx, p.text("path"))
    return {"files": _files(entries)} if entries else {}


async def multipart(request: Request) -> Response:
    try:
        authorize(context(request), "artifacts.write", request.path_params["artifact_path"])
    except ForgemlError as exc:
        return render_error(exc)
    return error_response(
        501,
        "NOT_IMPLEMENTED",
        "Multipart upload is not supported for the current artifact repository",
    )


@api.route("GET", "/artifacts/list", "artifacts.read")
def list_run_artifacts(ctx: Context, p: Params) -> dict[str, Any]:
    """List a run's artifacts (older clients and the UI); paths are relative to the run root."""
    run = tracking.get_run(ctx, p.run_id())
    root = service.path_of_uri(run.info.artifact_uri)
    sub = service.clean(p.text("path"))
    entries = [] if root is None else service.list_dir(ctx, f"{root}/{sub}" if sub else root)
    prefix = f"{sub}/" if sub else ""
    files = [FileInfo(prefix + e.path, e.is_dir, e.size) for e in entries]
    return {"root_uri": run.info.artifact_uri, "files": _files(files)}


_file_route = f"{PREFIX}/artifacts/{{artifact_path:path}}"
_binary = {
    "requestBody": {
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}
    }
}
api.router.add_api_route(
    _file_route, upload, methods=["PUT"], name="mlflow_artifacts_upload", openapi_extra=_binary
)
api.router.add_api_route(_file_route, download, methods=["GET"], name="mlflow_artifacts_download")
api.router.add_api_route(_file_route, remove, methods=["DELETE"], name="mlflow_artifacts_delete")
for _step in ("create", "complete", "abort"):
    api.router.add_api_route(
        f"{PREFIX}/mpu/{_step}/{{artifact_path:path}}",
        multipart,
        methods=["POST"],
        name=f"mlflow_artifacts_mpu_{_step}",
    )
