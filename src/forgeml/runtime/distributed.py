"""Planning a distributed launch: the processes a job's `distribution` asks for, as Azure ML does.

A command job with `distribution` and `resources.instance_count` M runs as a group of processes
(`forgeml.runtime.process.run_group`); this module decides which, with which variables, and how
they start — pure functions of the job's fields and this runner's place (`Node`). On the local
compute one runner starts all M "nodes" on this machine (rendezvous at 127.0.0.1 on a free port);
on a cluster the compute starts one runner per node (`--nodes M --node-rank I --master-addr A
--master-port P`) and each starts only its node's share. `pytorch` (N = process_count_per_instance)
starts N x M ranks with RANK, LOCAL_RANK, NODE_RANK, WORLD_SIZE, LOCAL_WORLD_SIZE, MASTER_ADDR and
MASTER_PORT. When the job's environment has torch, each node is one `torchrun` (`python -m
torch.distributed.run --no-python bash -c <line>`), as Azure ML launches PyTorch jobs: torchrun's
agent sets TORCHELASTIC_* too and stops a node's ranks together; its per-rank output is prefixed
`[rank R] ` through `TORCHELASTIC_LOG_LINE_PREFIX_TEMPLATE`, and since torchrun exits 1 whatever
a rank's code was, each rank's shell records its exit code (an EXIT trap) so the job still
reports the first failing rank's own code. Without torch, forgeml starts the ranks itself with
the same variables (the command may use another framework, or read them itself). `mpi` starts N
x M ranks itself (no mpirun here) with the Open MPI variables Azure ML's mpirun sets — note that
Open MPI's OMPI_COMM_WORLD_NODE_RANK is the rank among the processes on the node (the local
rank), while NODE_RANK is the node's index — plus the PyTorch-style ones. `tensorflow` starts one
process per task (`worker_count`, default M; `parameter_server_count`, default 0) with TF_CONFIG;
a cluster spec across machines needs every node's address, which the runners do not exchange,
so on a cluster node 0 runs all the tasks (with a warning). `ray` runs the command once (Ray
spreads the work itself), with RAY_ADDRESS set to `distribution.address` when given. One process
in all (no distribution, N x M = 1, one worker and no parameter server, ray) is no plan: the
runner's single-process path, with rank-0-of-1 variables. In a group every rank's lines carry
its prefix, rank 0's too: one rule for both launchers (torchrun's template cannot spare rank 0),
and a log any rank's lines can be grepped from.
"""

from __future__ import annotations

import importlib.util
import json
import socket
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from forgeml.core.errors import SpecError
from forgeml.runtime.process import Member

KINDS = ("pytorch", "mpi", "tensorflow", "ray")
#: where each rank's shell writes "<exit code> <time>" under torchrun (a file named by RANK)
EXIT_VAR = "FORGEML_RANK_EXIT_DIR"
#: torchrun puts this before each line of a rank's output (`${rank}` is the global rank)
TORCHRUN_PREFIX = "[rank ${rank}] "
#: the rendezvous port of a single process, unless the job's environment names one
DEFAULT_MASTER_PORT = 29500
LOOPBACK = "127.0.0.1"


@dataclass(frozen=True)
class Layout:
    """What the job asks for: its distribution type and how many processes on how many nodes."""

    kind: str | None = None
    nodes: int = 1
    per_node: int = 1
    workers: int = 0
    ps: int = 0
    address: str | None = None

    @property
    def world_size(self) -> int:
        if self.kind == "tensorflow":
            return self.workers + self.ps
        if self.kind in ("pytorch", "mpi"):
            return self.nodes * self.per_node
        return 1

    @property
    def single(self) -> bool:
        """One process in all: nothing to launch but the command itself."""
        return self.world_size <= 1


@dataclass(frozen=True)
class Node:
    """Where a runner stands: every node of the job on this machine (`nodes` None, the local
    compute), or node `rank` of `nodes` on a cluster, each node with its own runner."""

    nodes: int | None = None
    rank: int = 0
    master_addr: str = LOOPBACK
    master_port: int | None = None

    @property
    def follower(self) -> bool:
        return self.rank > 0


@dataclass(frozen=True)
class Plan:
    """The processes this runner starts, and what to tell the user about them."""

    layout: Layout
    members: list[Member]
    launcher: str
    describe: str
    warnings: list[str] = field(default_factory=list)
    #: torchrun: the folder each rank's exit code is recorded in
    exit_dir: Path | None = None


# ------------------------------------------------------------------------------- the layout


def _count(values: Mapping[str, Any], key: str, default: int, minimum: int, where: str) -> int:
    value = values.get(key)
    if value is None:
        return default
    try:
        if isinstance(value, bool):
            raise ValueError
        number = int(value)
        if str(number) != str(value).strip():
            raise ValueError
    except ValueError:
        number = minimum - 1
    if number < minimum:
        raise SpecError(
            f"must be a whole number of at least {minimum}, not {value!r}.", field=f"{where}.{key}"
        )
    return number


def layout(
    distribution: Mapping[str, Any] | None,
    resources: Mapping[str, Any] | None,
    *,
    nodes: int | None = None,
) -> Layout:
    """The job's layout; `nodes` (the compute's `--nodes`) overrides `resources.instance_count`."""
    if nodes is None:
        nodes = _count(resources or {}, "instance_count", 1, 1, "resources")
    if not distribution:
        return Layout(nodes=nodes)
    kind = str(distribution.get("type") or "").lower()
    if kind not in KINDS:
        raise SpecError(
            f"'{distribution.get('type')}' is not a distribution type; use one of "
            + ", ".join(KINDS)
            + ".",
            field="distribution.type",
        )
    if kind in ("pytorch", "mpi"):
        per_node = _count(distribution, "process_count_per_instance", 1, 1, "distribution")
        return Layout(kind, nodes, per_node)
    if kind == "tensorflow":
        workers = _count(distribution, "worker_count", nodes, 1, "distribution")
        ps = _count(distribution, "parameter_server_count", 0, 0, "distribution")
        return Layout(kind, nodes, workers=workers, ps=ps)
    address = distribution.get("address")
    return Layout(kind, nodes, address=str(address) if address else None)


# ---------------------------------------------------------------------- variables per process


def rank_env(layout: Layout, rank: int, master_addr: str, master_port: int) -> dict[str, str]:
    """The variables of global rank `rank` of a pytorch or mpi job."""
    node, local = divmod(rank, layout.per_node)
    env = {
        "RANK": str(rank),
        "LOCAL_RANK": str(local),
        "NODE_RANK": str(node),
        "WORLD_SIZE": str(layout.world_size),
        "LOCAL_WORLD_SIZE": str(layout.per_node),
        "MASTER_ADDR": master_addr,
        "MASTER_PORT": str(master_port),
    }
    if layout.kind == "mpi":
        env.update(
            {
                "OMPI_COMM_WORLD_RANK": str(rank),
                "OMPI_COMM_WORLD_SIZE": str(layout.world_size),
                "OMPI_COMM_WORLD_LOCAL_RANK": str(local),
                "OMPI_COMM_WORLD_LOCAL_SIZE": str(layout.per_node),
                # Open MPI's "node rank" is the rank among the node's processes, not the node
                "OMPI_COMM_WORLD_NODE_RANK": str(local),
            }
        )
    return env


def tf_tasks(layout: Layout) -> list[tuple[str, int]]:
    """The tensorflow tasks, workers first: (type, index)."""
    return [("worker", i) for i in range(layout.workers)] + [("ps", i) for i in range(layout.ps)]


def tf_config(layout: Layout, host: str, ports: Sequence[int], task: tuple[str, int]) -> str:
    """TF_CONFIG of one task, every task on `host` at its port (workers' ports, then ps')."""
    addresses = [f"{host}:{port}" for port in ports]
    cluster: dict[str, list[str]] = {"worker": addresses[: layout.workers]}
    if layout.ps:
        cluster["ps"] = addresses[layout.workers :]
    return json.dumps({"cluster": cluster, "task": {"type": task[0], "index": task[1]}})


def single_env(
    layout: Layout, inherited: Mapping[str, str], free_port: Callable[[], int]
) -> dict[str, str]:
    """The variables of the only process: rank 0 of a group of one. A MASTER_ADDR or MASTER_PORT
    the job's environment sets is kept (a group of one may rendezvous where the user likes)."""
    if layout.kind in ("pytorch", "mpi"):
        addr = inherited.get("MASTER_ADDR") or LOOPBACK
        port = inherited.get("MASTER_PORT") or str(DEFAULT_MASTER_PORT)
        env = rank_env(Layout(layout.kind), 0, addr, 0)
        env["MASTER_PORT"] = port
        return env
    if layout.kind == "tensorflow":
        return {"TF_CONFIG": tf_config(layout, LOOPBACK, [free_port()], ("worker", 0))}
    if layout.kind == "ray" and layout.address:
        return {"RAY_ADDRESS": layout.address}
    return {}


# ------------------------------------------------------------------------------- the plan


def node_ranks(layout: Layout, node: Node) -> list[int]:
    """The nodes whose processes this runner starts."""
    return list(range(layout.nodes)) if node.nodes is None else [node.rank]


def has_work(layout: Layout, node: Node) -> bool:
    """Whether this runner starts any process (a follower of a one-process job starts none)."""
    if not node.follower:
        return True
    return not layout.single and layout.kind != "tensorflow"


def plan(
    layout: Layout,
    line: str,
    node: Node,
    *,
    master_port: int,
    tf_ports: Sequence[int] = (),
    torchrun: Path | None = None,
    logs: Path,
) -> Plan:
    """The processes this runner starts for a job of more than one process.

    `master_port` is the rendezvous port (node 0's), `tf_ports` a free port per tensorflow task,
    `torchrun` the python of an environment that has torch (None: forgeml launches the ranks),
    `logs` the runner's folder for the launcher's own files."""
    mine = node_ranks(layout, node)
    where = f"{node.master_addr}:{master_port}"
    if layout.kind == "tensorflow":
        return _tensorflow(layout, line, mine, tf_ports)
    ranks = [r for n in mine for r in range(n * layout.per_node, (n + 1) * layout.per_node)]
    shape = (
        f"{layout.kind}: {layout.nodes} node(s) x {layout.per_node} process(es), "
        f"world size {layout.world_size}"
    )
    here = "" if node.nodes is None else f"; node {node.rank} runs ranks {ranks[0]}-{ranks[-1]}"
    if layout.kind == "pytorch" and torchrun is not None:
        exit_dir = logs / "exit_codes"
        members = [
            _torchrun(layout, n, node.master_addr, master_port, torchrun, logs, exit_dir, line)
            for n in mine
        ]
        describe = f"{shape}; torchrun per node, rendezvous at {where}{here}"
        return Plan(layout, members, "torchrun", describe, exit_dir=exit_dir)
    members = [
        Member(
            f"rank {r}",
            ["bash", "-c", line],
            rank_env(layout, r, node.master_addr, master_port),
            f"[rank {r}] ",
        )
        for r in ranks
    ]
    return Plan(layout, members, "forgeml", f"{shape}; rendezvous at {where}{here}")


def _torchrun(
    layout: Layout,
    node: int,
    addr: str,
    port: int,
    python: Path,
    logs: Path,
    exit_dir: Path,
    line: str,
) -> Member:
    # the shell records its exit code before it goes: torchrun itself only says 1
    record = (
        f'trap \'__forgeml_rc=$?; echo "$__forgeml_rc $EPOCHREALTIME" > "${EXIT_VAR}/$RANK"\' EXIT'
    )
    argv = [
        str(python),
        "-m",
        "torch.distributed.run",
        f"--nnodes={layout.nodes}",
        f"--node-rank={node}",
        f"--nproc-per-node={layout.per_node}",
        f"--master-addr={addr}",
        f"--master-port={port}",
        "--max-restarts=0",
        "--tee=3",
        f"--log-dir={logs / f'node_{node}'}",
        "--no-python",
        "bash",
        "-c",
        f"{record}\n{line}",
    ]
    env = {
        "NODE_RANK": str(node),
        "TORCHELASTIC_LOG_LINE_PREFIX_TEMPLATE": TORCHRUN_PREFIX,
        EXIT_VAR: str(exit_dir),
    }
    return Member(f"node {node}", argv, env)


def _tensorflow(layout: Layout, line: str, mine: list[int], ports: Sequence[int]) -> Plan:
    tasks = tf_tasks(layout)
    if len(ports) != len(tasks):
        raise ValueError(f"{len(tasks)} tensorflow task(s) need as many ports, not {len(ports)}")
    shape = f"tensorflow: {layout.workers} worker(s), {layout.ps} parameter server(s)"
    if 0 not in mine:
        return Plan(layout, [], "forgeml", f"{shape}; all of them run on node 0")
    warnings = []
    if layout.nodes > 1:
        warnings.append(
            f"tensorflow: the {len(tasks)} task(s) all ran on node 0 of {layout.nodes}; a "
            "TF_CONFIG cluster across nodes needs every node's address, which this compute "
            "does not pass"
        )
    members = [
        Member(
            f"{kind} {index}",
            ["bash", "-c", line],
            {"TF_CONFIG": tf_config(layout, LOOPBACK, ports, (kind, index))},
            f"[{kind} {index}] ",
        )
        for kind, index in tasks
    ]
    return Plan(layout, members, "forgeml", f"{shape} on {LOOPBACK}", warnings)


# ---------------------------------------------------------------------------- the machine


def has_torch(python: Path, venv: Path | None) -> bool:
    """Whether the environment can run torchrun, without starting its Python."""
    if venv is None:  # the runner's own interpreter
        return importlib.util.find_spec("torch") is not None
    return any((venv / "lib").glob("python*/site-packages/torch/distributed/run.py"))


def free_port(host: str = LOOPBACK) -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def first_failure(exit_dir: Path) -> tuple[int, int] | None:
    """(rank, exit code) of the rank that failed first, as its shell recorded it."""
    found: list[tuple[float, int, int]] = []
    for path in exit_dir.glob("*") if exit_dir.is_dir() else []:
        try:
            parts = path.read_text().split()
            code, rank = int(parts[0]), int(path.name)
            when = float(parts[1].replace(",", ".")) if len(parts) > 1 else path.stat().st_mtime
        except (OSError, ValueError, IndexError):
            continue
        if code != 0:
            found.append((when, rank, code))
    return min(found)[1:] if found else None
