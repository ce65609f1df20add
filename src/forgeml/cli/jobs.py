"""`forgeml job create|show|list|cancel|stream|download`, as `az ml job` spells them."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from forgeml.cli.output import OutputFormat, emit

app = typer.Typer(
    help="Jobs: run command jobs, follow them, fetch what they made.", no_args_is_help=True
)
LIST_COLUMNS = [
    "name",
    "type",
    "display_name",
    "status",
    "experiment_name",
    "compute",
    "creation_context.created_at",
]
NameOpt = Annotated[str, typer.Option("--name", "-n", help="The job's name.")]
OutOpt = Annotated[OutputFormat, typer.Option("--output", "-o", help="json, yaml or table.")]


def _client() -> Any:
    from forgeml.client import MLClient

    return MLClient()


def stream_job(name: str) -> None:
    """Follow the job; a job that did not complete makes the command exit with 1."""
    from forgeml.client.jobs import JobFailedError

    try:
        _client().jobs.stream(name)
    except JobFailedError:
        raise typer.Exit(1) from None


@app.command("create")
def create(
    file: Annotated[Path, typer.Option("--file", "-f", help="The job YAML.")],
    name: Annotated[
        str | None, typer.Option("--name", "-n", help="The job's name (overrides the file).")
    ] = None,
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", help="Override a field: key.path=value (repeatable)."),
    ] = None,
    stream: Annotated[
        bool, typer.Option("--stream", "-s", help="Follow the logs until the job ends.")
    ] = False,
    output: OutOpt = OutputFormat.json,
) -> None:
    """Submit a job; local code and input files are uploaded first (only what changed)."""
    from forgeml.core.specs.job import load_job

    overrides = ([f"name={name}"] if name else []) + (set_ or [])
    job = load_job(file, overrides)
    created = _client().jobs.create_or_update(job)
    emit(created, output)
    if stream:
        stream_job(str(created.name))


@app.command("show")
def show(name: NameOpt, output: OutOpt = OutputFormat.json) -> None:
    """Show a job: its document, status, timestamps, exit code and error summary."""
    emit(_client().jobs.get(name), output)


@app.command("list")
def list_(
    status: Annotated[
        list[str] | None, typer.Option("--status", help="queued, running, completed, ...")
    ] = None,
    experiment: Annotated[
        str | None, typer.Option("--experiment-name", "--experiment", "-e", help="Experiment.")
    ] = None,
    tag: Annotated[
        list[str] | None, typer.Option("--tag", help="key or key=value (repeatable).")
    ] = None,
    parent: Annotated[
        str | None, typer.Option("--parent-job-name", "--parent", help="Children of this job.")
    ] = None,
    max_results: Annotated[
        int, typer.Option("--max-results", "-r", help="At most this many.")
    ] = 50,
    all_: Annotated[
        bool, typer.Option("--all", help="Also list pipeline steps and sweep trials.")
    ] = False,
    output: OutOpt = OutputFormat.table,
) -> None:
    """List jobs, newest first (top-level jobs; `--parent` lists a pipeline's steps or a
    sweep's trials)."""
    jobs = _client().jobs.list(
        status=status,
        experiment_name=experiment,
        tag=tag,
        parent_job_name=parent,
        max_results=max_results,
        include_children=all_,
    )
    emit(list(jobs), output, LIST_COLUMNS)


@app.command("cancel")
def cancel(
    name: NameOpt,
    wait: Annotated[bool, typer.Option("--wait", help="Wait until it has stopped.")] = False,
    output: OutOpt = OutputFormat.json,
) -> None:
    """Cancel a job: a queued job at once, a running one stops its whole process tree."""
    ops = _client().jobs
    emit(ops.begin_cancel(name).result() if wait else ops.cancel(name), output)


@app.command("rerun")
def rerun(
    name: NameOpt,
    stream: Annotated[
        bool, typer.Option("--stream", "-s", help="Follow the logs until the job ends.")
    ] = False,
    output: OutOpt = OutputFormat.json,
) -> None:
    """Submit a job again under a new name, with the same pinned versions; a pipeline reuses
    the steps that completed, so only the failed steps and those after them run."""
    created = _client().jobs.rerun(name)
    emit(created, output)
    if stream:
        stream_job(str(created.name))


@app.command("stream")
def stream(name: NameOpt) -> None:
    """Follow a job's logs live until it ends; exits with 1 if it failed or was canceled."""
    stream_job(name)


@app.command("download")
def download(
    name: NameOpt,
    output_name: Annotated[
        str | None, typer.Option("--output-name", help="Download this named output only.")
    ] = None,
    download_path: Annotated[
        Path, typer.Option("--download-path", "-p", help="Where to put the files.")
    ] = Path("."),
    all_: Annotated[
        bool, typer.Option("--all", help="Artifacts, logs and every named output.")
    ] = False,
) -> None:
    """Download a job's artifacts and logs (default), one named output, or everything."""
    where = _client().jobs.download(
        name, download_path=download_path, output_name=output_name, all=all_
    )
    typer.echo(f"downloaded to {where}")
