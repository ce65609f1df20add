"""Restart safety with real processes: SIGKILL `forgeml up` while jobs run, start it again.

No job record is lost; a job whose runner survived is re-attached and completes (its runner kept
retrying its reports while the workspace was down); a job whose runner died meanwhile is failed
with the reason; a completed job is not run again; queued jobs start.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import time
from pathlib import Path

import pytest

import forgeml
from forgeml import MLClient
from forgeml.compute.local import process_tree
from forgeml.scheduler import RESTART_REASON
from tests.cli.live import Server, free_port, start_server
from tests.jobs.conftest import kill_leftovers, log_text, wait_for

pytestmark = pytest.mark.slow
ENV = {"image": "python:3.11"}


def submit(sdk: MLClient, command: str, compute: str) -> str:
    job = forgeml.command(command=command, environment=ENV, compute=compute)  # type: ignore[arg-type]
    return str(sdk.jobs.create_or_update(job).name)


def wait_log(sdk: MLClient, name: str, text: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while text not in log_text(sdk, name):
        assert time.monotonic() < deadline, f"{name}: no {text!r} in:\n{log_text(sdk, name)}"
        time.sleep(0.1)


def runner_pid(sdk: MLClient, name: str) -> int:
    found = re.search(r"started the local runner \(pid (\d+)", log_text(sdk, name, "system"))
    assert found, log_text(sdk, name)
    return int(found.group(1))


def test_a_killed_workspace_reconciles_its_jobs_when_it_starts_again(tmp_path: Path) -> None:
    port, home = free_port(), tmp_path / "home"
    args = ["--port", str(port), "--home", str(home)]

    def start(log: str) -> Server:
        return start_server(args, port=port, log=tmp_path / log, home=home)

    first = start("first.log")
    try:
        with MLClient(url=first.url) as sdk:
            sdk.compute.create_or_update(forgeml.LocalCompute(name="two", max_concurrent_jobs=2))
            sdk.compute.create_or_update(forgeml.LocalCompute(name="one", max_concurrent_jobs=1))
            done = submit(sdk, "echo done-once", "two")
            before = wait_for(sdk, done)
            assert before.status == "completed"

            survivor = submit(sdk, "echo survivor up; sleep 12; echo survivor finished", "two")
            victim = submit(sdk, "echo victim up; sleep 300", "two")
            blocker = submit(sdk, "echo blocker up; sleep 6; echo blocker finished", "one")
            queued = [submit(sdk, f"echo queued {i} ran", "one") for i in range(2)]
            for name, text in ((survivor, "survivor up"), (victim, "victim up")):
                wait_log(sdk, name, text)
            wait_log(sdk, blocker, "blocker up")
            assert [sdk.jobs.get(n).status for n in queued] == ["queued", "queued"]
            victim_tree = process_tree(runner_pid(sdk, victim))
            assert len(victim_tree) >= 2  # the runner and its command
    finally:
        first.process.send_signal(signal.SIGKILL)
        first.process.wait(10)
    # while the workspace is down, the victim's runner and command die too
    for pid in victim_tree:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)

    second = start("second.log")
    try:
        with MLClient(url=second.url) as sdk:
            names = {j.name for j in sdk.jobs.list()}
            assert names == {done, survivor, victim, blocker, *queued}

            lost = wait_for(sdk, victim, timeout=30)
            assert lost.status == "failed"
            assert lost.error == RESTART_REASON

            kept = wait_for(sdk, survivor, timeout=60)
            assert kept.status == "completed", log_text(sdk, survivor)
            text = log_text(sdk, survivor)
            assert "re-attached to the local runner" in text
            assert "survivor finished" in text

            assert wait_for(sdk, blocker, timeout=60).status == "completed"
            for i, name in enumerate(queued):
                job = wait_for(sdk, name, timeout=60)
                assert job.status == "completed"
                assert f"queued {i} ran" in log_text(sdk, name, "std_out")

            again = sdk.jobs.get(done)
            assert again.status == "completed" and again.started_at == before.started_at
            assert log_text(sdk, done, "std_out").count("done-once") == 1
    finally:
        second.stop()
        kill_leftovers(home)
