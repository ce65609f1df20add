"""`runs/search` in SQL: MLflow filter comparisons and `order_by` keys become one query.

Each comparison on a metric, param, tag or dataset is a correlated EXISTS on its table (so a
run lacking the key never matches, except `IS NULL`); attributes compare columns directly.
`LIKE` stays case-sensitive on SQLite by translating it to `GLOB`, as MLflow promises.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, exists, false, select
from sqlalchemy.orm import Session, aliased

from forgeml.core.mlflow_search import Comparison, OrderKey, like_to_glob
from forgeml.core.tracking import RunInfo
from forgeml.store.repositories.runs import _INFO, info_from_row
from forgeml.store.tables_tracking import (
    DatasetRow,
    LatestMetricRow,
    RunInputRow,
    RunParamRow,
    RunRow,
    RunTagRow,
)

_ATTRIBUTES: dict[str, Any] = {
    "run_id": RunRow.run_id,
    "run_name": RunRow.run_name,
    "status": RunRow.status,
    "user_id": RunRow.user_id,
    "artifact_uri": RunRow.artifact_uri,
    "lifecycle_stage": RunRow.lifecycle_stage,
    "start_time": RunRow.start_time,
    "end_time": RunRow.end_time,
}


def string_clause(column: Any, op: str, value: Any, dialect: str) -> Any:
    if op == "=":
        return column == value
    if op == "!=":
        return column != value
    if op == "LIKE":
        if dialect == "sqlite":  # SQLite's LIKE ignores case; GLOB does not
            return column.op("GLOB")(like_to_glob(str(value)))
        return column.like(value)
    if op == "ILIKE":
        return column.ilike(value)
    if op == "IN":
        return column.in_(list(value))
    if op == "NOT IN":
        return column.not_in(list(value))
    raise AssertionError(f"unexpected comparator {op}")


def numeric_clause(column: Any, op: str, value: Any) -> Any:
    return {
        "=": column == value,
        "!=": column != value,
        ">": column > value,
        ">=": column >= value,
        "<": column < value,
        "<=": column <= value,
    }[op]


def _clause(c: Comparison, dialect: str) -> Any:
    if c.kind == "attribute":
        column = _ATTRIBUTES[c.key]
        if c.key in ("start_time", "end_time"):
            return numeric_clause(column, c.op, c.value)
        return string_clause(column, c.op, c.value, dialect)
    if c.kind == "metric":
        m = LatestMetricRow
        return exists().where(
            m.run_id == RunRow.run_id,
            m.key == c.key,
            m.is_nan.is_(false()),
            numeric_clause(m.value, c.op, c.value),
        )
    if c.kind in ("param", "tag"):
        table: Any = RunParamRow if c.kind == "param" else RunTagRow
        has_key = exists().where(table.run_id == RunRow.run_id, table.key == c.key)
        if c.op == "IS NULL":
            return ~has_key
        if c.op == "IS NOT NULL":
            return has_key
        return has_key.where(string_clause(table.value, c.op, c.value, dialect))
    if c.kind == "dataset":
        column = RunInputRow.context if c.key == "context" else getattr(DatasetRow, c.key)
        return (
            exists()
            .where(RunInputRow.run_id == RunRow.run_id)
            .where(DatasetRow.dataset_id == RunInputRow.dataset_id)
            .where(string_clause(column, c.op, c.value, dialect))
        )
    raise AssertionError(f"unexpected entity {c.kind}")


def _order(query: Any, keys: list[OrderKey]) -> Any:
    terms: list[Any] = []
    seen_start = False
    for i, key in enumerate(keys):
        if key.kind == "attribute":
            column = _ATTRIBUTES[key.key]
            seen_start = seen_start or key.key == "start_time"
        else:
            table: Any = {"metric": LatestMetricRow, "param": RunParamRow, "tag": RunTagRow}[
                key.kind
            ]
            joined: Any = aliased(table, name=f"order_{i}")
            query = query.outerjoin(
                joined, and_(joined.run_id == RunRow.run_id, joined.key == key.key)
            )
            column = joined.value
        # runs lacking the sort key go last, whichever the direction
        terms.append(column.is_(None))
        terms.append(column.asc() if key.ascending else column.desc())
    if not seen_start:
        terms.append(RunRow.start_time.desc())
    terms.append(RunRow.run_id.asc())
    return query.order_by(*terms)


def search_runs(
    session: Session,
    *,
    experiment_ids: list[int],
    stages: tuple[str, ...],
    comparisons: list[Comparison],
    order: list[OrderKey],
    offset: int,
    limit: int,
) -> list[RunInfo]:
    dialect = session.get_bind().dialect.name
    query: Any = select(*_INFO).where(
        RunRow.experiment_id.in_(experiment_ids), RunRow.lifecycle_stage.in_(stages)
    )
    for c in comparisons:
        query = query.where(_clause(c, dialect))
    query = _order(query, order).offset(offset).limit(limit)
    return [info_from_row(row) for row in session.execute(query)]
