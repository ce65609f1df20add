"""Engines, sessions and migrations for the metadata store (SQLite by default, PostgreSQL by URL).

SQLite runs in WAL mode with a busy timeout; write transactions start with `BEGIN IMMEDIATE` so
two writers queue instead of failing half-way, while readers keep reading. PostgreSQL uses one
pooled engine for both. Migrations are applied at start with Alembic's API.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from forgeml.core.errors import UnavailableError

MIGRATIONS = Path(__file__).with_name("migrations")


def normalize_url(url: str) -> str:
    """Accept `postgresql://` and `postgres://` and use the psycopg 3 driver for them."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


def _sqlite_engine(url: str, *, immediate: bool) -> Engine:
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # let the "begin" hook below issue BEGIN itself
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


class Database:
    """The metadata store: `read()` and `write()` give a session in one transaction."""

    def __init__(self, url: str) -> None:
        self.url = normalize_url(url)
        parsed = make_url(self.url)
        self.dialect = parsed.get_backend_name()
        if self.dialect == "sqlite":
            database = parsed.database
            if database and database != ":memory:":
                Path(database).parent.mkdir(parents=True, exist_ok=True)
            self.engine = _sqlite_engine(self.url, immediate=False)
            self.write_engine = _sqlite_engine(self.url, immediate=True)
        else:
            self.engine = create_engine(self.url, pool_pre_ping=True, pool_size=10, max_overflow=20)
            self.write_engine = self.engine
        self._read = sessionmaker(self.engine, expire_on_commit=False)
        self._write = sessionmaker(self.write_engine, expire_on_commit=False)

    @contextmanager
    def _session(self, factory: sessionmaker[Session]) -> Iterator[Session]:
        try:
            session = factory()
        except OperationalError as exc:  # pragma: no cover - connection refused before any work
            raise UnavailableError(
                f"the metadata store at {self.safe_url} cannot be reached: {exc.orig}"
            ) from exc
        try:
            with session.begin():
                yield session
        except OperationalError as exc:
            raise UnavailableError(
                f"the metadata store at {self.safe_url} failed: {exc.orig}. "
                "Check that it is running."
            ) from exc
        finally:
            session.close()

    def read(self) -> Any:
        return self._session(self._read)

    def write(self) -> Any:
        return self._session(self._write)

    @property
    def safe_url(self) -> str:
        return make_url(self.url).render_as_string(hide_password=True)

    def migrate(self, revision: str = "head") -> None:
        from forgeml.store.migrations.runner import upgrade

        upgrade(self.write_engine if self.dialect != "sqlite" else self.engine, revision)

    def dispose(self) -> None:
        self.engine.dispose()
        if self.write_engine is not self.engine:
            self.write_engine.dispose()
