"""A real `forgeml up` per test module for pipelines and sweeps, and helpers to read them.

The server, the SDK and the CLI are those of the command-job tests (tests/jobs/conftest.py):
one workspace per module, stopped afterwards, with every process it started killed. What is
added here reads parent jobs: their child jobs by step or trial, how many children ran at once
(from the timestamps the workspace recorded), and a wait that notices a parent that stopped
moving, so a pipeline the orchestrator can no longer advance fails its test in seconds.
"""

from __future__ import annotations

import textwrap
import time
import uuid
from collections.abc import Iterable, Iterator
from datetime import datetime
from pathlib import Path

import pytest

import forgeml
from forgeml import MLClient
from forgeml.client.jobs import AnyJob
from forgeml.schemas.jobs import PipelineJobInfo, SweepJobInfo
from tests.cli.live import Cli, Server, start_workspace
from tests.jobs.conftest import TERMINAL, kill_leftovers, log_text, wait_for

__all__ = [
    "TERMINAL",
    "children",
    "log_text",
    "make_compute",
    "max_overlap",
    "pipeline",
    "sweep",
    "wait_for",
    "wait_parent",
    "write",
]

#: a parent job whose children all ended is moved on within a tick (one second); allow a lot more
STUCK_S = 15.0


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = start_workspace(tmp_path_factory.mktemp("pipelines-workspace"))
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


def make_compute(sdk: MLClient, slots: int) -> str:
    """A local compute of its own with `slots` slots, so no other test's jobs take them."""
    name = f"c-{uuid.uuid4().hex[:8]}"
    sdk.compute.create_or_update(forgeml.LocalCompute(name=name, max_concurrent_jobs=slots))
    return name


@pytest.fixture
def compute(sdk: MLClient) -> str:
    return make_compute(sdk, 8)


def write(folder: Path, name: str, text: str) -> Path:
    """Write a (dedented) YAML or script file; its path."""
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"))
    return path


def children(sdk: MLClient, name: str) -> dict[str, AnyJob]:
    """The child jobs of a pipeline (by step name) or of a sweep (by trial number)."""
    found = {str(c.step): c for c in sdk.jobs.list(parent_job_name=name)}
    for step, child in found.items():
        assert child.parent_job_name == name, child
        assert child.name == f"{name}--{step}", child.name
    return found


def _leaves(sdk: MLClient, name: str) -> list[AnyJob]:
    """The command jobs under a parent, through nested pipelines and sweeps."""
    out: list[AnyJob] = []
    for kid in sdk.jobs.list(parent_job_name=name):
        out += [kid] if kid.type == "command" else _leaves(sdk, str(kid.name))
    return out


def wait_parent(sdk: MLClient, name: str, timeout: float = 120) -> AnyJob:
    """Wait until a pipeline or sweep ends. Fail early when no command job under it has been
    active for STUCK_S seconds while it has not ended: nothing is left that could move it on."""
    deadline = time.monotonic() + timeout
    idle_since: float | None = None
    while True:
        job = sdk.jobs.get(name)
        if job.status in TERMINAL:
            return job
        leaves = _leaves(sdk, name)
        if any(k.status not in TERMINAL for k in leaves):
            idle_since = None
        else:
            idle_since = idle_since or time.monotonic()
            if time.monotonic() - idle_since > STUCK_S:
                shown = {str(k.name): k.status.value for k in leaves}
                raise AssertionError(
                    f"{job.type} {name} is still {job.status} although no job under it has been "
                    f"active for {STUCK_S:.0f}s (jobs: {shown}):\n{log_text(sdk, name)}"
                )
        if time.monotonic() > deadline:
            raise AssertionError(f"{name} is still {job.status} after {timeout}s")
        time.sleep(0.2)


def pipeline(sdk: MLClient, name: str, timeout: float = 120) -> PipelineJobInfo:
    job = wait_parent(sdk, name, timeout)
    assert isinstance(job, PipelineJobInfo), job
    return job


def sweep(sdk: MLClient, name: str, timeout: float = 120) -> SweepJobInfo:
    job = wait_parent(sdk, name, timeout)
    assert isinstance(job, SweepJobInfo), job
    return job


def max_overlap(jobs: Iterable[AnyJob]) -> int:
    """The most of `jobs` whose commands ran at the same moment (started_at .. ended_at)."""
    events: list[tuple[datetime, int]] = []
    for job in jobs:
        assert job.started_at is not None and job.ended_at is not None, job
        events += [(job.started_at, 1), (job.ended_at, -1)]
    running = most = 0
    for _, delta in sorted(events):  # an end sorts before a start at the same instant
        running += delta
        most = max(most, running)
    return most
