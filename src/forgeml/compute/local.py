"""The `local` compute: each job's runner is a process of this machine, in its own session.

The runner starts as `<this python> -m forgeml.runtime.runner --url ... --job ... --workdir ...`
with `start_new_session=True`, so it outlives a workspace that is killed (and is re-attached by
the next one), and its output goes to `<workdir>/runner.log` rather than to a pipe that would
break with the server. A handle records the pid together with the process start time, so a pid
the system has since given to another process is never mistaken for the runner. Cancel sends
SIGTERM to the runner's process group (the runner stops its command's group and reports);
`kill` sends SIGKILL to every process group of the runner's tree, remembered from the moment of
the cancel, since orphans lose their parent link once the runner dies.

With `warm=True` (the default) runners are forked from a fork server (`forgeml.compute.warm`)
that has imported the runner once, so a job's runner starts in milliseconds instead of most of a
second; the fork server is retired after `warm_idle_s` without a job and started again on demand.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any, ClassVar

from forgeml.compute.base import ComputeBackend, Exited, Handle, Launch

RUNNER_MODULE = "forgeml.runtime.runner"
LOG_NAME = "runner.log"
#: where the fork server writes the exit status of a runner it started
EXIT_NAME = "runner.exit"


def process_start_time(pid: int) -> str | None:
    """When `pid` started, as an opaque token (clock ticks since boot); None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
            stat = fh.read()
    except OSError:
        return _ps_start_time(pid)
    # the command name (field 2) may hold spaces and parentheses: split after its last ')'
    fields = stat[stat.rfind(")") + 2 :].split()
    if len(fields) < 20 or fields[0] == "Z":
        return None  # a zombie has finished: only its exit status is left
    return fields[19]


def _ps_start_time(pid: int) -> str | None:
    if sys.platform.startswith("linux"):
        return None  # no /proc entry: the process is gone
    try:
        out = subprocess.run(
            ["ps", "-o", "lstart=", "-p", str(pid)],
            capture_output=True,
            text=True,
            check=False,
            timeout=5,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return out or None


def _children() -> dict[int, list[int]]:
    """Parent pid -> child pids, from /proc."""
    tree: dict[int, list[int]] = {}
    try:
        entries = os.listdir("/proc")
    except OSError:
        return tree
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as fh:
                stat = fh.read()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2 :].split()
        if len(fields) > 1:
            tree.setdefault(int(fields[1]), []).append(int(entry))
    return tree


def process_tree(pid: int) -> set[int]:
    """`pid` and every process below it."""
    tree = _children()
    found, todo = {pid}, [pid]
    while todo:
        for child in tree.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def _groups(pids: set[int]) -> set[int]:
    groups = set()
    for pid in pids:
        with contextlib.suppress(OSError):
            groups.add(os.getpgid(pid))
    return groups


def _exit_code(path: Any) -> int | None:
    if not path:
        return None
    try:
        return int(Path(str(path)).read_text(encoding="ascii").strip())
    except (OSError, ValueError):
        return None


class LocalBackend(ComputeBackend):
    """Runner processes on this machine."""

    kind: ClassVar[str] = "local"
    supports_reattach: ClassVar[bool] = True

    def __init__(
        self,
        *,
        python: str | None = None,
        host: str | None = None,
        warm: bool = True,
        warm_idle_s: float = 600.0,
    ) -> None:
        self.python = python or sys.executable
        self.host = host or socket.gethostname()
        self.warm = warm
        self.warm_idle_s = warm_idle_s
        self._lock = threading.Lock()
        self._procs: dict[int, subprocess.Popen[bytes]] = {}
        self._groups: dict[int, set[int]] = {}
        self._spare: subprocess.Popen[bytes] | None = None
        self._spare_timer: threading.Timer | None = None
        self._fork_lock = threading.Lock()
        self._closed = False

    def submit(self, launch: Launch) -> Handle:
        launch.workdir.mkdir(parents=True, exist_ok=True)
        argv = [
            "--url",
            launch.workspace_url,
            "--job",
            launch.job,
            "--workdir",
            str(launch.workdir),
        ]
        if launch.home is not None:
            argv += ["--home", str(launch.home)]
        argv.append("--prepared")  # the scheduler moved the job to `preparing` before launching
        env = {**os.environ, "PYTHONUNBUFFERED": "1", **launch.env}
        log = launch.workdir / LOG_NAME
        exit_file = launch.workdir / EXIT_NAME
        with contextlib.suppress(OSError):
            exit_file.unlink()
        pid = self._fork(argv, env, launch.workdir, log, exit_file) if self.warm else None
        if pid is None:
            with open(log, "ab") as sink:
                proc = self._spawn([RUNNER_MODULE, *argv], env, launch.workdir, sink, None)
            pid = proc.pid
            with self._lock:
                self._procs[pid] = proc
        started = process_start_time(pid) or ""
        return Handle(
            self.kind, self.host, pid, {"start_time": started, "exit_file": str(exit_file)}
        )

    def _spawn(
        self,
        module: list[str],
        env: dict[str, str],
        cwd: Path,
        sink: Any,
        stdin: int | None,
        stdout: int | None = None,
    ) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [self.python, "-m", *module],
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL if stdin is None else stdin,
            stdout=sink if stdout is None else stdout,
            stderr=sink,
            # its own session: it outlives the workspace, and one signal reaches its group
            start_new_session=True,
            close_fds=True,
        )

    def prestart(self, folder: Path) -> None:
        """Start the fork server ahead of the first job (in the background)."""
        if self.warm:
            threading.Thread(target=self._server, args=(folder,), daemon=True).start()

    def _server(self, folder: Path) -> subprocess.Popen[bytes] | None:
        """The fork server, started if it is not running."""
        with self._lock:
            if self._closed:
                return None
            if self._spare is not None and self._spare.poll() is None:
                return self._spare
            folder.mkdir(parents=True, exist_ok=True)
            with open(folder / "warm-runner.log", "ab") as sink:
                env = {**os.environ, "PYTHONUNBUFFERED": "1"}
                self._spare = self._spawn(
                    ["forgeml.compute.warm"], env, folder, sink, subprocess.PIPE, subprocess.PIPE
                )
            return self._spare

    def _fork(
        self, argv: list[str], env: dict[str, str], cwd: Path, log: Path, exit_file: Path
    ) -> int | None:
        """Have the fork server start the job's runner; None if it cannot."""
        server = self._server(cwd.parent)
        if server is None or server.stdin is None or server.stdout is None:
            return None
        order = {
            "argv": argv,
            "cwd": str(cwd),
            "env": env,
            "log": str(log),
            "exit_file": str(exit_file),
        }
        with self._fork_lock:
            try:
                server.stdin.write((json.dumps(order) + "\n").encode())
                server.stdin.flush()
                answer = server.stdout.readline()
            except OSError:
                answer = b""
        if not answer.strip().isdigit():
            self._retire_spare()
            return None
        self._arm_idle_timer()
        return int(answer)

    def _arm_idle_timer(self) -> None:
        with self._lock:
            if self._spare_timer is not None:
                self._spare_timer.cancel()
            self._spare_timer = threading.Timer(self.warm_idle_s, self._retire_spare)
            self._spare_timer.daemon = True
            self._spare_timer.start()

    def _retire_spare(self) -> None:
        with self._lock:
            spare, self._spare = self._spare, None
        if spare is not None:
            if spare.stdin is not None:
                with contextlib.suppress(OSError):
                    spare.stdin.close()  # end of input: it exits; its runners go on
            try:
                spare.wait(10)
            except subprocess.TimeoutExpired:
                spare.kill()
                spare.wait()
            if spare.stdout is not None:
                spare.stdout.close()

    def find(self, workdir: Path) -> Handle | None:
        """The oldest live process of this machine whose working folder is `workdir`: the
        runner (its command's processes run in the code folder beneath it)."""
        target = str(workdir.resolve())
        found: list[tuple[int, int]] = []
        try:
            entries = os.listdir("/proc")
        except OSError:
            return None
        for entry in entries:
            if not entry.isdigit():
                continue
            pid = int(entry)
            try:
                if os.readlink(f"/proc/{entry}/cwd") != target:
                    continue
            except OSError:
                continue
            started = process_start_time(pid)
            if started is not None and started.isdigit():
                found.append((int(started), pid))
        if not found:
            return None
        _, pid = min(found)
        started = process_start_time(pid) or ""
        exit_file = str(workdir / EXIT_NAME)
        return Handle(self.kind, self.host, pid, {"start_time": started, "exit_file": exit_file})

    def owns(self, handle: Handle) -> bool:
        return handle.backend == self.kind and handle.host == self.host

    def poll(self, handle: Handle) -> Exited | None:
        pid = handle.pid
        if pid is None or not self.owns(handle):
            return Exited()
        with self._lock:
            proc = self._procs.get(pid)
        if proc is not None:
            code = proc.poll()  # reaps it, so our own exited children never linger as zombies
            if code is None:
                return None
            with self._lock:
                self._procs.pop(pid, None)
            return Exited(code)
        # forked by the fork server, or started by an earlier workspace process: alive only
        # while the pid is still that process
        started = process_start_time(pid)
        if started is None or started != handle.data.get("start_time"):
            return Exited(_exit_code(handle.data.get("exit_file")))
        return None

    def cancel(self, handle: Handle) -> None:
        if handle.pid is None or not self.alive(handle):
            return
        # remember the whole tree now: once the runner dies, orphans lose their parent link
        groups = _groups(process_tree(handle.pid))
        with self._lock:
            self._groups.setdefault(handle.pid, set()).update(groups)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(handle.pid, signal.SIGTERM)

    def kill(self, handle: Handle) -> None:
        if handle.pid is None or not self.owns(handle):
            return
        groups: set[int] = set()
        if self.alive(handle):
            groups |= _groups(process_tree(handle.pid))
            groups.add(handle.pid)
        with self._lock:
            groups |= self._groups.pop(handle.pid, set())
        own = os.getpgid(0)
        for group in groups - {own, 0, 1}:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(group, signal.SIGKILL)
        self.poll(handle)

    def exit_details(self, handle: Handle, workdir: Path | None, lines: int = 10) -> list[str]:
        return self.log_tail(workdir, lines) if workdir is not None else []

    def log_tail(self, workdir: Path, lines: int = 20) -> list[str]:
        """The last lines the runner printed (its own errors, before it could report them)."""
        try:
            text = (workdir / LOG_NAME).read_text(encoding="utf-8", errors="replace")
        except OSError:
            return []
        return [line for line in text.splitlines() if line.strip()][-lines:]

    def close(self) -> None:
        with self._lock:
            self._closed = True
            timer, self._spare_timer = self._spare_timer, None
            self._procs.clear()
        if timer is not None:
            timer.cancel()
        self._retire_spare()
