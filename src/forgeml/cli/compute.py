"""`forgeml compute create|list|show|delete`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from forgeml.cli.output import OutputFormat, emit

app = typer.Typer(
    help="Compute targets: where jobs run (`local` is built in).", no_args_is_help=True
)
OutOpt = Annotated[OutputFormat, typer.Option("--output", "-o", help="json, yaml or table.")]


def _client() -> Any:
    from forgeml.client import MLClient

    return MLClient()


@app.command("create")
def create(
    file: Annotated[Path | None, typer.Option("--file", "-f")] = None,
    name: Annotated[str | None, typer.Option("--name", "-n")] = None,
    type_: Annotated[str | None, typer.Option("--type", "-t")] = None,
    set_: Annotated[list[str] | None, typer.Option("--set")] = None,
    output: OutOpt = OutputFormat.json,
) -> None:
    """Create or update a compute target."""
    from forgeml.core.specs import compute_model, validate_spec
    from forgeml.core.specs.yamlio import apply_overrides, load_yaml_file

    overrides = [f"{k}={v}" for k, v in {"name": name, "type": type_}.items() if v is not None] + (
        set_ or []
    )
    source = str(file) if file else "(command line)"
    data, locator = load_yaml_file(file) if file else ({}, None)
    apply_overrides(data, overrides)
    entity = validate_spec(compute_model(data, file=source), data, file=source, locator=locator)
    emit(_client().compute.create_or_update(entity), output)


@app.command("list")
def list_(output: OutOpt = OutputFormat.table) -> None:
    """List compute targets."""
    emit(
        list(_client().compute.list()),
        output,
        ["name", "type", "max_concurrent_jobs", "description"],
    )


@app.command("show")
def show(
    name: Annotated[str, typer.Option("--name", "-n")], output: OutOpt = OutputFormat.json
) -> None:
    """Show one compute target, with its nodes and their free resources."""
    client = _client()
    spec = client.compute.get(name).to_wire()
    state = client.compute.status(name).model_dump(mode="json", exclude={"name", "type"})
    emit({**spec, "status": state}, output)


@app.command("delete")
def delete(name: Annotated[str, typer.Option("--name", "-n")]) -> None:
    """Delete a compute target."""
    _client().compute.delete(name)
