"""A runner started ahead of its job: `python -m forgeml.compute.warm`.

Starting Python and importing the runner (httpx, pydantic, the runtime) takes most of a second,
which would dominate the time from submit to running. The local backend therefore keeps one such
process ready: it imports the runner, then waits for one line of JSON on stdin (`argv`, `cwd`,
`env`, `log`), takes that job's working folder, environment and log file as its own, and becomes
the job's runner. End of input (the workspace went away) makes it exit.
"""

from __future__ import annotations

import importlib
import json
import os
import sys

RUNNER_MODULE = "forgeml.runtime.runner"


def _warm_up() -> None:
    """Load what the runner loads lazily on its first request (httpx's transport)."""
    import httpx

    httpx.Client().close()


def main() -> int:
    runner = importlib.import_module(RUNNER_MODULE)  # the slow part, done before any job
    _warm_up()
    line = sys.stdin.readline()
    if not line.strip():
        return 0
    order = json.loads(line)
    os.chdir(order["cwd"])
    os.environ.clear()
    os.environ.update(order["env"])
    log = os.open(order["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    sys.stdout.flush()
    sys.stderr.flush()
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(log)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    argv = [str(a) for a in order["argv"]]
    sys.argv = [f"python -m {RUNNER_MODULE}", *argv]
    return int(runner.main(argv))


if __name__ == "__main__":
    sys.exit(main())
