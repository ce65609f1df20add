"""A job's run summary and downsampled metric series, for the studio's charts."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from forgeml.schemas.metrics import MetricSeriesList, RunSummary
from forgeml.server.deps import context
from forgeml.services import Context
from forgeml.services import metrics as service

router = APIRouter(prefix="/api/v1", tags=["metrics"])
Ctx = Annotated[Context, Depends(context)]


@router.get("/jobs/{name}/run", response_model=RunSummary)
def run_summary(name: str, ctx: Ctx) -> RunSummary:
    """The job's parameters, tags and the newest value of each metric."""
    return service.summary(ctx, name)


@router.get("/metrics/series", response_model=MetricSeriesList)
def metric_series(
    ctx: Ctx,
    key: str,
    job: Annotated[list[str], Query(description="a job name; repeat to overlay several")],
    max_points: Annotated[int, Query(description="at most this many points per job")] = 1000,
) -> MetricSeriesList:
    """One metric of one or several jobs; a long series is averaged per bucket of steps (each
    point also carries its bucket's min and max)."""
    return MetricSeriesList(items=service.series(ctx, job, key, max_points))
