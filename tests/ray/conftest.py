"""A real Ray head on 127.0.0.1 for the session (`ray start --head`), a workspace (the jobs tests'
`server`, `sdk` and `cli` fixtures) whose `ray` compute points at it, and helpers. The runners on
Ray work in a folder of their own (the compute's `working_dir`), never in the workspace's home:
what they need comes over HTTP."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

import forgeml
from forgeml import MLClient
from tests.cli.live import free_port
from tests.jobs import conftest as jobs_fixtures
from tests.jobs.conftest import kill_leftovers

# the jobs tests' workspace per module, and the SDK and CLI pointed at it
server = jobs_fixtures.server
sdk = jobs_fixtures.sdk
cli = jobs_fixtures.cli

RAY = str(Path(sys.executable).with_name("ray"))


@dataclass
class RayHead:
    address: str  # the dashboard: the Jobs API
    client_address: str  # ray://
    gcs_address: str
    temp_dir: Path
    env: dict[str, str]

    def ray(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [RAY, *args], env=self.env, capture_output=True, text=True, timeout=timeout
        )


def _ray_env(temp_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RAY_", "FORGEML_"))}
    # the nodes' `python` must be the one with forgeml installed: this one
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["RAY_TMPDIR"] = str(temp_dir)
    return env


def processes_of(temp_dir: Path) -> list[int]:
    """Ray's processes of this head (their command lines name its temp folder)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        with contextlib.suppress(OSError):
            cmd = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            if str(temp_dir) in cmd:
                found.append(int(entry))
    return found


def stop_ray(temp_dir: Path) -> None:
    """Stop the Ray started with `temp_dir` (`ray stop` would stop every Ray on this machine)."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in processes_of(temp_dir):
            with contextlib.suppress(OSError):
                os.kill(pid, sig)
        time.sleep(1 if sig == signal.SIGTERM else 0)


@pytest.fixture(scope="session")
def ray_head() -> Iterator[RayHead]:
    # a short path: Ray's sockets live under it and a socket path has at most 107 bytes
    temp_dir = Path(tempfile.mkdtemp(prefix="fray", dir="/tmp"))
    gcs, dash, client = free_port(), free_port(), free_port()
    # every port of its own, so that another Ray on this machine never gets in the way
    ports = {
        "dashboard-agent-listen-port": free_port(),
        "dashboard-agent-grpc-port": free_port(),
        "runtime-env-agent-port": free_port(),
        "metrics-export-port": free_port(),
    }
    env = _ray_env(temp_dir)
    started = subprocess.run(
        [
            RAY,
            "start",
            "--head",
            "--node-ip-address=127.0.0.1",
            f"--port={gcs}",
            "--dashboard-host=127.0.0.1",
            f"--dashboard-port={dash}",
            f"--ray-client-server-port={client}",
            "--num-cpus=2",
            "--disable-usage-stats",
            f"--temp-dir={temp_dir}",
            *(f"--{flag}={port}" for flag, port in ports.items()),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert started.returncode == 0, started.stdout + started.stderr
    head = RayHead(
        address=f"http://127.0.0.1:{dash}",
        client_address=f"ray://127.0.0.1:{client}",
        gcs_address=f"127.0.0.1:{gcs}",
        temp_dir=temp_dir,
        env=env,
    )
    # ready once the Jobs API takes a job (the node's agent starts after the dashboard)
    deadline = time.monotonic() + 120
    while True:
        with contextlib.suppress(httpx.HTTPError):
            answer = httpx.post(f"{head.address}/api/jobs/", json={"entrypoint": "true"}, timeout=5)
            if answer.status_code == 200:
                break
        assert time.monotonic() < deadline, "the Ray Jobs API did not take a job"
        time.sleep(0.5)
    try:
        yield head
    finally:
        stop_ray(temp_dir)
        shutil.rmtree(temp_dir, ignore_errors=True)


@pytest.fixture(scope="module")
def ray_workdir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Where runners on the cluster work: not the workspace's home."""
    folder = tmp_path_factory.mktemp("ray-nodes")
    yield folder
    kill_leftovers(folder)  # the commands of runners a test killed on purpose


def create_ray_compute(
    sdk: MLClient, name: str, address: str, workdir: Path, num_cpus: float = 0.5, **more: Any
) -> str:
    """A `ray` compute whose runners work in `workdir` with this interpreter (it has forgeml)."""
    sdk.compute.create_or_update(
        forgeml.RayCompute(
            name=name,
            address=address,
            resources={"num_cpus": num_cpus},
            working_dir=str(workdir),
            python=sys.executable,
            **more,
        )
    )
    return name


@pytest.fixture(scope="module")
def ray_compute(sdk: MLClient, ray_head: RayHead, ray_workdir: Path) -> str:
    name = f"ray-{uuid.uuid4().hex[:6]}"
    return create_ray_compute(sdk, name, ray_head.address, ray_workdir, max_concurrent_jobs=4)
