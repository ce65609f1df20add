"""`forgeml online-endpoint ...` and `forgeml online-deployment ...`, as `az ml` spells them.

Documents load with `-f` (and `--set key.path=value` overrides) through `core.specs.endpoints`
and go to the workspace through the SDK. Commands that wait on the workspace (a deployment's
instances starting, a delete finishing) show a spinner on stderr and leave stdout to the result.
Endpoint keys are printed by `get-credentials` only.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from forgeml.cli.output import OutputFormat, emit

if TYPE_CHECKING:
    from pydantic import BaseModel

T = TypeVar("T", bound="BaseModel")

endpoint_app = typer.Typer(
    help="Online endpoints: a scoring URL with deployments behind it and the traffic between them.",
    no_args_is_help=True,
)
deployment_app = typer.Typer(
    help="Online deployments: a model and its scoring code behind an online endpoint.",
    no_args_is_help=True,
)

ENDPOINT_COLUMNS = ["name", "auth_mode", "provisioning_state", "traffic", "scoring_uri"]
DEPLOYMENT_COLUMNS = [
    "name",
    "endpoint_name",
    "provisioning_state",
    "instance_type",
    "instance_count",
]

FileOpt = Annotated[Path, typer.Option("--file", "-f", help="The YAML file to create from.")]
SetOpt = Annotated[
    list[str] | None, typer.Option("--set", help="Override a field: key.path=value (repeatable).")
]
EndpointOpt = Annotated[str, typer.Option("--name", "-n", help="The endpoint's name.")]
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


# --- online-endpoint ---------------------------------------------------------------------------


@endpoint_app.command("create")
def endpoint_create(
    file: Annotated[Path | None, typer.Option("--file", "-f", help="The endpoint YAML.")] = None,
    name: Annotated[
        str | None, typer.Option("--name", "-n", help="The name (overrides the file).")
    ] = None,
    auth_mode: Annotated[
        str | None, typer.Option("--auth-mode", help="key (default), aml_token or aad_token.")
    ] = None,
    set_: SetOpt = None,
    no_wait: NoWaitOpt = False,
    output: OutOpt = OutputFormat.json,
) -> None:
    """Create an online endpoint (or update it); traffic goes to deployments once they exist."""
    from forgeml.core.specs.endpoints import OnlineEndpoint, load_online_endpoint

    extra = overrides({"name": name, "auth_mode": auth_mode}, set_)
    endpoint = load_or_build(load_online_endpoint, OnlineEndpoint, file, extra, "endpoint")
    emit(client().online_endpoints.create_or_update(endpoint), output)


@endpoint_app.command("update")
def endpoint_update(
    file: Annotated[Path | None, typer.Option("--file", "-f", help="The endpoint YAML.")] = None,
    name: Annotated[
        str | None, typer.Option("--name", "-n", help="The endpoint (overrides the file).")
    ] = None,
    traffic: Annotated[
        str | None,
        typer.Option("--traffic", "-r", help='Live traffic per deployment: "blue=90 green=10".'),
    ] = None,
    mirror_traffic: Annotated[
        str | None,
        typer.Option("--mirror-traffic", help='Copy a share of requests: "green=10".'),
    ] = None,
    set_: SetOpt = None,
    no_wait: NoWaitOpt = False,
    output: OutOpt = OutputFormat.json,
) -> None:
    """Update an endpoint from a file, with --set, or set its traffic split.

    Shares are whole percents adding up to 100; `--traffic "blue=0 green=0"` stops live
    traffic, `--mirror-traffic "green=0"` stops mirroring.
    """
    from forgeml.core.specs.endpoints import parse_traffic

    if file is None and name is None:
        raise typer.BadParameter("give --file (the endpoint YAML) or --name.")
    live = parse_traffic(traffic, option="--traffic") if traffic is not None else None
    shadow = (
        parse_traffic(mirror_traffic, option="--mirror-traffic")
        if mirror_traffic is not None
        else None
    )
    ops = client().online_endpoints
    split = {k: v for k, v in (("traffic", live), ("mirror_traffic", shadow)) if v is not None}
    if file is not None:
        from forgeml.core.specs.endpoints import load_online_endpoint

        endpoint = load_online_endpoint(file, overrides({"name": name}, set_))
    elif set_:
        endpoint = _patched(ops.get(name), set_)
    elif split:
        emit(ops.update_traffic(name, traffic=live, mirror_traffic=shadow), output)
        return
    else:
        raise typer.BadParameter("nothing to update: give --traffic, --mirror-traffic or --set.")
    if split:
        # the split first: the document is already checked here, the split only by the
        # workspace, so a split refused changes nothing
        ops.update_traffic(endpoint.name, traffic=live, mirror_traffic=shadow)
    # an empty split in a document leaves the workspace's as it is (the flags' one stays)
    emit(ops.create_or_update(endpoint.model_copy(update={key: {} for key in split})), output)


def _patched(current: Any, sets: list[str]) -> Any:
    """The endpoint as the workspace has it, with `--set` overrides applied."""
    from forgeml.core.specs.base import validate_spec
    from forgeml.core.specs.yamlio import apply_overrides

    data = current.to_wire()
    apply_overrides(data, sets)
    return validate_spec(type(current), data, file="(--set)")


@endpoint_app.command("show")
def endpoint_show(name: EndpointOpt, output: OutOpt = OutputFormat.json) -> None:
    """Show an endpoint: its scoring URI, state and traffic split."""
    emit(client().online_endpoints.get(name), output)


@endpoint_app.command("list")
def endpoint_list(output: OutOpt = OutputFormat.table) -> None:
    """List online endpoints."""
    emit(list(client().online_endpoints.list()), output, ENDPOINT_COLUMNS)


@endpoint_app.command("delete")
def endpoint_delete(name: EndpointOpt, yes: YesOpt = False, no_wait: NoWaitOpt = False) -> None:
    """Delete an endpoint with all its deployments."""
    confirm(f"online endpoint '{name}' and all its deployments", yes)
    poller = client().online_endpoints.begin_delete(name)
    if not no_wait:
        wait(poller, f"Deleting online endpoint '{name}'")


@endpoint_app.command("invoke")
def endpoint_invoke(
    name: EndpointOpt,
    request_file: Annotated[
        Path, typer.Option("--request-file", "-r", help="The request body (JSON).")
    ],
    deployment_name: Annotated[
        str | None,
        typer.Option("--deployment-name", "-d", help="Score on this deployment, not by traffic."),
    ] = None,
) -> None:
    """Send a request to the endpoint's scoring URI and print the answer."""
    if not request_file.is_file():
        raise typer.BadParameter(f"{request_file} is not a file.", param_hint="--request-file")
    answer = client().online_endpoints.invoke(
        name, request_file=request_file, deployment_name=deployment_name
    )
    typer.echo(answer, nl=not answer.endswith("\n"))


@endpoint_app.command("get-credentials")
def endpoint_get_credentials(name: EndpointOpt, output: OutOpt = OutputFormat.json) -> None:
    """Print the endpoint's two keys (either one goes in `Authorization: Bearer <key>`)."""
    keys = client().online_endpoints.get_keys(name)
    emit({"primaryKey": keys.primary_key, "secondaryKey": keys.secondary_key}, output)


@endpoint_app.command("regenerate-keys")
def endpoint_regenerate_keys(
    name: EndpointOpt,
    key_type: Annotated[
        str, typer.Option("--key-type", help="primary or secondary.", case_sensitive=False)
    ] = "primary",
    key_value: Annotated[
        str | None,
        typer.Option(
            "--key-value", help="The new key (16 characters or more); random if left out."
        ),
    ] = None,
    no_wait: NoWaitOpt = False,
) -> None:
    """Replace one of the endpoint's keys; requests with the old one are refused from now on."""
    if key_type.lower() not in ("primary", "secondary"):
        raise typer.BadParameter("use primary or secondary.", param_hint="--key-type")
    client().online_endpoints.begin_regenerate_keys(
        name, key_type=key_type.lower(), key_value=key_value
    ).result()
    typer.secho(
        f"regenerated the {key_type.lower()} key of '{name}'; "
        f"`forgeml online-endpoint get-credentials --name {name}` shows it.",
        err=True,
    )


# --- online-deployment -------------------------------------------------------------------------


def _deploy(
    file: Path,
    name: str | None,
    endpoint_name: str | None,
    sets: list[str] | None,
    all_traffic: bool,
    no_wait: bool,
    output: OutputFormat,
) -> None:
    from forgeml.core.specs.endpoints import load_online_deployment

    deployment = load_online_deployment(
        file, overrides({"name": name, "endpoint_name": endpoint_name}, sets)
    )
    ops = client().online_deployments
    poller = ops.begin_create_or_update(deployment, all_traffic=all_traffic)
    if no_wait:
        emit(ops.get(str(deployment.name), deployment.endpoint_name), output)
        return
    emit(
        wait(
            poller,
            f"Deploying '{deployment.name}' to '{deployment.endpoint_name}': building the "
            "environment and starting the instances",
        ),
        output,
    )


@deployment_app.command("create")
def deployment_create(
    file: FileOpt,
    name: Annotated[
        str | None, typer.Option("--name", "-n", help="The name (overrides the file).")
    ] = None,
    endpoint_name: Annotated[
        str | None, typer.Option("--endpoint-name", "-e", help="The endpoint (overrides the file).")
    ] = None,
    all_traffic: Annotated[
        bool, typer.Option("--all-traffic", help="Send all the endpoint's traffic to it once up.")
    ] = False,
    set_: SetOpt = None,
    no_wait: NoWaitOpt = False,
    output: OutOpt = OutputFormat.json,
) -> None:
    """Create a deployment and wait until its instances are ready (or it fails)."""
    _deploy(file, name, endpoint_name, set_, all_traffic, no_wait, output)


@deployment_app.command("update")
def deployment_update(
    file: FileOpt,
    name: Annotated[
        str | None, typer.Option("--name", "-n", help="The name (overrides the file).")
    ] = None,
    endpoint_name: Annotated[
        str | None, typer.Option("--endpoint-name", "-e", help="The endpoint (overrides the file).")
    ] = None,
    set_: SetOpt = None,
    no_wait: NoWaitOpt = False,
    output: OutOpt = OutputFormat.json,
) -> None:
    """Update a deployment: new instances start before the old ones stop."""
    _deploy(file, name, endpoint_name, set_, False, no_wait, output)


@deployment_app.command("show")
def deployment_show(
    name: DeploymentOpt, endpoint_name: OfEndpointOpt, output: OutOpt = OutputFormat.json
) -> None:
    """Show a deployment: its document, provisioning state and instances."""
    emit(client().online_deployments.get(name, endpoint_name), output)


@deployment_app.command("list")
def deployment_list(endpoint_name: OfEndpointOpt, output: OutOpt = OutputFormat.table) -> None:
    """List an endpoint's deployments."""
    emit(list(client().online_deployments.list(endpoint_name)), output, DEPLOYMENT_COLUMNS)


@deployment_app.command("delete")
def deployment_delete(
    name: DeploymentOpt,
    endpoint_name: OfEndpointOpt,
    yes: YesOpt = False,
    no_wait: NoWaitOpt = False,
) -> None:
    """Delete a deployment (move its traffic elsewhere first)."""
    confirm(f"deployment '{name}' of online endpoint '{endpoint_name}'", yes)
    poller = client().online_deployments.begin_delete(name, endpoint_name)
    if not no_wait:
        wait(poller, f"Deleting deployment '{name}'")


@deployment_app.command("get-logs")
def deployment_get_logs(
    name: DeploymentOpt,
    endpoint_name: OfEndpointOpt,
    lines: Annotated[
        int, typer.Option("--lines", "-l", min=1, help="How many lines from the end.")
    ] = 100,
) -> None:
    """Print the last lines of a deployment's logs (its scoring script's output included)."""
    text = client().online_deployments.get_logs(name, endpoint_name, lines=lines)
    typer.echo(text, nl=not text.endswith("\n"))


@deployment_app.command("metrics")
def deployment_metrics(
    name: DeploymentOpt, endpoint_name: OfEndpointOpt, output: OutOpt = OutputFormat.table
) -> None:
    """Requests, errors and latency percentiles of a deployment since the workspace started."""
    found = client().online_deployments.metrics(name, endpoint_name)
    if output is not OutputFormat.table:
        emit(found, output)
        return
    latency = found.latency
    emit(
        {
            "requests": found.requests,
            "errors": found.errors,
            "client_errors": found.client_errors,
            "mirrored": found.mirrored,
            "latency_p50_ms": _ms(latency.p50_ms),
            "latency_p90_ms": _ms(latency.p90_ms),
            "latency_p99_ms": _ms(latency.p99_ms),
            "latency_window": found.window,
        },
        output,
    )


def _ms(value: float | None) -> str:
    return "" if value is None else f"{value:.1f}"


def register(root: typer.Typer) -> None:
    root.add_typer(endpoint_app, name="online-endpoint")
    root.add_typer(deployment_app, name="online-deployment")
