"""Helpers for the online-endpoint tests against a live `forgeml up`: model folders and scoring
scripts written to temporary folders, endpoints and deployments made through the SDK, a scorer
that posts to `scoring_uri` with a key, polling, the scoring host processes of an instance, and
a load generator that keeps N requests in flight and counts what comes back.

The `server` and `sdk` fixtures are the jobs suite's (one `forgeml up` per test module).
"""

from __future__ import annotations

import contextlib
import json
import os
import textwrap
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

import httpx

from forgeml import MLClient
from forgeml.core.specs import Environment, Model
from forgeml.core.specs.endpoints import CodeConfiguration, OnlineDeployment, OnlineEndpoint
from tests.jobs import conftest as jobs_fixtures

# one live `forgeml up` per test module, and the SDK pointed at it
server = jobs_fixtures.server
sdk = jobs_fixtures.sdk

T = TypeVar("T")

#: an image-only environment runs on the workspace's own Python (mlflow, scikit-learn, pandas)
FAST_ENV = Environment(image="python:3.11")

#: a custom scoring script: it reads its model through AZUREML_MODEL_DIR/<folder>/ and answers
#: with the deployment name and version the model folder carries
SCORE_PY = textwrap.dedent(
    """
    import json, os, sys, time

    INFO = None

    def init():
        global INFO
        path = os.path.join(os.environ["AZUREML_MODEL_DIR"], "model", "info.json")
        with open(path) as fh:
            INFO = json.load(fh)
        if INFO.get("fail_init"):
            raise RuntimeError(INFO["fail_init"])
        print("init done for", INFO["name"], INFO["version"], flush=True)

    def run(raw_data):
        data = json.loads(raw_data)
        if data.get("fail") == "value":
            raise ValueError("'values' must be numbers, got 'abc'")
        if data.get("fail") == "crash":
            raise RuntimeError("the model exploded")
        time.sleep(float(data.get("sleep", 0)))
        values = data.get("values", [])
        return {
            "deployment": INFO["name"],
            "version": INFO["version"],
            "scaled": [v * INFO["scale"] for v in values],
            "entry_script": os.environ.get("AZUREML_ENTRY_SCRIPT"),
            "app_root": os.environ.get("AML_APP_ROOT"),
            "cwd": os.getcwd(),
            "greeting": os.environ.get("GREETING"),
        }
    """
)


@dataclass(frozen=True)
class CustomModel:
    """A model folder named `model` and a code folder with `score.py`."""

    model: Path
    code: Path


def write_custom_model(
    root: Path,
    name: str,
    *,
    version: str = "v1",
    scale: float = 2.0,
    fail_init: str | None = None,
) -> CustomModel:
    """A fresh model folder and scoring script under `root` (unique per call)."""
    base = root / f"{name}-{version}-{uuid.uuid4().hex[:6]}"
    model = base / "model"
    code = base / "code"
    model.mkdir(parents=True)
    code.mkdir(parents=True)
    info: dict[str, Any] = {"name": name, "version": version, "scale": scale}
    if fail_init:
        info["fail_init"] = fail_init
    (model / "info.json").write_text(json.dumps(info))
    (code / "score.py").write_text(SCORE_PY)
    return CustomModel(model=model, code=code)


def custom_deployment(
    endpoint: str,
    name: str,
    files: CustomModel,
    *,
    instance_count: int = 1,
    **extra: Any,
) -> OnlineDeployment:
    return OnlineDeployment(
        name=name,
        endpoint_name=endpoint,
        model=Model(path=str(files.model), type="custom_model"),
        code_configuration=CodeConfiguration(code=str(files.code), scoring_script="score.py"),
        environment=FAST_ENV,
        instance_count=instance_count,
        **extra,
    )


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def create_endpoint(sdk: MLClient, name: str) -> OnlineEndpoint:
    return sdk.online_endpoints.begin_create_or_update(OnlineEndpoint(name=name)).result()


def deploy(
    sdk: MLClient,
    deployment: OnlineDeployment,
    *,
    all_traffic: bool = False,
    timeout: float = 60,
) -> OnlineDeployment:
    """Create or update `deployment` and wait until its instances are ready."""
    poller = sdk.online_deployments.begin_create_or_update(deployment, all_traffic=all_traffic)
    return poller.result(timeout=timeout)


def wait_until(
    check: Callable[[], T | None],
    *,
    timeout: float = 20,
    interval: float = 0.1,
    what: str = "the condition",
) -> T:
    """`check()`'s first truthy value; fails the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while True:
        last = check()
        if last:
            return last
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not hold within {timeout} s (last: {last!r})")
        time.sleep(interval)


@dataclass
class Scorer:
    """Posts to an endpoint's scoring URI with its key, as a user's HTTP client does."""

    uri: str
    key: str
    client: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=30))

    @classmethod
    def of(cls, sdk: MLClient, endpoint: str) -> Scorer:
        found = sdk.online_endpoints.get(endpoint)
        assert found.scoring_uri is not None
        key = sdk.online_endpoints.get_keys(endpoint).primary_key
        return cls(uri=found.scoring_uri, key=key)

    def post(
        self,
        body: Any = None,
        *,
        deployment: str | None = None,
        key: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        sent = {"authorization": f"Bearer {self.key if key is None else key}"}
        if deployment:
            sent["azureml-model-deployment"] = deployment
        sent.update(headers or {})
        content = body if isinstance(body, bytes) else json.dumps(body or {}).encode()
        return self.client.post(self.uri, content=content, headers=sent)

    def close(self) -> None:
        self.client.close()


# ------------------------------------------------------------------------------ processes


def host_pids(instance: str) -> list[int]:
    """The scoring host processes of one serving instance (`python -m forgeml_scoring.online`
    with the instance's folder on its command line)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        with contextlib.suppress(OSError):
            with open(f"/proc/{entry}/cmdline", "rb") as fh:
                argv = fh.read().split(b"\0")
            mine = any(f"serving/{instance}/".encode() in a for a in argv)
            if b"forgeml_scoring.online" in argv and mine and _running(int(entry)):
                found.append(int(entry))
    return found


def worker_pids(instance: str) -> list[int]:
    """The serving worker processes (`python -m forgeml.serving.worker --instance <id>`)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        with contextlib.suppress(OSError):
            with open(f"/proc/{entry}/cmdline", "rb") as fh:
                argv = fh.read().split(b"\0")
            mine = instance.encode() in argv
            if b"forgeml.serving.worker" in argv and mine and _running(int(entry)):
                found.append(int(entry))
    return found


def _running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def ready_instances(sdk: MLClient, endpoint: str, name: str) -> list[dict[str, Any]]:
    dep = sdk.online_deployments.get(name, endpoint_name=endpoint)
    return [i for i in dep.instances or [] if i["state"] == "ready"]


# ------------------------------------------------------------------------------ load


@dataclass(frozen=True)
class Answer:
    sent: float  # time.monotonic() when the request was sent
    status: int  # -1: no HTTP answer at all
    deployment: str | None
    version: str | None


@dataclass
class LoadResult:
    answers: list[Answer]
    failures: list[str]

    @property
    def statuses(self) -> Counter[int]:
        return Counter(a.status for a in self.answers)

    @property
    def total(self) -> int:
        return len(self.answers)

    @property
    def errors(self) -> int:
        return sum(1 for a in self.answers if a.status != 200)

    @property
    def versions(self) -> Counter[str]:
        return Counter(a.version for a in self.answers if a.version)


class Load:
    """`threads` clients each sending requests back to back until stopped.

    Every answer is kept with the time its request was sent, its status, the deployment that
    answered and the model version it reported; the first failures' text too. `since(t)`
    tells who answered the requests sent after `t`, so a test can check what a change did
    without counting requests that were already on their way.
    """

    def __init__(
        self,
        scorer: Scorer,
        *,
        threads: int = 8,
        body: Any = None,
        deployment: str | None = None,
    ) -> None:
        self.scorer = scorer
        self.threads = threads
        self.body = json.dumps(body if body is not None else {"values": [1]}).encode()
        self.deployment = deployment
        self.stop_event = threading.Event()
        self.lock = threading.Lock()
        self.answers: list[Answer] = []
        self.failures: list[str] = []
        self.workers: list[threading.Thread] = []

    def __enter__(self) -> Load:
        for index in range(self.threads):
            thread = threading.Thread(target=self._loop, daemon=True, name=f"load-{index}")
            thread.start()
            self.workers.append(thread)
        return self

    def __exit__(
        self,
        _type: type[BaseException] | None,
        _exc: BaseException | None,
        _tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _loop(self) -> None:
        headers = {"authorization": f"Bearer {self.scorer.key}"}
        if self.deployment:
            headers["azureml-model-deployment"] = self.deployment
        with httpx.Client(timeout=30) as client:
            while not self.stop_event.is_set():
                sent = time.monotonic()
                try:
                    response = client.post(self.scorer.uri, content=self.body, headers=headers)
                except httpx.HTTPError as exc:
                    self._add(Answer(sent, -1, None, None), f"{type(exc).__name__}: {exc}")
                    continue
                version = None
                if response.status_code == 200:
                    with contextlib.suppress(ValueError, AttributeError):
                        version = response.json().get("version")
                answer = Answer(
                    sent,
                    response.status_code,
                    response.headers.get("azureml-model-deployment"),
                    version,
                )
                self._add(answer, None if answer.status == 200 else response.text[:300])

    def _add(self, answer: Answer, failure: str | None) -> None:
        with self.lock:
            self.answers.append(answer)
            if failure and len(self.failures) < 10:
                self.failures.append(f"{answer.status}: {failure}")

    def since(self, started: float, count: int, timeout: float = 30) -> LoadResult:
        """The first `count` answers to requests sent after `started` (waits for them)."""

        def enough() -> list[Answer] | None:
            with self.lock:
                found = [a for a in self.answers if a.sent >= started]
            return found[:count] if len(found) >= count else None

        answers = wait_until(enough, timeout=timeout, what=f"{count} answers")
        return LoadResult(answers=answers, failures=[])

    def next(self, count: int, timeout: float = 30) -> LoadResult:
        """The answers to the next `count` requests sent from now."""
        return self.since(time.monotonic(), count, timeout)

    def stop(self) -> LoadResult:
        self.stop_event.set()
        for thread in self.workers:
            thread.join(timeout=35)
        with self.lock:
            return LoadResult(answers=list(self.answers), failures=list(self.failures))


def deployments_of(result: LoadResult) -> set[str]:
    return {a.deployment for a in result.answers if a.deployment}


def versions_of(result: LoadResult) -> set[str]:
    return {a.version for a in result.answers if a.version}
