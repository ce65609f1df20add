"""Compute targets by name."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from forgeml.store.repositories.common import aware, utcnow
from forgeml.store.tables import ComputeRow


@dataclass(frozen=True)
class ComputeRecord:
    name: str
    type: str
    spec: dict[str, Any]
    created_by: str
    created_at: datetime
    updated_at: datetime


def _record(row: ComputeRow) -> ComputeRecord:
    return ComputeRecord(
        name=row.name,
        type=row.type,
        spec=dict(row.spec),
        created_by=row.created_by,
        created_at=aware(row.created_at),
        updated_at=aware(row.updated_at),
    )


class ComputeRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, name: str) -> ComputeRecord | None:
        row = self.session.get(ComputeRow, name)
        return _record(row) if row else None

    def list(self, *, offset: int = 0, limit: int = 100) -> list[ComputeRecord]:
        rows = self.session.scalars(
            select(ComputeRow).order_by(ComputeRow.name).offset(offset).limit(limit)
        ).all()
        return [_record(r) for r in rows]

    def upsert(self, name: str, type_: str, spec: dict[str, Any], created_by: str) -> ComputeRecord:
        row = self.session.get(ComputeRow, name, with_for_update=True)
        now = utcnow()
        if row is None:
            row = ComputeRow(
                name=name,
                type=type_,
                spec=spec,
                created_by=created_by,
                created_at=now,
                updated_at=now,
            )
            self.session.add(row)
        else:
            row.type, row.spec, row.updated_at = type_, spec, now
        self.session.flush()
        return _record(row)

    def delete(self, name: str) -> bool:
        row = self.session.get(ComputeRow, name)
        if row is None:
            return False
        self.session.delete(row)
        return True
