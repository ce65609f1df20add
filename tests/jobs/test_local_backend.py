"""The local compute backend's process handling, on real processes: a pid is only the runner
while its start time matches, and `kill` stops every process group of the tree."""

from __future__ import annotations

import subprocess
import sys
import time

from forgeml.compute.base import Exited, Handle
from forgeml.compute.local import LocalBackend, process_start_time, process_tree
from forgeml.scheduler import public_url
from forgeml.settings import Settings
from tests.jobs.conftest import alive


def started_elsewhere(command: str) -> subprocess.Popen[bytes]:
    """A process tree this backend did not start (as after a workspace restart)."""
    return subprocess.Popen(["bash", "-c", command], start_new_session=True)


def wait_gone(pids: set[int], timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while any(alive(p) for p in pids):
        assert time.monotonic() < deadline, [p for p in pids if alive(p)]
        time.sleep(0.05)


def test_a_handle_is_alive_only_while_its_pid_is_the_same_process() -> None:
    backend = LocalBackend(host="here", warm=False)
    proc = started_elsewhere("sleep 30")
    try:
        start = process_start_time(proc.pid)
        assert start
        handle = Handle("local", "here", proc.pid, {"start_time": start})
        assert backend.poll(handle) is None
        # the same pid with another start time is some other process that reused the number
        reused = Handle("local", "here", proc.pid, {"start_time": str(int(start) - 1)})
        assert backend.poll(reused) == Exited()
        assert backend.poll(Handle("local", "another-host", proc.pid, handle.data)) == Exited()
    finally:
        proc.kill()
        proc.wait()
    assert backend.poll(handle) == Exited()


def test_kill_stops_every_process_group_of_the_tree() -> None:
    backend = LocalBackend(host="here", warm=False)
    # the runner's own group, and a command in a session of its own, as the runner starts it
    code = (
        "import subprocess, time; "
        "subprocess.Popen(['sleep', '60']); "
        "subprocess.Popen(['bash', '-c', 'sleep 60 & sleep 60'], start_new_session=True); "
        "time.sleep(60)"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], start_new_session=True)
    try:
        deadline = time.monotonic() + 10
        while len(process_tree(proc.pid)) < 5:
            assert time.monotonic() < deadline, process_tree(proc.pid)
            time.sleep(0.05)
        tree = process_tree(proc.pid)
        handle = Handle("local", "here", proc.pid, {"start_time": process_start_time(proc.pid)})
        backend.cancel(handle)  # SIGTERM to the runner's group; the tree is remembered
        proc.wait(10)
        backend.kill(handle)  # the runner is gone, its orphans are not spared
        wait_gone(tree)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_runners_call_back_the_public_url() -> None:
    assert public_url(Settings(host="0.0.0.0", port=9000)) == "http://127.0.0.1:9000"
    assert public_url(Settings(host="::1", port=9000)) == "http://[::1]:9000"
    given = Settings(port=9000, public_url="https://ml.example.org/")
    assert public_url(given) == "https://ml.example.org"
