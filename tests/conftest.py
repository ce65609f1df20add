"""Fixtures shared by the whole suite: real PostgreSQL, a real S3-compatible server, workspaces.

PostgreSQL: the server at FORGEML_TEST_POSTGRES_URL, else 127.0.0.1:5432 (user postgres, trust
auth). Where none answers, a throwaway server is started from the installed PostgreSQL binaries on
a free loopback port (installed with apt-get when missing and running as root). If none can be had
the postgres tests fail with a message that says why; they are never skipped. Each test gets its
own database, dropped afterwards.

S3: moto's server mode on a free loopback port, one bucket per test.

`workspace`, `app`, `http` and `client` are parametrized over the metadata store (sqlite and
postgres), so every test that uses them runs on both. Artifacts are a local folder unless a test
parametrizes `artifacts_kind` (indirectly) with "s3".
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import queue
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from forgeml.client import MLClient
from forgeml.server import create_app, open_workspace
from forgeml.services import Workspace
from forgeml.settings import Settings

DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/postgres"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# ------------------------------------------------------------------------------- PostgreSQL


def _libpq_url(url: str) -> str:
    """psycopg speaks `postgresql://`; accept SQLAlchemy's `postgresql+psycopg://` too."""
    for prefix in ("postgresql+psycopg://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql://" + url[len(prefix) :]
    return url


def _answers(url: str) -> str | None:
    """None when a server answers at `url`, else why not."""
    try:
        with psycopg.connect(url, connect_timeout=3, autocommit=True) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        return str(exc).strip() or type(exc).__name__
    return None


def _with_database(url: str, database: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).set(database=database).render_as_string(hide_password=False)


@dataclass
class _Throwaway:
    url: str
    stop: Any


def _postgres_binaries() -> Path | None:
    def version(path: str) -> tuple[int, ...]:
        part = Path(path).parent.parent.name
        return tuple(int(x) for x in part.split(".") if x.isdigit())

    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=version)
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _install_postgres() -> str:
    """apt-get install postgresql (root only); returns what went wrong, or ''."""
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        return "not running as root with apt-get, so the binaries cannot be installed here"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    cmd = ["apt-get", "install", "-y", "--no-install-recommends", "postgresql"]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        subprocess.run(["apt-get", "update"], env=env, capture_output=True, check=False)
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    return (
        "" if done.returncode == 0 else f"apt-get install postgresql failed: {done.stderr[-500:]}"
    )


def _start_throwaway_postgres() -> _Throwaway:
    bindir = _postgres_binaries()
    if bindir is None:
        problem = _install_postgres()
        bindir = _postgres_binaries()
        if bindir is None:
            pytest.fail(
                "no PostgreSQL answers at 127.0.0.1:5432 or FORGEML_TEST_POSTGRES_URL, and no "
                f"PostgreSQL binaries are installed ({problem or 'initdb not found'}). Start a "
                "server, set FORGEML_TEST_POSTGRES_URL, or install postgresql.",
                pytrace=False,
            )
    root = Path(tempfile.mkdtemp(prefix="forgeml-pg-"))
    prefix: list[str] = []
    if os.geteuid() == 0:
        # initdb refuses to run as root: hand the folder to an unprivileged user
        try:
            user = pwd.getpwnam("postgres")
        except KeyError:
            user = pwd.getpwnam("nobody")
        os.chown(root, user.pw_uid, user.pw_gid)
        prefix = ["runuser", "-u", user.pw_name, "--"]
    port = free_port()
    data, log = root / "data", root / "server.log"

    def run(*args: str) -> None:
        done = subprocess.run([*prefix, *args], capture_output=True, text=True, check=False)
        if done.returncode != 0:
            shutil.rmtree(root, ignore_errors=True)
            pytest.fail(
                f"could not start a throwaway PostgreSQL with {bindir}: {' '.join(args[:2])} "
                f"failed:\n{done.stdout[-1000:]}{done.stderr[-1000:]}",
                pytrace=False,
            )

    run(str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8")
    options = f"-p {port} -h 127.0.0.1 -k {root} -F"
    run(str(bindir / "pg_ctl"), "-D", str(data), "-l", str(log), "-o", options, "-w", "start")

    def stop() -> None:
        subprocess.run(
            [*prefix, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
            capture_output=True,
            check=False,
        )
        shutil.rmtree(root, ignore_errors=True)

    return _Throwaway(url=f"postgresql://postgres@127.0.0.1:{port}/postgres", stop=stop)


@pytest.fixture(scope="session")
def postgres_admin_url() -> Iterator[str]:
    """A libpq URL with the right to create databases, on a server that answers."""
    url = _libpq_url(os.environ.get("FORGEML_TEST_POSTGRES_URL") or DEFAULT_PG)
    if _answers(url) is None:
        yield url
        return
    server = _start_throwaway_postgres()
    try:
        problem = _answers(server.url)
        if problem is not None:
            pytest.fail(f"the throwaway PostgreSQL does not answer: {problem}", pytrace=False)
        yield server.url
    finally:
        server.stop()


def create_pg_database(admin_url: str, template: str | None = None) -> str:
    name = f"forgeml_t_{uuid.uuid4().hex[:12]}"
    clause = f' TEMPLATE "{template}"' if template else ""
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"{clause}')
    return _with_database(admin_url, name)


def drop_pg_database(admin_url: str, url: str) -> None:
    from sqlalchemy.engine import make_url

    name = make_url(url).database
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()",
            (name,),
        )
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')


class _DatabasePool:
    """Test databases made ahead and dropped behind, in one thread.

    CREATE DATABASE costs fsyncs and DROP DATABASE a checkpoint: 0.3 s to several seconds each
    on a busy disk. Doing them off the tests' path keeps the suite fast.
    """

    def __init__(self, admin_url: str, template: str, ahead: int = 2) -> None:
        self.admin_url = admin_url
        self.template = template
        self.ahead = ahead
        self.ready: queue.Queue[str | BaseException] = queue.Queue()
        self.used: queue.Queue[str] = queue.Queue()
        self.wake = threading.Event()
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._work, name="pg-database-pool", daemon=True)
        self.thread.start()

    def _create(self) -> None:
        try:
            item: str | BaseException = create_pg_database(self.admin_url, self.template)
        except BaseException as exc:  # handed to the test that asks next
            item = exc
        self.ready.put(item)

    def _work(self) -> None:
        while not self.stopping.is_set():
            if self.ready.qsize() == 0:  # a test may be waiting: create first
                self._create()
                continue
            try:
                used = self.used.get_nowait()
            except queue.Empty:
                used = None
            if used is not None:
                with contextlib.suppress(psycopg.Error):
                    drop_pg_database(self.admin_url, used)
                continue
            if self.ready.qsize() < self.ahead:
                self._create()
                continue
            self.wake.wait(0.2)
            self.wake.clear()

    def take(self) -> str:
        self.wake.set()
        item = self.ready.get(timeout=120)
        if isinstance(item, BaseException):
            raise item
        return item

    def give_back(self, url: str) -> None:
        self.used.put(url)
        self.wake.set()

    def close(self) -> None:
        self.stopping.set()
        self.wake.set()
        self.thread.join(timeout=60)
        for pending in (self.used, self.ready):
            while not pending.empty():
                item = pending.get_nowait()
                if isinstance(item, str):
                    drop_pg_database(self.admin_url, item)


@pytest.fixture(scope="session")
def pg_databases(postgres_admin_url: str) -> Iterator[_DatabasePool]:
    """Migrated databases, cloned from a template migrated once per session."""
    from sqlalchemy.engine import make_url

    from forgeml.store import Database

    template_url = create_pg_database(postgres_admin_url)
    pool = None
    try:
        db = Database(template_url)
        db.migrate()
        db.dispose()
        pool = _DatabasePool(postgres_admin_url, str(make_url(template_url).database))
        yield pool
    finally:
        if pool is not None:
            pool.close()
        drop_pg_database(postgres_admin_url, template_url)


@pytest.fixture
def pg_url(pg_databases: _DatabasePool) -> Iterator[str]:
    """A fresh PostgreSQL database at the latest schema for one test, dropped afterwards."""
    url = pg_databases.take()
    try:
        yield url
    finally:
        pg_databases.give_back(url)


@pytest.fixture
def pg_empty_url(postgres_admin_url: str) -> Iterator[str]:
    """A fresh, empty PostgreSQL database (no schema) for one test, dropped afterwards."""
    url = create_pg_database(postgres_admin_url)
    try:
        yield url
    finally:
        drop_pg_database(postgres_admin_url, url)


# ------------------------------------------------------------------------------------- S3


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """moto's S3-compatible server, on loopback, for the whole session."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture
def s3_bucket(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A fresh bucket; the environment points forgeml's artifact store at the server."""
    import boto3

    monkeypatch.setenv("FORGEML_S3_ENDPOINT_URL", s3_endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "forgeml-test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "forgeml-test-secret")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    bucket = f"forgeml-t-{uuid.uuid4().hex[:12]}"
    s3 = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    s3.create_bucket(Bucket=bucket)
    yield bucket


@pytest.fixture
def s3_client(s3_endpoint: str, s3_bucket: str) -> Any:
    import boto3

    return boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")


@pytest.fixture
def s3_keys(s3_client: Any, s3_bucket: str) -> Any:
    """`s3_keys(prefix)`: the keys the bucket holds under a prefix."""

    def keys(prefix: str = "") -> list[str]:
        found: list[str] = []
        pages = s3_client.get_paginator("list_objects_v2").paginate(Bucket=s3_bucket, Prefix=prefix)
        for page in pages:
            found.extend(obj["Key"] for obj in page.get("Contents", []))
        return found

    return keys


# ------------------------------------------------------------------------------ workspaces


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def store_url(store_kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    if store_kind == "sqlite":
        return f"sqlite:///{tmp_path / 'forgeml.db'}"
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def artifacts_kind(request: pytest.FixtureRequest) -> str:
    """ "local" unless a test parametrizes it indirectly (with "s3")."""
    return str(getattr(request, "param", "local"))


@pytest.fixture
def artifacts_url(artifacts_kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    if artifacts_kind == "s3":
        bucket = request.getfixturevalue("s3_bucket")
        return f"s3://{bucket}/artifacts"
    return str(tmp_path / "artifacts")


@pytest.fixture
def settings(tmp_path: Path, store_url: str, artifacts_url: str) -> Settings:
    return Settings(home=tmp_path / "home", store=store_url, artifacts=artifacts_url)


@pytest.fixture
def workspace(settings: Settings) -> Iterator[Workspace]:
    ws = open_workspace(settings)
    try:
        yield ws
    finally:
        ws.db.dispose()


@pytest.fixture
def app(workspace: Workspace) -> Any:
    return create_app(workspace)


@pytest.fixture
def http(app: Any) -> Iterator[TestClient]:
    """The app in-process, spoken to over HTTP semantics (httpx)."""
    with TestClient(app, raise_server_exceptions=True) as tc:
        yield tc


@pytest.fixture
def client(http: TestClient) -> MLClient:
    """The SDK, bound to the in-process app: the same code path as over the network."""
    return MLClient(url="http://testserver", http_client=http)


@pytest.fixture
def live_url(app: Any) -> Iterator[str]:
    """The app under a real uvicorn server on a free loopback port: its URL."""
    import uvicorn

    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", ws="none", lifespan="off"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=20)
        sock.close()
