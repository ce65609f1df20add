"""The job tables: jobs (which are also the queue), their log chunks, outputs and lineage.

Every change here comes with an Alembic migration (0003_jobs.py). Logs live in the store, not in
files, so any server replica can stream them and a runner on another machine can write them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from forgeml.store.tables import Base


class JobRow(Base):
    """One job. `status` + `queued_at` make the queue; `lease_*` say which scheduler owns it."""

    __tablename__ = "jobs"
    __table_args__ = (
        Index("ix_jobs_status_queued_at", "status", "queued_at"),
        Index("ix_jobs_created_at", "created_at"),
        Index("ix_jobs_experiment_name", "experiment_name"),
        Index("ix_jobs_parent", "parent"),
        Index("ix_jobs_reuse_key", "reuse_key", "status"),
        Index("ix_jobs_type_status", "type", "status"),
        # the job list (0007_job_listing.py): each starts with parent, each ends with the name
        Index("ix_jobs_parent_created", "parent", "created_at", "name", "display_name"),
        Index("ix_jobs_parent_status_created", "parent", "status", "created_at", "name"),
        Index("ix_jobs_parent_type_created", "parent", "type", "created_at", "name"),
        Index(
            "ix_jobs_parent_experiment_created", "parent", "experiment_name", "created_at", "name"
        ),
        Index("ix_jobs_parent_compute_created", "parent", "compute", "created_at", "name"),
        Index("ix_jobs_parent_name", "parent", "name"),
        Index("ix_jobs_parent_started", "parent", "started_at", "name", "ended_at"),
    )

    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    type: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(32))
    #: the job document as submitted, references resolved and pinned
    spec: Mapped[dict[str, Any]]
    #: what the runner receives (`schemas.runtime.RunnerJob`), fixed at submit
    runner: Mapped[dict[str, Any]]
    experiment_name: Mapped[str] = mapped_column(String(255))
    experiment_id: Mapped[str] = mapped_column(String(64))
    display_name: Mapped[str | None] = mapped_column(String(255), nullable=True)
    description: Mapped[str | None] = mapped_column(Text, nullable=True)
    tags: Mapped[dict[str, Any]]
    compute: Mapped[str] = mapped_column(String(255))
    parent: Mapped[str | None] = mapped_column(String(255), nullable=True)
    created_by: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime]
    queued_at: Mapped[datetime | None] = mapped_column(nullable=True)
    prepared_at: Mapped[datetime | None] = mapped_column(nullable=True)
    started_at: Mapped[datetime | None] = mapped_column(nullable=True)
    ended_at: Mapped[datetime | None] = mapped_column(nullable=True)
    updated_at: Mapped[datetime]
    exit_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    warnings: Mapped[list[str]] = mapped_column(JSON)
    #: the process the compute backend started, and the backend's own handle for it
    pid: Mapped[int | None] = mapped_column(Integer, nullable=True)
    host: Mapped[str | None] = mapped_column(String(255), nullable=True)
    handle: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    lease_owner: Mapped[str | None] = mapped_column(String(255), nullable=True)
    lease_expires_at: Mapped[datetime | None] = mapped_column(nullable=True)
    heartbeat_at: Mapped[datetime | None] = mapped_column(nullable=True)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    #: the last log sequence number handed out; the row lock serialises concurrent writers
    log_seq: Mapped[int] = mapped_column(Integer, default=0)
    #: the step (pipeline) or trial number (sweep) this child job is, within `parent`
    step: Mapped[str | None] = mapped_column(String(255), nullable=True)
    #: a deterministic step's identity (sha256); a completed job with the same key is reused
    reuse_key: Mapped[str | None] = mapped_column(String(64), nullable=True)
    #: the job whose outputs this one reused instead of running
    reused_from: Mapped[str | None] = mapped_column(String(255), nullable=True)
    #: what a pipeline or sweep concluded (a sweep's best trial, its parameters and metric)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    #: why a queued job has not started (the compute cannot hold it yet), shown to the user
    waiting: Mapped[str | None] = mapped_column(Text, nullable=True)
    #: how many times the job's runner was started (retries after a lost runner count)
    attempts: Mapped[int | None] = mapped_column(Integer, nullable=True)


class JobLogRow(Base):
    """A chunk of text one stream of a job produced, in order (`seq` counts per job)."""

    __tablename__ = "job_logs"

    job: Mapped[str] = mapped_column(
        String(255), ForeignKey("jobs.name", ondelete="CASCADE"), primary_key=True
    )
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    stream: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text)
    ts: Mapped[datetime]


class JobOutputRow(Base):
    """An output a job produced: its content URI and the asset version it was registered as."""

    __tablename__ = "job_outputs"

    job: Mapped[str] = mapped_column(
        String(255), ForeignKey("jobs.name", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    type: Mapped[str] = mapped_column(String(32))
    uri: Mapped[str] = mapped_column(Text)
    asset_kind: Mapped[str | None] = mapped_column(String(32), nullable=True)
    asset_name: Mapped[str | None] = mapped_column(String(255), nullable=True)
    asset_version: Mapped[str | None] = mapped_column(String(255), nullable=True)
    created_at: Mapped[datetime]


class LineageRow(Base):
    """An edge between an asset version and a job: `input` (asset -> job) or `output`."""

    __tablename__ = "lineage"
    __table_args__ = (Index("ix_lineage_asset", "asset_kind", "asset_name", "asset_version"),)

    job: Mapped[str] = mapped_column(
        String(255), ForeignKey("jobs.name", ondelete="CASCADE"), primary_key=True
    )
    direction: Mapped[str] = mapped_column(String(8), primary_key=True)
    port: Mapped[str] = mapped_column(String(255), primary_key=True)
    asset_kind: Mapped[str] = mapped_column(String(32))
    asset_name: Mapped[str] = mapped_column(String(255))
    asset_version: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime]
