"""Distributed command jobs on the local compute: every rank of every "node" runs on this machine.

The jobs without torch in their environment run on the workspace's own interpreter, whose ranks
forgeml starts itself; the torch ones build an environment with the CPU wheel of torch (once per
module: the workspace's environment cache lives as long as its `server`), whose ranks torchrun
starts.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import pytest

import forgeml
from forgeml import MLClient
from forgeml.core.specs.job import load_job
from tests.cli.live import Server
from tests.jobs.conftest import alive, log_text, processes_under, wait_for

HOST = {"image": "python:3.11"}  # the workspace's Python, which has no torch
TORCH = {
    "image": "python:3.11",
    "conda_file": {"dependencies": ["python=3.11", {"pip": ["torch==2.13.0+cpu"]}]},
}
KEYS = [
    "RANK",
    "LOCAL_RANK",
    "NODE_RANK",
    "WORLD_SIZE",
    "LOCAL_WORLD_SIZE",
    "MASTER_ADDR",
    "MASTER_PORT",
    "OMPI_COMM_WORLD_RANK",
    "OMPI_COMM_WORLD_SIZE",
    "OMPI_COMM_WORLD_LOCAL_RANK",
    "OMPI_COMM_WORLD_LOCAL_SIZE",
    "OMPI_COMM_WORLD_NODE_RANK",
    "TF_CONFIG",
    "TORCHELASTIC_RUN_ID",
]
PRINT_ENV = f"""\
import json, os
print("ENV", json.dumps({{k: os.environ.get(k) for k in {json.dumps(KEYS)}}}), flush=True)
"""

JOB = """\
$schema: https://azuremlschemas.azureedge.net/latest/commandJob.schema.json
code: ./src
command: python print_env.py
environment: {image: "python:3.11"}
compute: azureml:COMPUTE
resources:
  instance_count: 2
distribution:
  type: pytorch
  process_count_per_instance: 2
"""


def project(root: Path, compute: str, yaml: str = JOB) -> Path:
    (root / "src").mkdir(parents=True)
    (root / "src" / "print_env.py").write_text(PRINT_ENV)
    (root / "job.yml").write_text(yaml.replace("COMPUTE", compute))
    return root / "job.yml"


def envs(text: str) -> list[tuple[str, dict[str, Any]]]:
    """(the line's prefix, the variables) of every ENV line, by rank."""
    found = []
    for line in text.splitlines():
        if "ENV {" in line:
            prefix, _, body = line.partition("ENV ")
            found.append((prefix, json.loads(body)))
    return sorted(found)


def submit(sdk: MLClient, compute: str, command: str, **kwargs: Any) -> str:
    environment = kwargs.pop("environment", HOST)
    job = sdk.jobs.create_or_update(
        forgeml.command(command=command, environment=environment, compute=compute, **kwargs)
    )
    return str(job.name)


def ranks_of(text: str) -> list[dict[str, Any]]:
    return [env for _, env in envs(text)]


# ------------------------------------------------------------------ forgeml's own launcher


def test_a_pytorch_job_from_yaml_runs_two_nodes_of_two_ranks(
    sdk: MLClient, compute: str, tmp_path: Path
) -> None:
    name = str(sdk.jobs.create_or_update(load_job(project(tmp_path, compute))).name)
    job = wait_for(sdk, name)
    assert job.status == "completed", log_text(sdk, name)
    seen = envs(log_text(sdk, name, "std_out"))
    assert [p for p, _ in seen] == [f"[rank {r}] " for r in range(4)]
    rows = [(e["RANK"], e["LOCAL_RANK"], e["NODE_RANK"], e["LOCAL_WORLD_SIZE"]) for _, e in seen]
    assert rows == [
        ("0", "0", "0", "2"),
        ("1", "1", "0", "2"),
        ("2", "0", "1", "2"),
        ("3", "1", "1", "2"),
    ]
    (port,) = {e["MASTER_PORT"] for _, e in seen}
    assert {(e["WORLD_SIZE"], e["MASTER_ADDR"]) for _, e in seen} == {("4", "127.0.0.1")}
    assert port and port != "29500"  # a free port the runner picked
    assert all(e["TORCHELASTIC_RUN_ID"] is None for _, e in seen)  # no torch, no torchrun
    system = log_text(sdk, name, "system")
    assert "distributed: pytorch: 2 node(s) x 2 process(es), world size 4" in system
    assert not any("node(s) x" in w for w in job.warnings)  # honoured, not warned about


def test_an_mpi_job_gets_the_open_mpi_variables(sdk: MLClient, compute: str) -> None:
    name = submit(
        sdk,
        compute,
        f"python -c '{PRINT_ENV}'",
        distribution={"type": "mpi", "process_count_per_instance": 2},
        instance_count=2,
    )
    assert wait_for(sdk, name).status == "completed", log_text(sdk, name)
    seen = ranks_of(log_text(sdk, name, "std_out"))
    assert [
        (
            e["OMPI_COMM_WORLD_RANK"],
            e["OMPI_COMM_WORLD_SIZE"],
            e["OMPI_COMM_WORLD_LOCAL_RANK"],
            e["OMPI_COMM_WORLD_LOCAL_SIZE"],
            e["OMPI_COMM_WORLD_NODE_RANK"],
            e["RANK"],
            e["NODE_RANK"],
        )
        for e in seen
    ] == [
        ("0", "4", "0", "2", "0", "0", "0"),
        ("1", "4", "1", "2", "1", "1", "0"),
        ("2", "4", "0", "2", "0", "2", "1"),
        ("3", "4", "1", "2", "1", "3", "1"),
    ]
    assert len({e["MASTER_PORT"] for e in seen}) == 1


def test_a_tensorflow_job_gets_a_cluster_of_workers_and_a_parameter_server(
    sdk: MLClient, compute: str
) -> None:
    name = submit(
        sdk,
        compute,
        'python -c \'import os; print("TF", os.environ["TF_CONFIG"])\'',
        distribution={"type": "tensorflow", "worker_count": 2, "parameter_server_count": 1},
    )
    assert wait_for(sdk, name).status == "completed", log_text(sdk, name)
    lines = sorted(line for line in log_text(sdk, name, "std_out").splitlines() if "TF {" in line)
    configs = {line.split(" TF ")[0]: json.loads(line.split(" TF ", 1)[1]) for line in lines}
    assert set(configs) == {"[ps 0]", "[worker 0]", "[worker 1]"}
    clusters = [c["cluster"] for c in configs.values()]
    assert all(c == clusters[0] for c in clusters)
    assert len(clusters[0]["worker"]) == 2 and len(clusters[0]["ps"]) == 1
    addresses = clusters[0]["worker"] + clusters[0]["ps"]
    assert all(a.startswith("127.0.0.1:") for a in addresses) and len(set(addresses)) == 3
    assert configs["[ps 0]"]["task"] == {"type": "ps", "index": 0}
    assert configs["[worker 1]"]["task"] == {"type": "worker", "index": 1}


def test_a_ray_job_runs_once_with_the_address_it_names(sdk: MLClient, compute: str) -> None:
    name = submit(
        sdk,
        compute,
        'echo "once $RAY_ADDRESS"',
        distribution={"type": "ray", "address": "ray://127.0.0.1:10001"},
        instance_count=2,
    )
    assert wait_for(sdk, name).status == "completed", log_text(sdk, name)
    assert log_text(sdk, name, "std_out") == "once ray://127.0.0.1:10001\n"


def test_a_failing_rank_fails_the_job_with_its_exit_code_and_stops_the_others(
    sdk: MLClient, compute: str, server: Server
) -> None:
    name = submit(
        sdk,
        compute,
        'if [ "$RANK" = 1 ]; then echo "rank one gives up" >&2; exit 3; fi; '
        "echo waiting $$; sleep 60",
        distribution={"type": "pytorch", "process_count_per_instance": 2},
    )
    job = wait_for(sdk, name, timeout=40)  # well before rank 0's sleep ends
    assert job.status == "failed" and job.exit_code == 3, log_text(sdk, name)
    assert job.error == "rank 1 exited with code 3:\nrank one gives up"
    (pid,) = re.findall(r"\[rank 0\] waiting (\d+)", log_text(sdk, name, "std_out"))
    assert not alive(int(pid))
    assert "[rank 1] rank one gives up" in log_text(sdk, name, "std_err")


def test_cancel_stops_every_process_of_a_distributed_job(
    sdk: MLClient, compute: str, server: Server
) -> None:
    name = submit(
        sdk,
        compute,
        "sleep 300 & echo child $!; trap '' TERM; echo shell $$; while true; do sleep 0.2; done",
        distribution={"type": "mpi", "process_count_per_instance": 2},
        instance_count=2,
    )
    folder = server.home / "jobs" / name
    deadline = time.monotonic() + 60
    while log_text(sdk, name, "std_out").count("shell") < 4:
        assert time.monotonic() < deadline, log_text(sdk, name)
        time.sleep(0.1)
    pids = [int(p) for p in re.findall(r"(?:child|shell) (\d+)", log_text(sdk, name, "std_out"))]
    assert len(pids) == 8 and all(alive(p) for p in pids)
    assert sdk.jobs.cancel(name).status == "canceling"
    assert wait_for(sdk, name, timeout=30).status == "canceled"
    deadline = time.monotonic() + 15
    while any(alive(p) for p in pids) or processes_under(folder):
        assert time.monotonic() < deadline, processes_under(folder)
        time.sleep(0.1)


# ------------------------------------------------------------------------------- torchrun

DDP = """\
import os
import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

dist.init_process_group("gloo")
rank, world = dist.get_rank(), dist.get_world_size()
torch.manual_seed(0)
model = torch.nn.Linear(4, 1)
ddp = DistributedDataParallel(model)
opt = torch.optim.SGD(ddp.parameters(), lr=0.05)
gen = torch.Generator().manual_seed(100 + rank)  # each rank trains on its own shard
x = torch.randn(64, 4, generator=gen)
y = x @ torch.tensor([[1.0, -2.0, 3.0, 0.5]]).T + 0.25
for step in range(40):
    opt.zero_grad()
    loss = torch.nn.functional.mse_loss(ddp(x), y)
    loss.backward()
    opt.step()
    if step % 10 == 0 or step == 39:
        print(f"rank {rank} step {step} loss {loss.item():.6f}", flush=True)
weights = torch.cat([p.detach().flatten() for p in model.parameters()])
print(f"rank {rank} weights " + " ".join(f"{v:.6f}" for v in weights.tolist()), flush=True)
print(f"rank {rank} of {world} torch {torch.__version__} node {os.environ['NODE_RANK']}")
dist.destroy_process_group()
"""


@pytest.mark.slow
def test_ddp_trains_on_two_ranks_under_torchrun_with_the_cpu_wheel(
    sdk: MLClient, compute: str, server: Server, tmp_path: Path
) -> None:
    src = tmp_path / "ddp"
    src.mkdir()
    (src / "train.py").write_text(DDP)
    job = sdk.jobs.create_or_update(
        forgeml.command(
            command="python train.py",
            code=str(src),
            environment=TORCH,  # type: ignore[arg-type]
            compute=compute,
            distribution={"type": "pytorch", "process_count_per_instance": 2},
        )
    )
    name = str(job.name)
    done = wait_for(sdk, name, timeout=240)
    out = log_text(sdk, name, "std_out")
    assert done.status == "completed", log_text(sdk, name)
    system = log_text(sdk, name, "system")
    assert "torchrun per node" in system
    for rank in (0, 1):
        pattern = rf"\[rank {rank}\] rank {rank} step \d+ loss (\S+)"
        losses = [float(x) for x in re.findall(pattern, out)]
        assert len(losses) == 5 and losses[-1] < losses[0] / 100, out
        assert f"[rank {rank}] rank {rank} of 2 torch 2.13.0+cpu node 0" in out
    weights = re.findall(r"\[rank (\d)\] rank \1 weights (.+)", out)
    assert len(weights) == 2 and weights[0][1] == weights[1][1], weights  # kept in step
    # the local CPU wheel, not a CUDA build from an index
    venv = next(p for p in (server.home / "envs").iterdir() if p.is_dir())
    site = next((venv / "lib").glob("python*/site-packages"))
    assert not list(site.glob("nvidia*")) and (site / "torch").is_dir()


@pytest.mark.slow
def test_torchrun_gives_every_rank_its_variables_and_the_failing_rank_s_code(
    sdk: MLClient, compute: str
) -> None:
    command = (
        f"python -c '{PRINT_ENV}'; "
        'if [ "$RANK" = 2 ]; then echo "rank two fails" >&2; exit 3; fi; sleep 60'
    )
    name = submit(
        sdk,
        compute,
        command,
        environment=TORCH,
        distribution={"type": "pytorch", "process_count_per_instance": 2},
        instance_count=2,
    )
    job = wait_for(sdk, name, timeout=180)
    seen = envs(log_text(sdk, name, "std_out"))
    assert [p for p, _ in seen] == [f"[rank {r}] " for r in range(4)], log_text(sdk, name)
    rows = [(e["RANK"], e["LOCAL_RANK"], e["NODE_RANK"], e["WORLD_SIZE"]) for _, e in seen]
    assert rows == [
        ("0", "0", "0", "4"),
        ("1", "1", "0", "4"),
        ("2", "0", "1", "4"),
        ("3", "1", "1", "4"),
    ]
    assert len({e["MASTER_PORT"] for _, e in seen}) == 1
    assert all(e["TORCHELASTIC_RUN_ID"] for _, e in seen)  # torchrun started them
    assert job.status == "failed" and job.exit_code == 3
    assert job.error is not None and job.error.startswith("rank 2 exited with code 3:")
    assert "rank two fails" in job.error
