"""Metric histories for charts: a run's series as it was logged, or bucketed by step in SQL so
that a series of any length comes back as a bounded number of rows."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Float, Integer, cast, func, select
from sqlalchemy.orm import Session

from forgeml.store.tables_tracking import LatestMetricRow, MetricRow

#: (step, mean, min, max) per point or bucket
Point = tuple[float, float, float, float]


class MetricSeriesRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def latest(self, run_id: str) -> list[tuple[str, float, bool, int, int]]:
        """(key, value, is_nan, step, timestamp) of each metric's newest value."""
        query = (
            select(
                LatestMetricRow.key,
                LatestMetricRow.value,
                LatestMetricRow.is_nan,
                LatestMetricRow.step,
                LatestMetricRow.timestamp,
            )
            .where(LatestMetricRow.run_id == run_id)
            .order_by(LatestMetricRow.key)
        )
        return [
            (k, float(v), bool(n), int(s), int(t)) for k, v, n, s, t in self.session.execute(query)
        ]

    def series(self, run_id: str, key: str, max_points: int) -> tuple[int, bool, list[Point]]:
        """(how many values, whether bucketed, the points in step order)."""
        where = (MetricRow.run_id == run_id, MetricRow.key == key, MetricRow.is_nan.is_(False))
        total, low, high = self.session.execute(
            select(func.count(), func.min(MetricRow.step), func.max(MetricRow.step)).where(*where)
        ).one()
        total = int(total or 0)
        if total == 0:
            return 0, False, []
        if total <= max_points or low == high:
            rows = self.session.execute(
                select(MetricRow.step, MetricRow.value)
                .where(*where)
                .order_by(MetricRow.step, MetricRow.timestamp)
            )
            return total, False, [(float(s), float(v), float(v), float(v)) for s, v in rows]
        width = (float(high) - float(low)) / max_points
        bucket = cast((cast(MetricRow.step, Float) - float(low)) / width, Integer)
        buckets: Any = self.session.execute(
            select(
                bucket.label("b"),
                func.avg(cast(MetricRow.step, Float)),
                func.avg(MetricRow.value),
                func.min(MetricRow.value),
                func.max(MetricRow.value),
            )
            .where(*where)
            .group_by("b")
            .order_by("b")
        )
        return (
            total,
            True,
            [(float(r[1]), float(r[2]), float(r[3]), float(r[4])) for r in buckets],
        )
