"""What the online and batch endpoint command groups have in common, written once.

This owns the options both spell alike (`--set`, `--yes`, `--no-wait`, `-o`, the deployment's
`--name`/`--endpoint-name`), loading a document with `-f` and `--set` overrides (or from the
overrides alone, or patching the workspace's copy), waiting on the workspace behind a spinner on
stderr, asking before a delete, and the commands that differ between online and batch only in
wording and in the SDK operations they call: an endpoint group's `show`, `list` and `delete`, and
a deployment group's `create`, `update`, `show`, `list` and `delete`.
"""

# No `from __future__ import annotations` here: the commands made below take their option help
# from the arguments of the function that makes them, and Typer would resolve string annotations
# in this module's globals, where those arguments do not exist.

import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from forgeml.cli.output import OutputFormat, emit

if TYPE_CHECKING:
    from pydantic import BaseModel

T = TypeVar("T", bound="BaseModel")

# file, --name, --endpoint-name, --set, the create command's flag, --no-wait, -o
Deploy = Callable[[Path, str | None, str | None, list[str] | None, bool, bool, OutputFormat], None]

SetOpt = Annotated[
    list[str] | None, typer.Option("--set", help="Override a field: key.path=value (repeatable).")
]
NameOverrideOpt = Annotated[
    str | None, typer.Option("--name", "-n", help="The name (overrides the file).")
]
EndpointOverrideOpt = Annotated[
    str | None, typer.Option("--name", "-n", help="The endpoint (overrides the file).")
]
OfEndpointOverrideOpt = Annotated[
    str | None, typer.Option("--endpoint-name", "-e", help="The endpoint (overrides the file).")
]
DeploymentOpt = Annotated[str, typer.Option("--name", "-n", help="The deployment's name.")]
OfEndpointOpt = Annotated[
    str, typer.Option("--endpoint-name", "-e", help="The endpoint the deployment belongs to.")
]
YesOpt = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]
NoWaitOpt = Annotated[
    bool, typer.Option("--no-wait", help="Return at once, without waiting for the workspace.")
]
OutOpt = Annotated[OutputFormat, typer.Option("--output", "-o", help="json, yaml or table.")]


def client() -> Any:
    from forgeml.client import MLClient

    return MLClient()


def overrides(flags: dict[str, str | None], sets: list[str] | None) -> list[str]:
    """Flags such as --name as `--set` overrides, applied before the document is validated."""
    return [f"{k}={v}" for k, v in flags.items() if v is not None] + (sets or [])


def load_deployment(
    loader: Callable[[Path, list[str]], T],
    file: Path,
    name: str | None,
    endpoint_name: str | None,
    sets: list[str] | None,
) -> T:
    """The deployment in `file`, its name and endpoint overridden by --name and --endpoint-name."""
    return loader(file, overrides({"name": name, "endpoint_name": endpoint_name}, sets))


def load_or_build(loader: Any, model: type[T], file: Path | None, extra: list[str], what: str) -> T:
    """The document in `file` with `extra` overrides, or one made of the overrides alone."""
    if file is not None:
        found: T = loader(file, extra)
        return found
    from forgeml.core.specs.base import validate_spec
    from forgeml.core.specs.yamlio import apply_overrides

    data: dict[str, Any] = {}
    apply_overrides(data, extra)
    if not data.get("name"):
        raise typer.BadParameter(f"give --file (the {what} YAML) or --name.")
    return validate_spec(model, data, file="(command line)")


def patched(current: Any, sets: list[str]) -> Any:
    """A document as the workspace has it, with `--set` overrides applied."""
    from forgeml.core.specs.base import validate_spec
    from forgeml.core.specs.yamlio import apply_overrides

    data = current.to_wire()
    apply_overrides(data, sets)
    return validate_spec(type(current), data, file="(--set)")


def wait(poller: Any, doing: str) -> Any:
    """`poller.result()` behind a spinner on stderr; Ctrl-C stops waiting, not the work."""
    from rich.console import Console

    started = time.monotonic()
    try:
        with Console(stderr=True).status(doing) as status:
            while not poller.done():
                status.update(f"{doing} ({time.monotonic() - started:.0f} s)")
                time.sleep(0.5)
    except KeyboardInterrupt:
        typer.secho(
            "stopped waiting; the workspace carries on (`show` says how it is going).",
            err=True,
        )
        raise typer.Exit(130) from None
    return poller.result()


def confirm(what: str, yes: bool) -> None:
    if not yes:
        typer.confirm(f"Are you sure you want to delete {what}?", abort=True, err=True)


def _delete(what: str, yes: bool, start: Callable[[], Any], doing: str, no_wait: bool) -> None:
    """Ask (unless --yes), start the delete, and wait for it unless --no-wait."""
    confirm(what, yes)
    poller = start()
    if not no_wait:
        wait(poller, doing)


def add_deploy_commands(
    app: typer.Typer,
    deploy: Deploy,
    file_help: str,
    flag: tuple[str, str],
    helps: tuple[str, str],
) -> None:
    """`create` and `update` of a deployment group: both `deploy` the file, `create` with `flag`
    (its option and help), which `update` leaves off; `helps` are the two commands' help."""
    create_help, update_help = helps
    flag_option, flag_help = flag
    file_opt = typer.Option("--file", "-f", help=file_help)

    @app.command("create", help=create_help)
    def create(
        file: Annotated[Path, file_opt],
        name: NameOverrideOpt = None,
        endpoint_name: OfEndpointOverrideOpt = None,
        flag: Annotated[bool, typer.Option(flag_option, help=flag_help)] = False,
        set_: SetOpt = None,
        no_wait: NoWaitOpt = False,
        output: OutOpt = OutputFormat.json,
    ) -> None:
        deploy(file, name, endpoint_name, set_, flag, no_wait, output)

    @app.command("update", help=update_help)
    def update(
        file: Annotated[Path, file_opt],
        name: NameOverrideOpt = None,
        endpoint_name: OfEndpointOverrideOpt = None,
        set_: SetOpt = None,
        no_wait: NoWaitOpt = False,
        output: OutOpt = OutputFormat.json,
    ) -> None:
        deploy(file, name, endpoint_name, set_, False, no_wait, output)


def add_endpoint_commands(
    app: typer.Typer,
    ops: Callable[[], Any],
    kind: str,
    name_help: str,
    columns: list[str],
    helps: tuple[str, str, str],
) -> None:
    """`show`, `list` and `delete` of a `kind` ("online endpoint") group; `helps` in that order."""
    show_help, list_help, delete_help = helps
    name_opt = typer.Option("--name", "-n", help=name_help)

    @app.command("show", help=show_help)
    def show(name: Annotated[str, name_opt], output: OutOpt = OutputFormat.json) -> None:
        emit(ops().get(name), output)

    @app.command("list", help=list_help)
    def list_(output: OutOpt = OutputFormat.table) -> None:
        emit(list(ops().list()), output, columns)

    @app.command("delete", help=delete_help)
    def delete(
        name: Annotated[str, name_opt], yes: YesOpt = False, no_wait: NoWaitOpt = False
    ) -> None:
        _delete(
            f"{kind} '{name}' and all its deployments",
            yes,
            lambda: ops().begin_delete(name),
            f"Deleting {kind} '{name}'",
            no_wait,
        )


def add_deployment_commands(
    app: typer.Typer,
    ops: Callable[[], Any],
    kind: str,
    columns: list[str],
    helps: tuple[str, str, str],
) -> None:
    """`show`, `list` and `delete` of the deployments of a `kind` ("online endpoint")."""
    show_help, list_help, delete_help = helps

    @app.command("show", help=show_help)
    def show(
        name: DeploymentOpt, endpoint_name: OfEndpointOpt, output: OutOpt = OutputFormat.json
    ) -> None:
        emit(ops().get(name, endpoint_name), output)

    @app.command("list", help=list_help)
    def list_(endpoint_name: OfEndpointOpt, output: OutOpt = OutputFormat.table) -> None:
        emit(list(ops().list(endpoint_name)), output, columns)

    @app.command("delete", help=delete_help)
    def delete(
        name: DeploymentOpt,
        endpoint_name: OfEndpointOpt,
        yes: YesOpt = False,
        no_wait: NoWaitOpt = False,
    ) -> None:
        _delete(
            f"deployment '{name}' of {kind} '{endpoint_name}'",
            yes,
            lambda: ops().begin_delete(name, endpoint_name),
            f"Deleting deployment '{name}'",
            no_wait,
        )
