"""Online and batch endpoints, their deployments, serving instances and deployment logs.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "endpoints",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("spec", sa.JSON, nullable=False),
        sa.Column("traffic", sa.JSON, nullable=False),
        sa.Column("mirror_traffic", sa.JSON, nullable=False),
        sa.Column("keys", sa.JSON, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("created_by", sa.String(255), nullable=False),
        sa.Column("created_at", _WHEN, nullable=False),
        sa.Column("updated_at", _WHEN, nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_endpoints"),
    )
    op.create_table(
        "deployments",
        sa.Column("endpoint", sa.String(64), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("spec", sa.JSON, nullable=False),
        sa.Column("resolved", sa.JSON, nullable=False),
        sa.Column("generation", sa.Integer, nullable=False),
        sa.Column("serving_generation", sa.Integer, nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("message", sa.Text, nullable=True),
        sa.Column("created_by", sa.String(255), nullable=False),
        sa.Column("created_at", _WHEN, nullable=False),
        sa.Column("updated_at", _WHEN, nullable=False),
        sa.ForeignKeyConstraint(
            ["endpoint"],
            ["endpoints.name"],
            name="fk_deployments_endpoint_endpoints",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("endpoint", "name", name="pk_deployments"),
    )
    op.create_table(
        "deployment_instances",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("endpoint", sa.String(64), nullable=False),
        sa.Column("deployment", sa.String(64), nullable=False),
        sa.Column("generation", sa.Integer, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("address", sa.String(255), nullable=True),
        sa.Column("secret", sa.Text, nullable=True),
        sa.Column("handle", sa.JSON, nullable=False),
        sa.Column("message", sa.Text, nullable=True),
        sa.Column("started_at", _WHEN, nullable=False),
        sa.Column("heartbeat_at", _WHEN, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_deployment_instances"),
    )
    op.create_index(
        "ix_deployment_instances_endpoint", "deployment_instances", ["endpoint", "deployment"]
    )
    op.create_table(
        "deployment_logs",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("endpoint", sa.String(64), nullable=False),
        sa.Column("deployment", sa.String(64), nullable=False),
        sa.Column("instance", sa.String(36), nullable=True),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("ts", _WHEN, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_deployment_logs"),
    )
    op.create_index(
        "ix_deployment_logs_endpoint", "deployment_logs", ["endpoint", "deployment", "id"]
    )


def downgrade() -> None:
    op.drop_index("ix_deployment_logs_endpoint", table_name="deployment_logs")
    op.drop_table("deployment_logs")
    op.drop_index("ix_deployment_instances_endpoint", table_name="deployment_instances")
    op.drop_table("deployment_instances")
    op.drop_table("deployments")
    op.drop_table("endpoints")
