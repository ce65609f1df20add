"""A workspace killed while its jobs run on Ray: the Ray jobs belong to the cluster and go on;
the workspace, started again, finds them by their submission ids and follows them to the end."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

import forgeml
from forgeml import MLClient
from tests.cli.live import Server, free_port, start_server
from tests.jobs.conftest import kill_leftovers, log_text, wait_for
from tests.jobs.test_restart import wait_log
from tests.ray.conftest import RayHead, create_ray_compute

pytestmark = [pytest.mark.ray, pytest.mark.slow]


def test_a_restarted_workspace_follows_its_ray_jobs_again(
    tmp_path: Path, ray_head: RayHead
) -> None:
    port, home, nodes = free_port(), tmp_path / "home", tmp_path / "nodes"
    args = ["--port", str(port), "--home", str(home)]

    def start(log: str) -> Server:
        return start_server(args, port=port, log=tmp_path / log, home=home)

    first = start("first.log")
    try:
        with MLClient(url=first.url) as sdk:
            create_ray_compute(sdk, "cluster", ray_head.address, nodes, num_cpus=0.25)
            job = forgeml.command(
                command="echo up; sleep 8; echo finished on the cluster",
                environment={"image": "python:3.11"},  # type: ignore[arg-type]
                compute="cluster",
            )
            name = str(sdk.jobs.create_or_update(job).name)
            wait_log(sdk, name, "up")
    finally:
        first.process.send_signal(signal.SIGKILL)
        first.process.wait(10)
    second = start("second.log")
    try:
        with MLClient(url=second.url) as sdk:
            done = wait_for(sdk, name, timeout=120)
            logs = log_text(sdk, name)
            assert done.status == "completed", logs
            assert "re-attached to the Ray job forgeml-" in logs
            assert log_text(sdk, name, "std_out").count("finished on the cluster") == 1
    finally:
        second.stop()
        kill_leftovers(home)
        kill_leftovers(nodes)
