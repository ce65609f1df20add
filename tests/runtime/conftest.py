"""Fixtures for the runner's tests: the real workspace app on a loopback port, on SQLite only.

The runner never touches the store, so running its tests on both metadata stores would test the
store twice and the runner no better.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from forgeml.client.http import Http
from forgeml.client.upload import Uploader
from forgeml.runtime.api import RuntimeApi
from forgeml.runtime.content import ContentCache


@pytest.fixture
def store_kind() -> str:
    return "sqlite"


@pytest.fixture
def upload(live_url: str) -> Iterator[Uploader]:
    http = Http(live_url)
    try:
        yield Uploader(http)
    finally:
        http.close()


class CountingApi(RuntimeApi):
    """The real client, counting the file downloads it makes."""

    downloads = 0

    def download(self, digest: str, path: str, sha256: str, dest: Path) -> None:
        self.downloads += 1
        super().download(digest, path, sha256, dest)


@pytest.fixture
def runtime_api(live_url: str) -> Iterator[CountingApi]:
    api = CountingApi(live_url, "no-job", retry_s=5)
    try:
        yield api
    finally:
        api.close()


@pytest.fixture
def content_cache(tmp_path: Path, runtime_api: CountingApi) -> ContentCache:
    return ContentCache(tmp_path / "home" / "cache", runtime_api)


# ------------------------------------------------------------------ the whole workspace


TERMINAL = ("completed", "failed", "canceled")


class Workspace:
    """A served workspace with its scheduler: submit jobs over HTTP and watch them."""

    def __init__(self, url: str, home: Path) -> None:
        self.url = url
        self.home = home
        self.http = httpx.Client(base_url=f"{url}/api/v1", timeout=30)
        self.uploader = Uploader(Http(url, client=self.http))

    def submit(self, body: dict[str, Any]) -> str:
        reply = self.http.post("/jobs", json=body)
        assert reply.status_code == 201, reply.text
        return str(reply.json()["name"])

    def job(self, name: str) -> dict[str, Any]:
        reply = self.http.get(f"/jobs/{name}")
        reply.raise_for_status()
        return dict(reply.json())

    def wait(
        self, name: str, states: tuple[str, ...] = TERMINAL, timeout: float = 120
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            job = self.job(name)
            if job["status"] in states:
                return job
            if time.monotonic() > deadline:
                raise AssertionError(f"job {name} still {job['status']}: {self.logs(name)}")
            time.sleep(0.1)

    def logs(self, name: str, stream: str | None = None) -> str:
        params: dict[str, Any] = {"limit": 10000}
        if stream:
            params["stream"] = stream
        reply = self.http.get(f"/jobs/{name}/logs", params=params)
        reply.raise_for_status()
        return "".join(chunk["text"] for chunk in reply.json()["items"])

    def outputs(self, name: str) -> dict[str, Any]:
        reply = self.http.get(f"/jobs/{name}/outputs")
        reply.raise_for_status()
        return dict(reply.json())


class Server:
    """An app under uvicorn on a fixed loopback port, which can stop and start again."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._server: Any = None
        self._thread: threading.Thread | None = None

    def start(self, app: Any) -> None:
        import uvicorn

        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, log_level="warning", ws="none", lifespan="on"
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 20
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=30)
        self._server = self._thread = None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def served(workspace: Any, settings: Any) -> Iterator[Workspace]:
    """The workspace app with its scheduler under uvicorn, as `forgeml up` serves it."""
    from forgeml.scheduler import SchedulerConfig
    from forgeml.server import create_app

    server = Server()
    home = settings.home.expanduser()
    config = SchedulerConfig(public_url=server.url, home=home, poll_s=0.2, cancel_grace_s=10)
    app = create_app(workspace, scheduler=config)
    server.start(app)
    ws = Workspace(server.url, home)
    try:
        yield ws
    finally:
        # runners outlive a workspace by design; the test's own end (and are reaped) first
        scheduler = app.state.scheduler
        deadline = time.monotonic() + 30
        while scheduler._tracked and time.monotonic() < deadline:
            time.sleep(0.05)
        ws.http.close()
        server.stop()
