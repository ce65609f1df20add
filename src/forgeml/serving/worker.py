"""The serving worker: one instance of an online deployment, wherever it runs.

`python -m forgeml.serving.worker --url <workspace> --instance <id> --home <dir>` asks the
workspace what to serve, realizes the deployment's environment (the same cached uv virtualenvs
jobs use), fetches the model and the scoring code, and starts the scoring host in that
environment's Python. Once the host's `init()` has run it reports the host's address; then it
heartbeats, ships the host's output as the deployment's logs, and stops the host when the
workspace no longer wants the instance or the worker gets SIGTERM. A host that exits (or an
`init()` that fails) is reported as failed with the reason. Like the job runner it speaks only
HTTP to the workspace, so it runs the same on this machine and on a Ray node.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from pathlib import Path
from types import FrameType
from typing import IO

import httpx

from forgeml.client.http import Http
from forgeml.compute.environments import ENV_CACHE_VAR, EnvironmentCache
from forgeml.core.content import CONTENT_PREFIX, parse_content_uri
from forgeml.core.errors import ForgemlError, NotFoundError
from forgeml.runtime import inputs as job_inputs
from forgeml.runtime.api import RuntimeApi
from forgeml.runtime.content import ContentCache
from forgeml.schemas.runtime import RunnerInput
from forgeml.schemas.serving import InstanceAck, InstanceReport, WorkerSpec
from forgeml.serving.envside.online import SECRET_VAR
from forgeml.serving.hostpkg import host_path

HEARTBEAT_S = 2.0
_PR_SET_PDEATHSIG = 1
STOP_GRACE_S = 5.0
INIT_FAILED_EXIT = 3


class WorkerApi:
    """One serving instance's calls to the workspace."""

    def __init__(self, url: str, instance: str) -> None:
        self.url = url.rstrip("/")
        self.http = Http(self.url, client=httpx.Client(timeout=httpx.Timeout(30.0, connect=5.0)))
        self.base = f"/serving/instances/{instance}"

    def spec(self) -> WorkerSpec:
        return WorkerSpec.model_validate(self.http.json("GET", f"{self.base}/spec"))

    def report(
        self,
        state: str,
        *,
        address: str | None = None,
        message: str | None = None,
        secret: str | None = None,
    ) -> InstanceAck:
        body = InstanceReport.model_validate(
            {"state": state, "address": address, "message": message, "secret": secret}
        )
        return InstanceAck.model_validate(
            self.http.json("POST", f"{self.base}/state", json=body.model_dump(exclude_none=True))
        )

    def logs(self, text: str) -> None:
        self.http.json("POST", f"{self.base}/logs", json={"text": text})


class LogPump:
    """Batches log lines and sends them every half second; a workspace that does not answer
    costs lines, never the instance."""

    def __init__(self, api: WorkerApi) -> None:
        self.api = api
        self.lines: deque[str] = deque(maxlen=10_000)
        self.tail: deque[str] = deque(maxlen=40)
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True, name="log-pump")
        self.thread.start()

    def __call__(self, line: str) -> None:
        line = line.rstrip("\n")
        # also here: a worker that cannot reach the workspace leaves its reason in its own log
        print(line, flush=True)
        with self.lock:
            self.lines.append(line)
            self.tail.append(line)

    def _run(self) -> None:
        while not self.stop.wait(0.5):
            self.flush()
        self.flush()

    def flush(self) -> None:
        with self.lock:
            if not self.lines:
                return
            text = "\n".join(self.lines) + "\n"
            self.lines.clear()
        with contextlib.suppress(ForgemlError, httpx.HTTPError):
            self.api.logs(text)

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=5)


def _node_address() -> str:
    """This machine's address as other machines reach it (the route to a public address)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("10.254.254.254", 1))
            return str(probe.getsockname()[0])
        except OSError:
            return "127.0.0.1"


def _ready_deadline(probe: dict[str, int]) -> float:
    """Azure ML's start-up allowance: initial_delay + period x failure_threshold (310 s)."""
    return float(
        probe.get("initial_delay", 10)
        + probe.get("period", 10) * probe.get("failure_threshold", 30)
    )


class _Liveness:
    """Azure ML's liveness probe: GET /liveness every `period` s, `timeout` s each; the host
    is dead after `failure_threshold` failures in a row."""

    def __init__(self, address: str, probe: dict[str, int]) -> None:
        self.url = f"{address}/liveness"
        self.period = float(probe.get("period", 10))
        self.timeout = float(probe.get("timeout", 2))
        self.threshold = int(probe.get("failure_threshold", 30))
        self.failures = 0
        self.last = time.monotonic()
        self.client = httpx.Client(timeout=self.timeout)

    def check(self) -> str | None:
        if time.monotonic() - self.last < self.period or self.url.startswith("unix:"):
            return None
        self.last = time.monotonic()
        try:
            ok = self.client.get(self.url).status_code == 200
        except httpx.HTTPError:
            ok = False
        self.failures = 0 if ok else self.failures + 1
        if self.failures >= self.threshold:
            return (
                f"the scoring host failed its liveness probe {self.failures} times in a row "
                f"(every {self.period:g} s, {self.timeout:g} s each); restarting the instance"
            )
        return None


def _die_with_parent() -> None:
    """In the scoring host, before it runs: on Linux, SIGTERM when its worker dies, so that a
    worker killed outright (SIGKILL) never leaves a host serving nobody."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def _pump(stream: IO[bytes], say: LogPump) -> None:
    for raw in iter(stream.readline, b""):
        say(raw.decode(errors="replace"))


class Worker:
    def __init__(self, api: WorkerApi, instance: str, home: Path, bind_host: str) -> None:
        self.api = api
        self.instance = instance
        self.home = home
        self.bind_host = bind_host
        self.workdir = home / "serving" / instance
        self.stopping = threading.Event()
        self.host: subprocess.Popen[bytes] | None = None
        self.say = LogPump(api)
        self.secret = secrets.token_urlsafe(24)
        self.drain_s = 10.0

    def _on_signal(self, _signum: int, _frame: FrameType | None) -> None:
        self.stopping.set()

    def run(self) -> int:
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)
        try:
            return self._run()
        except ForgemlError as exc:
            self.say(f"the instance could not start: {exc.message}")
            self._report("failed", message=exc.message)
            return 1
        except Exception as exc:
            self.say(f"the instance could not start: {type(exc).__name__}: {exc}")
            self._report("failed", message=f"{type(exc).__name__}: {exc}")
            return 1
        finally:
            self._stop_host()
            self.say.close()

    def _report(self, state: str, **kw: str | None) -> InstanceAck:
        try:
            return self.api.report(state, **kw)
        except NotFoundError:
            return InstanceAck(stop=True)
        except (ForgemlError, httpx.HTTPError):
            return InstanceAck(stop=False)

    def _run(self) -> int:
        spec = self.api.spec()
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.say(
            f"instance {self.instance} of {spec.endpoint}/{spec.deployment} (generation "
            f"{spec.generation}) starting on {socket.gethostname()}"
        )
        cmd, env, cwd = self._prepare(spec)
        ready_file = self.workdir / "ready.json"
        ready_file.unlink(missing_ok=True)
        cmd += ["--ready-file", str(ready_file)]
        self.host = subprocess.Popen(
            cmd,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent,  # one prctl call: safe between fork and exec
        )
        assert self.host.stdout is not None
        threading.Thread(target=_pump, args=(self.host.stdout, self.say), daemon=True).start()
        address = self._await_ready(ready_file, _ready_deadline(spec.readiness_probe))
        if address is None:
            return 0 if self.stopping.is_set() else 1
        self.say(f"instance {self.instance} serves at {address}")
        ack = self._report("ready", address=address, secret=self.secret)
        probe = _Liveness(address, spec.liveness_probe)
        while not ack.stop and not self.stopping.wait(HEARTBEAT_S):
            code = self.host.poll()
            if code is not None:
                message = f"the scoring host exited with code {code}"
                self.say(message)
                self._report("failed", message=self._with_tail(message))
                return 1
            dead = probe.check()
            if dead is not None:
                self.say(dead)
                self._stop_host(force=True)
                self._report("failed", message=dead)
                return 1
            ack = self._report("ready", address=address)
        self._stop_host()
        self._report("stopped")
        return 0

    def _with_tail(self, message: str) -> str:
        tail = [line for line in self.say.tail if line.strip()][-8:]
        return message + ("; last output:\n" + "\n".join(tail) if tail else "")

    def _await_ready(self, ready_file: Path, deadline_s: float) -> str | None:
        assert self.host is not None
        beat = started = time.monotonic()
        while not self.stopping.is_set():
            if time.monotonic() - started > deadline_s:
                message = (
                    f"the scoring host was not ready within {deadline_s:g} s (readiness_probe: "
                    "initial_delay + period * failure_threshold); init() may hang, or needs a "
                    "longer readiness_probe"
                )
                self.say(message)
                self._stop_host(force=True)
                self._report("failed", message=message)
                return None
            if ready_file.exists():
                data = json.loads(ready_file.read_text())
                address = str(data["address"])
                if self.bind_host == "0.0.0.0":
                    # the host names its loopback address; others reach it at the node's
                    address = address.replace("://127.0.0.1:", f"://{_node_address()}:")
                return address
            code = self.host.poll()
            if code is not None:
                time.sleep(0.2)  # let the pump read the traceback
                first = next(
                    (line for line in self.say.tail if line.startswith("init() failed")), None
                )
                message = first or f"the scoring host exited with code {code} before it was ready"
                self.say(message)
                self._report("failed", message=self._with_tail(message))
                return None
            if time.monotonic() - beat > HEARTBEAT_S:
                beat = time.monotonic()
                if self._report("starting").stop:
                    self.stopping.set()
            time.sleep(0.05)
        return None

    def _prepare(self, spec: WorkerSpec) -> tuple[list[str], dict[str, str], Path]:
        content = ContentCache(
            self.home / "cache", RuntimeApi(self.api.url, f"serving-{self.instance}")
        )
        explicit = os.environ.get(ENV_CACHE_VAR)
        envs = EnvironmentCache(Path(explicit) if explicit else self.home / "envs")
        self.say(f"realizing the environment ({spec.environment_key[:12]})")
        realized = envs.realize(
            spec.environment, spec.environment_key, log=self.say, fetch_build_file=content.read_text
        )
        env = realized.apply(dict(os.environ))
        args = ["--bind", f"{self.bind_host}:0", "--name", f"{spec.endpoint}/{spec.deployment}"]
        args += ["--max-concurrent-requests", str(spec.max_concurrent_requests)]
        if spec.max_queue_wait_ms is not None:
            args += ["--max-queue-wait", str(spec.max_queue_wait_ms / 1000)]
        cwd = self.workdir
        if spec.model_uri:
            item = RunnerInput(type=spec.model_type or "custom_model", uri=spec.model_uri)
            found = job_inputs.materialize({"model": item}, content, self.workdir, self.say)
            model_path = Path(str(found["model"]))
            # Azure ML keeps the model's own folder (or file) name under AZUREML_MODEL_DIR
            sub = (
                parse_content_uri(spec.model_uri)[1]
                if spec.model_uri.startswith(CONTENT_PREFIX)
                else ""
            )
            model_dir = model_path.parent if sub else model_path
            env["AZUREML_MODEL_DIR"] = str(model_dir)
            args += ["--model-dir", str(model_dir)]
        if spec.code_uri and spec.scoring_script:
            code = content.copy(spec.code_uri, self.workdir / "code")
            script = (code / spec.scoring_script).resolve()
            if not script.is_file():
                raise NotFoundError(
                    f"the scoring script '{spec.scoring_script}' is not in the code folder "
                    "(code_configuration.scoring_script is relative to code_configuration.code)."
                )
            env["AML_APP_ROOT"] = str(code)
            env["AZUREML_ENTRY_SCRIPT"] = spec.scoring_script
            args += ["--entry-script", str(script)]
            cwd = code
        env.update(spec.environment_variables)
        env[SECRET_VAR] = self.secret
        # in-flight requests may take the deployment's whole request timeout to finish
        self.drain_s = spec.request_timeout_ms / 1000 + 5
        args += ["--drain-timeout", f"{self.drain_s:g}"]
        host = str(host_path(self.home / "scoring-host"))
        env["PYTHONPATH"] = os.pathsep.join(p for p in (host, env.get("PYTHONPATH", "")) if p)
        env["PYTHONUNBUFFERED"] = "1"
        return [str(realized.python), "-m", "forgeml_scoring.online", *args], env, cwd

    def _stop_host(self, *, force: bool = False) -> None:
        host = self.host
        if host is None or host.poll() is not None:
            return
        if force:
            host.kill()
            host.wait()
            return
        host.send_signal(signal.SIGTERM)
        try:
            # the host drains for up to drain_s itself; a little more, then it is killed
            host.wait(self.drain_s + STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            host.kill()
            host.wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m forgeml.serving.worker")
    parser.add_argument("--url", required=True, help="the workspace URL")
    parser.add_argument("--instance", required=True)
    parser.add_argument("--home", required=True, help="where caches and working folders go")
    parser.add_argument(
        "--bind-host",
        default="127.0.0.1",
        help="where the scoring host listens; 0.0.0.0 on a cluster node (its address is reported)",
    )
    args = parser.parse_args(argv)
    api = WorkerApi(args.url, args.instance)
    return Worker(api, args.instance, Path(args.home).expanduser(), args.bind_host).run()


if __name__ == "__main__":
    sys.exit(main())
