"""`forgeml online-endpoint ...` and `forgeml online-deployment ...`, as `az ml` spells them.

Documents load with `-f` (and `--set key.path=value` overrides) through `core.specs.endpoints`
and go to the workspace through the SDK. Commands that wait on the workspace (a deployment's
instances starting, a delete finishing) show a spinner on stderr and leave stdout to the result.
Endpoint keys are printed by `get-credentials` only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from forgeml.cli.common_endpoints import (
    DeploymentOpt,
    EndpointOverrideOpt,
    NameOverrideOpt,
    NoWaitOpt,
    OfEndpointOpt,
    OutOpt,
    SetOpt,
    add_deploy_commands,
    add_deployment_commands,
    add_endpoint_commands,
    client,
    load_deployment,
    load_or_build,
    overrides,
    patched,
    wait,
)
from forgeml.cli.output import OutputFormat, emit

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

EndpointFileOpt = Annotated[Path | None, typer.Option("--file", "-f", help="The endpoint YAML.")]
EndpointOpt = Annotated[str, typer.Option("--name", "-n", help="The endpoint's name.")]


# --- online-endpoint ---------------------------------------------------------------------------


@endpoint_app.command("create")
def endpoint_create(
    file: EndpointFileOpt = None,
    name: NameOverrideOpt = None,
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
    file: EndpointFileOpt = None,
    name: EndpointOverrideOpt = None,
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
        endpoint = patched(ops.get(name), set_)
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


add_endpoint_commands(
    endpoint_app,
    lambda: client().online_endpoints,
    "online endpoint",
    "The endpoint's name.",
    ENDPOINT_COLUMNS,
    (
        "Show an endpoint: its scoring URI, state and traffic split.",
        "List online endpoints.",
        "Delete an endpoint with all its deployments.",
    ),
)


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

    deployment = load_deployment(load_online_deployment, file, name, endpoint_name, sets)
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


add_deploy_commands(
    deployment_app,
    _deploy,
    "The YAML file to create from.",
    ("--all-traffic", "Send all the endpoint's traffic to it once up."),
    (
        "Create a deployment and wait until its instances are ready (or it fails).",
        "Update a deployment: new instances start before the old ones stop.",
    ),
)


add_deployment_commands(
    deployment_app,
    lambda: client().online_deployments,
    "online endpoint",
    DEPLOYMENT_COLUMNS,
    (
        "Show a deployment: its document, provisioning state and instances.",
        "List an endpoint's deployments.",
        "Delete a deployment (move its traffic elsewhere first).",
    ),
)


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
