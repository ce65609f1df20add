"""`client.jobs`: submit command jobs, follow them live, cancel them, download what they made.

`create_or_update` uploads what lives on the submitting machine (the `code` folder, honouring
`.amlignore` or else `.gitignore`; local input files and folders; an inline environment's conda
file) as content, so an unchanged folder uploads nothing, then posts the job. `stream` follows
the server-sent log stream, picking up where it left off if the connection drops.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any
from urllib.parse import quote

import httpx

from forgeml.client.assets import AssetOperations
from forgeml.client.http import Http
from forgeml.client.upload import Uploader
from forgeml.core.content import CONTENT_PREFIX, is_local_path, parse_content_uri, safe_relpath
from forgeml.core.errors import ForgemlError, SpecError, UnavailableError, error_from_payload
from forgeml.core.specs import CommandComponent, Environment
from forgeml.core.specs.job import CommandJob, JobInput
from forgeml.core.specs.pipeline import (
    PipelineComponent,
    PipelineJob,
    PipelineStep,
    SweepJob,
    SweepTrial,
)
from forgeml.core.states import TERMINAL, JobStatus
from forgeml.schemas.jobs import Job, JobLogs, JobOutputs, PipelineJobInfo, SweepJobInfo, parse_job

AnyJob = Job | PipelineJobInfo | SweepJobInfo

#: how long `stream` keeps trying to reconnect to a workspace that went away
RECONNECT_S = 120.0


class JobFailedError(ForgemlError):
    """`stream` followed a job that ended `failed` or `canceled`."""

    def __init__(self, job: Job | PipelineJobInfo | SweepJobInfo) -> None:
        what = f"job '{job.name}' {job.status.value}"
        if job.exit_code is not None:
            what += f" (exit code {job.exit_code})"
        super().__init__(f"{what}: {job.error}" if job.error else what + ".")
        self.job = job


def default_experiment() -> str:
    """Azure ML's default: the name of the folder the job is submitted from."""
    name = Path.cwd().name.strip()
    return name or "Default"


def _prefixed(text: str, prefix: str, line_start: dict[str, bool], job: str) -> str:
    """`text` with `prefix` at the start of each line (a chunk may end mid-line)."""
    if not prefix:
        return text
    out: list[str] = []
    for piece in text.splitlines(keepends=True):
        if line_start.get(job, True):
            out.append(prefix)
        out.append(piece)
        line_start[job] = piece.endswith("\n")
    return "".join(out)


class CancelPoller:
    """What `begin_cancel` returns, shaped like azure-core's LROPoller."""

    def __init__(self, ops: JobOperations, name: str) -> None:
        self._ops, self._name = ops, name
        self._job = ops.cancel(name)

    def done(self) -> bool:
        return self._job.status in TERMINAL

    def result(self, timeout: float | None = None) -> AnyJob:
        """Wait until the job has stopped (or `timeout` seconds passed) and return it."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self.done() and (deadline is None or time.monotonic() < deadline):
            time.sleep(0.2)
            self._job = self._ops.get(self._name)
        return self._job

    def wait(self, timeout: float | None = None) -> None:
        self.result(timeout)


class JobOperations:
    def __init__(self, http: Http) -> None:
        self._http = http
        self._uploader = Uploader(http)
        self._environments: AssetOperations[Environment] = AssetOperations(
            http, "environments", Environment
        )
        self._components: AssetOperations[CommandComponent] = AssetOperations(
            http, "components", CommandComponent
        )

    # ------------------------------------------------------------------------- submit
    def _inputs(self, job: Any, base: Path) -> dict[str, Any]:
        body: dict[str, Any] = {}
        for key, given in job.inputs.items():
            if not isinstance(given, JobInput) or given.is_literal or given.path is None:
                body[key] = (
                    given.model_dump(mode="json", exclude_none=True, exclude_defaults=True)
                    if isinstance(given, JobInput)
                    else given
                )
                continue
            body[key] = self._one_input(key, given, base, f"inputs.{key}")
        return body

    def _one_input(self, key: str, given: JobInput, base: Path, where: str) -> dict[str, Any]:
        port = given.model_dump(mode="json", exclude_none=True, exclude_defaults=True)
        port["type"] = given.type
        assert given.path is not None
        if is_local_path(given.path):
            local = (base / given.path).resolve()
            field = f"{where}.path"
            if given.type == "uri_file" and local.is_dir():
                raise SpecError(
                    f"{local} is a folder, but a uri_file input needs a file.", field=field
                )
            if given.type != "uri_file" and local.is_file() and given.type != "custom_model":
                raise SpecError(
                    f"{local} is a file, but a {given.type} input needs a folder; use "
                    "type: uri_file for a single file.",
                    field=field,
                )
            port["path"] = self._uploader.upload_path(local, field=field)
        return port

    def _code_and_environment(
        self, body: dict[str, Any], code: str | None, env: Any, base: Path, prefix: str = ""
    ) -> None:
        """In `body`: a local `code` folder uploaded, an inline environment's files inlined."""
        if code is not None and is_local_path(code):
            folder = (base / code).resolve()
            if not folder.is_dir():
                raise SpecError(
                    f"the code folder {folder} does not exist (paths are relative to the YAML "
                    "file's folder).",
                    field=f"{prefix}code",
                )
            body["code"] = self._uploader.upload_path(
                folder, field=f"{prefix}code", honour_ignore=True
            )
        if isinstance(env, dict):
            env = Environment.model_validate(env)
        if isinstance(env, Environment):
            body["environment"] = self._environments._inline_environment(
                env, base, f"{prefix}environment."
            )

    def _prepare(self, job: CommandJob) -> dict[str, Any]:
        base = job.base_path
        body = job.to_wire()
        self._code_and_environment(body, job.code, job.environment, base)
        body["inputs"] = self._inputs(job, base)
        body.setdefault("experiment_name", default_experiment())
        return body

    # ----------------------------------------------------------------- pipelines, sweeps
    def _component(self, comp: Any, field: str) -> Any:
        """An inline component with its local code uploaded (and its own steps, if a
        pipeline component)."""
        if isinstance(comp, CommandComponent):
            try:
                body = self._components._prepare(comp)
            except SpecError as exc:
                raise SpecError(exc._bare, field=f"{field}.{exc.field or ''}".rstrip(".")) from None
            return body
        if isinstance(comp, PipelineComponent):
            body = comp.to_wire()
            body["jobs"] = self._steps(comp.jobs, comp.base_path, f"{field}.jobs")
            return body
        return comp

    def _steps(self, steps: dict[str, PipelineStep], base: Path, prefix: str) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, step in steps.items():
            field = f"{prefix}.{name}"
            body = step.model_dump(mode="json", exclude_none=True, exclude={"component", "trial"})
            for key in ("component", "trial"):
                value = getattr(step, key)
                if value is not None:
                    body[key] = self._component(value, f"{field}.{key}")
            self._code_and_environment(body, step.code, step.environment, base, f"{field}.")
            inputs: dict[str, Any] = {}
            for key, given in step.inputs.items():
                if isinstance(given, dict) and isinstance(given.get("path"), str):
                    port = JobInput.model_validate(given)
                    inputs[key] = self._one_input(key, port, base, f"{field}.inputs.{key}")
                else:
                    inputs[key] = given
            body["inputs"] = inputs
            out[name] = body
        return out

    def _prepare_pipeline(self, job: PipelineJob) -> dict[str, Any]:
        base = job.base_path
        body = job.to_wire()
        body["jobs"] = self._steps(job.jobs, base, "jobs")
        if job.component is not None:
            body["component"] = self._component(job.component, "component")
        body["inputs"] = self._inputs(job, base)
        body.setdefault("experiment_name", default_experiment())
        return body

    def _prepare_sweep(self, job: SweepJob) -> dict[str, Any]:
        base = job.base_path
        body = job.to_wire()
        if isinstance(job.trial, dict):
            trial = SweepTrial.model_validate(job.trial)
            body["trial"] = dict(job.trial)
            self._code_and_environment(body["trial"], trial.code, trial.environment, base, "trial.")
        else:
            body["trial"] = self._component(job.trial, "trial")
        body["inputs"] = self._inputs(job, base)
        body.setdefault("experiment_name", default_experiment())
        return body

    def create_or_update(self, job: Any, **_ignored: Any) -> AnyJob:
        """Submit a job (its local files are uploaded first) and return it, queued.

        `job` is a command job, a pipeline job (from YAML or the `forgeml.dsl` decorator) or
        a sweep job."""
        if hasattr(job, "to_pipeline_job"):
            job = job.to_pipeline_job()
        try:
            if isinstance(job, CommandJob):
                body = self._prepare(job)
            elif isinstance(job, PipelineJob):
                body = self._prepare_pipeline(job)
            elif isinstance(job, SweepJob):
                body = self._prepare_sweep(job)
            else:
                raise TypeError(f"expected a job document, got {type(job).__name__}")
            return parse_job(self._http.json("POST", "/jobs", json=body))
        except SpecError as exc:
            raise exc.in_file(job.source) from None

    def rerun(self, name: str) -> AnyJob:
        """Submit a job again under a new name; a pipeline reuses the steps that completed."""
        return parse_job(self._http.json("POST", f"/jobs/{quote(name, safe='')}/rerun"))

    # --------------------------------------------------------------------------- read
    def get(self, name: str) -> AnyJob:
        return parse_job(self._http.json("GET", f"/jobs/{quote(name, safe='')}"))

    def list(
        self,
        *,
        status: str | list[str] | None = None,
        experiment_name: str | None = None,
        tag: str | list[str] | None = None,
        parent_job_name: str | None = None,
        max_results: int | None = None,
        include_children: bool = False,
    ) -> Iterator[AnyJob]:
        """Jobs, newest first, filtered by status, experiment, tag (`k` or `k=v`) and parent.

        Without `parent_job_name`, only top-level jobs, unless `include_children`."""
        params: dict[str, Any] = {"limit": min(max_results or 100, 100)}
        if status:
            params["status"] = [status] if isinstance(status, str) else status
        if experiment_name:
            params["experiment_name"] = experiment_name
        if tag:
            params["tag"] = [tag] if isinstance(tag, str) else tag
        if parent_job_name:
            params["parent"] = parent_job_name
        if include_children:
            params["all"] = "true"
        seen = 0
        while True:
            page = self._http.json("GET", "/jobs", params=params)
            for item in page["items"]:
                yield parse_job(item)
                seen += 1
                if max_results is not None and seen >= max_results:
                    return
            if not page.get("next_token"):
                return
            params["page_token"] = page["next_token"]

    def logs(self, name: str, *, after: int = 0) -> JobLogs:
        return JobLogs.model_validate(
            self._http.json("GET", f"/jobs/{quote(name, safe='')}/logs", params={"after": after})
        )

    def outputs(self, name: str) -> JobOutputs:
        return JobOutputs.model_validate(
            self._http.json("GET", f"/jobs/{quote(name, safe='')}/outputs")
        )

    # ------------------------------------------------------------------------- cancel
    def cancel(self, name: str) -> AnyJob:
        """Ask a job to stop; returns at once (queued jobs are canceled at once)."""
        return parse_job(self._http.json("POST", f"/jobs/{quote(name, safe='')}/cancel"))

    def begin_cancel(self, name: str) -> CancelPoller:
        """azure-ai-ml's form: `client.jobs.begin_cancel(name).result()` waits for the stop."""
        return CancelPoller(self, name)

    # ------------------------------------------------------------------------- stream
    def stream(
        self, name: str, *, out: IO[str] | None = None, raise_on_failure: bool = True
    ) -> AnyJob:
        """Print the job's logs live until it ends; raise `JobFailedError` if it failed."""
        sink = out or sys.stdout
        sink.write(f"RunId: {name}\n")
        sink.write(f"Web View: {self._http.url}/api/v1/jobs/{name}\n\nStreaming logs:\n")
        sink.flush()
        if self.get(name).type in ("pipeline", "sweep"):
            return self._stream_tree(name, sink, raise_on_failure)
        after = 0
        deadline: float | None = None
        while True:
            try:
                for event, data in self._events(name, after):
                    deadline = None
                    if event == "log":
                        after = int(data["seq"])
                        sink.write(data["text"])
                        sink.flush()
                    elif event == "end":
                        return self._summary(name, sink, raise_on_failure)
            except (UnavailableError, httpx.TransportError):
                # the workspace restarts, or the connection dropped: resume from `after`
                deadline = deadline or time.monotonic() + RECONNECT_S
                if time.monotonic() > deadline:
                    raise
                time.sleep(1.0)

    def _children(self, name: str) -> tuple[AnyJob, ...]:
        return tuple(self.list(parent_job_name=name, max_results=10_000))

    def _stream_tree(self, name: str, sink: IO[str], raise_on_failure: bool) -> AnyJob:
        """Follow a pipeline or sweep: its own log and every step's (or trial's), each line
        prefixed with the step's name, interleaved as they arrive."""
        prefixes: dict[str, str] = {name: ""}
        cursors: dict[str, int] = {}
        line_start: dict[str, bool] = {}
        finished: set[str] = set()
        parents = {name}
        while True:
            ended = self.get(name).status in TERMINAL
            for parent in sorted(parents):
                # oldest first, so steps appear in the order they started
                for child in reversed(self._children(parent)):
                    if child.name and child.name not in prefixes:
                        label = child.step or child.name
                        outer = prefixes[parent].strip("[] ")
                        full = f"{outer}/{label}" if outer else label
                        prefixes[child.name] = f"[{full}] "
                        if child.type in ("pipeline", "sweep"):
                            parents.add(child.name)
            for job, prefix in list(prefixes.items()):
                if job in finished:
                    continue
                page = self.logs(job, after=cursors.get(job, 0))
                for chunk in page.items:
                    sink.write(_prefixed(chunk.text, prefix, line_start, job))
                sink.flush()
                cursors[job] = page.last_seq
                if page.done and job != name:
                    finished.add(job)
            if ended:
                return self._summary(name, sink, raise_on_failure)
            time.sleep(0.5)

    def _events(self, name: str, after: int) -> Iterator[tuple[str, dict[str, Any]]]:
        url = f"{self._http.api}/jobs/{quote(name, safe='')}/logs/stream"
        timeout = httpx.Timeout(60.0, connect=10.0)
        try:
            with self._http.client.stream(
                "GET", url, params={"after": after}, timeout=timeout
            ) as response:
                if response.status_code >= 400:
                    response.read()
                    try:
                        payload = response.json()
                    except ValueError:
                        payload = {"message": response.text}
                    raise error_from_payload(response.status_code, payload)
                event, data = "message", ""
                for line in response.iter_lines():
                    if not line:
                        if data:
                            yield event, json.loads(data)
                        event, data = "message", ""
                    elif line.startswith("event:"):
                        event = line[6:].strip()
                    elif line.startswith("data:"):
                        data += line[5:].strip()
        except httpx.ConnectError as exc:
            raise UnavailableError(
                f"no forgeml workspace answers at {self._http.url} ({exc})."
            ) from None

    def _summary(self, name: str, sink: IO[str], raise_on_failure: bool) -> AnyJob:
        job = self.get(name)
        sink.write(f"\nExecution Summary\n=================\nRunId: {name}\n")
        sink.write(f"Status: {job.status.value}\n")
        if job.status is not JobStatus.completed and job.error:
            sink.write(f"Error: {job.error}\n")
        sink.flush()
        if raise_on_failure and job.status is not JobStatus.completed:
            raise JobFailedError(job)
        return job

    # ----------------------------------------------------------------------- download
    def download(
        self,
        name: str,
        *,
        download_path: str | Path = ".",
        output_name: str | None = None,
        all: bool = False,
    ) -> Path:
        """Download the job's artifacts and logs, one named output, or (`all`) everything.

        Layout as azure-ai-ml's: `<path>/artifacts/...` (./outputs, ./logs, user_logs of the
        run, and the workspace's copy of the job's log streams) and
        `<path>/named-outputs/<output>/...`.
        """
        root = Path(download_path)
        job = self.get(name)
        outputs = {o.name: o for o in self.outputs(name).items}
        if output_name is not None and output_name not in outputs:
            known = ", ".join(sorted(outputs)) or "none"
            raise SpecError(
                f"job '{name}' has no stored output '{output_name}' (stored: {known}).",
                field="output_name",
            )
        if output_name is None or all:
            self._download_artifacts(job, root / "artifacts")
            self._download_logs(name, root / "artifacts" / "system_logs" / "workspace")
        for key, output in outputs.items():
            if all or key == output_name:
                self._download_content(output.uri, root / "named-outputs" / key)
        return root

    def _download_logs(self, name: str, dest: Path) -> None:
        dest.mkdir(parents=True, exist_ok=True)
        files: dict[str, IO[str]] = {}
        after = 0
        try:
            while True:
                page = self.logs(name, after=after)
                for chunk in page.items:
                    if chunk.stream not in files:
                        files[chunk.stream] = (dest / f"{chunk.stream}.txt").open("w")
                    files[chunk.stream].write(chunk.text)
                after = page.last_seq
                if not page.items:
                    return
        finally:
            for fh in files.values():
                fh.close()

    def _download_content(self, uri: str, dest: Path) -> None:
        if not uri.startswith(CONTENT_PREFIX):
            raise SpecError(f"the output at '{uri}' is not workspace content; fetch it directly.")
        digest, sub = parse_content_uri(uri)
        manifest = self._http.json("GET", f"/content/{digest}")
        for entry in manifest["files"]:
            path = str(entry["path"])
            if sub and path != sub and not path.startswith(sub.rstrip("/") + "/"):
                continue
            target = dest / safe_relpath(path)
            self._fetch(f"{self._http.api}/content/{digest}/files/{quote(path)}", target)

    def _download_artifacts(self, job: AnyJob, dest: Path) -> None:
        if job.experiment_id is None:
            return
        root = f"{job.experiment_id}/{job.name}/artifacts"
        base = f"{self._http.url}/api/2.0/mlflow-artifacts/artifacts"
        todo = [""]
        while todo:
            sub = todo.pop()
            listing = self._http.json("GET", base, params={"path": f"{root}/{sub}".rstrip("/")})
            for entry in (listing or {}).get("files", []):
                rel = f"{sub}/{entry['path'].rsplit('/', 1)[-1]}".lstrip("/")
                if entry.get("is_dir"):
                    todo.append(rel)
                else:
                    self._fetch(f"{base}/{root}/{quote(rel)}", dest / safe_relpath(rel))

    def _fetch(self, url: str, target: Path) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        with self._http.client.stream("GET", url) as response:
            if response.status_code >= 400:
                response.read()
                raise error_from_payload(response.status_code, {"message": response.text})
            with target.open("wb") as fh:
                for chunk in response.iter_bytes():
                    fh.write(chunk)
