"""Jobs on the wire: a job as the workspace shows it, its log chunks and its outputs.

A `Job` is the command job document the user submitted (references pinned, local paths replaced
by content URIs) plus what the workspace knows about its run: status, timestamps, exit code,
error summary and warnings, like `az ml job show`.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from forgeml.core.specs.job import CommandJob
from forgeml.core.states import JobStatus


class Job(CommandJob):
    """A submitted job: the document plus its lifecycle (set by the workspace)."""

    status: JobStatus = JobStatus.queued
    experiment_id: str | None = None
    parent_job_name: str | None = None
    queued_at: datetime | None = None
    prepared_at: datetime | None = Field(None, description="When a compute took the job.")
    started_at: datetime | None = Field(None, description="When the command started running.")
    ended_at: datetime | None = None
    exit_code: int | None = None
    error: str | None = Field(None, description="Why it failed: the tail of stderr, or a reason.")
    warnings: list[str] = Field(default_factory=list)
    cancel_requested: bool = False


class JobLogChunk(BaseModel):
    seq: int
    stream: str
    text: str
    ts: datetime


class JobLogs(BaseModel):
    """Log chunks after a sequence number; pass `last_seq` back as `after` for the next ones."""

    items: list[JobLogChunk]
    last_seq: int
    status: JobStatus
    done: bool = Field(description="True when the job has ended and no chunk is left to read.")


class JobOutputInfo(BaseModel):
    """An output the job produced, and the asset version it was registered as (if named)."""

    name: str
    type: str
    uri: str
    asset: str | None = Field(None, description="azureml:<name>:<version> when registered.")
    asset_kind: str | None = None
    created_at: datetime


class LineageEdgeInfo(BaseModel):
    direction: str = Field(description="'input' (asset -> job) or 'output' (job -> asset).")
    port: str
    asset_kind: str
    asset: str


class JobOutputs(BaseModel):
    items: list[JobOutputInfo]
    lineage: list[LineageEdgeInfo] = Field(default_factory=list)
