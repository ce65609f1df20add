"""The serving tables: endpoints, their deployments, the worker instances that serve them and
the deployments' logs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from forgeml.store.tables import Base


class EndpointRow(Base):
    """An online or batch endpoint; `keys` holds the encrypted auth keys, never plain text."""

    __tablename__ = "endpoints"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    spec: Mapped[dict[str, Any]]
    traffic: Mapped[dict[str, Any]]
    mirror_traffic: Mapped[dict[str, Any]]
    keys: Mapped[dict[str, Any]]
    state: Mapped[str] = mapped_column(String(16))
    created_by: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class DeploymentRow(Base):
    """One deployment behind an endpoint. `generation` counts its updates; the router sends
    traffic only to instances of `serving_generation`, so an update switches over at once."""

    __tablename__ = "deployments"

    endpoint: Mapped[str] = mapped_column(
        String(64), ForeignKey("endpoints.name", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    spec: Mapped[dict[str, Any]]
    resolved: Mapped[dict[str, Any]]
    generation: Mapped[int] = mapped_column(Integer)
    serving_generation: Mapped[int | None] = mapped_column(Integer, nullable=True)
    state: Mapped[str] = mapped_column(String(16))
    message: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_by: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class InstanceRow(Base):
    """One worker serving a deployment: where it runs, where it listens, how it is doing."""

    __tablename__ = "deployment_instances"
    __table_args__ = (Index("ix_deployment_instances_endpoint", "endpoint", "deployment"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    endpoint: Mapped[str] = mapped_column(String(64))
    deployment: Mapped[str] = mapped_column(String(64))
    generation: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(16))
    address: Mapped[str | None] = mapped_column(String(255), nullable=True)
    #: the secret the router shows the instance's scoring host (encrypted)
    secret: Mapped[str | None] = mapped_column(Text, nullable=True)
    handle: Mapped[dict[str, Any]] = mapped_column(JSON)
    message: Mapped[str | None] = mapped_column(Text, nullable=True)
    started_at: Mapped[datetime]
    heartbeat_at: Mapped[datetime]


class DeploymentLogRow(Base):
    """A chunk of a deployment's log: its workers' output and the router's request lines."""

    __tablename__ = "deployment_logs"
    __table_args__ = (Index("ix_deployment_logs_endpoint", "endpoint", "deployment", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    endpoint: Mapped[str] = mapped_column(String(64))
    deployment: Mapped[str] = mapped_column(String(64))
    instance: Mapped[str | None] = mapped_column(String(36), nullable=True)
    text: Mapped[str] = mapped_column(Text)
    ts: Mapped[datetime]
