"""Building the FastAPI application over one workspace."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from forgeml import __version__
from forgeml.artifacts import open_artifact_store
from forgeml.core.errors import ForgemlError, SpecError
from forgeml.schemas import ErrorBody
from forgeml.server import studio
from forgeml.server.routers import (
    assets,
    computes,
    content,
    endpoints,
    health,
    jobs,
    metrics,
    mlflow,
)
from forgeml.services import Workspace
from forgeml.serving.collector import DataCollector
from forgeml.serving.router import ServingMiddleware, ServingRouter
from forgeml.settings import Settings
from forgeml.store import Database
from forgeml.store.secrets import SecretBox

if TYPE_CHECKING:
    from forgeml.scheduler import SchedulerConfig

log = logging.getLogger("forgeml.server")


def open_workspace(settings: Settings, *, migrate: bool = True) -> Workspace:
    """Connect the stores named by the settings, applying migrations first."""
    from forgeml.scheduler import public_url

    settings.home.expanduser().mkdir(parents=True, exist_ok=True)
    db = Database(settings.store_url)
    if migrate:
        db.migrate()
    artifacts = open_artifact_store(settings.artifacts_url)
    artifacts.check()
    secrets = SecretBox.for_home(settings.home.expanduser(), settings.secret_key)
    return Workspace(db=db, artifacts=artifacts, secrets=secrets, public_url=public_url(settings))


def _error(
    status: int, code: str, message: str, details: dict[str, Any] | None = None
) -> JSONResponse:
    body = ErrorBody(code=code, message=message, details=details or {})
    return JSONResponse(status_code=status, content=body.model_dump())


def _validation_message(exc: RequestValidationError) -> tuple[str, str | None]:
    err = exc.errors()[0]
    loc = [str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path")]
    field = ".".join(loc) or None
    return f"{err.get('msg', 'invalid request')}.", field


def create_app(
    workspace: Workspace,
    *,
    scheduler: SchedulerConfig | None = None,
    collector_flush_s: float = 30.0,
) -> FastAPI:
    """The API over `workspace`; with `scheduler`, its lifespan also runs the job scheduler."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        from forgeml.scheduler import Scheduler
        from forgeml.serving.controller import ControllerConfig, ServingController

        running = Scheduler(workspace, scheduler) if scheduler is not None else None
        app.state.scheduler = running
        controller = (
            ServingController(workspace, ControllerConfig(scheduler.public_url, scheduler.home))
            if scheduler is not None
            else None
        )
        if running is not None:
            running.start()
        if controller is not None:
            controller.start()
        try:
            yield
        finally:
            if controller is not None:
                controller.stop()
            if running is not None:
                running.stop()
            serving_router.close()

    app = FastAPI(
        lifespan=lifespan,
        title="forgeml",
        version=__version__,
        description="The forgeml workspace API: versioned assets and compute targets.",
        openapi_url="/openapi.json",
        docs_url="/docs",
        redoc_url=None,
    )
    app.state.workspace = workspace
    serving_router = ServingRouter(workspace)
    serving_router.collector = DataCollector(workspace, collector_flush_s)
    app.state.serving = serving_router
    # scoring requests never enter FastAPI's routing: a plain ASGI layer answers them
    app.add_middleware(ServingMiddleware, router=serving_router)

    @app.exception_handler(ForgemlError)
    def _forgeml_error(_request: Request, exc: ForgemlError) -> JSONResponse:
        if exc.status_code >= 500:
            log.error("%s", exc.message)
        return _error(exc.status_code, exc.code, exc.message, exc.details)

    @app.exception_handler(RequestValidationError)
    def _request_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
        message, field = _validation_message(exc)
        err = SpecError(message, field=field)
        return _error(err.status_code, err.code, err.message, err.details)

    for module in (health, content, assets, computes, jobs, metrics, endpoints, mlflow):
        app.include_router(module.router)
    app.include_router(endpoints.batch)
    app.include_router(endpoints.workers)

    studio.mount(app)

    return app
