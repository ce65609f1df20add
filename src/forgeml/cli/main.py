"""The `forgeml` entry point: command groups, and errors printed as one clear line."""

from __future__ import annotations

import sys

import typer

from forgeml import __version__
from forgeml.cli import assets, batch, compute, endpoints, jobs, up

app = typer.Typer(
    name="forgeml",
    help="forgeml: a self-hosted machine-learning workspace. Clients find it through FORGEML_URL.",
    no_args_is_help=True,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
)
app.command("up")(up.up)
assets.register(app)
app.add_typer(compute.app, name="compute")
app.add_typer(jobs.app, name="job")
endpoints.register(app)
batch.register(app)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"forgeml {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version."
    ),
) -> None:
    """forgeml command line."""


def main() -> None:
    from forgeml.core.errors import ForgemlError

    try:
        app()
    except ForgemlError as exc:
        typer.secho(f"error: {exc}", fg="red", err=True)
        sys.exit(1)
