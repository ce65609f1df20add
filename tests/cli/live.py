"""A real `forgeml up` process and the real `forgeml` executable, as a user runs them.

Used by the CLI tests and the docs tests: the server is started as a subprocess on a free
loopback port with its own FORGEML_HOME, and every command runs as a separate process with
FORGEML_URL pointing at it.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "samples"


def forgeml_executable() -> str:
    """The `forgeml` script installed beside this interpreter (the project's virtualenv)."""
    beside = Path(sys.executable).parent / "forgeml"
    if beside.exists():
        return str(beside)
    found = shutil.which("forgeml")
    if found is None:
        raise RuntimeError("the forgeml executable is not installed; run `make install`")
    return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without FORGEML_* settings, plus `extra`.

    Wide, uncoloured output keeps tables on one line per row, as in a wide terminal.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("FORGEML_")}
    env.update({"COLUMNS": "200", "NO_COLOR": "1", "TERM": "dumb"})
    env.update(extra)
    return env


def s3_env() -> dict[str, str]:
    """`clean_env()` plus the S3-compatible server the `s3_bucket` fixture set up."""
    keys = ("FORGEML_S3_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")
    return clean_env(**{k: os.environ[k] for k in (*keys, "AWS_DEFAULT_REGION")})


@dataclass
class Server:
    """A `forgeml up` subprocess."""

    url: str
    home: Path
    process: subprocess.Popen[str]
    log: Path
    args: list[str] = field(default_factory=list)

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=15)


def start_server(
    args: list[str],
    *,
    port: int,
    log: Path,
    env: dict[str, str] | None = None,
    home: Path | None = None,
    cwd: Path | None = None,
    timeout: float = 60.0,
) -> Server:
    """Run `forgeml up <args>` and wait until /api/v1/health answers on `port`."""
    url = f"http://127.0.0.1:{port}"
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("w", encoding="utf-8") as sink:
        process = subprocess.Popen(
            [forgeml_executable(), "up", *args],
            stdout=sink,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env if env is not None else clean_env(),
            cwd=cwd,
            text=True,
        )
    server = Server(url=url, home=home or Path(), process=process, log=log, args=args)
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise RuntimeError(
                f"`forgeml up {' '.join(args)}` exited with {process.returncode}:\n"
                f"{server.output()}"
            )
        try:
            if httpx.get(f"{url}/api/v1/health", timeout=2).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            server.stop()
            raise RuntimeError(
                f"`forgeml up` did not answer within {timeout:.0f}s:\n{server.output()}"
            )
        time.sleep(0.1)


def start_workspace(root: Path) -> Server:
    """`forgeml up --port <free> --home <root>/home`."""
    port = free_port()
    home = root / "home"
    return start_server(
        ["--port", str(port), "--home", str(home)],
        port=port,
        log=root / "server.log",
        home=home,
    )


@dataclass
class Cli:
    """Runs `forgeml ...` as a separate process against one workspace."""

    url: str
    cwd: Path

    def run(
        self, *args: str, cwd: Path | None = None, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [forgeml_executable(), *args],
            cwd=cwd or self.cwd,
            env=env if env is not None else clean_env(FORGEML_URL=self.url),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    def ok(self, *args: str, cwd: Path | None = None) -> str:
        """Run a command that must succeed; its stdout."""
        done = self.run(*args, cwd=cwd)
        assert done.returncode == 0, (
            f"`forgeml {' '.join(args)}` failed ({done.returncode}):\n{done.stdout}{done.stderr}"
        )
        return done.stdout

    def fails(self, *args: str, cwd: Path | None = None) -> str:
        """Run a command that must fail; its stderr (which must say something)."""
        done = self.run(*args, cwd=cwd)
        assert done.returncode != 0, f"`forgeml {' '.join(args)}` succeeded:\n{done.stdout}"
        assert done.stderr.strip(), f"`forgeml {' '.join(args)}` failed without a message"
        assert "Traceback" not in done.stderr, done.stderr
        return done.stderr
