"""Pipelines and sweeps: a child job's step name, reuse keys and the result of a parent job.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("step", sa.String(255), nullable=True))
        batch.add_column(sa.Column("reuse_key", sa.String(64), nullable=True))
        batch.add_column(sa.Column("reused_from", sa.String(255), nullable=True))
        batch.add_column(sa.Column("result", sa.JSON, nullable=True))
    op.create_index("ix_jobs_reuse_key", "jobs", ["reuse_key", "status"])
    op.create_index("ix_jobs_type_status", "jobs", ["type", "status"])


def downgrade() -> None:
    op.drop_index("ix_jobs_type_status", table_name="jobs")
    op.drop_index("ix_jobs_reuse_key", table_name="jobs")
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("result")
        batch.drop_column("reused_from")
        batch.drop_column("reuse_key")
        batch.drop_column("step")
