"""Every code block in README.md and docs/ runs, against a real workspace, as a reader runs it.

See tests/docs/markdown.py for what each kind of block means, and tests/docs/session.py for how
commands run and what is substituted for the reader's machine.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli.live import REPO, start_workspace
from tests.docs.markdown import RUNNABLE, blocks
from tests.docs.session import PG_URL, S3_BUCKET, DocSession, runnable_text

DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]


def _param(doc: Path) -> object:
    text = runnable_text(blocks(doc))
    marks = []
    if PG_URL.search(text):
        marks.append(pytest.mark.postgres)
    if S3_BUCKET.search(text):
        marks.append(pytest.mark.s3)
    return pytest.param(doc, marks=marks, id=doc.relative_to(REPO).as_posix())


def test_there_is_something_to_run() -> None:
    assert (REPO / "docs").is_dir()
    for doc in DOCS:
        assert any(b.lang in RUNNABLE for b in blocks(doc)), f"{doc} has no runnable example"


@pytest.fixture
def pg_database(request: pytest.FixtureRequest) -> Iterator[object]:
    """A factory of fresh, empty PostgreSQL databases, dropped after the test."""
    made: list[str] = []
    admin: list[str] = []

    def make() -> str:
        import psycopg
        from sqlalchemy.engine import make_url

        if not admin:
            admin.append(request.getfixturevalue("postgres_admin_url"))
        name = f"forgeml_doc_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(admin[0], autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        made.append(name)
        url = make_url(admin[0]).set(database=name)
        return url.render_as_string(hide_password=False)

    yield make
    if made:
        import psycopg

        with psycopg.connect(admin[0], autocommit=True) as conn:
            for name in made:
                conn.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                    (name,),
                )
                conn.execute(f'DROP DATABASE IF EXISTS "{name}"')


@pytest.mark.parametrize("doc", [_param(d) for d in DOCS])
def test_code_blocks_run(
    doc: Path, tmp_path: Path, request: pytest.FixtureRequest, pg_database: object
) -> None:
    found = blocks(doc)
    text = runnable_text(found)
    s3 = None
    if S3_BUCKET.search(text):
        s3 = (request.getfixturevalue("s3_endpoint"), request.getfixturevalue("s3_bucket"))
    server = start_workspace(tmp_path / "workspace")
    session = DocSession(
        doc,
        tmp_path / "session",
        server,
        pg_database=pg_database if PG_URL.search(text) else None,  # type: ignore[arg-type]
        s3=s3,
    )
    try:
        session.prepare(found)
        for block in found:
            session.run_block(block)
    finally:
        session.close()
        server.stop()
