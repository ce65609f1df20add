"""One real workspace per test module, and the `forgeml` executable pointed at it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.cli.live import Cli, Server, start_workspace


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """`forgeml up --port <free> --home <tmp>` as a subprocess, stopped after the module."""
    srv = start_workspace(tmp_path_factory.mktemp("workspace"))
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="module")
def cli(server: Server, tmp_path_factory: pytest.TempPathFactory) -> Cli:
    """Runs `forgeml ...` in a scratch folder with FORGEML_URL set to the module's workspace."""
    return Cli(url=server.url, cwd=tmp_path_factory.mktemp("cwd"))
