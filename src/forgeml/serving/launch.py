"""Where serving workers run: a process on this machine, or a Ray job on a cluster.

A launcher starts `forgeml.serving.worker` for one instance and returns a handle (plain data,
stored with the instance so a restarted server still finds its workers); it tells whether a
handle's worker still runs and stops it. On Ray each instance is a long-running Ray job that
reserves the compute's per-job resources, so instances spread over the cluster's nodes.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any, Protocol

from forgeml.compute.ray import RayCluster, RayTarget
from forgeml.compute.ray_gang import ray_options
from forgeml.core.errors import ForgemlError

WORKER_MODULE = "forgeml.serving.worker"
#: Ray's own lines in a job's log (its job manager's, and the entrypoint it echoes)
_RAY_LINE = re.compile(
    r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+\s+[A-Z]+ |Running entrypoint for job )"
)


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

    def exit_reason(self, handle: dict[str, Any], lines: int = 6) -> str | None:
        """The last lines the worker wrote before it ended (its log on this machine)."""
        log = self.home / "serving" / f"{handle.get('instance', '')}.log"
        try:
            tail = [line for line in log.read_text(errors="replace").splitlines() if line.strip()]
        except OSError:
            return None
        return (
            "the serving worker ended; its last output:\n" + "\n".join(tail[-lines:])
            if tail
            else None
        )

    def cleanup(self, instance: str) -> None:
        """Remove a stopped instance's working folder (its code copy) and its worker log."""
        folder = self.home / "serving"
        shutil.rmtree(folder / instance, ignore_errors=True)
        (folder / f"{instance}.log").unlink(missing_ok=True)

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
        try:
            submission = self.cluster.submit(body)
        except Exception:
            # the cluster may have taken the job and lost only its answer: the instance is
            # recorded as failed, so a worker running anyway would serve nobody
            with contextlib.suppress(Exception):
                self.cluster.stop(body["submission_id"])
            raise
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
        # Ray signals the worker and every process under it (the scoring host too, though it
        # has a session of its own) and kills what is left a few seconds later: `force` is moot
        with contextlib.suppress(Exception):
            self.cluster.stop(str(handle.get("submission_id")))

    def exit_reason(self, handle: dict[str, Any], lines: int = 6) -> str | None:
        """Why the handle's Ray job ended, in Ray's words with the entrypoint's last lines; None
        while it runs or when the cluster does not answer. For a worker that ended before it
        could tell the workspace itself (no such interpreter on the node, no route to the
        workspace's URL)."""
        submission = str(handle.get("submission_id"))
        try:
            info = self.cluster.job(submission)
        except ForgemlError:
            return None
        if info is None:
            return f"the Ray cluster no longer knows Ray job {submission}"
        status = str(info.get("status") or "")
        if status in ("PENDING", "RUNNING"):
            return None
        first, _, rest = str(info.get("message") or "").partition("\n")
        said = first.split(", last available logs", 1)[0].strip()
        tail = [ln for ln in rest.splitlines() if ln.strip() and not _RAY_LINE.match(ln)]
        reason = f"Ray job {submission} {status.lower()}" + (f": {said}" if said else "")
        return reason + ("; last output:\n" + "\n".join(tail[-lines:]) if tail else "")

    def close(self) -> None:
        self.cluster.close()
