"""MLflow 3 logged models: info, tags, params, and the metrics logged against them."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from forgeml.core.tracking import LoggedModel, Metric
from forgeml.store.repositories.experiments import upsert
from forgeml.store.repositories.runs import metric_value
from forgeml.store.tables_tracking import (
    LoggedModelMetricRow,
    LoggedModelParamRow,
    LoggedModelRow,
    LoggedModelTagRow,
)


def _entity(row: LoggedModelRow) -> LoggedModel:
    return LoggedModel(
        model_id=row.model_id,
        experiment_id=str(row.experiment_id),
        name=row.name,
        artifact_uri=row.artifact_uri,
        status=row.status,
        creation_time=row.creation_time,
        last_updated_time=row.last_updated_time,
        model_type=row.model_type,
        source_run_id=row.source_run_id,
        creator_id=row.creator_id,
        status_message=row.status_message,
        lifecycle_stage=row.lifecycle_stage,
    )


class LoggedModelRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def create(self, model: LoggedModel) -> None:
        self.session.execute(
            insert(LoggedModelRow).values(
                model_id=model.model_id,
                experiment_id=int(model.experiment_id),
                name=model.name,
                artifact_uri=model.artifact_uri,
                status=model.status,
                status_message=model.status_message,
                model_type=model.model_type,
                source_run_id=model.source_run_id,
                creator_id=model.creator_id,
                lifecycle_stage=model.lifecycle_stage,
                creation_time=model.creation_time,
                last_updated_time=model.last_updated_time,
            )
        )
        self.set_tags(model.model_id, model.tags)
        self.log_params(model.model_id, model.params)

    def get(self, model_id: str) -> LoggedModel | None:
        row = self.session.get(LoggedModelRow, model_id)
        return self.hydrate([row])[0] if row else None

    def hydrate(self, rows: list[LoggedModelRow]) -> list[LoggedModel]:
        models = {r.model_id: _entity(r) for r in rows}
        ids = list(models)
        if not ids:
            return []
        for mid, key, value in self.session.execute(
            select(
                LoggedModelTagRow.model_id, LoggedModelTagRow.key, LoggedModelTagRow.value
            ).where(LoggedModelTagRow.model_id.in_(ids))
        ):
            models[mid].tags[key] = value
        for mid, key, value in self.session.execute(
            select(
                LoggedModelParamRow.model_id, LoggedModelParamRow.key, LoggedModelParamRow.value
            ).where(LoggedModelParamRow.model_id.in_(ids))
        ):
            models[mid].params[key] = value
        m = LoggedModelMetricRow
        for mid, key, number, nan, ts, step, run_id, dname, ddigest in self.session.execute(
            select(
                m.model_id,
                m.key,
                m.value,
                m.is_nan,
                m.timestamp,
                m.step,
                m.run_id,
                m.dataset_name,
                m.dataset_digest,
            )
            .where(m.model_id.in_(ids))
            .order_by(m.timestamp, m.step)
        ):
            models[mid].metrics.append(
                Metric(key, metric_value(number, nan), ts, step, mid, dname, ddigest, run_id)
            )
        return [models[i] for i in ids]

    def update(self, model_id: str, **values: Any) -> int:
        result: Any = self.session.execute(
            update(LoggedModelRow).where(LoggedModelRow.model_id == model_id).values(**values)
        )
        return int(result.rowcount)

    def set_tags(self, model_id: str, tags: dict[str, str]) -> None:
        rows = [{"model_id": model_id, "key": k, "value": v} for k, v in tags.items()]
        upsert(self.session, LoggedModelTagRow, rows, ["model_id", "key"])

    def delete_tag(self, model_id: str, key: str) -> int:
        result: Any = self.session.execute(
            delete(LoggedModelTagRow).where(
                LoggedModelTagRow.model_id == model_id, LoggedModelTagRow.key == key
            )
        )
        return int(result.rowcount)

    def log_params(self, model_id: str, params: dict[str, str]) -> None:
        rows = [{"model_id": model_id, "key": k, "value": v} for k, v in params.items()]
        upsert(self.session, LoggedModelParamRow, rows, ["model_id", "key"])

    def in_experiments(
        self, experiment_ids: list[int], stages: tuple[str, ...], names: tuple[str, ...] = ()
    ) -> list[LoggedModel]:
        query = select(LoggedModelRow).where(
            LoggedModelRow.experiment_id.in_(experiment_ids),
            LoggedModelRow.lifecycle_stage.in_(stages),
        )
        if names:  # the client's frequent `name = '...'` look-up uses the index
            query = query.where(LoggedModelRow.name.in_(names))
        return self.hydrate(list(self.session.scalars(query)))
