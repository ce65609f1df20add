"""MLflow-compatible tracking: experiments, runs, metrics, params, tags, logged models, registry.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

from __future__ import annotations

import time
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def _run_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["run_id"], ["runs.run_id"], name=f"fk_{table}_run_id_runs", ondelete="CASCADE"
    )


def _kv(table: str, owner: str, owner_type: sa.types.TypeEngine[Any], fk: str | None) -> None:
    """A (owner, key) -> value table."""
    args: list[Any] = [
        sa.Column(owner, owner_type, nullable=False),
        sa.Column("key", sa.String(250), nullable=False),
        sa.Column("value", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint(owner, "key", name=f"pk_{table}"),
    ]
    if fk is not None:
        referred = fk.split(".")[0]
        args.append(
            sa.ForeignKeyConstraint(
                [owner], [fk], name=f"fk_{table}_{owner}_{referred}", ondelete="CASCADE"
            )
        )
    op.create_table(table, *args)


def _metric_columns() -> list[sa.Column[Any]]:
    return [
        sa.Column("key", sa.String(250), nullable=False),
        sa.Column("timestamp", sa.BigInteger, nullable=False),
        sa.Column("step", sa.BigInteger, nullable=False),
        sa.Column("value", sa.Float, nullable=False),
        sa.Column("is_nan", sa.Boolean, nullable=False),
    ]


def upgrade() -> None:
    experiments = op.create_table(
        "experiments",
        sa.Column("experiment_id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("name", sa.String(500), nullable=False),
        sa.Column("artifact_location", sa.Text, nullable=False),
        sa.Column("lifecycle_stage", sa.String(16), nullable=False),
        sa.Column("creation_time", sa.BigInteger, nullable=False),
        sa.Column("last_update_time", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("experiment_id", name="pk_experiments"),
        sa.UniqueConstraint("name", name="uq_experiments_name"),
    )
    _kv("experiment_tags", "experiment_id", sa.Integer(), "experiments.experiment_id")
    op.create_table(
        "runs",
        sa.Column("run_id", sa.String(256), nullable=False),
        sa.Column("experiment_id", sa.Integer, nullable=False),
        sa.Column("run_name", sa.String(250), nullable=False),
        sa.Column("user_id", sa.String(256), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("start_time", sa.BigInteger, nullable=False),
        sa.Column("end_time", sa.BigInteger, nullable=True),
        sa.Column("artifact_uri", sa.Text, nullable=False),
        sa.Column("lifecycle_stage", sa.String(16), nullable=False),
        sa.PrimaryKeyConstraint("run_id", name="pk_runs"),
        sa.ForeignKeyConstraint(
            ["experiment_id"],
            ["experiments.experiment_id"],
            name="fk_runs_experiment_id_experiments",
        ),
    )
    op.create_index(
        "ix_runs_experiment_stage_start",
        "runs",
        ["experiment_id", "lifecycle_stage", "start_time"],
    )
    _kv("run_params", "run_id", sa.String(256), "runs.run_id")
    _kv("run_tags", "run_id", sa.String(256), "runs.run_id")
    op.create_table(
        "run_latest_metrics",
        sa.Column("run_id", sa.String(256), nullable=False),
        sa.Column("key", sa.String(250), nullable=False),
        sa.Column("value", sa.Float, nullable=False),
        sa.Column("is_nan", sa.Boolean, nullable=False),
        sa.Column("timestamp", sa.BigInteger, nullable=False),
        sa.Column("step", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("run_id", "key", name="pk_run_latest_metrics"),
        _run_fk("run_latest_metrics"),
    )
    op.create_index("ix_run_latest_metrics_key_value", "run_latest_metrics", ["key", "value"])
    op.create_table(
        "run_metrics",
        sa.Column("run_id", sa.String(256), nullable=False),
        *_metric_columns(),
        sa.Column("model_id", sa.String(64), nullable=True),
        sa.Column("dataset_name", sa.String(500), nullable=True),
        sa.Column("dataset_digest", sa.String(36), nullable=True),
        sa.PrimaryKeyConstraint(
            "run_id", "key", "timestamp", "step", "value", "is_nan", name="pk_run_metrics"
        ),
        _run_fk("run_metrics"),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "datasets",
        sa.Column("dataset_id", sa.String(36), nullable=False),
        sa.Column("experiment_id", sa.Integer, nullable=False),
        sa.Column("name", sa.String(500), nullable=False),
        sa.Column("digest", sa.String(36), nullable=False),
        sa.Column("source_type", sa.String(36), nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("schema", sa.Text, nullable=True),
        sa.Column("profile", sa.Text, nullable=True),
        sa.PrimaryKeyConstraint("dataset_id", name="pk_datasets"),
        sa.UniqueConstraint("experiment_id", "name", "digest", name="uq_datasets_experiment_id"),
        sa.ForeignKeyConstraint(
            ["experiment_id"],
            ["experiments.experiment_id"],
            name="fk_datasets_experiment_id_experiments",
            ondelete="CASCADE",
        ),
    )
    op.create_table(
        "run_inputs",
        sa.Column("run_id", sa.String(256), nullable=False),
        sa.Column("dataset_id", sa.String(36), nullable=False),
        sa.Column("context", sa.String(500), nullable=True),
        sa.Column("tags", sa.JSON, nullable=False),
        sa.PrimaryKeyConstraint("run_id", "dataset_id", name="pk_run_inputs"),
        _run_fk("run_inputs"),
        sa.ForeignKeyConstraint(
            ["dataset_id"],
            ["datasets.dataset_id"],
            name="fk_run_inputs_dataset_id_datasets",
            ondelete="CASCADE",
        ),
    )
    op.create_table(
        "run_models",
        sa.Column("run_id", sa.String(256), nullable=False),
        sa.Column("model_id", sa.String(64), nullable=False),
        sa.Column("direction", sa.String(8), nullable=False),
        sa.Column("step", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("run_id", "model_id", "direction", name="pk_run_models"),
        _run_fk("run_models"),
    )
    op.create_table(
        "logged_models",
        sa.Column("model_id", sa.String(64), nullable=False),
        sa.Column("experiment_id", sa.Integer, nullable=False),
        sa.Column("name", sa.String(500), nullable=False),
        sa.Column("artifact_uri", sa.Text, nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("status_message", sa.Text, nullable=True),
        sa.Column("model_type", sa.String(500), nullable=True),
        sa.Column("source_run_id", sa.String(256), nullable=True),
        sa.Column("creator_id", sa.String(256), nullable=True),
        sa.Column("lifecycle_stage", sa.String(16), nullable=False),
        sa.Column("creation_time", sa.BigInteger, nullable=False),
        sa.Column("last_updated_time", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("model_id", name="pk_logged_models"),
        sa.ForeignKeyConstraint(
            ["experiment_id"],
            ["experiments.experiment_id"],
            name="fk_logged_models_experiment_id_experiments",
        ),
    )
    op.create_index("ix_logged_models_experiment_name", "logged_models", ["experiment_id", "name"])
    _kv("logged_model_tags", "model_id", sa.String(64), "logged_models.model_id")
    _kv("logged_model_params", "model_id", sa.String(64), "logged_models.model_id")
    op.create_table(
        "logged_model_metrics",
        sa.Column("model_id", sa.String(64), nullable=False),
        *_metric_columns(),
        sa.Column("run_id", sa.String(256), nullable=False),
        sa.Column("dataset_name", sa.String(500), nullable=True),
        sa.Column("dataset_digest", sa.String(36), nullable=True),
        sa.PrimaryKeyConstraint(
            "model_id",
            "key",
            "timestamp",
            "step",
            "value",
            "is_nan",
            name="pk_logged_model_metrics",
        ),
        sa.ForeignKeyConstraint(
            ["model_id"],
            ["logged_models.model_id"],
            name="fk_logged_model_metrics_model_id_logged_models",
            ondelete="CASCADE",
        ),
    )
    op.create_table(
        "registry_models",
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("description", sa.Text, nullable=True),
        sa.Column("user_id", sa.String(256), nullable=True),
        sa.Column("creation_time", sa.BigInteger, nullable=False),
        sa.Column("last_updated_time", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_registry_models"),
    )
    _kv("registry_model_tags", "name", sa.String(255), None)
    op.create_table(
        "registry_aliases",
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("alias", sa.String(255), nullable=False),
        sa.Column("version", sa.String(255), nullable=False),
        sa.PrimaryKeyConstraint("name", "alias", name="pk_registry_aliases"),
    )
    op.create_table(
        "registry_versions",
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("version", sa.String(255), nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("run_id", sa.String(256), nullable=True),
        sa.Column("run_link", sa.Text, nullable=True),
        sa.Column("model_id", sa.String(64), nullable=True),
        sa.Column("stage", sa.String(20), nullable=False),
        sa.Column("user_id", sa.String(256), nullable=True),
        sa.Column("last_updated_time", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("name", "version", name="pk_registry_versions"),
    )
    op.create_index("ix_registry_versions_run_id", "registry_versions", ["run_id"])

    # MLflow clients expect experiment "0", named "Default", to exist from the start
    now = int(time.time() * 1000)
    op.bulk_insert(
        experiments,
        [
            {
                "experiment_id": 0,
                "name": "Default",
                "artifact_location": "mlflow-artifacts:/0",
                "lifecycle_stage": "active",
                "creation_time": now,
                "last_update_time": now,
            }
        ],
    )


def downgrade() -> None:
    op.drop_index("ix_registry_versions_run_id", table_name="registry_versions")
    for table in ("registry_versions", "registry_aliases", "registry_model_tags"):
        op.drop_table(table)
    op.drop_table("registry_models")
    for table in ("logged_model_metrics", "logged_model_params", "logged_model_tags"):
        op.drop_table(table)
    op.drop_index("ix_logged_models_experiment_name", table_name="logged_models")
    op.drop_table("logged_models")
    for table in ("run_models", "run_inputs", "datasets", "run_metrics"):
        op.drop_table(table)
    op.drop_index("ix_run_latest_metrics_key_value", table_name="run_latest_metrics")
    for table in ("run_latest_metrics", "run_tags", "run_params"):
        op.drop_table(table)
    op.drop_index("ix_runs_experiment_stage_start", table_name="runs")
    op.drop_table("runs")
    op.drop_table("experiment_tags")
    op.drop_table("experiments")
