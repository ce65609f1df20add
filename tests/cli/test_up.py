"""`forgeml up` without make: it creates its home, the SQLite store and the artifact folder."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from tests.cli.live import SAMPLES, Cli, clean_env, free_port, start_server


def test_up_creates_forgeml_home_with_the_sqlite_store(tmp_path: Path) -> None:
    home = tmp_path / "fresh" / "home"
    port = free_port()
    server = start_server(
        ["--port", str(port)],
        port=port,
        log=tmp_path / "up.log",
        env=clean_env(FORGEML_HOME=str(home)),
    )
    try:
        assert (home / "forgeml.db").is_file()
        assert (home / "artifacts").is_dir()
        assert f"http://127.0.0.1:{port}" in server.output()
        assert httpx.get(f"{server.url}/openapi.json", timeout=10).json()["info"]["title"]
        assert httpx.get(f"{server.url}/docs", timeout=10).status_code == 200
        created = Cli(url=server.url, cwd=tmp_path).ok(
            "data", "create", "-f", str(SAMPLES / "assets/data/iris-file.yml")
        )
        assert json.loads(created)["version"] == "1"
    finally:
        server.stop()
    # a second start on the same home keeps what was there (migrations are applied once)
    server = start_server(
        ["--port", str(port), "--home", str(home)], port=port, log=tmp_path / "again.log"
    )
    try:
        shown = Cli(url=server.url, cwd=tmp_path).ok("data", "show", "--name", "iris-csv")
        assert json.loads(shown)["path"].startswith("forgeml://content/")
    finally:
        server.stop()


def test_up_takes_store_and_artifacts_urls(tmp_path: Path) -> None:
    port = free_port()
    store = tmp_path / "meta" / "ws.db"
    artifacts = tmp_path / "blobs"
    server = start_server(
        [
            "--port",
            str(port),
            "--home",
            str(tmp_path / "home"),
            "--store",
            f"sqlite:///{store}",
            "--artifacts",
            str(artifacts),
        ],
        port=port,
        log=tmp_path / "up.log",
    )
    try:
        Cli(url=server.url, cwd=tmp_path).ok(
            "data", "create", "-f", str(SAMPLES / "assets/data/iris-folder.yml")
        )
        assert store.is_file()
        assert any(p.is_file() for p in artifacts.rglob("*"))
        assert not (tmp_path / "home" / "forgeml.db").exists()
    finally:
        server.stop()


def test_up_reads_its_settings_from_the_environment(tmp_path: Path) -> None:
    port = free_port()
    home = tmp_path / "from-env"
    env = clean_env(FORGEML_PORT=str(port), FORGEML_HOST="127.0.0.1", FORGEML_HOME=str(home))
    server = start_server([], port=port, log=tmp_path / "up.log", env=env)
    try:
        assert (home / "forgeml.db").is_file()
    finally:
        server.stop()
