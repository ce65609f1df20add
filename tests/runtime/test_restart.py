"""The runner and a workspace that goes away: it waits and retries, it does not die."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from forgeml.core.errors import NotFoundError
from forgeml.runtime.api import RuntimeApi, WorkspaceGone
from forgeml.server import create_app
from tests.runtime.conftest import Server, Workspace, free_port


def test_a_call_waits_for_a_workspace_that_starts_late(app: Any) -> None:
    server = Server()
    api = RuntimeApi(server.url, "any", retry_s=30)
    timer = threading.Timer(1.0, server.start, args=(app,))
    timer.start()
    try:
        started = time.monotonic()
        health = api.call("check health", lambda: api.http.json("GET", "/health"))
        assert time.monotonic() - started >= 0.9
        assert health["status"] == "ok"
    finally:
        timer.join()
        server.stop()
        api.close()


def test_the_runner_gives_up_after_its_retry_budget() -> None:
    api = RuntimeApi(f"http://127.0.0.1:{free_port()}", "any", retry_s=1)
    try:
        with pytest.raises(WorkspaceGone) as caught:
            api.heartbeat()
    finally:
        api.close()
    assert "did not answer for 1 s while the runner tried to send a heartbeat" in str(caught.value)


def test_a_refusal_is_not_retried(live_url: str) -> None:
    api = RuntimeApi(live_url, "no-such-job", retry_s=30)
    started = time.monotonic()
    try:
        with pytest.raises(NotFoundError):
            api.spec()
    finally:
        api.close()
    assert time.monotonic() - started < 5


@pytest.mark.slow
def test_a_job_survives_its_workspace_restarting_while_it_runs(
    workspace: Any, settings: Any, tmp_path: Path
) -> None:
    """No scheduler here: the test starts the runner itself, then restarts the server under it."""
    server = Server()
    server.start(create_app(workspace))
    ws = Workspace(server.url, settings.home)
    gate = tmp_path / "gate"
    name = ws.submit(
        {
            "command": f"echo before; while [ ! -e {gate} ]; do sleep 0.1; done; echo after",
            "environment": {"image": "python:3.11"},
        }
    )
    workdir = tmp_path / "jobs" / name
    runner = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "forgeml.runtime.runner",
            "--url",
            server.url,
            "--job",
            name,
            "--workdir",
            str(workdir),
            "--home",
            str(settings.home),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        ws.wait(name, ("running",), timeout=60)
        server.stop()
        gate.touch()  # the command ends while nobody answers the runner
        time.sleep(2)
        assert runner.poll() is None  # still there, retrying
        server.start(create_app(workspace))
        job = ws.wait(name, timeout=60)
        assert job["status"] == "completed", ws.logs(name)
        assert ws.logs(name, "std_out") == "before\nafter\n"
        assert runner.wait(timeout=30) == 0
    finally:
        if runner.poll() is None:
            runner.kill()
        out = runner.communicate()[0]
        ws.http.close()
        server.stop()
    assert b"Traceback" not in out, out.decode()
