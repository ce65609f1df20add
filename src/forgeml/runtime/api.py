"""The runner's HTTP client for the runtime contract, patient with a workspace that restarts.

Every call the runner makes goes through `RuntimeApi`: the contract routes under
`/api/v1/jobs/{name}/runtime/`, content downloads, and the MLflow artifact upload route. A
workspace that does not answer (it is restarting, or a proxy says 502/503/504) is retried with
exponential backoff for up to `retry_s` seconds (`FORGEML_RUNNER_RETRY_S`, 15 minutes by default)
rather than failing the job; an answer with a 4xx status is the workspace's verdict and is raised
at once as forgeml's own error class.
"""

from __future__ import annotations

import hashlib
import os
import ssl
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

import httpx

from forgeml.client.http import Http
from forgeml.core.content import Manifest
from forgeml.core.errors import SystemError, UnavailableError, error_from_payload
from forgeml.schemas.runtime import (
    LogStream,
    RunnerAck,
    RunnerJob,
    RunnerLogs,
    RunnerOutputDone,
    RunnerState,
)

T = TypeVar("T")
RETRY_VAR = "FORGEML_RUNNER_RETRY_S"
_MAX_FAULTS = 4


class WorkspaceGone(SystemError):
    """The workspace stayed unreachable for longer than the runner is willing to wait."""


_tls: ssl.SSLContext | None = None


def tls_context() -> ssl.SSLContext:
    """The TLS settings of the runner's HTTP client, built once per process: loading the CA
    bundle takes longer than a whole no-op job, and a forked runner inherits it ready."""
    global _tls
    if _tls is None:
        _tls = httpx.create_ssl_context()
    return _tls


class RuntimeApi:
    """One job's view of the workspace: its spec, its reports, its content and artifacts."""

    def __init__(
        self,
        url: str,
        job: str,
        *,
        client: httpx.Client | None = None,
        retry_s: float | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.job = job
        self.http = Http(
            self.url,
            client=client
            or httpx.Client(
                timeout=httpx.Timeout(60.0, connect=10.0),
                follow_redirects=True,
                verify=tls_context(),
            ),
        )
        self.retry_s = retry_s if retry_s is not None else float(os.environ.get(RETRY_VAR, "900"))
        self._base = f"/jobs/{quote(job, safe='')}/runtime"

    # ------------------------------------------------------------------- retrying wrapper

    def call(self, what: str, fn: Callable[[], T]) -> T:
        """Run `fn`, retrying while the workspace is unreachable; 4xx answers raise at once."""
        deadline = time.monotonic() + self.retry_s
        delay, faults = 0.2, 0
        while True:
            try:
                return fn()
            except (UnavailableError, httpx.TransportError) as exc:
                problem: Exception = exc
            except SystemError as exc:
                # a 5xx that is not "unavailable" may be a proxy in front of a restarting
                # workspace, or a real fault: a few tries tell them apart
                faults += 1
                if faults >= _MAX_FAULTS:
                    raise
                problem = exc
            if time.monotonic() + delay > deadline:
                raise WorkspaceGone(
                    f"the workspace at {self.url} did not answer for {self.retry_s:.0f} s while "
                    f"the runner tried to {what}: {problem}"
                )
            time.sleep(delay)
            delay = min(delay * 2, 5.0)

    def _json(self, what: str, method: str, path: str, **kwargs: Any) -> Any:
        return self.call(what, lambda: self.http.json(method, path, **kwargs))

    # ----------------------------------------------------------------- contract routes

    def spec(self) -> RunnerJob:
        data = self._json("fetch the job spec", "GET", f"{self._base}/spec")
        return RunnerJob.model_validate(data)

    def state(self, state: RunnerState) -> RunnerAck:
        body = state.model_dump(mode="json", exclude_none=True)
        return self._ack(f"report '{state.state}'", "POST", f"{self._base}/state", json=body)

    def logs(self, stream: LogStream, text: str) -> RunnerAck:
        body = RunnerLogs(stream=stream, text=text).model_dump(mode="json")
        return self._ack("send logs", "POST", f"{self._base}/logs", json=body)

    def output_done(self, name: str, uri: str) -> RunnerAck:
        body = RunnerOutputDone(name=name, uri=uri).model_dump(mode="json")
        return self._ack(f"report output '{name}'", "POST", f"{self._base}/outputs", json=body)

    def heartbeat(self) -> RunnerAck:
        return self._ack("send a heartbeat", "POST", f"{self._base}/heartbeat")

    def _ack(self, what: str, method: str, path: str, **kwargs: Any) -> RunnerAck:
        data = self._json(what, method, path, **kwargs)
        return RunnerAck.model_validate(data or {})

    # ------------------------------------------------------------------------- content

    def manifest(self, digest: str) -> Manifest:
        data = self._json("read a content manifest", "GET", f"/content/{digest}")
        return Manifest.from_json(data)

    def download(self, digest: str, path: str, sha256: str, dest: Path) -> None:
        """Fetch one file of a manifest into `dest`, checking its sha256 on the way."""

        def fetch() -> None:
            hasher = hashlib.sha256()
            target = f"{self.http.api}/content/{digest}/files/{quote(path)}"
            with self.http.client.stream("GET", target) as response:
                if response.status_code >= 400:
                    response.read()
                    _raise_for(response)
                with dest.open("wb") as fh:
                    for chunk in response.iter_bytes(1 << 20):
                        hasher.update(chunk)
                        fh.write(chunk)
            if hasher.hexdigest() != sha256:
                dest.unlink(missing_ok=True)
                raise UnavailableError(
                    f"'{path}' of content {digest[:12]} arrived damaged (sha256 mismatch)."
                )

        self.call(f"download '{path}'", fetch)

    # ------------------------------------------------------------------- run artifacts

    def put_artifact(self, experiment_id: str, run_id: str, relpath: str, source: Path) -> None:
        """Upload one file as a run artifact through the MLflow artifact proxy route."""
        target = (
            f"{self.url}/api/2.0/mlflow-artifacts/artifacts/"
            f"{quote(experiment_id)}/{quote(run_id)}/artifacts/{quote(relpath)}"
        )

        def put() -> None:
            with source.open("rb") as fh:
                self.http.request(
                    "PUT",
                    target,
                    content=fh,
                    headers={
                        "content-type": "application/octet-stream",
                        "content-length": str(source.stat().st_size),
                    },
                )

        self.call(f"upload the artifact '{relpath}'", put)

    def close(self) -> None:
        self.http.close()


def _raise_for(response: httpx.Response) -> None:
    try:
        payload = response.json()
    except ValueError:
        payload = {"message": response.text or f"HTTP {response.status_code}"}
    if not isinstance(payload, dict):
        payload = {"message": str(payload)}
    raise error_from_payload(response.status_code, payload)
