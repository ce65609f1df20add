"""Metrics for the studio's charts and comparisons: a job's run summary (parameters, tags and
latest metrics) and metric series downsampled on the server."""

from __future__ import annotations

from forgeml.core.errors import NotFoundError, SpecError
from forgeml.schemas.metrics import LatestMetric, MetricSeries, RunSummary, SeriesPoint
from forgeml.services.authz import authorize
from forgeml.services.context import Context
from forgeml.store.repositories.jobs import JobRepository
from forgeml.store.repositories.metric_series import MetricSeriesRepository
from forgeml.store.repositories.runs import RunRepository

#: how many jobs one comparison may overlay
MAX_JOBS = 50
MAX_POINTS = 5000


def summary(ctx: Context, job: str) -> RunSummary:
    authorize(ctx, "runs.read", job)
    with ctx.db.read() as session:
        run = RunRepository(session).get(job)
        if run is None:
            if JobRepository(session).get(job) is None:
                raise NotFoundError(
                    f"there is no job or MLflow run named '{job}'; check the name "
                    "(`forgeml job list` lists the jobs)."
                )
            raise NotFoundError(
                f"job '{job}' has no tracking run yet: it starts when the job starts running."
            )
    # the run comes with each metric's newest value (NaN kept as NaN)
    return RunSummary(
        job=job,
        params=dict(run.params),
        tags=dict(run.tags),
        metrics=[
            LatestMetric(key=m.key, value=m.value, step=m.step, timestamp=m.timestamp)
            for m in sorted(run.metrics, key=lambda m: m.key)
        ],
    )


def series(ctx: Context, jobs: list[str], key: str, max_points: int) -> list[MetricSeries]:
    if not jobs:
        raise SpecError("name at least one job (`job=<name>`, repeatable).", field="job")
    if len(jobs) > MAX_JOBS:
        raise SpecError(f"at most {MAX_JOBS} jobs can be charted together.", field="job")
    if not 2 <= max_points <= MAX_POINTS:
        raise SpecError(f"max_points must be between 2 and {MAX_POINTS}.", field="max_points")
    for job in jobs:
        authorize(ctx, "runs.read", job)
    found = []
    with ctx.db.read() as session:
        repo = MetricSeriesRepository(session)
        for job in dict.fromkeys(jobs):
            total, bucketed, points = repo.series(job, key, max_points)
            found.append(
                MetricSeries(
                    job=job,
                    key=key,
                    total=total,
                    downsampled=bucketed,
                    points=[
                        SeriesPoint(step=s, value=v, min=lo, max=hi) for s, v, lo, hi in points
                    ],
                )
            )
    return found
