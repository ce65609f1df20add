"""Asset containers and versions: lookups, listings, version allocation, archive flags."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from forgeml.store.repositories.common import aware, utcnow
from forgeml.store.tables import AssetContainerRow, AssetVersionRow


@dataclass(frozen=True)
class AssetRecord:
    id: str
    kind: str
    name: str
    version: str
    spec: dict[str, Any]
    identity: str
    description: str | None
    tags: dict[str, str]
    archived: bool
    created_by: str
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class ContainerRecord:
    name: str
    latest_version: str | None
    version_count: int
    archived: bool
    created_at: datetime
    updated_at: datetime


#: the orders a container listing accepts (the studio's sortable columns)
CONTAINER_ORDERS = ("name", "created_at", "last_modified_at")


def _record(row: AssetVersionRow) -> AssetRecord:
    return AssetRecord(
        id=row.id,
        kind=row.kind,
        name=row.name,
        version=row.version,
        spec=dict(row.spec),
        identity=row.identity,
        description=row.description,
        tags={str(k): str(v) for k, v in (row.tags or {}).items()},
        archived=row.archived,
        created_by=row.created_by,
        created_at=aware(row.created_at),
        updated_at=aware(row.updated_at),
    )


class AssetRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, kind: str, name: str, version: str) -> AssetRecord | None:
        row = self.session.scalar(
            select(AssetVersionRow).where(
                AssetVersionRow.kind == kind,
                AssetVersionRow.name == name,
                AssetVersionRow.version == version,
            )
        )
        return _record(row) if row else None

    def latest(self, kind: str, name: str, *, include_archived: bool = False) -> AssetRecord | None:
        query = select(AssetVersionRow).where(
            AssetVersionRow.kind == kind, AssetVersionRow.name == name
        )
        if not include_archived:
            query = query.where(AssetVersionRow.archived.is_(False))
        row = self.session.scalar(
            query.order_by(AssetVersionRow.created_at.desc(), AssetVersionRow.version.desc()).limit(
                1
            )
        )
        return _record(row) if row else None

    def recent_versions(self, kind: str, name: str, limit: int = 10) -> list[str]:
        return list(
            self.session.scalars(
                select(AssetVersionRow.version)
                .where(AssetVersionRow.kind == kind, AssetVersionRow.name == name)
                .order_by(AssetVersionRow.created_at.desc())
                .limit(limit)
            )
        )

    def list_versions(
        self,
        kind: str,
        name: str,
        *,
        include_archived: bool = False,
        offset: int = 0,
        limit: int = 100,
        descending: bool = True,
    ) -> list[AssetRecord]:
        query = select(AssetVersionRow).where(
            AssetVersionRow.kind == kind, AssetVersionRow.name == name
        )
        if not include_archived:
            query = query.where(AssetVersionRow.archived.is_(False))
        created, version = AssetVersionRow.created_at, AssetVersionRow.version
        order = (created.desc(), version.desc()) if descending else (created.asc(), version.asc())
        rows = self.session.scalars(query.order_by(*order).offset(offset).limit(limit)).all()
        return [_record(r) for r in rows]

    def get_many(
        self, kind: str, pairs: list[tuple[str, str]]
    ) -> dict[tuple[str, str], AssetRecord]:
        """The versions named by (name, version) pairs, in one query: a listing page's details."""
        if not pairs:
            return {}
        v = AssetVersionRow
        match = or_(*(and_(v.name == n, v.version == ver) for n, ver in pairs))
        rows = self.session.scalars(select(v).where(v.kind == kind, match)).all()
        return {(r.name, r.version): _record(r) for r in rows}

    def list_containers(
        self,
        kind: str,
        *,
        name_contains: str | None = None,
        include_archived: bool = False,
        offset: int = 0,
        limit: int = 100,
        order_by: str = "name",
        descending: bool = False,
        name: str | None = None,
    ) -> list[ContainerRecord]:
        # per-row subqueries over the (kind, name, created_at) index: a page costs its own rows,
        # not a ranking of every version in the workspace
        v = AssetVersionRow
        own = (v.kind == kind) & (v.name == AssetContainerRow.name)
        latest = (
            select(v.version)
            .where(own, v.archived.is_(False))
            .order_by(v.created_at.desc(), v.version.desc())
            .limit(1)
            .scalar_subquery()
        )
        count = select(func.count()).where(own).scalar_subquery()
        updated = func.coalesce(
            select(func.max(v.updated_at)).where(own).scalar_subquery(),
            AssetContainerRow.updated_at,
        )
        query = select(
            AssetContainerRow.name,
            latest,
            count,
            AssetContainerRow.archived,
            AssetContainerRow.created_at,
            updated,
        ).where(AssetContainerRow.kind == kind, count > 0)
        if name is not None:
            query = query.where(AssetContainerRow.name == name)
        if name_contains:
            query = query.where(AssetContainerRow.name.contains(name_contains, autoescape=True))
        if not include_archived:
            query = query.where(AssetContainerRow.archived.is_(False), latest.is_not(None))
        key: Any = {
            "name": AssetContainerRow.name,
            "created_at": AssetContainerRow.created_at,
            "last_modified_at": updated,
        }[order_by]
        # the name breaks ties, so that offset pages never repeat or skip a container
        first = key.desc() if descending else key.asc()
        tie = AssetContainerRow.name.desc() if descending else AssetContainerRow.name.asc()
        query = query.order_by(first, tie).offset(offset).limit(limit)
        return [
            ContainerRecord(
                name=name,
                latest_version=version,
                version_count=int(n),
                archived=bool(archived),
                created_at=aware(created),
                updated_at=aware(updated),
            )
            for name, version, n, archived, created, updated in self.session.execute(query)
        ]

    def container(self, kind: str, name: str) -> AssetContainerRow | None:
        return self.session.get(AssetContainerRow, (kind, name))

    def ensure_container(self, kind: str, name: str) -> None:
        """Create the container row if absent, without racing a concurrent creator."""
        now = utcnow()
        values = {
            "kind": kind,
            "name": name,
            "next_version": 1,
            "archived": False,
            "created_at": now,
            "updated_at": now,
        }
        dialect = self.session.get_bind().dialect.name
        if dialect == "postgresql":
            stmt: Any = pg_insert(AssetContainerRow).values(**values).on_conflict_do_nothing()
        else:
            stmt = sqlite_insert(AssetContainerRow).values(**values).on_conflict_do_nothing()
        self.session.execute(stmt)

    def lock_container(self, kind: str, name: str) -> AssetContainerRow:
        """Create the container if absent, hold its row lock until the transaction ends, and
        return it.

        Serialises "is the latest version this content?" checks of one name on PostgreSQL
        (SQLite write transactions are serial already). `allocate_version` and
        `note_explicit_version` expect it to have been called in the same transaction.
        """
        self.ensure_container(kind, name)
        row = self.session.scalar(
            select(AssetContainerRow)
            .where(AssetContainerRow.kind == kind, AssetContainerRow.name == name)
            .with_for_update()
        )
        assert row is not None
        return row

    def allocate_version(self, kind: str, name: str) -> str:
        """Take the next auto version of a locked container (see `lock_container`)."""
        while True:
            taken = self.session.scalar(
                update(AssetContainerRow)
                .where(AssetContainerRow.kind == kind, AssetContainerRow.name == name)
                .values(next_version=AssetContainerRow.next_version + 1, updated_at=utcnow())
                .returning(AssetContainerRow.next_version)
            )
            assert taken is not None
            candidate = str(taken - 1)
            # an explicit, non-counted version may already hold this number
            if self.get(kind, name, candidate) is None:
                return candidate

    def note_explicit_version(self, kind: str, name: str, version: str) -> None:
        """Keep the counter above explicit numeric versions so auto versions never collide.

        The container must exist (see `lock_container`)."""
        if version.isdigit():
            self.session.execute(
                update(AssetContainerRow)
                .where(
                    AssetContainerRow.kind == kind,
                    AssetContainerRow.name == name,
                    AssetContainerRow.next_version <= int(version),
                )
                .values(next_version=int(version) + 1)
            )

    def insert(
        self,
        *,
        kind: str,
        name: str,
        version: str,
        spec: dict[str, Any],
        identity: str,
        description: str | None,
        tags: dict[str, str],
        created_by: str,
    ) -> AssetRecord:
        now = utcnow()
        row = AssetVersionRow(
            id=str(uuid.uuid4()),
            kind=kind,
            name=name,
            version=version,
            spec=spec,
            identity=identity,
            description=description,
            tags=tags,
            archived=False,
            created_by=created_by,
            created_at=now,
            updated_at=now,
        )
        self.session.add(row)
        self.session.flush()
        return _record(row)

    def update_metadata(
        self, record: AssetRecord, *, description: str | None, tags: dict[str, str]
    ) -> AssetRecord:
        row = self.session.get(AssetVersionRow, record.id)
        assert row is not None
        row.description = description
        row.tags = tags
        row.updated_at = utcnow()
        self.session.flush()
        return _record(row)

    def set_archived(self, kind: str, name: str, version: str | None, archived: bool) -> int:
        now = utcnow()
        result: Any
        if version is None:
            result = self.session.execute(
                update(AssetContainerRow)
                .where(AssetContainerRow.kind == kind, AssetContainerRow.name == name)
                .values(archived=archived, updated_at=now)
            )
            return int(result.rowcount)
        result = self.session.execute(
            update(AssetVersionRow)
            .where(
                AssetVersionRow.kind == kind,
                AssetVersionRow.name == name,
                AssetVersionRow.version == version,
            )
            .values(archived=archived, updated_at=now)
        )
        return int(result.rowcount)
