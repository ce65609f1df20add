"""The studio's job list at scale: indexes for its default order and its filters.

Every listing filters on `parent` (top-level jobs, or one parent's children), so each index
starts with it; the name comes last, so that finding a page's rows reads the index alone.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

INDEXES = {
    "ix_jobs_parent_created": ["parent", "created_at", "name", "display_name"],
    "ix_jobs_parent_status_created": ["parent", "status", "created_at", "name"],
    "ix_jobs_parent_type_created": ["parent", "type", "created_at", "name"],
    "ix_jobs_parent_experiment_created": ["parent", "experiment_name", "created_at", "name"],
    "ix_jobs_parent_compute_created": ["parent", "compute", "created_at", "name"],
    "ix_jobs_parent_name": ["parent", "name"],
    # ended_at too: ordering by duration reads this index alone
    "ix_jobs_parent_started": ["parent", "started_at", "name", "ended_at"],
}


def upgrade() -> None:
    for name, columns in INDEXES.items():
        op.create_index(name, "jobs", columns)


def downgrade() -> None:
    for name in INDEXES:
        op.drop_index(name, table_name="jobs")
