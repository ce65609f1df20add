"""Runs: info, params, tags, metrics (latest and history), dataset inputs, model inputs/outputs.

Logging is the hot path, so everything here is SQLAlchemy Core over a handful of statements per
request: a batch of metrics is one multi-row insert into the history plus one conditional upsert
per distinct key into the latest-value table, and reading N runs costs five queries whatever N.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterable, Iterator
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from forgeml.core.tracking import Dataset, DatasetInput, Metric, Run, RunInfo
from forgeml.store.repositories.experiments import insert_ignore, upsert
from forgeml.store.tables_tracking import (
    DatasetRow,
    LatestMetricRow,
    LoggedModelMetricRow,
    LoggedModelRow,
    MetricRow,
    RunInputRow,
    RunModelRow,
    RunParamRow,
    RunRow,
    RunTagRow,
)

_INFO = (
    RunRow.run_id,
    RunRow.experiment_id,
    RunRow.run_name,
    RunRow.user_id,
    RunRow.status,
    RunRow.start_time,
    RunRow.end_time,
    RunRow.artifact_uri,
    RunRow.lifecycle_stage,
)
# SQLite allows 32766 bound values per statement; stay far below for IN lists
_CHUNK = 900

# The logging hot path as driver-level SQL with positional parameters: building SQLAlchemy
# constructs, or even binding named parameters row by row, costs more than the database work.
# SQLite and PostgreSQL share the ON CONFLICT and row-value syntax used here.
_HOT_SQL = {
    "state": "SELECT lifecycle_stage, experiment_id FROM runs WHERE run_id = ?",
    "metric": "INSERT INTO run_metrics (run_id, key, timestamp, step, value, is_nan, model_id, "
    "dataset_name, dataset_digest) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
    "latest": "INSERT INTO run_latest_metrics (run_id, key, timestamp, step, value, is_nan) "
    "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (run_id, key) DO UPDATE SET value = excluded.value, "
    "is_nan = excluded.is_nan, timestamp = excluded.timestamp, step = excluded.step "
    "WHERE (excluded.step, excluded.timestamp, excluded.value) > "
    "(run_latest_metrics.step, run_latest_metrics.timestamp, run_latest_metrics.value)",
    "param": "INSERT INTO run_params (run_id, key, value) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
    "tag": "INSERT INTO run_tags (run_id, key, value) VALUES (?, ?, ?) "
    "ON CONFLICT (run_id, key) DO UPDATE SET value = excluded.value",
}
_BY_STYLE = {
    "qmark": _HOT_SQL,
    "format": {k: v.replace("?", "%s") for k, v in _HOT_SQL.items()},
}
_BY_STYLE["pyformat"] = _BY_STYLE["format"]


def info_from_row(row: Any) -> RunInfo:
    return RunInfo(
        run_id=row[0],
        experiment_id=str(row[1]),
        run_name=row[2],
        user_id=row[3],
        status=row[4],
        start_time=row[5],
        end_time=row[6],
        artifact_uri=row[7],
        lifecycle_stage=row[8],
    )


def _chunks(ids: list[str]) -> Iterator[list[str]]:
    for i in range(0, len(ids), _CHUNK):
        yield ids[i : i + _CHUNK]


def metric_row(m: Metric) -> dict[str, Any]:
    nan = math.isnan(m.value)
    return {
        "key": m.key,
        "timestamp": m.timestamp,
        "step": m.step,
        "value": 0.0 if nan else m.value,
        "is_nan": nan,
    }


def _stored(value: float) -> tuple[float, bool]:
    """(value, is_nan) as stored: SQLite turns NaN into NULL, so NaN is a flag beside 0."""
    return (0.0, True) if value != value else (value, False)


def metric_value(value: float, is_nan: bool) -> float:
    return math.nan if is_nan else value


class RunRepository:
    def __init__(self, session: Session) -> None:
        self.session = session
        self._sql = _BY_STYLE[session.get_bind().dialect.paramstyle]

    def _run(self, name: str, params: Any) -> Any:
        return self.session.connection().exec_driver_sql(self._sql[name], params)

    # ------------------------------------------------------------------------------ runs
    def info(self, run_id: str) -> RunInfo | None:
        row = self.session.execute(select(*_INFO).where(RunRow.run_id == run_id)).first()
        return info_from_row(row) if row else None

    def state(self, run_id: str) -> tuple[str, int] | None:
        """(lifecycle stage, experiment id): what every logging call checks first."""
        row = self._run("state", (run_id,)).first()
        return (row[0], row[1]) if row else None

    def create(self, info: RunInfo, tags: dict[str, str]) -> None:
        self.session.execute(
            insert(RunRow).values(
                run_id=info.run_id,
                experiment_id=int(info.experiment_id),
                run_name=info.run_name,
                user_id=info.user_id,
                status=info.status,
                start_time=info.start_time,
                end_time=info.end_time,
                artifact_uri=info.artifact_uri,
                lifecycle_stage=info.lifecycle_stage,
            )
        )
        self.set_tags(info.run_id, tags)

    def update(self, run_id: str, **values: Any) -> int:
        result: Any = self.session.execute(
            update(RunRow).where(RunRow.run_id == run_id).values(**values)
        )
        return int(result.rowcount)

    def get(self, run_id: str) -> Run | None:
        info = self.info(run_id)
        return self.hydrate([info])[0] if info else None

    def hydrate(self, infos: list[RunInfo]) -> list[Run]:
        """Attach params, tags, latest metrics, inputs and outputs: five queries in all."""
        runs = {i.run_id: Run(info=i) for i in infos}
        ids = list(runs)
        for chunk in _chunks(ids):
            for rid, key, value in self.session.execute(
                select(RunParamRow.run_id, RunParamRow.key, RunParamRow.value).where(
                    RunParamRow.run_id.in_(chunk)
                )
            ):
                runs[rid].params[key] = value
            for rid, key, value in self.session.execute(
                select(RunTagRow.run_id, RunTagRow.key, RunTagRow.value).where(
                    RunTagRow.run_id.in_(chunk)
                )
            ):
                runs[rid].tags[key] = value
            for rid, key, number, nan, ts, step in self.session.execute(
                select(
                    LatestMetricRow.run_id,
                    LatestMetricRow.key,
                    LatestMetricRow.value,
                    LatestMetricRow.is_nan,
                    LatestMetricRow.timestamp,
                    LatestMetricRow.step,
                ).where(LatestMetricRow.run_id.in_(chunk))
            ):
                runs[rid].metrics.append(Metric(key, metric_value(number, nan), ts, step))
            self._hydrate_inputs(runs, chunk)
        return [runs[i] for i in ids]

    def _hydrate_inputs(self, runs: dict[str, Run], chunk: list[str]) -> None:
        query = (
            select(
                RunInputRow.run_id,
                RunInputRow.tags,
                DatasetRow.name,
                DatasetRow.digest,
                DatasetRow.source_type,
                DatasetRow.source,
                DatasetRow.schema,
                DatasetRow.profile,
            )
            .join(DatasetRow, DatasetRow.dataset_id == RunInputRow.dataset_id)
            .where(RunInputRow.run_id.in_(chunk))
        )
        for rid, tags, name, digest, stype, source, schema, profile in self.session.execute(query):
            runs[rid].inputs.append(
                DatasetInput(
                    Dataset(name, digest, stype, source, schema, profile),
                    [(t["key"], t["value"]) for t in tags or []],
                )
            )
        for rid, model_id, direction, step in self.session.execute(
            select(
                RunModelRow.run_id, RunModelRow.model_id, RunModelRow.direction, RunModelRow.step
            ).where(RunModelRow.run_id.in_(chunk))
        ):
            if direction == "input":
                runs[rid].model_inputs.append(model_id)
            else:
                runs[rid].model_outputs.append((model_id, step))

    # ---------------------------------------------------------------------------- params
    def params(self, run_id: str, keys: Iterable[str]) -> dict[str, str]:
        keys = list(keys)
        if not keys:
            return {}
        rows = self.session.execute(
            select(RunParamRow.key, RunParamRow.value).where(
                RunParamRow.run_id == run_id, RunParamRow.key.in_(keys)
            )
        )
        return {k: v for k, v in rows}

    def insert_params(self, run_id: str, params: dict[str, str]) -> None:
        if params:
            self._run("param", [(run_id, k, v) for k, v in params.items()])

    # ------------------------------------------------------------------------------ tags
    def set_tags(self, run_id: str, tags: dict[str, str]) -> None:
        if tags:
            self._run("tag", [(run_id, k, v) for k, v in tags.items()])

    def tag(self, run_id: str, key: str) -> str | None:
        return self.session.scalar(
            select(RunTagRow.value).where(RunTagRow.run_id == run_id, RunTagRow.key == key)
        )

    def delete_tag(self, run_id: str, key: str) -> int:
        result: Any = self.session.execute(
            delete(RunTagRow).where(RunTagRow.run_id == run_id, RunTagRow.key == key)
        )
        return int(result.rowcount)

    # --------------------------------------------------------------------------- metrics
    def log_metrics(self, run_id: str, metrics: list[Metric]) -> None:
        rows = []
        latest: dict[str, tuple[Any, ...]] = {}
        for m in metrics:
            value, nan = _stored(m.value)
            rows.append(
                (
                    run_id,
                    m.key,
                    m.timestamp,
                    m.step,
                    value,
                    nan,
                    m.model_id,
                    m.dataset_name,
                    m.dataset_digest,
                )
            )
            best = latest.get(m.key)
            if best is None or (m.step, m.timestamp, value) > (best[3], best[2], best[4]):
                latest[m.key] = (run_id, m.key, m.timestamp, m.step, value, nan)
        if rows:
            self._run("metric", rows)
            self._run("latest", list(latest.values()))
        with_model = [m for m in metrics if m.model_id]
        if with_model:
            self._log_model_metrics(run_id, with_model)

    def _log_model_metrics(self, run_id: str, metrics: list[Metric]) -> None:
        wanted = {m.model_id for m in metrics}
        known = set(
            self.session.scalars(
                select(LoggedModelRow.model_id).where(LoggedModelRow.model_id.in_(wanted))
            )
        )
        rows = [
            {
                **metric_row(m),
                "model_id": m.model_id,
                "run_id": run_id,
                "dataset_name": m.dataset_name,
                "dataset_digest": m.dataset_digest,
            }
            for m in metrics
            if m.model_id in known
        ]
        insert_ignore(self.session, LoggedModelMetricRow, rows)

    def history(self, run_id: str, key: str, offset: int, limit: int | None) -> list[Metric]:
        query = (
            select(
                MetricRow.value,
                MetricRow.is_nan,
                MetricRow.timestamp,
                MetricRow.step,
                MetricRow.model_id,
                MetricRow.dataset_name,
                MetricRow.dataset_digest,
            )
            .where(MetricRow.run_id == run_id, MetricRow.key == key)
            .order_by(MetricRow.timestamp, MetricRow.step, MetricRow.value)
            .offset(offset)
        )
        if limit is not None:
            query = query.limit(limit)
        return [
            Metric(key, metric_value(v, nan), ts, step, mid, dn, dd, run_id)
            for v, nan, ts, step, mid, dn, dd in self.session.execute(query)
        ]

    def histories(self, run_ids: list[str], key: str) -> dict[str, list[tuple[int, float]]]:
        """(step, value) of one metric for several runs, in logging order, in one query."""
        found: dict[str, list[tuple[int, float]]] = {r: [] for r in run_ids}
        if not run_ids:
            return found
        query = (
            select(MetricRow.run_id, MetricRow.step, MetricRow.value, MetricRow.is_nan)
            .where(MetricRow.run_id.in_(run_ids), MetricRow.key == key)
            .order_by(MetricRow.run_id, MetricRow.timestamp, MetricRow.step)
        )
        for run_id, step, value, nan in self.session.execute(query):
            found[run_id].append((int(step), float(metric_value(value, nan))))
        return found

    # ------------------------------------------------------------------ inputs / outputs
    def log_inputs(self, run_id: str, experiment_id: int, inputs: list[DatasetInput]) -> None:
        for item in inputs:
            d = item.dataset
            dataset_id = self.session.scalar(
                select(DatasetRow.dataset_id).where(
                    DatasetRow.experiment_id == experiment_id,
                    DatasetRow.name == d.name,
                    DatasetRow.digest == d.digest,
                )
            )
            if dataset_id is None:
                dataset_id = uuid.uuid4().hex
                self.session.execute(
                    insert(DatasetRow).values(
                        dataset_id=dataset_id,
                        experiment_id=experiment_id,
                        name=d.name,
                        digest=d.digest,
                        source_type=d.source_type,
                        source=d.source,
                        schema=d.schema,
                        profile=d.profile,
                    )
                )
            context = dict(item.tags).get("mlflow.data.context")
            tags = [{"key": k, "value": v} for k, v in item.tags]
            insert_ignore(
                self.session,
                RunInputRow,
                [{"run_id": run_id, "dataset_id": dataset_id, "context": context, "tags": tags}],
            )

    def log_models(self, run_id: str, models: list[tuple[str, int]], direction: str) -> None:
        rows = [
            {"run_id": run_id, "model_id": mid, "direction": direction, "step": step}
            for mid, step in models
        ]
        upsert(self.session, RunModelRow, rows, ["run_id", "model_id", "direction"])
