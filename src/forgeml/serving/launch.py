"""Where serving workers run: a process on this machine, or a Ray job on a cluster.

A launcher starts `forgeml.serving.worker` for one instance and returns a handle (plain data,
stored with the instance so a restarted server still finds its workers); it tells whether a
handle's worker still runs and stops it. On Ray each instance is a long-running Ray job that
reserves the compute's per-job resources, so instances spread over the cluster's nodes.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any, Protocol

from forgeml.compute.ray import RayCluster, RayTarget
from forgeml.compute.ray_gang import ray_options

WORKER_MODULE = "forgeml.serving.worker"


class Launcher(Protocol):
    def start(self, instance: str) -> dict[str, Any]: ...

    def alive(self, handle: dict[str, Any]) -> bool: ...

    def stop(self, handle: dict[str, Any], *, force: bool = False) -> None: ...


def _running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


class LocalLauncher:
    """Workers as child processes of the server, each in its own process group."""

    def __init__(self, url: str, home: Path) -> None:
        self.url = url
        self.home = home
        self.children: dict[int, subprocess.Popen[bytes]] = {}

    def start(self, instance: str) -> dict[str, Any]:
        folder = self.home / "serving"
        folder.mkdir(parents=True, exist_ok=True)
        with open(folder / f"{instance}.log", "ab") as log:
            proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    WORKER_MODULE,
                    "--url",
                    self.url,
                    "--instance",
                    instance,
                    "--home",
                    str(self.home),
                ],
                cwd=folder,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.children[proc.pid] = proc
        return {"kind": "local", "pid": proc.pid, "instance": instance}

    def alive(self, handle: dict[str, Any]) -> bool:
        pid = int(handle.get("pid", 0))
        child = self.children.get(pid)
        if child is not None:
            if child.poll() is None:
                return True
            del self.children[pid]
            return False
        # a worker started before this server restarted: its command line names the instance
        if not _running(pid):
            return False
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as fh:
                return str(handle.get("instance", "")).encode() in fh.read()
        except OSError:
            return False

    def stop(self, handle: dict[str, Any], *, force: bool = False) -> None:
        pid = int(handle.get("pid", 0))
        if pid and self.alive(handle):
            with contextlib.suppress(OSError):
                os.killpg(pid, signal.SIGKILL if force else signal.SIGTERM)


class RayLauncher:
    """Workers as Ray jobs on one `type: ray` compute."""

    def __init__(self, url: str, target: RayTarget) -> None:
        self.url = target.workspace_url or url
        self.target = target
        self.cluster = RayCluster(target.address)

    def start(self, instance: str) -> dict[str, Any]:
        root = self.target.working_dir.rstrip("/") or "/"
        folder = shlex.quote(f"{root}/serving")
        argv = [
            self.target.python,
            "-m",
            WORKER_MODULE,
            "--url",
            self.url,
            "--instance",
            instance,
            "--home",
            root,
            "--bind-host",
            "0.0.0.0",
        ]
        body: dict[str, Any] = {
            "submission_id": f"forgeml-serving-{instance}",
            "metadata": {"forgeml_instance": instance, "forgeml_compute": self.target.name},
            "entrypoint": f"mkdir -p {folder} && cd {folder} && exec {shlex.join(argv)}",
        }
        body.update({f"entrypoint_{k}": v for k, v in ray_options(self.target.resources).items()})
        submission = self.cluster.submit(body)
        return {
            "kind": "ray",
            "compute": self.target.name,
            "submission_id": submission,
            "instance": instance,
        }

    def alive(self, handle: dict[str, Any]) -> bool:
        info = self.cluster.job(str(handle.get("submission_id")))
        return info is not None and info.get("status") in ("PENDING", "RUNNING")

    def stop(self, handle: dict[str, Any], *, force: bool = False) -> None:
        with contextlib.suppress(Exception):
            self.cluster.stop(str(handle.get("submission_id")))

    def close(self) -> None:
        self.cluster.close()
