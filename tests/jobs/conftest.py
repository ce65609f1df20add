"""A real `forgeml up` per test module (API and scheduler in one process), the SDK and the CLI
pointed at it, and helpers to wait for jobs and to find the processes they started."""

from __future__ import annotations

import contextlib
import os
import signal
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import forgeml
from forgeml import MLClient
from tests.cli.live import Cli, Server, start_workspace

TERMINAL = ("completed", "failed", "canceled")


def processes_under(folder: Path) -> set[int]:
    """Processes whose working folder lies under `folder`: a workspace's runners and commands."""
    found = set()
    root = str(folder.resolve())
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != os.getpid():
            with contextlib.suppress(OSError):
                if os.readlink(f"/proc/{entry}/cwd").startswith(root) and alive(int(entry)):
                    found.add(int(entry))
    return found


def alive(pid: int) -> bool:
    """True while `pid` runs (a zombie waiting for its parent has stopped running)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def kill_leftovers(folder: Path) -> None:
    for pid in processes_under(folder):
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)


def wait_for(
    sdk: MLClient, name: str, states: tuple[str, ...] = TERMINAL, timeout: float = 90
) -> Any:
    """The job once it is in one of `states` (a command job, pipeline or sweep)."""
    deadline = time.monotonic() + timeout
    while True:
        job = sdk.jobs.get(name)
        if job.status in states:
            return job
        if time.monotonic() > deadline:
            logs = "".join(c.text for c in sdk.jobs.logs(name).items)
            if set(states) <= set(TERMINAL):
                # a job that hangs must not hold the compute for the tests after this one
                with contextlib.suppress(Exception):
                    sdk.jobs.begin_cancel(name)
            raise AssertionError(f"job {name} is still {job.status} after {timeout}s:\n{logs}")
        time.sleep(0.1)


def log_text(sdk: MLClient, name: str, stream: str | None = None) -> str:
    return "".join(
        c.text for c in sdk.jobs.logs(name).items if stream is None or c.stream == stream
    )


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = start_workspace(tmp_path_factory.mktemp("jobs-workspace"))
    try:
        yield srv
    finally:
        srv.stop()
        kill_leftovers(srv.home)


@pytest.fixture(scope="module")
def sdk(server: Server) -> Iterator[MLClient]:
    with MLClient(url=server.url) as client:
        yield client


@pytest.fixture(scope="module")
def cli(server: Server, tmp_path_factory: pytest.TempPathFactory) -> Cli:
    return Cli(url=server.url, cwd=tmp_path_factory.mktemp("cwd"))


@pytest.fixture
def compute(sdk: MLClient) -> str:
    """A compute of its own for one test, so that no other test's jobs take its slots."""
    name = f"c-{uuid.uuid4().hex[:8]}"
    sdk.compute.create_or_update(forgeml.LocalCompute(name=name, max_concurrent_jobs=8))
    return name
