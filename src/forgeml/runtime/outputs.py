"""A job's outputs: writable places before the command runs, workspace content after it.

Each output gets a folder `<workdir>/outputs_<name>/`; a `uri_file` output is a file path inside
it (named after the output). When the command succeeds, each output that holds something is
uploaded as content (only the files the workspace lacks travel) and reported to the workspace,
which registers it as an asset when the job named one. Whatever the outcome, `./outputs` and
`./logs` of the working folder and `user_logs/std_log.txt` become the run's artifacts, through the
MLflow artifact route.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from pathlib import Path

from forgeml.client.upload import Uploader
from forgeml.core.errors import NotFoundError, UserError
from forgeml.runtime.api import RuntimeApi
from forgeml.schemas.runtime import RunnerJob, RunnerOutput

Log = Callable[[str], None]
RUN_ARTIFACT_FOLDERS = ("outputs", "logs")


class OutputError(UserError):
    """An output could not be stored."""


def prepare(outputs: dict[str, RunnerOutput], workdir: Path) -> dict[str, Path]:
    """The local path each output's `${{outputs.<name>}}` stands for, created and writable."""
    paths: dict[str, Path] = {}
    for name, output in outputs.items():
        folder = workdir / f"outputs_{name}"
        folder.mkdir(parents=True, exist_ok=True)
        paths[name] = folder / name if output.type == "uri_file" else folder
    return paths


def collect(job: RunnerJob, paths: dict[str, Path], api: RuntimeApi, log: Log) -> None:
    """Upload every output that holds something and tell the workspace its content URI."""
    uploader = Uploader(api.http)
    for name, path in paths.items():
        # a uri_file output the command wrote as a folder, or files next to it, still counts
        source = path if path.exists() else path.parent
        if source.is_dir() and not any(p.is_file() for p in source.rglob("*")):
            log(f"output '{name}' is empty; nothing to store")
            continue
        if not source.exists():
            log(f"output '{name}' was not written; nothing to store")
            continue
        try:
            upload = functools.partial(uploader.upload_path, source, field=f"outputs.{name}")
            uri = api.call(f"upload output '{name}'", upload)
        except UserError as exc:
            raise OutputError(f"output '{name}' could not be stored: {exc.message}") from None
        api.output_done(name, uri)
        log(f"output '{name}' stored as {uri}")


def _files(root: Path) -> list[tuple[str, Path]]:
    found = []
    for dirpath, _dirs, files in os.walk(root):
        for filename in sorted(files):
            path = Path(dirpath) / filename
            if path.is_file() and not path.is_symlink():
                found.append((path.relative_to(root).as_posix(), path))
    return found


def upload_run_artifacts(
    job: RunnerJob, cwd: Path, std_log: Path, api: RuntimeApi, log: Log
) -> None:
    """`./outputs`, `./logs` and the combined std log, as the run's MLflow artifacts."""
    items: list[tuple[str, Path]] = []
    for folder in RUN_ARTIFACT_FOLDERS:
        items.extend((f"{folder}/{rel}", p) for rel, p in _files(cwd / folder))
    if std_log.is_file():
        items.append(("user_logs/std_log.txt", std_log))
    for relpath, path in items:
        try:
            api.put_artifact(job.experiment_id, job.run_id, relpath, path)
        except NotFoundError as exc:
            log(f"run artifacts not uploaded: the workspace has no artifact route for them ({exc})")
            return
        except UserError as exc:
            log(f"run artifact '{relpath}' not uploaded: {exc.message}")
    if items:
        log(f"uploaded {len(items)} run artifact(s)")
