"""Running the user's command: a shell in its own process group, watched, and stopped whole.

The command runs as `bash -c <command>` in a new session, so that a cancel or a timeout can end
it and everything it started with one signal to the group (SIGTERM, then SIGKILL after a grace
period). Its stdout and stderr are read as they come (not line by line, so progress bars that
only print carriage returns still show) and handed to the log shipper; the last lines of stderr
are kept for the error summary. When the shell exits, whatever it left running in its group is
stopped too: a job's leftovers must not outlive it. A distributed job runs a group of such
processes (`run_group`): each in its own session, its output passed on whole lines at a time
with its prefix (so that two ranks never share a line), the first non-zero exit ending the group
after a short grace, and every process the group started — found by a marker variable in its
environment, even one that left its session, as torchrun's workers do — stopped at the end.
"""

from __future__ import annotations

import codecs
import contextlib
import os
import re
import signal
import subprocess
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from forgeml.schemas.runtime import LogStream

GRACE_S = 3.0
TAIL_LINES = 20
#: how long the other processes of a group may run on after one of them failed
FAILURE_GRACE_S = 5.0
#: every process of a group carries this variable (a token of its own), so that it can be found
MARK_VAR = "FORGEML_PROCESS_GROUP"
#: a line's own label, as `[rank 3] ` puts it before the line
_LABELED = re.compile(r"^\[((?:rank|worker|ps|node) \d+)\] ")
#: one line, with what ends it (a lone carriage return ends a progress bar's line)
_LINE = re.compile(r"[^\r\n]*(?:\r\n|\n|\r(?!$))")
_MAX_PARTIAL = 64 * 1024


@dataclass(frozen=True)
class Outcome:
    exit_code: int | None
    stderr_tail: list[str]
    timed_out: bool = False
    canceled: bool = False
    signal: int | None = None
    #: the process of a group that failed first ("rank 1"), or None for a single command
    failed: str | None = None
    #: the last lines of stderr of each process of a group, by its label
    tails: dict[str, list[str]] = field(default_factory=dict)


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
    # killed while a cancel was arriving (a compute that signals every process of the job at
    # once, as a Ray job's stop does): that is the cancel, not a failure of the command
    canceled = canceled or (exit_code != 0 and cancel.is_set())
    return Outcome(exit_code, tail.result(), timed_out, canceled, sig)


# ---------------------------------------------------------------------------------- groups


@dataclass(frozen=True)
class Member:
    """One process of a group: what it runs, what it adds to the environment, its log prefix."""

    label: str
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)
    #: put before each line it prints; "" when its launcher prefixes the lines itself (torchrun)
    prefix: str = ""


class _Tails:
    """The last lines of stderr of each process of a group, by the label a line carries."""

    def __init__(self) -> None:
        self.lines: dict[str, deque[str]] = {}
        self.lock = threading.Lock()

    def add(self, label: str, line: str, *, labeled_lines: bool) -> None:
        labeled = _LABELED.match(line) if labeled_lines else None
        if labeled:
            label, line = labeled.group(1), line[labeled.end() :]
        line = line.rstrip("\r\n")
        if line.strip():
            with self.lock:
                self.lines.setdefault(label, deque(maxlen=TAIL_LINES)).append(line)

    def result(self) -> dict[str, list[str]]:
        with self.lock:
            return {label: list(lines) for label, lines in self.lines.items()}


class _Lines:
    """One stream of one process, passed on whole lines at a time, each after the prefix."""

    def __init__(
        self,
        stream: LogStream,
        write: Callable[[LogStream, str], None],
        member: Member,
        tails: _Tails | None,
    ) -> None:
        self.stream, self.write, self.member, self.tails = stream, write, member, tails
        self.partial = ""

    def __call__(self, _stream: LogStream, text: str) -> None:
        text = self.partial + text
        end = 0
        lines = []
        for match in _LINE.finditer(text):
            if match.end() > match.start():
                lines.append(match.group())
                end = match.end()
        self.partial = text[end:]
        if len(self.partial) > _MAX_PARTIAL:  # no line end in sight: pass it on anyway
            lines.append(self.partial + "\n")
            self.partial = ""
        self._emit(lines)

    def close(self) -> None:
        if self.partial:
            self._emit([self.partial + "\n"])
            self.partial = ""

    def _emit(self, lines: list[str]) -> None:
        if not lines:
            return
        self.write(self.stream, "".join(self.member.prefix + line for line in lines))
        if self.tails is not None:
            for line in lines:
                # a launcher's own output carries each rank's label (torchrun's prefix)
                self.tails.add(self.member.label, line, labeled_lines=not self.member.prefix)


def _group_reader(stream: IO[bytes], lines: _Lines) -> None:
    try:
        _reader(stream, lines.stream, lines, None)
    finally:
        lines.close()


def marked(token: str) -> list[int]:
    """The processes whose environment carries the group's marker, wherever they now live."""
    needle = f"{MARK_VAR}={token}".encode()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as fh:
                if needle in fh.read().split(b"\0"):
                    found.append(int(entry))
        except OSError:  # gone meanwhile, or another user's
            continue
    return found


class _Group:
    """The processes of a group, started, watched and stopped together."""

    def __init__(self, members: Sequence[Member], cwd: Path, env: dict[str, str]) -> None:
        self.members = list(members)
        self.token = uuid.uuid4().hex
        self.procs: list[subprocess.Popen[bytes]] = []
        self.exits: list[tuple[int, int]] = []  # (member index, code), in the order they came
        self.changed = threading.Event()
        self._lock = threading.Lock()
        try:
            for member in self.members:
                self.procs.append(
                    subprocess.Popen(
                        member.argv,
                        cwd=cwd,
                        env={**env, **member.env, MARK_VAR: self.token},
                        stdin=subprocess.DEVNULL,
                        stdout=subprocess.PIPE,
                        stderr=subprocess.PIPE,
                        start_new_session=True,
                    )
                )
        except BaseException:
            self.stop(grace=0.0)
            raise
        self.waiters = [
            threading.Thread(target=self._wait, args=(index, proc), daemon=True)
            for index, proc in enumerate(self.procs)
        ]
        for thread in self.waiters:
            thread.start()

    def _wait(self, index: int, proc: subprocess.Popen[bytes]) -> None:
        code = proc.wait()
        with self._lock:
            self.exits.append((index, code))
        self.changed.set()

    def ended(self) -> bool:
        with self._lock:
            return len(self.exits) == len(self.procs)

    def first_failure(self) -> tuple[int, int] | None:
        with self._lock:
            return next(((i, c) for i, c in self.exits if c != 0), None)

    def stop(self, *, grace: float = GRACE_S) -> None:
        """SIGTERM every process group and every process that carries the group's marker, then
        SIGKILL whatever is left after `grace` seconds."""
        self._signal(signal.SIGTERM)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and self._alive():
            time.sleep(0.05)
        self._signal(signal.SIGKILL)

    def _signal(self, sig: int) -> None:
        for pid in [-p.pid for p in self.procs] + marked(self.token):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, sig)  # a negative pid is a process group

    def _alive(self) -> bool:
        for proc in self.procs:
            try:
                os.killpg(proc.pid, 0)
                return True
            except ProcessLookupError:
                pass
        return bool(marked(self.token))


def run_group(
    members: Sequence[Member],
    *,
    cwd: Path,
    env: dict[str, str],
    write: Callable[[LogStream, str], None],
    cancel: threading.Event,
    timeout_s: float | None,
    failure_grace: float = FAILURE_GRACE_S,
) -> Outcome:
    """Run the processes to their end, a failure (plus `failure_grace`), a cancel or the timeout.

    The outcome's exit code is the first non-zero exit of any process (0 when all succeeded),
    `failed` names that process and `stderr_tail` holds its last lines of stderr."""
    tails = _Tails()
    group = _Group(members, cwd, env)
    readers = []
    for member, proc in zip(group.members, group.procs, strict=True):
        assert proc.stdout is not None and proc.stderr is not None
        for pipe, lines in (
            (proc.stdout, _Lines("std_out", write, member, None)),
            (proc.stderr, _Lines("std_err", write, member, tails)),
        ):
            readers.append(threading.Thread(target=_group_reader, args=(pipe, lines), daemon=True))
    for thread in readers:
        thread.start()
    deadline = None if not timeout_s else time.monotonic() + timeout_s
    timed_out = canceled = False
    failed_at: float | None = None
    while not group.ended():
        group.changed.wait(0.1)
        group.changed.clear()
        if cancel.is_set():
            canceled = True
        elif deadline is not None and time.monotonic() > deadline:
            timed_out = True
        elif failed_at is None and group.first_failure() is not None:
            failed_at = time.monotonic()
        if (
            canceled
            or timed_out
            or (failed_at is not None and time.monotonic() > failed_at + failure_grace)
        ):
            break
    # whatever still runs (all of it after a cancel; leftovers of processes that ended) goes
    group.stop(grace=GRACE_S if not group.ended() else 1.0)
    for thread in [*group.waiters, *readers]:
        thread.join(timeout=10)
    first = group.first_failure()
    index, code = first if first is not None else (None, 0)
    canceled = canceled or (code != 0 and cancel.is_set())  # as in `run`
    sig = -code if code < 0 else None
    label = group.members[index].label if index is not None else None
    by_label = tails.result()
    return Outcome(
        128 + sig if sig else code,
        by_label.get(label, []) if label else [],
        timed_out,
        canceled,
        sig,
        failed=label,
        tails=by_label,
    )
