"""Running the user's command: a shell in its own process group, watched, and stopped whole.

The command runs as `bash -c <command>` in a new session, so that a cancel or a timeout can end
it and everything it started with one signal to the group (SIGTERM, then SIGKILL after a grace
period). Its stdout and stderr are read as they come (not line by line, so progress bars that
only print carriage returns still show) and handed to the log shipper; the last lines of stderr
are kept for the error summary. When the shell exits, whatever it left running in its group is
stopped too: a job's leftovers must not outlive it.
"""

from __future__ import annotations

import codecs
import os
import signal
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from forgeml.schemas.runtime import LogStream

GRACE_S = 3.0
TAIL_LINES = 20


@dataclass(frozen=True)
class Outcome:
    exit_code: int | None
    stderr_tail: list[str]
    timed_out: bool = False
    canceled: bool = False
    signal: int | None = None


class _Tail:
    """The last lines of a stream, kept while it flows."""

    def __init__(self, lines: int) -> None:
        self.size = lines
        self.lines: deque[str] = deque(maxlen=lines)
        self.partial = ""

    def feed(self, text: str) -> None:
        parts = (self.partial + text).split("\n")
        self.partial = parts.pop()
        self.lines.extend(part.rstrip("\r") for part in parts)

    def result(self) -> list[str]:
        tail = [*self.lines, *([self.partial] if self.partial.strip() else [])]
        return [line for line in tail if line.strip()][-self.size :]


def _reader(
    stream: IO[bytes], name: LogStream, write: Callable[[LogStream, str], None], tail: _Tail | None
) -> None:
    decoder = codecs.getincrementaldecoder("utf-8")("replace")
    fd = stream.fileno()
    while True:
        chunk = os.read(fd, 65536)
        text = decoder.decode(chunk, final=not chunk)
        if text:
            write(name, text)
            if tail is not None:
                tail.feed(text)
        if not chunk:
            break
    stream.close()


def kill_group(
    pgid: int, *, grace: float = GRACE_S, leader: subprocess.Popen[bytes] | None = None
) -> None:
    """SIGTERM the group, then SIGKILL whatever is left after `grace` seconds."""
    try:
        os.killpg(pgid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if leader is not None:
            leader.poll()  # reap it: an unreaped leader keeps its group alive until the grace ends
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        return


def run(
    command: str,
    *,
    cwd: Path,
    env: dict[str, str],
    write: Callable[[LogStream, str], None],
    cancel: threading.Event,
    timeout_s: float | None,
    on_start: Callable[[int], None] | None = None,
) -> Outcome:
    """Run the command to its end, a cancel or its timeout."""
    proc = subprocess.Popen(
        ["bash", "-c", command],
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    if on_start is not None:
        on_start(proc.pid)
    tail = _Tail(TAIL_LINES)
    assert proc.stdout is not None and proc.stderr is not None
    readers = [
        threading.Thread(target=_reader, args=(proc.stdout, "std_out", write, None), daemon=True),
        threading.Thread(target=_reader, args=(proc.stderr, "std_err", write, tail), daemon=True),
    ]
    for thread in readers:
        thread.start()
    deadline = None if not timeout_s else time.monotonic() + timeout_s
    timed_out = canceled = False
    while True:
        try:
            code = proc.wait(timeout=0.1)
            break
        except subprocess.TimeoutExpired:
            pass
        if cancel.is_set():
            canceled = True
        elif deadline is not None and time.monotonic() > deadline:
            timed_out = True
        if canceled or timed_out:
            kill_group(proc.pid, leader=proc)
            code = proc.wait()
            break
    # the shell is gone; anything it left behind in its group goes too, which also closes the
    # pipes those leftovers held open
    kill_group(proc.pid, grace=1.0)
    for thread in readers:
        thread.join(timeout=10)
    sig = -code if code < 0 else None
    exit_code = 128 + sig if sig else code
    return Outcome(exit_code, tail.result(), timed_out, canceled, sig)
