"""One Alembic history that builds, removes and rebuilds the schema on SQLite and PostgreSQL."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import MetaData, inspect

from forgeml.core.errors import ConflictError
from forgeml.services import Context, Workspace
from forgeml.services import assets as asset_service
from forgeml.store import Database
from forgeml.store.migrations import runner
from forgeml.store.tables import Base

TABLES = {"asset_containers", "asset_versions", "computes", "endpoints", "deployments"}


def declared_metadata() -> MetaData:
    """Every table declared under forgeml.store, whichever module declares it."""
    import forgeml.store

    for info in pkgutil.walk_packages(forgeml.store.__path__, "forgeml.store."):
        if ".migrations" not in info.name:
            importlib.import_module(info.name)
    return Base.metadata


def schema_drift(db: Database) -> list[object]:
    with db.engine.connect() as conn:
        return list(compare_metadata(MigrationContext.configure(conn), declared_metadata()))


@pytest.fixture
def store_url(store_kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """An empty store: these tests build the schema themselves."""
    if store_kind == "sqlite":
        return f"sqlite:///{tmp_path / 'forgeml.db'}"
    return str(request.getfixturevalue("pg_empty_url"))


@pytest.fixture
def db(store_url: str) -> Iterator[Database]:
    database = Database(store_url)
    yield database
    database.dispose()


def tables(db: Database) -> set[str]:
    return set(inspect(db.engine).get_table_names()) - {"alembic_version"}


def create_env(db: Database, tmp_path_factory: pytest.TempPathFactory, image: str) -> str:
    from forgeml.artifacts import open_artifact_store

    ws = Workspace(db=db, artifacts=open_artifact_store(str(tmp_path_factory.mktemp("art"))))
    entity, _ = asset_service.create(
        Context(workspace=ws), "environments", {"name": "env", "image": image}
    )
    assert entity.version is not None
    return entity.version


def test_there_is_a_single_head() -> None:
    heads = runner.heads()
    assert len(heads) == 1, f"several migration heads: {heads}; merge them"


def test_upgrade_from_empty_builds_the_schema(db: Database) -> None:
    assert tables(db) == set()
    assert runner.current(db.engine) is None
    db.migrate()
    assert runner.current(db.engine) == runner.heads()[0]
    assert tables(db) >= TABLES


def test_the_migrations_build_the_declared_tables(db: Database) -> None:
    db.migrate()
    diff = schema_drift(db)
    assert diff == [], f"the declared tables and the migrations disagree: {diff}"


def test_migrating_twice_is_harmless(db: Database) -> None:
    db.migrate()
    db.migrate()
    assert runner.current(db.engine) == runner.heads()[0]


def previous_revision(revision: str) -> str | None:
    script = ScriptDirectory.from_config(runner.config())
    down = script.get_revision(revision).down_revision
    assert not isinstance(down, tuple), "a merge revision as head; test the branches"
    return down


def test_downgrade_one_step_and_upgrade_again_with_data_present(
    db: Database, tmp_path_factory: pytest.TempPathFactory
) -> None:
    head = runner.heads()[0]
    db.migrate()
    assert create_env(db, tmp_path_factory, "python:3.11") == "1"

    runner.downgrade(db.engine, "-1")
    assert runner.current(db.engine) == previous_revision(head)
    runner.upgrade(db.engine, "head")
    assert runner.current(db.engine) == head
    assert schema_drift(db) == []
    # the schema works after the round trip: a new version can be written and read back
    version = create_env(db, tmp_path_factory, "python:3.12")
    ws = Workspace(db=db, artifacts=None)  # type: ignore[arg-type]
    got = asset_service.get(Context(workspace=ws), "environments", "env", version=version)
    assert got.image == "python:3.12"


def test_downgrade_to_base_and_upgrade_again_with_data_present(
    db: Database, tmp_path_factory: pytest.TempPathFactory
) -> None:
    db.migrate()
    assert create_env(db, tmp_path_factory, "python:3.11") == "1"
    assert create_env(db, tmp_path_factory, "python:3.12") == "2"

    runner.downgrade(db.engine, "base")
    assert runner.current(db.engine) is None
    assert tables(db) == set()
    db.migrate()
    assert runner.current(db.engine) == runner.heads()[0]
    # the rebuilt schema works: versions count from 1 again, immutability still holds
    assert create_env(db, tmp_path_factory, "python:3.11") == "1"
    ws = Workspace(db=db, artifacts=None)  # type: ignore[arg-type]
    with pytest.raises(ConflictError):
        asset_service.create(
            Context(workspace=ws),
            "environments",
            {"name": "env", "version": "1", "image": "python:3.13"},
        )
