"""Distributed launches: the plan for each distribution type, a group of real processes, and
runners started per node against a live workspace (node 0 leads, the others follow)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from forgeml.core.errors import SpecError
from forgeml.runtime import distributed, process
from forgeml.runtime.distributed import Layout, Node
from tests.runtime.conftest import Workspace, free_port
from tests.runtime.test_process import Sink, alive

LOGS = Path("/job/system_logs/launcher")


def pytorch(per_node: int = 2, nodes: int = 2) -> Layout:
    return distributed.layout(
        {"type": "pytorch", "process_count_per_instance": per_node}, {"instance_count": nodes}
    )


# ------------------------------------------------------------------------------ the layout


def test_one_process_in_all_is_no_launch() -> None:
    assert distributed.layout(None, None).single
    assert distributed.layout(None, {"instance_count": 3}).single  # the command runs once
    assert distributed.layout({"type": "pytorch"}, None).single
    assert distributed.layout({"type": "mpi", "process_count_per_instance": 1}, {}).single
    assert distributed.layout({"type": "tensorflow"}, None).single  # one worker, no ps
    assert distributed.layout({"type": "ray"}, {"instance_count": 4}).single
    assert not distributed.layout({"type": "tensorflow", "parameter_server_count": 1}, {}).single
    assert not pytorch(1, 2).single
    assert pytorch(2, 2).world_size == 4


def test_the_nodes_flag_overrides_the_instance_count() -> None:
    layout = distributed.layout(
        {"type": "PyTorch", "process_count_per_instance": "2"}, {"instance_count": 5}, nodes=3
    )
    assert (layout.kind, layout.nodes, layout.per_node, layout.world_size) == ("pytorch", 3, 2, 6)


@pytest.mark.parametrize(
    ("distribution", "resources", "field"),
    [
        ({"type": "horovod"}, {}, "distribution.type"),
        ({"process_count_per_instance": 2}, {}, "distribution.type"),
        ({"type": "pytorch", "process_count_per_instance": 0}, {}, "process_count_per_instance"),
        ({"type": "mpi", "process_count_per_instance": "two"}, {}, "process_count_per_instance"),
        ({"type": "tensorflow", "parameter_server_count": -1}, {}, "parameter_server_count"),
        ({"type": "pytorch"}, {"instance_count": True}, "resources.instance_count"),
    ],
)
def test_a_bad_distribution_names_its_field(
    distribution: dict[str, Any], resources: dict[str, Any], field: str
) -> None:
    with pytest.raises(SpecError) as caught:
        distributed.layout(distribution, resources)
    assert caught.value.field is not None and caught.value.field.endswith(field)


# -------------------------------------------------------------------------------- the plans


def test_pytorch_two_by_two_without_torch_starts_four_ranks() -> None:
    plan = distributed.plan(pytorch(), "python train.py", Node(), master_port=4321, logs=LOGS)
    assert plan.launcher == "forgeml"
    assert [m.label for m in plan.members] == ["rank 0", "rank 1", "rank 2", "rank 3"]
    assert [m.prefix for m in plan.members] == [f"[rank {r}] " for r in range(4)]
    assert all(m.argv == ["bash", "-c", "python train.py"] for m in plan.members)
    envs = [m.env for m in plan.members]
    assert [(e["RANK"], e["LOCAL_RANK"], e["NODE_RANK"]) for e in envs] == [
        ("0", "0", "0"),
        ("1", "1", "0"),
        ("2", "0", "1"),
        ("3", "1", "1"),
    ]
    assert {(e["WORLD_SIZE"], e["LOCAL_WORLD_SIZE"]) for e in envs} == {("4", "2")}
    assert {(e["MASTER_ADDR"], e["MASTER_PORT"]) for e in envs} == {("127.0.0.1", "4321")}


def test_pytorch_with_torch_runs_one_torchrun_per_node() -> None:
    python = Path("/envs/abc/bin/python")
    plan = distributed.plan(
        pytorch(), "python train.py", Node(), master_port=4321, torchrun=python, logs=LOGS
    )
    assert plan.launcher == "torchrun" and plan.exit_dir == LOGS / "exit_codes"
    assert [m.label for m in plan.members] == ["node 0", "node 1"]
    first = plan.members[1]
    assert first.argv[:3] == [str(python), "-m", "torch.distributed.run"]
    assert {
        "--nnodes=2",
        "--node-rank=1",
        "--nproc-per-node=2",
        "--master-addr=127.0.0.1",
        "--master-port=4321",
        f"--log-dir={LOGS / 'node_1'}",
    } <= set(first.argv)
    no_python = first.argv.index("--no-python")
    assert first.argv[no_python + 1 : no_python + 3] == ["bash", "-c"]
    assert first.argv[-1].endswith("\npython train.py")  # after the exit-code trap
    assert first.env["NODE_RANK"] == "1"  # torchrun does not set it
    assert first.env["TORCHELASTIC_LOG_LINE_PREFIX_TEMPLATE"] == "[rank ${rank}] "
    assert first.prefix == ""  # torchrun prefixes the ranks' lines


def test_a_node_of_a_cluster_starts_only_its_own_ranks() -> None:
    node = Node(nodes=3, rank=2, master_addr="10.0.0.5", master_port=29400)
    layout = distributed.layout(
        {"type": "pytorch", "process_count_per_instance": 2}, {"instance_count": 1}, nodes=3
    )
    plan = distributed.plan(layout, "x", node, master_port=29400, logs=LOGS)
    assert [m.env["RANK"] for m in plan.members] == ["4", "5"]
    assert {m.env["NODE_RANK"] for m in plan.members} == {"2"}
    assert {m.env["WORLD_SIZE"] for m in plan.members} == {"6"}
    assert {m.env["MASTER_ADDR"] for m in plan.members} == {"10.0.0.5"}
    assert "node 2 runs ranks 4-5" in plan.describe
    torch = distributed.plan(layout, "x", node, master_port=29400, torchrun=Path("p"), logs=LOGS)
    (member,) = torch.members
    assert "--node-rank=2" in member.argv and "--master-addr=10.0.0.5" in member.argv


def test_mpi_sets_what_open_mpi_sets() -> None:
    layout = distributed.layout({"type": "mpi", "process_count_per_instance": 3}, {})
    plan = distributed.plan(layout, "x", Node(), master_port=1, logs=LOGS)
    last = plan.members[2].env
    assert last["OMPI_COMM_WORLD_RANK"] == last["RANK"] == "2"
    assert last["OMPI_COMM_WORLD_SIZE"] == last["WORLD_SIZE"] == "3"
    assert last["OMPI_COMM_WORLD_LOCAL_RANK"] == last["LOCAL_RANK"] == "2"
    assert last["OMPI_COMM_WORLD_LOCAL_SIZE"] == "3"
    # Open MPI's node rank counts processes on the node; NODE_RANK counts nodes
    assert (last["OMPI_COMM_WORLD_NODE_RANK"], last["NODE_RANK"]) == ("2", "0")
    assert plan.launcher == "forgeml"  # no mpirun here


def test_tensorflow_gets_a_cluster_spec_with_its_parameter_servers() -> None:
    layout = distributed.layout(
        {"type": "tensorflow", "worker_count": 2, "parameter_server_count": 1}, {}
    )
    plan = distributed.plan(layout, "x", Node(), master_port=1, tf_ports=[11, 12, 13], logs=LOGS)
    assert [m.label for m in plan.members] == ["worker 0", "worker 1", "ps 0"]
    configs = [json.loads(m.env["TF_CONFIG"]) for m in plan.members]
    cluster = {"worker": ["127.0.0.1:11", "127.0.0.1:12"], "ps": ["127.0.0.1:13"]}
    assert all(c["cluster"] == cluster for c in configs)
    assert [c["task"] for c in configs] == [
        {"type": "worker", "index": 0},
        {"type": "worker", "index": 1},
        {"type": "ps", "index": 0},
    ]
    assert plan.warnings == []


def test_tensorflow_workers_default_to_the_instance_count_and_run_on_node_zero() -> None:
    layout = distributed.layout({"type": "tensorflow"}, {"instance_count": 2}, nodes=2)
    assert (layout.workers, layout.ps) == (2, 0)
    leader = Node(nodes=2, rank=0, master_port=9)
    plan = distributed.plan(layout, "x", leader, master_port=9, tf_ports=[1, 2], logs=LOGS)
    assert len(plan.members) == 2 and "all ran on node 0 of 2" in plan.warnings[0]
    assert not distributed.has_work(layout, Node(nodes=2, rank=1, master_port=9))


def test_a_single_process_gets_the_variables_of_rank_zero_of_one() -> None:
    def port() -> int:
        return 7777

    env = distributed.single_env(distributed.layout({"type": "pytorch"}, None), {}, port)
    assert env == {
        "RANK": "0",
        "LOCAL_RANK": "0",
        "NODE_RANK": "0",
        "WORLD_SIZE": "1",
        "LOCAL_WORLD_SIZE": "1",
        "MASTER_ADDR": "127.0.0.1",
        "MASTER_PORT": "29500",
    }
    mine = distributed.single_env(
        distributed.layout({"type": "mpi"}, None), {"MASTER_PORT": "1234"}, port
    )
    assert mine["MASTER_PORT"] == "1234" and mine["OMPI_COMM_WORLD_SIZE"] == "1"
    tf = distributed.single_env(distributed.layout({"type": "tensorflow"}, None), {}, port)
    assert json.loads(tf["TF_CONFIG"]) == {
        "cluster": {"worker": ["127.0.0.1:7777"]},
        "task": {"type": "worker", "index": 0},
    }


def test_ray_runs_once_with_the_address_it_names() -> None:
    layout = distributed.layout({"type": "ray", "address": "ray://head:10001"}, {})
    assert layout.single
    assert distributed.single_env(layout, {}, distributed.free_port) == {
        "RAY_ADDRESS": "ray://head:10001"
    }
    # without an address the command keeps the RAY_ADDRESS it inherits (the Ray compute's)
    assert distributed.single_env(distributed.layout({"type": "ray"}, {}), {}, int) == {}
    assert not distributed.has_work(layout, Node(nodes=2, rank=1, master_port=1))


def test_the_first_failing_rank_is_read_from_what_the_shells_recorded(tmp_path: Path) -> None:
    assert distributed.first_failure(tmp_path / "none") is None
    (tmp_path / "0").write_text("143 1700000002.5\n")
    (tmp_path / "1").write_text("0 1700000000.1\n")
    assert distributed.first_failure(tmp_path) == (0, 143)
    (tmp_path / "3").write_text("3 1700000001,25\n")  # a locale's decimal comma
    assert distributed.first_failure(tmp_path) == (3, 3)


# -------------------------------------------------------------------------- process groups


def group(
    members: list[process.Member], tmp_path: Path, **kwargs: Any
) -> tuple[process.Outcome, Sink]:
    sink = Sink()
    outcome = process.run_group(
        members,
        cwd=tmp_path,
        env={"PATH": os.environ["PATH"]},
        write=sink,
        cancel=kwargs.pop("cancel", threading.Event()),
        timeout_s=kwargs.pop("timeout_s", None),
        **kwargs,
    )
    return outcome, sink


def ranks(command: str, count: int) -> list[process.Member]:
    return [
        process.Member(f"rank {r}", ["bash", "-c", command], {"RANK": str(r)}, f"[rank {r}] ")
        for r in range(count)
    ]


def test_each_rank_s_lines_carry_its_prefix_and_never_share_a_line(tmp_path: Path) -> None:
    command = (
        "for i in 1 2 3; do printf \"$RANK-$i \"; sleep 0.05; printf 'end\\n'; done; "
        "echo oops >&2; printf 'no newline'"
    )
    outcome, sink = group(ranks(command, 3), tmp_path)
    assert outcome.exit_code == 0 and outcome.failed is None
    lines = sink.text("std_out").splitlines()
    for r in range(3):
        mine = [line for line in lines if line.startswith(f"[rank {r}] ")]
        assert mine == [f"[rank {r}] {r}-{i} end" for i in (1, 2, 3)] + [f"[rank {r}] no newline"]
    assert len(lines) == 12
    assert sorted(sink.text("std_err").splitlines()) == [f"[rank {r}] oops" for r in range(3)]
    assert outcome.tails == {f"rank {r}": ["oops"] for r in range(3)}


def test_the_first_failure_ends_the_group_after_a_grace(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    command = (
        f'echo $$ >> {pids}; if [ "$RANK" = 1 ]; then echo bad >&2; sleep 0.3; exit 3; fi; '
        "if [ \"$RANK\" = 2 ]; then sleep 1; exit 5; fi; trap '' TERM; sleep 300"
    )
    outcome, _ = group(ranks(command, 3), tmp_path, failure_grace=2.0)
    assert (outcome.exit_code, outcome.failed) == (3, "rank 1")
    assert outcome.stderr_tail == ["bad"]
    assert not outcome.canceled and not outcome.timed_out
    assert not any(alive(int(p)) for p in pids.read_text().split())


def test_a_cancel_stops_every_rank_and_what_left_their_sessions(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    command = f"setsid sleep 300 & echo $! >> {pids}; echo $$ >> {pids}; echo up; sleep 300"
    cancel = threading.Event()
    sink = Sink()

    def when_up() -> None:
        while sink.text("std_out").count("up") < 2:
            time.sleep(0.05)
        cancel.set()

    threading.Thread(target=when_up, daemon=True).start()
    outcome = process.run_group(
        ranks(command, 2),
        cwd=tmp_path,
        env={"PATH": os.environ["PATH"]},
        write=sink,
        cancel=cancel,
        timeout_s=60,
    )
    assert outcome.canceled
    started = [int(p) for p in pids.read_text().split()]
    assert len(started) == 4 and not any(alive(p) for p in started)


def test_the_timeout_stops_the_group(tmp_path: Path) -> None:
    outcome, _ = group(ranks("sleep 300", 2), tmp_path, timeout_s=1)
    assert outcome.timed_out and outcome.exit_code == 128 + 15


# ------------------------------------------------------------------ runners, one per node


@pytest.fixture
def ws(live_url: str, settings: Any) -> Iterator[Workspace]:
    """The workspace with no scheduler: the test starts the runners itself."""
    workspace = Workspace(live_url, settings.home)
    try:
        yield workspace
    finally:
        workspace.http.close()


def start_runner(
    url: str, name: str, workdir: Path, home: Path, rank: int, nodes: int, port: int
) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "forgeml.runtime.runner",
            "--url",
            url,
            "--job",
            name,
            "--workdir",
            str(workdir),
            "--home",
            str(home),
            "--nodes",
            str(nodes),
            "--node-rank",
            str(rank),
            "--master-addr",
            "127.0.0.1",
            "--master-port",
            str(port),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "FORGEML_RUNNER_HEARTBEAT_S": "0.5"},
    )


PRINT_ENV = (
    'python -c \'import json, os; print("ENV", json.dumps({k: os.environ.get(k) for k in '
    '["RANK", "LOCAL_RANK", "NODE_RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"]}))\'; '
    "mkdir -p outputs && echo $RANK > outputs/rank_$RANK.txt && "
    "echo $NODE_RANK > ${{outputs.model}}/rank_$RANK.txt"
)


def envs_in(text: str) -> list[dict[str, Any]]:
    return [
        {"prefix": line.split("ENV ")[0], **json.loads(line.split("ENV ", 1)[1])}
        for line in text.splitlines()
        if "ENV {" in line
    ]


def test_two_runners_share_a_job_and_only_node_zero_reports_it(
    live_url: str, ws: Workspace, settings: Any, tmp_path: Path
) -> None:
    name = ws.submit(
        {
            "command": PRINT_ENV,
            "environment": {"image": "python:3.11"},
            "distribution": {"type": "pytorch", "process_count_per_instance": 2},
            "resources": {"instance_count": 2},
            "outputs": {"model": {"type": "uri_folder"}},
        }
    )
    workdir, port = tmp_path / "jobs" / name, free_port()
    runners = [start_runner(live_url, name, workdir, settings.home, r, 2, port) for r in (0, 1)]
    try:
        job = ws.wait(name, timeout=90)
        codes = [r.wait(timeout=60) for r in runners]
    finally:
        for runner in runners:
            if runner.poll() is None:
                runner.kill()
        said = [r.communicate()[0] for r in runners]
    assert job["status"] == "completed", ws.logs(name)
    assert codes == [0, 0], said

    seen = sorted(envs_in(ws.logs(name, "std_out")), key=lambda e: int(e["RANK"]))
    assert [(e["prefix"], e["RANK"], e["LOCAL_RANK"], e["NODE_RANK"]) for e in seen] == [
        ("[rank 0] ", "0", "0", "0"),
        ("[rank 1] ", "1", "1", "0"),
        ("[rank 2] ", "2", "0", "1"),
        ("[rank 3] ", "3", "1", "1"),
    ]
    assert {(e["WORLD_SIZE"], e["MASTER_ADDR"], e["MASTER_PORT"]) for e in seen} == {
        ("4", "127.0.0.1", str(port))
    }

    system = ws.logs(name, "system").splitlines()
    # each state change is recorded once: node 1 reported none
    assert [line for line in system if line in ("preparing", "running", "completed")] == [
        "running",
        "completed",
    ]
    assert sum(line.startswith("preparing (runner pid") for line in system) == 1
    assert any("[node 1] distributed: pytorch" in line for line in system)
    assert any("node 1 runs ranks 2-3" in line for line in system)

    # the output is node 0's: its ranks' files, not node 1's (kept in node 1's own folder)
    (model,) = ws.outputs(name)["items"]
    digest = model["uri"].removeprefix("forgeml://content/").split("/")[0]
    manifest = ws.http.get(f"/content/{digest}").json()
    assert sorted(e["path"] for e in manifest["files"]) == ["rank_0.txt", "rank_1.txt"]
    assert sorted(p.name for p in (workdir / "node_1" / "outputs_model").iterdir()) == [
        "rank_2.txt",
        "rank_3.txt",
    ]


def test_a_follower_reports_nothing_and_exits_with_its_ranks_code(
    live_url: str, ws: Workspace, settings: Any, tmp_path: Path
) -> None:
    name = ws.submit(
        {
            "command": 'echo "on $NODE_RANK"; if [ "$RANK" = 3 ]; then exit 7; fi',
            "environment": {"image": "python:3.11"},
            "distribution": {"type": "mpi", "process_count_per_instance": 2},
            "resources": {"instance_count": 2},
        }
    )
    follower = start_runner(live_url, name, tmp_path / name, settings.home, 1, 2, free_port())
    try:
        code = follower.wait(timeout=60)
    finally:
        if follower.poll() is None:
            follower.kill()
        said = follower.communicate()[0]
    assert code == 7, said
    job = ws.job(name)
    assert job["status"] == "queued" and job["exit_code"] is None  # node 0 owns the state
    assert sorted(ws.logs(name, "std_out").splitlines()) == ["[rank 2] on 1", "[rank 3] on 1"]
    assert "[node 1] failed: rank 3 exited with code 7" in ws.logs(name, "system")


def test_a_follower_of_a_job_that_has_ended_stops_quietly(
    live_url: str, ws: Workspace, settings: Any, tmp_path: Path
) -> None:
    name = ws.submit(
        {
            "command": "echo up; sleep 300",
            "environment": {"image": "python:3.11"},
            "distribution": {"type": "pytorch", "process_count_per_instance": 1},
            "resources": {"instance_count": 2},
        }
    )
    ws.http.post(f"/jobs/{name}/cancel").raise_for_status()
    assert ws.job(name)["status"] == "canceled"
    follower = start_runner(live_url, name, tmp_path / name, settings.home, 1, 2, free_port())
    try:
        code = follower.wait(timeout=60)
    finally:
        if follower.poll() is None:
            follower.kill()
        said = follower.communicate()[0]
    assert code == 0 and said == "", said
