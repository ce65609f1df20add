"""`forgeml batch-endpoint ...` and `forgeml batch-deployment ...`, as `az ml` spells them.

A batch endpoint names a default deployment; `invoke` starts a scoring job over a folder, a file
or a data asset, which `forgeml job` follows like any other job. Documents load with `-f` and
`--set` overrides through `core.specs.endpoints` and go to the workspace through the SDK.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from forgeml.cli.common_endpoints import (
    EndpointOverrideOpt,
    NameOverrideOpt,
    NoWaitOpt,
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
)
from forgeml.cli.jobs import LIST_COLUMNS, stream_job
from forgeml.cli.output import OutputFormat, emit

endpoint_app = typer.Typer(
    help="Batch endpoints: score folders of files as jobs, on a default deployment.",
    no_args_is_help=True,
)
deployment_app = typer.Typer(
    help="Batch deployments: a model (or pipeline component) behind a batch endpoint.",
    no_args_is_help=True,
)

ENDPOINT_COLUMNS = ["name", "defaults.deployment_name", "provisioning_state", "scoring_uri"]
DEPLOYMENT_COLUMNS = ["name", "endpoint_name", "type", "compute", "provisioning_state"]

EndpointFileOpt = Annotated[
    Path | None, typer.Option("--file", "-f", help="The batch endpoint YAML.")
]
EndpointOpt = Annotated[str, typer.Option("--name", "-n", help="The batch endpoint's name.")]


# --- batch-endpoint ----------------------------------------------------------------------------


@endpoint_app.command("create")
def endpoint_create(
    file: EndpointFileOpt = None,
    name: NameOverrideOpt = None,
    set_: SetOpt = None,
    no_wait: NoWaitOpt = False,
    output: OutOpt = OutputFormat.json,
) -> None:
    """Create a batch endpoint (or update it)."""
    from forgeml.core.specs.endpoints import BatchEndpoint, load_batch_endpoint

    endpoint = load_or_build(
        load_batch_endpoint, BatchEndpoint, file, overrides({"name": name}, set_), "endpoint"
    )
    emit(client().batch_endpoints.begin_create_or_update(endpoint).result(), output)


@endpoint_app.command("update")
def endpoint_update(
    file: EndpointFileOpt = None,
    name: EndpointOverrideOpt = None,
    set_: SetOpt = None,
    no_wait: NoWaitOpt = False,
    output: OutOpt = OutputFormat.json,
) -> None:
    """Update a batch endpoint from a file, or with --set (`--set defaults.deployment_name=d`)."""
    ops = client().batch_endpoints
    if file is not None:
        from forgeml.core.specs.endpoints import load_batch_endpoint

        endpoint = load_batch_endpoint(file, overrides({"name": name}, set_))
    elif name is not None and set_:
        endpoint = patched(ops.get(name), set_)
    else:
        raise typer.BadParameter("give --file (the endpoint YAML), or --name with --set.")
    emit(ops.begin_create_or_update(endpoint).result(), output)


add_endpoint_commands(
    endpoint_app,
    lambda: client().batch_endpoints,
    "batch endpoint",
    "The batch endpoint's name.",
    ENDPOINT_COLUMNS,
    (
        "Show a batch endpoint: its scoring URI and default deployment.",
        "List batch endpoints.",
        "Delete a batch endpoint with all its deployments (its jobs stay).",
    ),
)


def _json_option(text: str | None, option: str) -> dict[str, Any]:
    if text is None:
        return {}
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise typer.BadParameter(f"not JSON ({exc}).", param_hint=option) from None
    if not isinstance(value, dict):
        raise typer.BadParameter("give a JSON object: {name: {type, path}}.", param_hint=option)
    return value


@endpoint_app.command("invoke")
def endpoint_invoke(
    name: EndpointOpt,
    input_: Annotated[
        str | None,
        typer.Option(
            "--input",
            "-i",
            help="What to score: a local folder or file (uploaded), a URI, or "
            "azureml:<data>:<version>.",
        ),
    ] = None,
    input_type: Annotated[
        str | None,
        typer.Option("--input-type", "-t", help="uri_folder (default) or uri_file."),
    ] = None,
    inputs: Annotated[
        str | None,
        typer.Option("--inputs", help='Named inputs as JSON: {"x": {"type": ..., "path": ...}}.'),
    ] = None,
    outputs: Annotated[
        str | None,
        typer.Option("--outputs", help='Named outputs as JSON: {"score": {"path": ...}}.'),
    ] = None,
    deployment_name: Annotated[
        str | None,
        typer.Option("--deployment-name", "-d", help="Score on this deployment, not the default."),
    ] = None,
    experiment_name: Annotated[
        str | None, typer.Option("--experiment-name", "-e", help="The job's experiment.")
    ] = None,
    job_name: Annotated[str | None, typer.Option("--job-name", help="The job's name.")] = None,
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", help="Set an input or output: inputs.x.path=..., outputs.y.path=..."),
    ] = None,
    stream: Annotated[
        bool, typer.Option("--stream", "-s", help="Follow the job's logs until it ends.")
    ] = False,
    output: OutOpt = OutputFormat.json,
) -> None:
    """Start a batch scoring job; prints the job (follow it with --stream or `forgeml job`)."""
    from forgeml.core.specs.yamlio import apply_overrides

    if input_type is not None and input_type not in ("uri_folder", "uri_file"):
        raise typer.BadParameter("use uri_folder or uri_file.", param_hint="--input-type")
    ports = {
        "inputs": _json_option(inputs, "--inputs"),
        "outputs": _json_option(outputs, "--outputs"),
    }
    for item in set_ or []:
        if not item.startswith(("inputs.", "outputs.")):
            raise typer.BadParameter(
                f"'{item}': invoke sets inputs.<name>... or outputs.<name>... only.",
                param_hint="--set",
            )
    apply_overrides(ports, set_ or [])
    if input_ is None and not ports["inputs"]:
        raise typer.BadParameter("give --input (or named --inputs) to score.")
    one: Any = input_
    if input_ is not None and input_type is not None:
        one = {"type": input_type, "path": input_}
    job = client().batch_endpoints.invoke(
        name,
        input=one,
        inputs=ports["inputs"] or None,
        outputs=ports["outputs"] or None,
        deployment_name=deployment_name,
        experiment_name=experiment_name,
        job_name=job_name,
    )
    emit(job, output)
    if stream:
        stream_job(str(job.name))


@endpoint_app.command("list-jobs")
def endpoint_list_jobs(name: EndpointOpt, output: OutOpt = OutputFormat.table) -> None:
    """List the scoring jobs an endpoint has started, newest first."""
    emit(list(client().batch_endpoints.list_jobs(name)), output, LIST_COLUMNS)


# --- batch-deployment --------------------------------------------------------------------------


def _deploy(
    file: Path,
    name: str | None,
    endpoint_name: str | None,
    sets: list[str] | None,
    set_default: bool,
    no_wait: bool,
    output: OutputFormat,
) -> None:
    """Create or update a batch deployment; it is ready once stored: --no-wait changes nothing."""
    from forgeml.core.specs.endpoints import load_batch_deployment

    deployment = load_deployment(load_batch_deployment, file, name, endpoint_name, sets)
    sdk = client()
    made = sdk.batch_deployments.begin_create_or_update(deployment).result()
    if set_default:
        endpoint = sdk.batch_endpoints.get(made.endpoint_name)
        defaults = {**endpoint.defaults, "deployment_name": str(made.name)}
        sdk.batch_endpoints.begin_create_or_update(
            endpoint.model_copy(update={"defaults": defaults})
        ).result()
    emit(made, output)


add_deploy_commands(
    deployment_app,
    _deploy,
    "The batch deployment YAML.",
    ("--set-default", "Make it the endpoint's default deployment."),
    (
        "Create a batch deployment (or update it); local model and code are uploaded first.",
        "Update a batch deployment; jobs already running keep the version they started with.",
    ),
)


add_deployment_commands(
    deployment_app,
    lambda: client().batch_deployments,
    "batch endpoint",
    DEPLOYMENT_COLUMNS,
    (
        "Show a batch deployment.",
        "List a batch endpoint's deployments.",
        "Delete a batch deployment (the jobs it ran stay).",
    ),
)


def register(root: typer.Typer) -> None:
    root.add_typer(endpoint_app, name="batch-endpoint")
    root.add_typer(deployment_app, name="batch-deployment")
