"""A fork server for job runners: `python -m forgeml.compute.warm`.

Starting Python and importing the runner (httpx, pydantic, the runtime) takes most of a second,
which would dominate a short job and every step of a pipeline. The local backend therefore keeps
one process that has done that once: it reads one line of JSON per job on stdin (`argv`, `cwd`,
`env`, `log`, `exit_file`), forks, and answers the child's pid on stdout. The child leaves the
server's session (so it outlives the workspace and one signal reaches its whole group), takes the
job's working folder, environment and log file as its own, and becomes the job's runner. The
server reaps its children and writes each one's exit status to its `exit_file`, which is how the
backend learns the code of a runner that is not its own child. End of input (the workspace went
away, or retired it after a quiet spell) makes the server exit; runners already started go on.

The server starts no thread before it forks, so each child is an ordinary single-threaded copy.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import signal
import sys
from types import FrameType
from typing import Any

RUNNER_MODULE = "forgeml.runtime.runner"

_exit_files: dict[int, str] = {}


def _warm_up() -> None:
    """Load what the runner loads lazily on its first request (httpx's transport, the TLS
    settings its client is built with)."""
    import httpx

    from forgeml.runtime.api import tls_context

    httpx.Client(verify=tls_context()).close()


def _reap(_signum: int = 0, _frame: FrameType | None = None) -> None:
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        target = _exit_files.pop(pid, None)
        if target:
            with contextlib.suppress(OSError), open(target, "w", encoding="ascii") as fh:
                fh.write(str(os.waitstatus_to_exitcode(status)))


def _become_runner(runner: Any, order: dict[str, Any]) -> int:
    """In the forked child: take the job's folder, environment and log, and run it."""
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    os.setsid()
    os.chdir(order["cwd"])
    os.environ.clear()
    os.environ.update(order["env"])
    log = os.open(order["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(log)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    argv = [str(a) for a in order["argv"]]
    sys.argv = [f"python -m {RUNNER_MODULE}", *argv]
    return int(runner.main(argv))


def main() -> int:
    runner = importlib.import_module(RUNNER_MODULE)  # the slow part, done before any job
    _warm_up()
    signal.signal(signal.SIGCHLD, _reap)
    answer = sys.stdout
    while True:
        line = sys.stdin.readline()
        if not line.strip():
            return 0
        order = json.loads(line)
        answer.flush()
        sys.stderr.flush()
        # no reaping between the fork and noting where the child's exit status goes
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGCHLD})
        pid = os.fork()
        if pid == 0:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGCHLD})
            code = 1
            try:
                code = _become_runner(runner, order)
            except BaseException as exc:  # the child must never return into the server's loop
                print(f"the runner failed to start: {exc!r}", file=sys.stderr)
            finally:
                with contextlib.suppress(Exception):
                    sys.stdout.flush()
                    sys.stderr.flush()
                os._exit(code)
        if order.get("exit_file"):
            _exit_files[pid] = str(order["exit_file"])
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGCHLD})
        answer.write(f"{pid}\n")
        answer.flush()
        _reap()


if __name__ == "__main__":
    sys.exit(main())
