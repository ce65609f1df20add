"""Shipping a job's log text to the workspace in small batches, and keeping a local copy.

Text written to `LogShipper` (from the command's stdout and stderr, and the runner's own `system`
lines) is appended to local files at once — `user_logs/std_log.txt` holds stdout and stderr
interleaved as they arrived, as Azure ML's does, and `system_logs/runner.txt` the system lines —
and sent to `POST .../logs` by a background thread every `interval` seconds, consecutive text of
one stream in one request. The heartbeat thread and every acknowledgement can carry the
workspace's request to cancel, which is passed to `on_cancel`.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO

from forgeml.core.errors import ForgemlError
from forgeml.runtime.api import RuntimeApi
from forgeml.schemas.runtime import LogStream, RunnerAck

MAX_BATCH = 512 * 1024


class LogShipper:
    def __init__(
        self,
        api: RuntimeApi,
        workdir: Path,
        *,
        on_cancel: Callable[[], None],
        interval: float = 0.2,
    ) -> None:
        self.api = api
        self.on_cancel = on_cancel
        self.interval = interval
        self.std_log = workdir / "user_logs" / "std_log.txt"
        self.system_log = workdir / "system_logs" / "runner.txt"
        self.std_log.parent.mkdir(parents=True, exist_ok=True)
        self.system_log.parent.mkdir(parents=True, exist_ok=True)
        self._files: dict[str, IO[str]] = {
            "std": self.std_log.open("a", encoding="utf-8"),
            "system": self.system_log.open("a", encoding="utf-8"),
        }
        self._pending: list[tuple[LogStream, str]] = []
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._closed = False
        self._sending = threading.Lock()
        self._thread = threading.Thread(target=self._loop, name="forgeml-logs", daemon=True)
        self._thread.start()

    def write(self, stream: LogStream, text: str) -> None:
        if not text:
            return
        with self._lock:
            handle = self._files["system" if stream == "system" else "std"]
            handle.write(text)
            handle.flush()
            if self._pending and self._pending[-1][0] == stream:
                self._pending[-1] = (stream, self._pending[-1][1] + text)
            else:
                self._pending.append((stream, text))

    def system(self, line: str) -> None:
        stamp = time.strftime("%H:%M:%S", time.gmtime())
        self.write("system", f"{stamp} {line.rstrip()}\n")

    def drain(self) -> list[tuple[LogStream, str]]:
        """Take the text not sent yet (the caller sends it, with a state report)."""
        with self._sending, self._lock:
            batch, self._pending = self._pending, []
        out: list[tuple[LogStream, str]] = []
        for stream, text in batch:
            out.extend((stream, text[i : i + MAX_BATCH]) for i in range(0, len(text), MAX_BATCH))
        return out

    def flush(self) -> None:
        """Send everything written so far (blocks while the workspace is unreachable)."""
        with self._sending:
            with self._lock:
                batch, self._pending = self._pending, []
            for stream, text in batch:
                for start in range(0, len(text), MAX_BATCH):
                    self._send(stream, text[start : start + MAX_BATCH])

    def resend(self, stream: LogStream, text: str) -> None:
        """Send drained text on its own (too much to go with a state report)."""
        self._send(stream, text)

    def _send(self, stream: LogStream, text: str) -> None:
        try:
            ack = self.api.logs(stream, text)
        except ForgemlError as exc:
            # the text stays in the local files; losing the live copy must not fail the job
            print(f"forgeml runner: logs not delivered: {exc}", file=sys.stderr, flush=True)
            return
        check_ack(ack, self.on_cancel)

    def _loop(self) -> None:
        while not self._closed:
            self._wake.wait(self.interval)
            self._wake.clear()
            self.flush()

    def close(self) -> None:
        self._closed = True
        self._wake.set()
        self._thread.join(timeout=30)
        self.flush()
        with self._lock:
            for handle in self._files.values():
                handle.close()


class Heartbeat:
    """Tells the workspace every `interval` seconds that the runner lives; hears cancels."""

    def __init__(self, api: RuntimeApi, *, on_cancel: Callable[[], None], interval: float) -> None:
        self.api = api
        self.on_cancel = on_cancel
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="forgeml-heartbeat", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                ack = self.api.heartbeat()
            except ForgemlError:
                continue
            check_ack(ack, self.on_cancel)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


def check_ack(ack: RunnerAck, on_cancel: Callable[[], None]) -> None:
    if ack.cancel_requested:
        on_cancel()
