"""`forgeml up`: the whole workspace in one process."""

from __future__ import annotations

import ipaddress
import logging
from pathlib import Path
from typing import Annotated

import typer


def up(
    host: Annotated[
        str,
        typer.Option(
            envvar="FORGEML_HOST", help="Address to bind; loopback unless you mean to share it."
        ),
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(envvar="FORGEML_PORT", help="Port to serve on.")] = 8080,
    home: Annotated[
        Path | None, typer.Option(help="Workspace folder (FORGEML_HOME, default ~/.forgeml).")
    ] = None,
    store: Annotated[
        str | None, typer.Option(help="Metadata store URL (sqlite:///... or postgresql://...).")
    ] = None,
    artifacts: Annotated[
        str | None, typer.Option(help="Artifact store URL (a folder, file://, s3://...).")
    ] = None,
) -> None:
    """Start the workspace: API, docs and studio at http://HOST:PORT."""
    import uvicorn

    from forgeml.server import create_app, open_workspace
    from forgeml.settings import Settings

    overrides: dict[str, object] = {"host": host, "port": port}
    if home is not None:
        overrides["home"] = home
    if store is not None:
        overrides["store"] = store
    if artifacts is not None:
        overrides["artifacts"] = artifacts
    settings = Settings(**overrides)  # type: ignore[arg-type]
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    if not loopback:
        typer.secho(
            f"warning: binding {host} exposes the workspace beyond this machine, "
            "and it has no login yet.",
            fg="yellow",
            err=True,
        )
    workspace = open_workspace(settings)
    typer.echo(
        f"forgeml workspace at http://{host}:{port}  (store: {workspace.db.safe_url}, "
        f"artifacts: {workspace.artifacts.url})"
    )
    from forgeml.scheduler import scheduler_config

    # the API and the job scheduler in one process
    app = create_app(
        workspace,
        scheduler=scheduler_config(settings),
        collector_flush_s=settings.collector_flush_s,
    )
    # what start-up built lives as long as the server: keep it out of the cyclic collector's
    # full passes, which otherwise stall a request for ~100 ms every few thousand calls
    import gc

    gc.freeze()
    # scoring requests are logged per deployment (`online-deployment get-logs`); a console line
    # each would cost the router more than its own work
    logging.getLogger("uvicorn.access").addFilter(_NotScoring())
    from forgeml.serving.router import ServingMiddleware

    # the router also in front of Starlette's own middleware: scoring skips that stack
    outer = ServingMiddleware(app, app.state.serving)
    uvicorn.run(outer, host=host, port=port, log_level="info")


class _NotScoring(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        path = args[2] if isinstance(args, tuple) and len(args) > 2 else ""
        return not (isinstance(path, str) and path.startswith("/endpoints/"))
