"""The user's command: a shell in its own process group, streamed, timed out and stopped whole."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

from forgeml.runtime import process
from forgeml.schemas.runtime import LogStream


class Sink:
    def __init__(self) -> None:
        self.chunks: list[tuple[LogStream, str]] = []
        self.lock = threading.Lock()

    def __call__(self, stream: LogStream, text: str) -> None:
        with self.lock:
            self.chunks.append((stream, text))

    def text(self, stream: LogStream) -> str:
        return "".join(t for s, t in self.chunks if s == stream)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie still answers kill(0); it is gone for our purposes
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split(") ")[1].split()[0] != "Z"


def run(command: str, tmp_path: Path, **kwargs: object) -> tuple[process.Outcome, Sink]:
    sink = Sink()
    outcome = process.run(
        command,
        cwd=tmp_path,
        env={"PATH": os.environ["PATH"], **kwargs.pop("env", {})},  # type: ignore[dict-item]
        write=sink,
        cancel=kwargs.pop("cancel", threading.Event()),  # type: ignore[arg-type]
        timeout_s=kwargs.pop("timeout_s", None),  # type: ignore[arg-type]
    )
    return outcome, sink


def test_stdout_and_stderr_arrive_apart_with_the_exit_code(tmp_path: Path) -> None:
    outcome, sink = run(
        "echo out; echo err >&2; printf 'no newline'; pwd; echo $GREETING; exit 3",
        tmp_path,
        env={"GREETING": "hello"},
    )
    assert outcome.exit_code == 3 and not outcome.timed_out and not outcome.canceled
    assert sink.text("std_out") == f"out\nno newline{tmp_path}\nhello\n"
    assert sink.text("std_err") == "err\n"
    assert outcome.stderr_tail == ["err"]


def test_the_error_summary_keeps_the_last_twenty_lines_of_stderr(tmp_path: Path) -> None:
    outcome, _ = run("for i in $(seq 1 50); do echo line $i >&2; done; exit 1", tmp_path)
    assert outcome.stderr_tail == [f"line {i}" for i in range(31, 51)]


def test_the_timeout_stops_the_whole_process_tree(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    started = time.monotonic()
    outcome, _ = run(
        f"sleep 300 & echo $! > {pids}; bash -c 'sleep 300' & echo $! >> {pids}; wait",
        tmp_path,
        timeout_s=1,
    )
    assert outcome.timed_out
    assert time.monotonic() - started < 10
    assert not any(alive(int(pid)) for pid in pids.read_text().split())


def test_a_cancel_stops_a_command_that_ignores_sigterm_within_seconds(tmp_path: Path) -> None:
    cancel = threading.Event()
    threading.Timer(0.5, cancel.set).start()
    started = time.monotonic()
    outcome, _ = run("trap '' TERM; while true; do sleep 0.1; done", tmp_path, cancel=cancel)
    assert outcome.canceled
    assert time.monotonic() - started < process.GRACE_S + 3
    assert outcome.signal == 9 and outcome.exit_code == 137


def test_processes_left_in_the_background_end_with_the_job(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    outcome, _ = run(f"sleep 300 & echo $! > {pid_file}; echo done", tmp_path)
    assert outcome.exit_code == 0
    assert not alive(int(pid_file.read_text()))


def test_output_without_newlines_is_not_held_back(tmp_path: Path) -> None:
    sink = Sink()
    seen = threading.Event()

    def write(stream: LogStream, text: str) -> None:
        sink(stream, text)
        if "50%" in text:
            seen.set()

    cancel = threading.Event()
    thread = threading.Thread(
        target=process.run,
        args=("printf '\\r50%%'; sleep 30",),
        kwargs={
            "cwd": tmp_path,
            "env": dict(os.environ),
            "write": write,
            "cancel": cancel,
            "timeout_s": None,
        },
    )
    thread.start()
    try:
        assert seen.wait(10), sink.chunks
    finally:
        cancel.set()
        thread.join(15)
