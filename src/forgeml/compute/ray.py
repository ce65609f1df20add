"""The `ray` compute: each job's runner runs on a Ray cluster as a Ray job (the Jobs API).

Why the Jobs API rather than tasks or actors driven from the workspace: the workspace process
never becomes a Ray driver (no in-process Ray runtime, no global connection, several clusters
per workspace), a Ray job belongs to the cluster and outlives a workspace restart (the next
scheduler finds it again by its submission id), Ray reserves the job's resources for the
entrypoint (`entrypoint_num_cpus`, ...), and stopping a Ray job signals its whole process group.
The API is plain HTTP on the cluster's dashboard, so this module needs only `httpx`; Ray itself
is imported only in a subprocess, to turn an `auto` or `ray://` address into the dashboard's URL.

A job's entrypoint is the usual runner (`python -m forgeml.runtime.runner`) with its working
folder and caches under the compute's `working_dir` on the node, so a node needs no access to the
workspace's disk: the runner fetches code and inputs and stores outputs through the workspace's
REST API, which reads and writes the shared artifact store. A job on several nodes
(`resources.instance_count` > 1) starts `forgeml.compute.ray_gang` instead, which reserves a
placement group of one bundle per node and runs one runner per bundle.
"""

from __future__ import annotations

import contextlib
import json
import shlex
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import httpx

from forgeml.compute.base import ComputeBackend, ComputeBusy, Exited, Handle, Launch
from forgeml.compute.ray_gang import ray_options
from forgeml.core.errors import UserError
from forgeml.core.specs.compute import RayResources

RUNNER_MODULE = "forgeml.runtime.runner"
GANG_MODULE = "forgeml.compute.ray_gang"
#: how long the cluster may stay unreachable before its running jobs are given up
UNREACHABLE_S = 300.0
#: the scheduler ticks on every event; a Ray job's state is asked for at most this often (the
#: runner reports the job's own states itself: this only notices a runner that is gone)
POLL_EVERY_S = 1.0
#: after the cluster failed to answer, calls fail at once for this long: the scheduler's loop
#: (which also runs the local compute's jobs) must never wait on a cluster that is down
BACKOFF_S = 15.0
_TERMINAL = {"SUCCEEDED", "FAILED", "STOPPED"}


class RayUnreachable(ComputeBusy):
    """The cluster at the compute's address did not answer."""


@dataclass(frozen=True)
class RayTarget:
    """What the backend needs of a `type: ray` compute."""

    name: str
    address: str
    resources: dict[str, float] = field(default_factory=lambda: {"CPU": 1.0})
    working_dir: str = "/tmp/forgeml-ray"
    python: str = "python"
    workspace_url: str | None = None

    @staticmethod
    def from_spec(name: str, spec: dict[str, Any]) -> RayTarget:
        resources = RayResources.model_validate(spec.get("resources") or {})
        return RayTarget(
            name=name,
            address=str(spec["address"]),
            resources=resources.as_ray(),
            working_dir=str(spec.get("working_dir") or "/tmp/forgeml-ray"),
            python=str(spec.get("python") or "python"),
            workspace_url=spec.get("workspace_url"),
        )


def dashboard_url(address: str, *, timeout_s: float = 60.0) -> str:
    """The HTTP address of the cluster's dashboard (which serves the Jobs API) for `address`.

    `http(s)://` addresses are the dashboard already. `auto` and `ray://` are resolved by Ray's
    own client in a subprocess, so the workspace never holds a Ray connection itself.
    """
    if address.startswith(("http://", "https://")):
        url = address.rstrip("/")
        _check_version(url, address)
        return url
    code = (
        "import sys\n"
        "from ray.job_submission import JobSubmissionClient\n"
        "print(JobSubmissionClient(sys.argv[1]).get_address())\n"
    )
    # Ray's client proxy starts a server per connection and gives up when that server is slow to
    # start on a busy head ("Starting Ray client server failed"): a second try usually gets one
    for attempt in range(2):
        try:
            done = subprocess.run(
                [sys.executable, "-c", code, address],
                capture_output=True,
                text=True,
                timeout=timeout_s,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise RayUnreachable(
                f"the Ray cluster at {address} did not answer within {timeout_s:.0f} s; check the "
                "address and that the head node is running (`ray status`)."
            ) from None
        if done.returncode == 0 or "client server failed" not in done.stderr or attempt:
            break
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines or not lines[-1].startswith("http"):
        error = [ln for ln in done.stderr.strip().splitlines() if ln.strip()]
        raise RayUnreachable(
            f"cannot connect to the Ray cluster at {address}: "
            f"{error[-1] if error else 'no dashboard address was found'}"
        )
    url = lines[-1].strip().rstrip("/")
    _check_version(url, address)
    return url


def _check_version(url: str, address: str) -> None:
    try:
        response = httpx.get(f"{url}/api/version", timeout=10.0)
        response.raise_for_status()
    except httpx.HTTPError as exc:
        raise RayUnreachable(
            f"cannot connect to the Ray cluster at {address}: {type(exc).__name__}: {exc}. "
            "Check the address, that the head node runs with its dashboard "
            "(`ray start --head --dashboard-host ...`), and that `ray[default]` is installed there."
        ) from None


@dataclass(frozen=True)
class ClusterNode:
    node_id: str
    ip: str
    alive: bool
    head: bool
    total: dict[str, float]
    available: dict[str, float]


def _public(resources: dict[str, float]) -> dict[str, float]:
    # Ray's bookkeeping resources (`node:<ip>`, object store) say nothing a user asks for
    return {
        k: v
        for k, v in resources.items()
        if not k.startswith("node:") and k not in ("object_store_memory", "objectStoreMemory")
    }


class RayCluster:
    """One cluster's Jobs API and state API, over HTTP."""

    def __init__(self, address: str, *, resolve_timeout_s: float = 30.0) -> None:
        self.address = address
        self.resolve_timeout_s = resolve_timeout_s
        self._url: str | None = None
        self._lock = threading.Lock()
        self._http = httpx.Client(timeout=httpx.Timeout(30.0, connect=5.0))
        self._nodes: tuple[float, list[ClusterNode]] | None = None
        self._down: tuple[float, RayUnreachable] | None = None

    def _check_down(self) -> None:
        down = self._down
        if down is not None and time.monotonic() < down[0]:
            raise down[1]

    def _went_down(self, error: RayUnreachable) -> RayUnreachable:
        self._down = (time.monotonic() + BACKOFF_S, error)
        return error

    @property
    def url(self) -> str:
        self._check_down()
        with self._lock:
            if self._url is None:
                try:
                    self._url = dashboard_url(self.address, timeout_s=self.resolve_timeout_s)
                except RayUnreachable as exc:
                    raise self._went_down(exc) from None
            return self._url

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        url = self.url
        try:
            response = self._http.request(method, f"{url}{path}", **kwargs)
        except httpx.TransportError as exc:
            raise self._went_down(
                RayUnreachable(
                    f"the Ray cluster at {self.address} did not answer: {type(exc).__name__}: {exc}"
                )
            ) from None
        self._down = None
        if response.status_code == 404:
            return None
        if response.status_code >= 500:
            raise ComputeBusy(
                f"the Ray cluster at {self.address} could not answer {method} {path}: "
                f"{response.status_code} {response.text[:500]}"
            )
        if response.status_code >= 400:
            raise UserError(
                f"the Ray cluster at {self.address} refused {method} {path}: "
                f"{response.status_code} {response.text[:500]}"
            )
        return response.json() if response.content else None

    # ------------------------------------------------------------------------- jobs

    def submit(self, body: dict[str, Any]) -> str:
        answer = self._call("POST", "/api/jobs/", json=body)
        return str(answer["submission_id"])

    def job(self, submission_id: str) -> dict[str, Any] | None:
        found = self._call("GET", f"/api/jobs/{submission_id}")
        return found if isinstance(found, dict) else None

    def stop(self, submission_id: str) -> None:
        self._call("POST", f"/api/jobs/{submission_id}/stop")

    def logs(self, submission_id: str) -> str:
        found = self._call("GET", f"/api/jobs/{submission_id}/logs")
        return str((found or {}).get("logs") or "")

    def find(self, metadata_job: str) -> str | None:
        """The newest Ray job this workspace submitted for `metadata_job` that has not ended."""
        jobs = self._call("GET", "/api/jobs/") or []
        live = [
            j
            for j in jobs
            if (j.get("metadata") or {}).get("forgeml_job") == metadata_job
            and j.get("status") not in _TERMINAL
        ]
        live.sort(key=lambda j: j.get("start_time") or 0)
        return str(live[-1]["submission_id"]) if live else None

    # ------------------------------------------------------------------------ nodes

    def nodes(self, max_age_s: float = 2.0) -> list[ClusterNode]:
        """The cluster's nodes with their total and free resources (cached `max_age_s`)."""
        cached = self._nodes
        if cached is not None and time.monotonic() - cached[0] < max_age_s:
            return cached[1]
        listed = self._call("GET", "/api/v0/nodes", params={"limit": 10_000, "detail": 1})
        rows = (((listed or {}).get("data") or {}).get("result") or {}).get("result") or []
        status = self._call("GET", "/api/cluster_status") or {}
        load = ((status.get("data") or {}).get("clusterStatus") or {}).get("loadMetricsReport")
        usage = (load or {}).get("usageByNode") or {}
        nodes = []
        for row in rows:
            total = _public({k: float(v) for k, v in (row.get("resources_total") or {}).items()})
            used = usage.get(row.get("node_id"), {})
            available = {
                k: max(0.0, v - float((used.get(k) or [0.0])[0])) for k, v in total.items()
            }
            nodes.append(
                ClusterNode(
                    node_id=str(row.get("node_id")),
                    ip=str(row.get("node_ip")),
                    alive=row.get("state") == "ALIVE",
                    head=bool(row.get("is_head_node")),
                    total=total,
                    available=available,
                )
            )
        self._nodes = (time.monotonic(), nodes)
        return nodes

    def close(self) -> None:
        self._http.close()


def shortfall(nodes: list[ClusterNode], bundle: dict[str, float], count: int) -> str | None:
    """Why `count` bundles of `bundle` can never fit on these nodes, or None if they can."""
    alive = [n for n in nodes if n.alive]
    if not alive:
        return "the cluster has no live node"
    fits = 0
    for node in alive:
        per = min((node.total.get(k, 0.0) // v if v else float("inf")) for k, v in bundle.items())
        fits += int(min(per, count))
    if fits >= count:
        return None
    asked = ", ".join(f"{k}={v:g}" for k, v in sorted(bundle.items()))
    biggest = max(alive, key=lambda n: n.total.get("CPU", 0.0))
    has = ", ".join(f"{k}={v:g}" for k, v in sorted(biggest.total.items()) if k in bundle)
    nodes_txt = f"{count} node(s) x " if count > 1 else ""
    return (
        f"it asks for {nodes_txt}{{{asked}}}, which the cluster's {len(alive)} live node(s) "
        f"cannot hold (the largest has {{{has or 'none of these'}}}); it stays queued until "
        "the cluster grows"
    )


class RayBackend(ComputeBackend):
    """Runners as Ray jobs on one cluster (one backend per `type: ray` compute)."""

    kind: ClassVar[str] = "ray"
    supports_reattach: ClassVar[bool] = True
    supports_multi_node: ClassVar[bool] = True

    def __init__(self, target: RayTarget) -> None:
        self.target = target
        self.cluster = RayCluster(target.address)
        self._unreachable_since: dict[str, float] = {}
        self._messages: dict[str, str] = {}
        self._polled: dict[str, float] = {}

    # -------------------------------------------------------------------- requirements

    def bundle(
        self, resources: dict[str, Any] | None, distribution: dict[str, Any] | None = None
    ) -> tuple[dict[str, float], int]:
        """What one node of a job reserves, and how many nodes it needs."""
        job = dict(resources or {})
        nodes = max(1, int(job.get("instance_count") or 1))
        if (distribution or {}).get("type") == "ray":
            nodes = 1  # the command is a Ray driver: it asks the cluster for what it needs
        asked = dict(self.target.resources)
        override = (job.get("properties") or {}) if isinstance(job.get("properties"), dict) else {}
        keys = ("num_cpus", "num_gpus", "memory", "custom_resources")
        if any(k in override for k in keys):
            merged = RayResources.model_validate(
                {
                    "num_cpus": asked.get("CPU", 0.0),
                    "num_gpus": asked.get("GPU", 0.0),
                    **{k: override[k] for k in keys if k in override},
                }
            )
            asked = merged.as_ray()
        return asked, nodes

    def admit(
        self, resources: dict[str, Any] | None, distribution: dict[str, Any] | None = None
    ) -> str | None:
        """Why a job with these `resources` can never fit this cluster as it is, or None."""
        bundle, nodes = self.bundle(resources, distribution)
        return shortfall(self.cluster.nodes(), bundle, nodes)

    # ------------------------------------------------------------------------ launch

    def submit(self, launch: Launch) -> Handle:
        target = self.target
        bundle, nodes = self.bundle(launch.resources, launch.distribution)
        root = target.working_dir.rstrip("/") or "/"
        argv = [
            "--url",
            target.workspace_url or launch.workspace_url,
            "--job",
            launch.job,
            "--workdir",
            f"{root}/jobs/{launch.job}",
            "--home",
            root,
            "--prepared",
        ]
        body: dict[str, Any] = {
            "submission_id": f"forgeml-{launch.job}-{uuid.uuid4().hex[:8]}",
            "metadata": {"forgeml_job": launch.job, "forgeml_compute": target.name},
        }
        if launch.env:
            # a runtime_env of its own keeps Ray from reusing its idle worker processes
            body["runtime_env"] = {"env_vars": dict(launch.env)}
        workdir = shlex.quote(f"{root}/jobs/{launch.job}")
        # in the job's folder, as on the local compute: a runner is found by its folder
        prefix = f"mkdir -p {workdir} && cd {workdir} && exec "
        if nodes == 1:
            body["entrypoint"] = prefix + shlex.join([target.python, "-m", RUNNER_MODULE, *argv])
            body.update({f"entrypoint_{k}": v for k, v in ray_options(bundle).items()})
        else:
            # the gang driver reserves the nodes itself (a placement group) and holds nothing
            body["entrypoint"] = prefix + shlex.join(
                [
                    target.python,
                    "-m",
                    GANG_MODULE,
                    "--nodes",
                    str(nodes),
                    "--bundle",
                    json.dumps(bundle, sort_keys=True),
                    "--python",
                    target.python,
                    "--",
                    *argv,
                ]
            )
            body["entrypoint_num_cpus"] = 0
        submission = self.cluster.submit(body)
        return Handle(
            self.kind,
            target.address,
            None,
            {"submission_id": submission, "compute": target.name, "nodes": nodes},
        )

    def owns(self, handle: Handle) -> bool:
        return handle.backend == self.kind and handle.data.get("compute") == self.target.name

    def poll(self, handle: Handle) -> Exited | None:
        submission = str(handle.data.get("submission_id"))
        now = time.monotonic()
        if now - self._polled.get(submission, 0.0) < POLL_EVERY_S:
            return None
        self._polled[submission] = now
        try:
            job = self.cluster.job(submission)
        except RayUnreachable as exc:
            first = self._unreachable_since.setdefault(submission, time.monotonic())
            if time.monotonic() - first < UNREACHABLE_S:
                return None
            self._messages[submission] = f"{exc} (for {UNREACHABLE_S:.0f} s)"
            return Exited()
        self._unreachable_since.pop(submission, None)
        if job is None:
            self._messages[submission] = f"the Ray cluster no longer knows Ray job {submission}"
            return Exited()
        if job.get("status") not in _TERMINAL:
            return None
        self._polled.pop(submission, None)
        self._messages[submission] = str(job.get("message") or job.get("status"))
        code = job.get("driver_exit_code")
        return Exited(int(code) if code is not None else None)

    def cancel(self, handle: Handle) -> None:
        # Ray sends SIGTERM to the entrypoint's process group: the runner stops its command
        # and reports `canceled`; Ray sends SIGKILL a few seconds later if it has not exited
        with contextlib.suppress(UserError):
            self.cluster.stop(str(handle.data.get("submission_id")))

    def kill(self, handle: Handle) -> None:
        self.cancel(handle)

    def describe(self, handle: Handle) -> str:
        return f"Ray job {handle.data.get('submission_id')} on {self.target.address}"

    def find(self, workdir: Path) -> Handle | None:
        try:
            submission = self.cluster.find(workdir.name)
        except UserError:
            return None
        if submission is None:
            return None
        return Handle(
            self.kind,
            self.target.address,
            None,
            {"submission_id": submission, "compute": self.target.name},
        )

    def exit_details(self, handle: Handle, workdir: Path | None, lines: int = 10) -> list[str]:
        """What Ray said of the ended job, and the last lines its entrypoint printed."""
        submission = str(handle.data.get("submission_id"))
        out = []
        message = self._messages.pop(submission, None)
        if message:
            out.append(f"Ray: {message}")
        with contextlib.suppress(UserError):
            text = self.cluster.logs(submission)
            out += [ln for ln in text.splitlines() if ln.strip()][-lines:]
        return out

    def close(self) -> None:
        self.cluster.close()
