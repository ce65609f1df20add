"""The MLflow tracking, logged-model, model-registry and proxied-artifact REST protocol.

Unmodified code using the `mlflow` client works with `MLFLOW_TRACKING_URI` set to the workspace
URL: these routes live beside forgeml's own API on the same server. `router` holds them all,
with the small utility routes the client touches (`/version`, `/health`, server-info) and a
catch-all that answers unknown MLflow routes with MLflow's `ENDPOINT_NOT_FOUND`, which the
client relies on to fall back to older endpoints. The web UI's `/ajax-api/...` copies of every
route are served by rewriting the path to `/api/...`: one route instead of a second copy of
each, since every route added is one more match for every request.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, Response
from starlette.types import Receive, Scope, Send

from forgeml.server.routers.mlflow import artifacts as artifacts
from forgeml.server.routers.mlflow import experiments as experiments
from forgeml.server.routers.mlflow import logged_models as logged_models
from forgeml.server.routers.mlflow import registry as registry
from forgeml.server.routers.mlflow import runs as runs
from forgeml.server.routers.mlflow._base import MlflowApi, Params, error_response
from forgeml.services import Context

#: What `/version` reports: below 3.4, so clients skip the OTLP trace exporter we do not serve.
MLFLOW_VERSION = "3.3.0+forgeml"

_info = MlflowApi("server")


@_info.route("GET", "/server-info", "experiments.read", prefixes=("/api/3.0/mlflow",))
def server_info(_ctx: Context, _p: Params) -> dict[str, Any]:
    """What this tracking server supports (no multipart transfers: single streamed PUTs)."""
    return {
        "store_type": "SqlStore",
        "workspaces_enabled": False,
        "trace_archival_enabled": False,
        "multipart_uploads_enabled": False,
        "multipart_downloads_enabled": False,
        "presigned_upload_run_id_supported": False,
        "presigned_upload_model_id_supported": False,
        "features_enabled": {},
    }


_utility = APIRouter()


@_utility.get("/version", include_in_schema=False, response_class=PlainTextResponse)
def version() -> str:
    return MLFLOW_VERSION


@_utility.get("/health", include_in_schema=False, response_class=PlainTextResponse)
def health() -> str:
    return "OK"


_fallback = APIRouter()
_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]


async def _not_found(request: Request) -> Response:
    return error_response(
        404,
        "ENDPOINT_NOT_FOUND",
        f"{request.method} {request.url.path} is not an MLflow endpoint this server implements.",
    )


for _prefix in ("/api/2.0/mlflow", "/api/3.0/mlflow", "/api/2.0/mlflow-artifacts"):
    _fallback.add_api_route(
        f"{_prefix}/{{rest:path}}", _not_found, methods=_METHODS, include_in_schema=False
    )


async def _ajax(scope: Scope, receive: Receive, send: Send) -> None:
    """`/ajax-api/X` is `/api/X`: hand the request back to the app under its API path."""
    path = "/api" + scope["path"][len("/ajax-api") :]
    inner = {**scope, "path": path, "raw_path": path.encode(), "root_path": ""}
    await scope["app"](inner, receive, send)


router = APIRouter()
# the logging calls first: routes are matched in order, and these come in by the thousand
for _module in (runs, artifacts, experiments, logged_models, registry):
    router.include_router(_module.api.router)
router.include_router(_info.router)
router.include_router(_utility)
router.mount("/ajax-api", _ajax)
# last: only what no route above matched
router.include_router(_fallback)

__all__ = ["MLFLOW_VERSION", "router"]
