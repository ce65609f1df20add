"""Jobs on the wire: a job as the workspace shows it, its log chunks and its outputs.

A `Job` is the command job document the user submitted (references pinned, local paths replaced
by content URIs) plus what the workspace knows about its run: status, timestamps, exit code,
error summary and warnings, like `az ml job show`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, Field, TypeAdapter

from forgeml.core.specs.job import CommandJob
from forgeml.core.specs.pipeline import PipelineJob, SweepJob
from forgeml.core.states import JobStatus
from forgeml.schemas.common import Page


class JobLifecycle(BaseModel):
    """What the workspace knows of a job's run, whatever its type."""

    status: JobStatus = JobStatus.queued
    experiment_id: str | None = None
    parent_job_name: str | None = None
    step: str | None = Field(
        None, description="The step (pipeline) or trial number (sweep) within the parent job."
    )
    reused_from: str | None = Field(
        None, description="The job whose outputs this step reused instead of running."
    )
    queued_at: datetime | None = None
    prepared_at: datetime | None = Field(None, description="When a compute took the job.")
    started_at: datetime | None = Field(None, description="When the command started running.")
    ended_at: datetime | None = None
    exit_code: int | None = None
    error: str | None = Field(None, description="Why it failed: the tail of stderr, or a reason.")
    warnings: list[str] = Field(default_factory=list)
    cancel_requested: bool = False
    waiting_reason: str | None = Field(
        None, description="Why a queued job has not started (its compute cannot hold it yet)."
    )
    attempts: int = Field(0, description="How many times its runner was started (retries).")


class Job(JobLifecycle, CommandJob):
    """A submitted command job: the document plus its lifecycle (set by the workspace)."""


class StepInfo(BaseModel):
    """One step of a pipeline: the child job that ran it, or why there is none."""

    name: str
    type: str
    status: str = Field(
        description="The child job's state; 'not_started' before its inputs are ready, "
        "'skipped' when an upstream step failed."
    )
    job: str | None = None
    reused_from: str | None = None


class PipelineJobInfo(JobLifecycle, PipelineJob):
    """A submitted pipeline job and the state of each of its steps."""

    steps: list[StepInfo] = Field(default_factory=list)


class TrialInfo(BaseModel):
    job: str
    status: str
    parameters: dict[str, Any]
    metric: float | None = None


class SweepJobInfo(JobLifecycle, SweepJob):
    """A submitted sweep: its trials so far and the best one."""

    best_trial: TrialInfo | None = None
    trials: list[TrialInfo] = Field(default_factory=list)


AnyJob = Annotated[Job | PipelineJobInfo | SweepJobInfo, Field(discriminator="type")]
_ANY_JOB: TypeAdapter[Job | PipelineJobInfo | SweepJobInfo] = TypeAdapter(AnyJob)


class JobList(Page[AnyJob]):
    """One page of jobs; `total` counts every job that matches (when asked for)."""

    total: int | None = Field(
        None, description="How many jobs match the filters (with total=true, without tag)."
    )


class JobArtifact(BaseModel):
    """A file or folder the job's MLflow run holds (what it wrote to ./outputs and ./logs)."""

    path: str = Field(description="Relative to the run's artifact root.")
    is_dir: bool
    size: int | None = None
    download_url: str | None = Field(None, description="Where the file downloads (files only).")


class JobArtifacts(BaseModel):
    path: str = Field(description="The folder listed, relative to the run's artifact root.")
    items: list[JobArtifact]


class JobYaml(BaseModel):
    """A job document as YAML text, as `forgeml job create -f` would read it from a file."""

    yaml: str = Field(max_length=1_000_000)
    file: str | None = Field(
        None, max_length=255, description="The file's name, to name it in error messages."
    )


def parse_job(data: Any) -> Job | PipelineJobInfo | SweepJobInfo:
    """A job as the API returns it, as the class of its type."""
    return _ANY_JOB.validate_python(data)


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
