"""A real `forgeml up` server for the MLflow-compatibility tests, and the real `mlflow` client.

One server for the session (SQLite, its own FORGEML_HOME): tests isolate themselves by using
their own experiment and model names. The `mlflow` client is pointed at it through
MLFLOW_TRACKING_URI, exactly as a user's script would be, with client-side retries off so that
a server error fails a test at once instead of after minutes of back-off.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli.live import Server, free_port, start_server

# MLflow 3 reports usage to its makers unless told not to: nothing leaves this machine (the
# variables reach the scripts the tests start, too)
os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"
os.environ["DO_NOT_TRACK"] = "true"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            # mlflow and its dependencies warn about their own deprecations and about the
            # sample data; those are not forgeml's to fix
            item.add_marker(pytest.mark.filterwarnings("ignore::DeprecationWarning"))
            item.add_marker(pytest.mark.filterwarnings("ignore::FutureWarning"))
            item.add_marker(pytest.mark.filterwarnings("ignore::UserWarning"))
            item.add_marker(
                pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
            )


def start_tracking_server(root: Path, *extra: str) -> Server:
    port = free_port()
    home = root / "home"
    return start_server(
        ["--port", str(port), "--home", str(home), *extra],
        port=port,
        log=root / "server.log",
        home=home,
    )


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """`forgeml up` on a free loopback port with a fresh SQLite workspace."""
    running = start_tracking_server(tmp_path_factory.mktemp("tracking"))
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def tracking_uri(server: Server, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The server's URL, set as the mlflow client's tracking URI for this test."""
    import mlflow

    monkeypatch.setenv("MLFLOW_TRACKING_URI", server.url)
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "60")
    mlflow.set_tracking_uri(server.url)
    mlflow.set_registry_uri(server.url)
    yield server.url
    while mlflow.active_run() is not None:
        mlflow.end_run()


@pytest.fixture
def unique() -> str:
    """A fresh suffix for names this test creates."""
    return uuid.uuid4().hex[:8]
