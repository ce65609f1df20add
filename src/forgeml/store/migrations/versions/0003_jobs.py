"""Jobs (the queue), their log chunks, outputs and lineage edges.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "jobs",
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("spec", sa.JSON, nullable=False),
        sa.Column("runner", sa.JSON, nullable=False),
        sa.Column("experiment_name", sa.String(255), nullable=False),
        sa.Column("experiment_id", sa.String(64), nullable=False),
        sa.Column("display_name", sa.String(255), nullable=True),
        sa.Column("description", sa.Text, nullable=True),
        sa.Column("tags", sa.JSON, nullable=False),
        sa.Column("compute", sa.String(255), nullable=False),
        sa.Column("parent", sa.String(255), nullable=True),
        sa.Column("created_by", sa.String(255), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("queued_at", TS, nullable=True),
        sa.Column("prepared_at", TS, nullable=True),
        sa.Column("started_at", TS, nullable=True),
        sa.Column("ended_at", TS, nullable=True),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("exit_code", sa.Integer, nullable=True),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("warnings", sa.JSON, nullable=False),
        sa.Column("pid", sa.Integer, nullable=True),
        sa.Column("host", sa.String(255), nullable=True),
        sa.Column("handle", sa.JSON, nullable=True),
        sa.Column("lease_owner", sa.String(255), nullable=True),
        sa.Column("lease_expires_at", TS, nullable=True),
        sa.Column("heartbeat_at", TS, nullable=True),
        sa.Column("cancel_requested", sa.Boolean, nullable=False),
        sa.Column("log_seq", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_jobs"),
    )
    op.create_index("ix_jobs_status_queued_at", "jobs", ["status", "queued_at"])
    op.create_index("ix_jobs_created_at", "jobs", ["created_at"])
    op.create_index("ix_jobs_experiment_name", "jobs", ["experiment_name"])
    op.create_index("ix_jobs_parent", "jobs", ["parent"])
    op.create_table(
        "job_logs",
        sa.Column("job", sa.String(255), nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("stream", sa.String(16), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("ts", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["job"], ["jobs.name"], name="fk_job_logs_job_jobs", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("job", "seq", name="pk_job_logs"),
    )
    op.create_table(
        "job_outputs",
        sa.Column("job", sa.String(255), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("uri", sa.Text, nullable=False),
        sa.Column("asset_kind", sa.String(32), nullable=True),
        sa.Column("asset_name", sa.String(255), nullable=True),
        sa.Column("asset_version", sa.String(255), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["job"], ["jobs.name"], name="fk_job_outputs_job_jobs", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("job", "name", name="pk_job_outputs"),
    )
    op.create_table(
        "lineage",
        sa.Column("job", sa.String(255), nullable=False),
        sa.Column("direction", sa.String(8), nullable=False),
        sa.Column("port", sa.String(255), nullable=False),
        sa.Column("asset_kind", sa.String(32), nullable=False),
        sa.Column("asset_name", sa.String(255), nullable=False),
        sa.Column("asset_version", sa.String(255), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["job"], ["jobs.name"], name="fk_lineage_job_jobs", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("job", "direction", "port", name="pk_lineage"),
    )
    op.create_index("ix_lineage_asset", "lineage", ["asset_kind", "asset_name", "asset_version"])


def downgrade() -> None:
    op.drop_index("ix_lineage_asset", table_name="lineage")
    op.drop_table("lineage")
    op.drop_table("job_outputs")
    op.drop_table("job_logs")
    op.drop_index("ix_jobs_parent", table_name="jobs")
    op.drop_index("ix_jobs_experiment_name", table_name="jobs")
    op.drop_index("ix_jobs_created_at", table_name="jobs")
    op.drop_index("ix_jobs_status_queued_at", table_name="jobs")
    op.drop_table("jobs")
