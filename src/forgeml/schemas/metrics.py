"""What the studio's charts read: a run's latest metrics and parameters, and metric series
downsampled on the server (a chart of 100,000 points gets at most `max_points` buckets)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class LatestMetric(BaseModel):
    key: str
    value: float
    step: int
    timestamp: int = Field(description="Milliseconds since the epoch.")


class RunSummary(BaseModel):
    """A job's MLflow run: parameters, tags and the newest value of each metric."""

    job: str
    params: dict[str, str] = Field(default_factory=dict)
    tags: dict[str, str] = Field(default_factory=dict)
    metrics: list[LatestMetric] = Field(default_factory=list)


class SeriesPoint(BaseModel):
    """One bucket of steps: its mean value, and its extremes (equal to it when not bucketed)."""

    step: float
    value: float
    min: float
    max: float


class MetricSeries(BaseModel):
    job: str
    key: str
    total: int = Field(description="How many values were logged.")
    downsampled: bool
    points: list[SeriesPoint]


class MetricSeriesList(BaseModel):
    items: list[MetricSeries]
