"""Tables of MLflow-compatible tracking and of the registry's MLflow-only fields.

Experiments, runs (params, tags, latest metrics, full metric history, dataset inputs, model
inputs/outputs) and MLflow 3 logged models. Times are MLflow's integer milliseconds since the
epoch, so rows go to the wire without conversion. The registry itself is the model assets
(`asset_containers`/`asset_versions` of kind `models`); the `registry_*` tables hold only the
mutable MLflow fields kept beside those immutable versions (model description and tags, aliases,
stage, the source a version was registered from).
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from forgeml.store.tables import Base

_RUN_FK = "runs.run_id"


class ExperimentRow(Base):
    __tablename__ = "experiments"

    experiment_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(500), unique=True)
    artifact_location: Mapped[str] = mapped_column(Text)
    lifecycle_stage: Mapped[str] = mapped_column(String(16))
    creation_time: Mapped[int] = mapped_column(BigInteger)
    last_update_time: Mapped[int] = mapped_column(BigInteger)


class ExperimentTagRow(Base):
    __tablename__ = "experiment_tags"

    experiment_id: Mapped[int] = mapped_column(
        ForeignKey("experiments.experiment_id", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(String(250), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class RunRow(Base):
    __tablename__ = "runs"
    __table_args__ = (
        Index("ix_runs_experiment_stage_start", "experiment_id", "lifecycle_stage", "start_time"),
    )

    run_id: Mapped[str] = mapped_column(String(256), primary_key=True)
    experiment_id: Mapped[int] = mapped_column(ForeignKey("experiments.experiment_id"))
    run_name: Mapped[str] = mapped_column(String(250))
    user_id: Mapped[str] = mapped_column(String(256))
    status: Mapped[str] = mapped_column(String(16))
    start_time: Mapped[int] = mapped_column(BigInteger)
    end_time: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    artifact_uri: Mapped[str] = mapped_column(Text)
    lifecycle_stage: Mapped[str] = mapped_column(String(16))


class RunParamRow(Base):
    __tablename__ = "run_params"

    run_id: Mapped[str] = mapped_column(ForeignKey(_RUN_FK, ondelete="CASCADE"), primary_key=True)
    key: Mapped[str] = mapped_column(String(250), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class RunTagRow(Base):
    __tablename__ = "run_tags"

    run_id: Mapped[str] = mapped_column(ForeignKey(_RUN_FK, ondelete="CASCADE"), primary_key=True)
    key: Mapped[str] = mapped_column(String(250), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class LatestMetricRow(Base):
    """The newest value per (run, key) by (step, timestamp, value): what search compares."""

    __tablename__ = "run_latest_metrics"
    __table_args__ = (Index("ix_run_latest_metrics_key_value", "key", "value"),)

    run_id: Mapped[str] = mapped_column(ForeignKey(_RUN_FK, ondelete="CASCADE"), primary_key=True)
    key: Mapped[str] = mapped_column(String(250), primary_key=True)
    # NaN is stored as is_nan with value 0: SQLite turns NaN into NULL
    value: Mapped[float] = mapped_column(Float)
    is_nan: Mapped[bool] = mapped_column(Boolean)
    timestamp: Mapped[int] = mapped_column(BigInteger)
    step: Mapped[int] = mapped_column(BigInteger)


class MetricRow(Base):
    """Every logged value; the primary key de-duplicates identical rows as MLflow's store does.

    On SQLite the rows live in the primary key's own B-tree (WITHOUT ROWID): one index to write
    per logged value instead of two, and history reads come back in key order.
    """

    __tablename__ = "run_metrics"
    __table_args__ = ({"sqlite_with_rowid": False},)

    run_id: Mapped[str] = mapped_column(ForeignKey(_RUN_FK, ondelete="CASCADE"), primary_key=True)
    key: Mapped[str] = mapped_column(String(250), primary_key=True)
    timestamp: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    step: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    value: Mapped[float] = mapped_column(Float, primary_key=True)
    is_nan: Mapped[bool] = mapped_column(Boolean, primary_key=True)
    model_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    dataset_name: Mapped[str | None] = mapped_column(String(500), nullable=True)
    dataset_digest: Mapped[str | None] = mapped_column(String(36), nullable=True)


class DatasetRow(Base):
    __tablename__ = "datasets"
    __table_args__ = (
        UniqueConstraint("experiment_id", "name", "digest", name="uq_datasets_experiment_id"),
    )

    dataset_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    experiment_id: Mapped[int] = mapped_column(
        ForeignKey("experiments.experiment_id", ondelete="CASCADE")
    )
    name: Mapped[str] = mapped_column(String(500))
    digest: Mapped[str] = mapped_column(String(36))
    source_type: Mapped[str] = mapped_column(String(36))
    source: Mapped[str] = mapped_column(Text)
    schema: Mapped[str | None] = mapped_column(Text, nullable=True)
    profile: Mapped[str | None] = mapped_column(Text, nullable=True)


class RunInputRow(Base):
    """A dataset a run used; `context` is the `mlflow.data.context` tag, kept for search."""

    __tablename__ = "run_inputs"

    run_id: Mapped[str] = mapped_column(ForeignKey(_RUN_FK, ondelete="CASCADE"), primary_key=True)
    dataset_id: Mapped[str] = mapped_column(
        ForeignKey("datasets.dataset_id", ondelete="CASCADE"), primary_key=True
    )
    context: Mapped[str | None] = mapped_column(String(500), nullable=True)
    tags: Mapped[list[dict[str, str]]] = mapped_column(JSON)


class RunModelRow(Base):
    """Logged models a run read (`input`) or wrote (`output`, with the step)."""

    __tablename__ = "run_models"

    run_id: Mapped[str] = mapped_column(ForeignKey(_RUN_FK, ondelete="CASCADE"), primary_key=True)
    model_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    direction: Mapped[str] = mapped_column(String(8), primary_key=True)
    step: Mapped[int] = mapped_column(BigInteger)


class LoggedModelRow(Base):
    __tablename__ = "logged_models"
    __table_args__ = (Index("ix_logged_models_experiment_name", "experiment_id", "name"),)

    model_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    experiment_id: Mapped[int] = mapped_column(ForeignKey("experiments.experiment_id"))
    name: Mapped[str] = mapped_column(String(500))
    artifact_uri: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(32))
    status_message: Mapped[str | None] = mapped_column(Text, nullable=True)
    model_type: Mapped[str | None] = mapped_column(String(500), nullable=True)
    source_run_id: Mapped[str | None] = mapped_column(String(256), nullable=True)
    creator_id: Mapped[str | None] = mapped_column(String(256), nullable=True)
    lifecycle_stage: Mapped[str] = mapped_column(String(16))
    creation_time: Mapped[int] = mapped_column(BigInteger)
    last_updated_time: Mapped[int] = mapped_column(BigInteger)


class LoggedModelTagRow(Base):
    __tablename__ = "logged_model_tags"

    model_id: Mapped[str] = mapped_column(
        ForeignKey("logged_models.model_id", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(String(250), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class LoggedModelParamRow(Base):
    __tablename__ = "logged_model_params"

    model_id: Mapped[str] = mapped_column(
        ForeignKey("logged_models.model_id", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(String(250), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class LoggedModelMetricRow(Base):
    """Metrics logged with a `model_id`: they also describe that model."""

    __tablename__ = "logged_model_metrics"

    model_id: Mapped[str] = mapped_column(
        ForeignKey("logged_models.model_id", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(String(250), primary_key=True)
    timestamp: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    step: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    value: Mapped[float] = mapped_column(Float, primary_key=True)
    is_nan: Mapped[bool] = mapped_column(Boolean, primary_key=True)
    run_id: Mapped[str] = mapped_column(String(256))
    dataset_name: Mapped[str | None] = mapped_column(String(500), nullable=True)
    dataset_digest: Mapped[str | None] = mapped_column(String(36), nullable=True)


class RegistryModelRow(Base):
    """MLflow's mutable fields of a registered model (= the model asset container `name`)."""

    __tablename__ = "registry_models"

    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    description: Mapped[str | None] = mapped_column(Text, nullable=True)
    user_id: Mapped[str | None] = mapped_column(String(256), nullable=True)
    creation_time: Mapped[int] = mapped_column(BigInteger)
    last_updated_time: Mapped[int] = mapped_column(BigInteger)


class RegistryModelTagRow(Base):
    __tablename__ = "registry_model_tags"

    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    key: Mapped[str] = mapped_column(String(250), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class RegistryAliasRow(Base):
    __tablename__ = "registry_aliases"

    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    alias: Mapped[str] = mapped_column(String(255), primary_key=True)
    version: Mapped[str] = mapped_column(String(255))


class RegistryVersionRow(Base):
    """MLflow's fields of one model version (the asset version `name`:`version`)."""

    __tablename__ = "registry_versions"
    __table_args__ = (Index("ix_registry_versions_run_id", "run_id"),)

    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    version: Mapped[str] = mapped_column(String(255), primary_key=True)
    source: Mapped[str] = mapped_column(Text)
    run_id: Mapped[str | None] = mapped_column(String(256), nullable=True)
    run_link: Mapped[str | None] = mapped_column(Text, nullable=True)
    model_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    stage: Mapped[str] = mapped_column(String(20))
    user_id: Mapped[str | None] = mapped_column(String(256), nullable=True)
    last_updated_time: Mapped[int] = mapped_column(BigInteger)
