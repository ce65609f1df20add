"""Metric histories for charts: a run's series as it was logged, or bucketed by step in SQL so
that a series of any length comes back as a bounded number of rows. (A run's latest metrics
come with the run itself: `RunRepository.get`.)"""

from __future__ import annotations

import math
from typing import Any

from sqlalchemy import Float, cast, func, select
from sqlalchemy.orm import Session

from forgeml.store.tables_tracking import MetricRow

#: (step, mean, min, max) per point or bucket
Point = tuple[float, float, float, float]


class MetricSeriesRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def series(self, run_id: str, key: str, max_points: int) -> tuple[int, bool, list[Point]]:
        """(how many values, whether bucketed, the points in step order)."""
        where = (MetricRow.run_id == run_id, MetricRow.key == key, MetricRow.is_nan.is_(False))
        total, low, high = self.session.execute(
            select(func.count(), func.min(MetricRow.step), func.max(MetricRow.step)).where(*where)
        ).one()
        total = int(total or 0)
        if total == 0:
            return 0, False, []
        if total <= max_points:
            rows = self.session.execute(
                select(MetricRow.step, MetricRow.value)
                .where(*where)
                .order_by(MetricRow.step, MetricRow.timestamp)
            )
            return total, False, [(float(s), float(v), float(v), float(v)) for s, v in rows]
        # integer division truncates alike on SQLite and PostgreSQL (a cast of a float rounds on
        # one and truncates on the other); every bucket is as wide, the last step in the last one
        span = int(high) - int(low) + 1
        bucket = ((MetricRow.step - int(low)) * max_points) // span
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
            [(_num(r[1]), _num(r[2]), _num(r[3]), _num(r[4])) for r in buckets],
        )


def _num(value: Any) -> float:
    # a bucket holding both infinities averages to NaN, which SQLite hands back as NULL
    return math.nan if value is None else float(value)
