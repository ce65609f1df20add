"""A job on several Ray nodes: `python -m forgeml.compute.ray_gang --nodes M --bundle JSON -- ...`.

This is the entrypoint of the Ray job the `ray` compute submits for `resources.instance_count`
M > 1. Running inside the cluster (the Jobs API sets `RAY_ADDRESS`), it reserves a placement
group of M bundles spread over the nodes, places one small actor in each bundle, learns the
nodes' addresses, picks the rendezvous port on node 0, and has each actor run one job runner
with `--nodes M --node-rank I --master-addr A --master-port P`. Node 0's runner reports the job;
the others only run their share of the processes. The gang ends with node 0's runner: the others
get a grace period to finish, then are stopped. SIGTERM (a cancel: Ray stops the job) is passed
on to every runner.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import uuid
from types import FrameType
from typing import Any

#: how long the other nodes may run on after node 0's runner ended
FOLLOWER_GRACE_S = 15.0
#: how long to wait for the cluster to hold the whole gang before giving up
PLACEMENT_TIMEOUT_S = float(os.environ.get("FORGEML_RAY_PLACEMENT_TIMEOUT_S", "600"))


class NodeAgent:
    """One node of the gang: runs a runner process there and stops it on request."""

    def __init__(self) -> None:
        self.proc: subprocess.Popen[bytes] | None = None

    def ip(self) -> str:
        import ray

        return str(ray.util.get_node_ip_address())  # type: ignore[no-untyped-call]

    def free_port(self) -> int:
        with socket.socket() as sock:
            sock.bind(("", 0))
            return int(sock.getsockname()[1])

    def run(self, argv: list[str], cwd: str) -> int:
        os.makedirs(cwd, exist_ok=True)
        self.proc = subprocess.Popen(
            argv, cwd=cwd, env={**os.environ, "PYTHONUNBUFFERED": "1"}, start_new_session=True
        )
        return self.proc.wait()

    def write(self, path: str, text: str) -> None:
        tmp = f"{path}.tmp"
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)

    def signal(self, signum: int) -> None:
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(OSError):
                os.killpg(self.proc.pid, signum)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m forgeml.compute.ray_gang")
    parser.add_argument("--nodes", type=int, required=True)
    parser.add_argument("--bundle", required=True, help="one node's resources, as JSON")
    parser.add_argument("--python", default=sys.executable)
    parser.add_argument("runner", nargs=argparse.REMAINDER, help="-- then the runner's flags")
    args = parser.parse_args(argv)
    runner = [a for a in args.runner if a != "--"] if args.runner[:1] == ["--"] else args.runner
    bundle: dict[str, float] = json.loads(args.bundle)

    from ray.util.placement_group import placement_group, remove_placement_group
    from ray.util.scheduling_strategies import PlacementGroupSchedulingStrategy

    import ray

    ray.init(log_to_driver=False)
    group = placement_group([dict(bundle) for _ in range(args.nodes)], strategy="SPREAD")
    print(f"forgeml: reserving {args.nodes} node(s) of {bundle} on the cluster", flush=True)
    ray.get(group.ready(), timeout=PLACEMENT_TIMEOUT_S)
    options = ray_options(bundle)
    agent_cls: Any = ray.remote(NodeAgent)
    agents = [
        agent_cls.options(
            **options,
            max_concurrency=4,
            scheduling_strategy=PlacementGroupSchedulingStrategy(
                placement_group=group, placement_group_bundle_index=i
            ),
        ).remote()
        for i in range(args.nodes)
    ]
    ips = ray.get([a.ip.remote() for a in agents])
    # one machine: loopback, which needs no firewall rule; several: node 0's address
    master = "127.0.0.1" if len(set(ips)) == 1 else ips[0]
    port = ray.get(agents[0].free_port.remote())
    print(f"forgeml: nodes {', '.join(ips)}; rendezvous at {master}:{port}", flush=True)

    def forward(signum: int, _frame: FrameType | None) -> None:
        for agent in agents:
            agent.signal.remote(signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    workdir = runner[runner.index("--workdir") + 1] if "--workdir" in runner else os.getcwd()
    # named per driver: a file of an earlier attempt never speaks for this one, and node 0's
    # runner needs not clear it (the other nodes may end before node 0's runner has started)
    peers_file = os.path.join(workdir, f"peers-{uuid.uuid4().hex[:12]}.json")
    runs = [
        agent.run.remote(
            [
                args.python,
                "-m",
                "forgeml.runtime.runner",
                *runner,
                "--nodes",
                str(args.nodes),
                "--node-rank",
                str(rank),
                "--master-addr",
                master,
                "--master-port",
                str(port),
                *(["--peers-file", peers_file] if rank == 0 else []),
            ],
            workdir,
        )
        for rank, agent in enumerate(agents)
    ]
    code = _follow(ray, runs, agents[0], peers_file)
    _, pending = ray.wait(runs[1:], num_returns=len(runs) - 1, timeout=FOLLOWER_GRACE_S)
    if pending:
        for agent in agents[1:]:
            agent.signal.remote(signal.SIGTERM)
        ray.wait(pending, num_returns=len(pending), timeout=10)
    remove_placement_group(group)
    return code


def _follow(ray: Any, runs: list[Any], leader: Any, peers_file: str) -> int:
    """Wait for node 0's runner; tell it (a file on its node) how the other nodes end, so that
    it reports the job done only when every node is, and failed as soon as one node fails."""
    pending = {ref: rank for rank, ref in enumerate(runs) if rank}
    ended: list[dict[str, Any]] = []
    told = False
    while True:
        # short waits, so that a SIGTERM's handler runs between them
        ready, _ = ray.wait([runs[0], *pending], num_returns=1, timeout=0.5)
        for ref in ready:
            if ref is runs[0] or ref == runs[0]:
                try:
                    return int(ray.get(ref))
                except Exception as exc:  # node 0 was lost
                    print(f"forgeml: node 0 was lost: {exc}", file=sys.stderr, flush=True)
                    return 1
            rank = pending.pop(ref)
            try:
                code, error = int(ray.get(ref)), None
            except Exception as exc:  # that node was lost
                code, error = 1, f"the node was lost: {exc}"
            ended.append({"node": rank, "code": code, "error": error})
            if (code or not pending) and not told:
                told = not pending
                report = {"nodes": ended, "running": sorted(pending.values())}
                ray.get(leader.write.remote(peers_file, json.dumps(report)))


def ray_options(bundle: dict[str, float]) -> dict[str, Any]:
    """Ray's names for what one bundle reserves (`num_cpus`, `num_gpus`, `memory` in bytes,
    custom `resources`), as actors take them and, prefixed `entrypoint_`, the Jobs API."""
    options: dict[str, Any] = {"num_cpus": bundle.get("CPU", 0.0)}
    if bundle.get("GPU"):
        options["num_gpus"] = bundle["GPU"]
    if bundle.get("memory"):
        options["memory"] = int(bundle["memory"])
    custom = {k: v for k, v in bundle.items() if k not in ("CPU", "GPU", "memory")}
    if custom:
        options["resources"] = custom
    return options


if __name__ == "__main__":
    sys.exit(main())
