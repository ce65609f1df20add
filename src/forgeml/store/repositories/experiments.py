"""Experiments and their tags."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from forgeml.core.tracking import ACTIVE, Experiment
from forgeml.store.tables_tracking import ExperimentRow, ExperimentTagRow, RunRow


def upsert(session: Session, table: Any, rows: list[dict[str, Any]], keys: list[str]) -> None:
    """Insert rows, overwriting the non-key columns where the key already exists."""
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    stmt: Any = (pg_insert if dialect == "postgresql" else sqlite_insert)(table)
    updates = {c: stmt.excluded[c] for c in rows[0] if c not in keys}
    if updates:
        stmt = stmt.on_conflict_do_update(index_elements=keys, set_=updates)
    else:
        stmt = stmt.on_conflict_do_nothing(index_elements=keys)
    session.execute(stmt, rows)


def insert_ignore(session: Session, table: Any, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    stmt: Any = (pg_insert if dialect == "postgresql" else sqlite_insert)(table)
    session.execute(stmt.on_conflict_do_nothing(), rows)


def _entity(row: ExperimentRow, tags: dict[str, str]) -> Experiment:
    return Experiment(
        experiment_id=str(row.experiment_id),
        name=row.name,
        artifact_location=row.artifact_location,
        lifecycle_stage=row.lifecycle_stage,
        creation_time=row.creation_time,
        last_update_time=row.last_update_time,
        tags=tags,
    )


class ExperimentRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def _tags(self, ids: list[int]) -> dict[int, dict[str, str]]:
        out: dict[int, dict[str, str]] = defaultdict(dict)
        if ids:
            rows = self.session.execute(
                select(
                    ExperimentTagRow.experiment_id, ExperimentTagRow.key, ExperimentTagRow.value
                ).where(ExperimentTagRow.experiment_id.in_(ids))
            )
            for eid, key, value in rows:
                out[eid][key] = value
        return out

    def get(self, experiment_id: int) -> Experiment | None:
        row = self.session.get(ExperimentRow, experiment_id)
        return _entity(row, self._tags([row.experiment_id])[row.experiment_id]) if row else None

    def get_by_name(self, name: str) -> Experiment | None:
        row = self.session.scalar(select(ExperimentRow).where(ExperimentRow.name == name))
        return _entity(row, self._tags([row.experiment_id])[row.experiment_id]) if row else None

    def stage(self, experiment_id: int) -> str | None:
        return self.session.scalar(
            select(ExperimentRow.lifecycle_stage).where(
                ExperimentRow.experiment_id == experiment_id
            )
        )

    def create(
        self, name: str, artifact_location: str | None, tags: dict[str, str], now: int
    ) -> int:
        """Insert; an empty artifact location becomes `mlflow-artifacts:/<id>`."""
        result = self.session.execute(
            insert(ExperimentRow)
            .values(
                name=name,
                artifact_location=artifact_location or "",
                lifecycle_stage=ACTIVE,
                creation_time=now,
                last_update_time=now,
            )
            .returning(ExperimentRow.experiment_id)
        )
        experiment_id = int(result.scalar_one())
        if not artifact_location:
            self.session.execute(
                update(ExperimentRow)
                .where(ExperimentRow.experiment_id == experiment_id)
                .values(artifact_location=f"mlflow-artifacts:/{experiment_id}")
            )
        self.set_tags(experiment_id, tags)
        return experiment_id

    def update(self, experiment_id: int, now: int, **values: Any) -> int:
        result: Any = self.session.execute(
            update(ExperimentRow)
            .where(ExperimentRow.experiment_id == experiment_id)
            .values(last_update_time=now, **values)
        )
        return int(result.rowcount)

    def set_runs_stage(self, experiment_id: int, stage: str) -> None:
        self.session.execute(
            update(RunRow)
            .where(RunRow.experiment_id == experiment_id)
            .values(lifecycle_stage=stage)
        )

    def set_tags(self, experiment_id: int, tags: dict[str, str]) -> None:
        rows = [{"experiment_id": experiment_id, "key": k, "value": v} for k, v in tags.items()]
        upsert(self.session, ExperimentTagRow, rows, ["experiment_id", "key"])

    def delete_tag(self, experiment_id: int, key: str) -> int:
        result: Any = self.session.execute(
            delete(ExperimentTagRow).where(
                ExperimentTagRow.experiment_id == experiment_id, ExperimentTagRow.key == key
            )
        )
        return int(result.rowcount)

    def all(self, stages: tuple[str, ...]) -> list[Experiment]:
        rows = self.session.scalars(
            select(ExperimentRow).where(ExperimentRow.lifecycle_stage.in_(stages))
        ).all()
        tags = self._tags([r.experiment_id for r in rows])
        return [_entity(r, tags.get(r.experiment_id, {})) for r in rows]
