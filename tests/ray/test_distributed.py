"""Distributed jobs on the Ray compute: `resources.instance_count` nodes become a placement group
of that many bundles, one runner per bundle; every rank gets Azure ML's variables, DDP trains
across the runners, and Azure ML's `type: ray` distribution runs once as a driver of the cluster.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

import forgeml
from forgeml import MLClient
from tests.jobs.conftest import log_text, processes_under, wait_for
from tests.jobs.test_distributed import DDP, PRINT_ENV, TORCH, envs

pytestmark = [pytest.mark.ray, pytest.mark.slow]


def _code(tmp_path: Path, name: str, text: str) -> Path:
    src = tmp_path / "src"
    src.mkdir(exist_ok=True)
    (src / name).write_text(text, encoding="utf-8")
    return src


def test_a_pytorch_job_on_two_nodes_is_a_placement_group_of_two_runners(
    sdk: MLClient, ray_compute: str, tmp_path: Path
) -> None:
    job = sdk.jobs.create_or_update(
        forgeml.command(
            command="python print_env.py",
            code=str(_code(tmp_path, "print_env.py", PRINT_ENV)),
            environment={"image": "python:3.11"},  # type: ignore[arg-type]
            compute=ray_compute,
            resources={"instance_count": 2},
            distribution={"type": "pytorch", "process_count_per_instance": 2},
        )
    )
    name = str(job.name)
    done = wait_for(sdk, name, timeout=180)
    text = log_text(sdk, name)
    assert done.status == "completed", text
    seen = envs(log_text(sdk, name, "std_out"))
    rows = [(e["RANK"], e["LOCAL_RANK"], e["NODE_RANK"], e["WORLD_SIZE"]) for _, e in seen]
    assert rows == [
        ("0", "0", "0", "4"),
        ("1", "1", "0", "4"),
        ("2", "0", "1", "4"),
        ("3", "1", "1", "4"),
    ], text
    # one machine holds both bundles: the rendezvous is on loopback, one port for all
    assert {(e["MASTER_ADDR"], e["MASTER_PORT"]) for _, e in seen} == {
        ("127.0.0.1", seen[0][1]["MASTER_PORT"])
    }
    assert "started the Ray job" in text


def test_ddp_trains_across_two_ray_runners(sdk: MLClient, ray_compute: str, tmp_path: Path) -> None:
    job = sdk.jobs.create_or_update(
        forgeml.command(
            command="python train.py",
            code=str(_code(tmp_path, "train.py", DDP)),
            environment=TORCH,  # type: ignore[arg-type]
            compute=ray_compute,
            resources={"instance_count": 2},
            distribution={"type": "pytorch", "process_count_per_instance": 1},
        )
    )
    name = str(job.name)
    done = wait_for(sdk, name, timeout=300)
    out = log_text(sdk, name, "std_out")
    assert done.status == "completed", log_text(sdk, name)
    for rank in (0, 1):
        losses = [float(x) for x in re.findall(rf"rank {rank} step \d+ loss (\S+)", out)]
        assert len(losses) == 5 and losses[-1] < losses[0] / 100, out
        assert f"rank {rank} of 2 torch 2.13.0+cpu node {rank}" in out
    weights = re.findall(r"rank (\d) weights (.+)", out)
    assert len(weights) == 2 and weights[0][1] == weights[1][1], weights


def test_a_ray_distribution_runs_once_as_a_driver_of_the_cluster(
    sdk: MLClient, ray_compute: str
) -> None:
    script = (
        "import ray; ray.init(); "
        "print('cluster CPUs', ray.cluster_resources()['CPU']); "
        "print('squares', ray.get([ray.remote(lambda x: x * x).remote(i) for i in range(4)]))"
    )
    job = sdk.jobs.create_or_update(
        forgeml.command(
            command=f'python -c "{script}"',
            environment={"image": "python:3.11"},  # type: ignore[arg-type]
            compute=ray_compute,
            resources={"instance_count": 3},
            distribution={"type": "ray"},
        )
    )
    name = str(job.name)
    done = wait_for(sdk, name, timeout=180)
    out = log_text(sdk, name)
    assert done.status == "completed", out
    assert "cluster CPUs 2.0" in out and "squares [0, 1, 4, 9]" in out


def test_a_failing_node_fails_the_job_and_stops_node_0(
    sdk: MLClient, ray_compute: str, ray_workdir: Path
) -> None:
    job = sdk.jobs.create_or_update(
        forgeml.command(
            command='if [ "$NODE_RANK" = 1 ]; then echo node one fails >&2; exit 3; fi; sleep 120',
            environment={"image": "python:3.11"},  # type: ignore[arg-type]
            compute=ray_compute,
            resources={"instance_count": 2},
            distribution={"type": "pytorch", "process_count_per_instance": 1},
        )
    )
    name = str(job.name)
    done = wait_for(sdk, name, timeout=90)  # long before node 0's sleep ends
    assert done.status == "failed", log_text(sdk, name)
    assert done.exit_code == 3
    assert "node 1 failed" in (done.error or ""), done.error
    deadline = time.monotonic() + 30
    while processes_under(ray_workdir / "jobs" / name) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not processes_under(ray_workdir / "jobs" / name)
