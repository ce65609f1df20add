"""`forgeml data|model|environment|component create|list|show|archive|restore`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from forgeml.cli.output import OutputFormat, emit

KINDS = {
    # command group -> (REST kind, SDK attribute, help)
    "data": ("data", "data", "Data assets: files, folders and MLTables."),
    "model": ("models", "models", "Models: custom, MLflow and Triton model folders."),
    "environment": (
        "environments",
        "environments",
        "Environments: images, conda/pip specs, builds.",
    ),
    "component": ("components", "components", "Components: reusable command steps."),
}

LIST_COLUMNS = ["name", "latest_version", "version_count", "last_modified_at"]
VERSION_COLUMNS = ["name", "version", "type", "description", "creation_context.created_at"]

FileOpt = Annotated[Path | None, typer.Option("--file", "-f", help="The YAML file to create from.")]
SetOpt = Annotated[
    list[str] | None, typer.Option("--set", help="Override a field: key.path=value (repeatable).")
]
NameOpt = Annotated[str, typer.Option("--name", "-n", help="The asset's name.")]
VersionOpt = Annotated[str | None, typer.Option("--version", "-v", help="A version.")]
OutOpt = Annotated[OutputFormat, typer.Option("--output", "-o", help="json, yaml or table.")]


def _client() -> Any:
    from forgeml.client import MLClient

    return MLClient()


def _load(kind: str, file: Path | None, sets: list[str], flags: dict[str, Any]) -> Any:
    from forgeml.core.specs import ASSET_KINDS, component_model, validate_spec
    from forgeml.core.specs.base import load_resource
    from forgeml.core.specs.yamlio import apply_overrides

    model = ASSET_KINDS[kind]
    overrides = [f"{k}={v}" for k, v in flags.items() if v is not None] + sets
    if file is not None:
        if kind == "components":
            from forgeml.core.specs import load_component

            return load_component(file, overrides)
        return load_resource(model, file, overrides)
    data: dict[str, Any] = {}
    apply_overrides(data, overrides)
    if kind == "components":
        model = component_model(data)
    return validate_spec(model, data, file="(command line)")


def _group(command: str, kind: str, attr: str, help_text: str) -> typer.Typer:
    app = typer.Typer(help=help_text, no_args_is_help=True)

    @app.command("create")
    def create(
        file: FileOpt = None,
        name: Annotated[
            str | None, typer.Option("--name", "-n", help="Name (overrides the file).")
        ] = None,
        version: VersionOpt = None,
        path: Annotated[
            str | None, typer.Option("--path", "-p", help="Local path or URI of the content.")
        ] = None,
        type_: Annotated[str | None, typer.Option("--type", "-t", help="The asset type.")] = None,
        description: Annotated[str | None, typer.Option("--description", "-d")] = None,
        set_: SetOpt = None,
        output: OutOpt = OutputFormat.json,
    ) -> None:
        """Create a version from a YAML file and/or flags; local paths are uploaded once."""
        flags = {
            "name": name,
            "version": version,
            "path": path,
            "type": type_,
            "description": description,
        }
        entity = _load(kind, file, set_ or [], flags)
        emit(getattr(_client(), attr).create_or_update(entity), output)

    @app.command("show")
    def show(
        name: NameOpt,
        version: VersionOpt = None,
        label: Annotated[str | None, typer.Option("--label", "-l", help="A label: latest.")] = None,
        output: OutOpt = OutputFormat.json,
    ) -> None:
        """Show one version (the latest unless --version or --label says otherwise)."""
        emit(getattr(_client(), attr).get(name, version=version, label=label), output)

    @app.command("list")
    def list_(
        name: Annotated[
            str | None, typer.Option("--name", "-n", help="List the versions of this name.")
        ] = None,
        include_archived: Annotated[bool, typer.Option("--include-archived")] = False,
        max_results: Annotated[int | None, typer.Option("--max-results", "-r")] = None,
        output: OutOpt = OutputFormat.table,
    ) -> None:
        """List names with their latest version, or the versions of one name."""
        items = list(
            getattr(_client(), attr).list(
                name, include_archived=include_archived, max_results=max_results
            )
        )
        emit(items, output, VERSION_COLUMNS if name else LIST_COLUMNS)

    @app.command("archive")
    def archive(name: NameOpt, version: VersionOpt = None) -> None:
        """Hide a version (or, without --version, the whole name) from lists and `latest`."""
        getattr(_client(), attr).archive(name, version=version)

    @app.command("restore")
    def restore(name: NameOpt, version: VersionOpt = None) -> None:
        """Undo an archive."""
        getattr(_client(), attr).restore(name, version=version)

    return app


def register(root: typer.Typer) -> None:
    for command, (kind, attr, help_text) in KINDS.items():
        root.add_typer(_group(command, kind, attr, help_text), name=command)
