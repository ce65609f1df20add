"""Endpoints, deployments, serving instances and deployment logs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from forgeml.store.repositories.common import aware, utcnow
from forgeml.store.tables_serving import DeploymentLogRow, DeploymentRow, EndpointRow, InstanceRow

#: log chunks kept per deployment (a chunk: a worker's lines, or a second of request lines)
LOG_KEEP = 5_000


@dataclass(frozen=True)
class EndpointRecord:
    name: str
    kind: str
    spec: dict[str, Any]
    traffic: dict[str, int]
    mirror_traffic: dict[str, int]
    keys: dict[str, Any]
    state: str
    created_by: str
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class DeploymentRecord:
    endpoint: str
    name: str
    kind: str
    spec: dict[str, Any]
    resolved: dict[str, Any]
    generation: int
    serving_generation: int | None
    state: str
    message: str | None
    created_by: str
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class InstanceRecord:
    id: str
    endpoint: str
    deployment: str
    generation: int
    state: str
    address: str | None
    secret: str | None
    handle: dict[str, Any]
    message: str | None
    started_at: datetime
    heartbeat_at: datetime


def _endpoint(row: EndpointRow) -> EndpointRecord:
    return EndpointRecord(
        name=row.name,
        kind=row.kind,
        spec=dict(row.spec),
        traffic={k: int(v) for k, v in row.traffic.items()},
        mirror_traffic={k: int(v) for k, v in row.mirror_traffic.items()},
        keys=dict(row.keys),
        state=row.state,
        created_by=row.created_by,
        created_at=aware(row.created_at),
        updated_at=aware(row.updated_at),
    )


def _deployment(row: DeploymentRow) -> DeploymentRecord:
    return DeploymentRecord(
        endpoint=row.endpoint,
        name=row.name,
        kind=row.kind,
        spec=dict(row.spec),
        resolved=dict(row.resolved),
        generation=row.generation,
        serving_generation=row.serving_generation,
        state=row.state,
        message=row.message,
        created_by=row.created_by,
        created_at=aware(row.created_at),
        updated_at=aware(row.updated_at),
    )


def _instance(row: InstanceRow) -> InstanceRecord:
    return InstanceRecord(
        id=row.id,
        endpoint=row.endpoint,
        deployment=row.deployment,
        generation=row.generation,
        state=row.state,
        address=row.address,
        secret=row.secret,
        handle=dict(row.handle),
        message=row.message,
        started_at=aware(row.started_at),
        heartbeat_at=aware(row.heartbeat_at),
    )


class EndpointRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    # endpoints -----------------------------------------------------------------------------

    def get(self, name: str, *, lock: bool = False) -> EndpointRecord | None:
        row = self.session.get(EndpointRow, name, with_for_update=lock)
        return _endpoint(row) if row else None

    def endpoints(self, kind: str | None = None) -> list[EndpointRecord]:
        query = select(EndpointRow).order_by(EndpointRow.name)
        if kind is not None:
            query = query.where(EndpointRow.kind == kind)
        return [_endpoint(r) for r in self.session.scalars(query)]

    def create(
        self, name: str, kind: str, spec: dict[str, Any], keys: dict[str, Any], created_by: str
    ) -> EndpointRecord:
        now = utcnow()
        row = EndpointRow(
            name=name,
            kind=kind,
            spec=spec,
            traffic={},
            mirror_traffic={},
            keys=keys,
            state="Succeeded",
            created_by=created_by,
            created_at=now,
            updated_at=now,
        )
        self.session.add(row)
        self.session.flush()
        return _endpoint(row)

    def update(self, name: str, **fields: Any) -> EndpointRecord:
        """Set `spec`, `traffic`, `mirror_traffic`, `keys` or `state` of an existing endpoint."""
        row = self.session.get(EndpointRow, name, with_for_update=True)
        if row is None:
            raise KeyError(name)
        for key, value in fields.items():
            setattr(row, key, value)
        row.updated_at = utcnow()
        self.session.flush()
        return _endpoint(row)

    def delete(self, name: str) -> None:
        for table in (DeploymentLogRow, InstanceRow, DeploymentRow):
            self.session.execute(delete(table).where(table.endpoint == name))
        self.session.execute(delete(EndpointRow).where(EndpointRow.name == name))

    # deployments ---------------------------------------------------------------------------

    def deployment(
        self, endpoint: str, name: str, *, lock: bool = False
    ) -> DeploymentRecord | None:
        row = self.session.get(DeploymentRow, (endpoint, name), with_for_update=lock)
        return _deployment(row) if row else None

    def deployments(
        self, endpoint: str | None = None, *, kind: str | None = None
    ) -> list[DeploymentRecord]:
        query = select(DeploymentRow).order_by(DeploymentRow.endpoint, DeploymentRow.name)
        if endpoint is not None:
            query = query.where(DeploymentRow.endpoint == endpoint)
        if kind is not None:
            query = query.where(DeploymentRow.kind == kind)
        return [_deployment(r) for r in self.session.scalars(query)]

    def put_deployment(
        self,
        endpoint: str,
        name: str,
        *,
        kind: str,
        spec: dict[str, Any],
        resolved: dict[str, Any],
        state: str,
        created_by: str,
    ) -> DeploymentRecord:
        """Create the deployment, or give an existing one a new generation of `spec`."""
        row = self.session.get(DeploymentRow, (endpoint, name), with_for_update=True)
        now = utcnow()
        if row is None:
            row = DeploymentRow(
                endpoint=endpoint,
                name=name,
                kind=kind,
                spec=spec,
                resolved=resolved,
                generation=1,
                serving_generation=None,
                state=state,
                message=None,
                created_by=created_by,
                created_at=now,
                updated_at=now,
            )
            self.session.add(row)
        else:
            row.spec, row.resolved, row.state, row.message = spec, resolved, state, None
            row.generation += 1
            row.updated_at = now
        self.session.flush()
        return _deployment(row)

    def update_deployment(self, endpoint: str, name: str, **fields: Any) -> DeploymentRecord:
        row = self.session.get(DeploymentRow, (endpoint, name), with_for_update=True)
        if row is None:
            raise KeyError(name)
        for key, value in fields.items():
            setattr(row, key, value)
        row.updated_at = utcnow()
        self.session.flush()
        return _deployment(row)

    def delete_deployment(self, endpoint: str, name: str) -> None:
        for table in (DeploymentLogRow, InstanceRow):
            self.session.execute(
                delete(table).where(table.endpoint == endpoint, table.deployment == name)
            )
        self.session.execute(
            delete(DeploymentRow).where(
                DeploymentRow.endpoint == endpoint, DeploymentRow.name == name
            )
        )

    # instances -----------------------------------------------------------------------------

    def add_instance(
        self, id_: str, endpoint: str, deployment: str, generation: int, handle: dict[str, Any]
    ) -> InstanceRecord:
        now = utcnow()
        row = InstanceRow(
            id=id_,
            endpoint=endpoint,
            deployment=deployment,
            generation=generation,
            state="starting",
            address=None,
            secret=None,
            handle=handle,
            message=None,
            started_at=now,
            heartbeat_at=now,
        )
        self.session.add(row)
        self.session.flush()
        return _instance(row)

    def instance(self, id_: str) -> InstanceRecord | None:
        row = self.session.get(InstanceRow, id_)
        return _instance(row) if row else None

    def instances(
        self, endpoint: str | None = None, deployment: str | None = None
    ) -> list[InstanceRecord]:
        query = select(InstanceRow).order_by(InstanceRow.started_at, InstanceRow.id)
        if endpoint is not None:
            query = query.where(InstanceRow.endpoint == endpoint)
        if deployment is not None:
            query = query.where(InstanceRow.deployment == deployment)
        return [_instance(r) for r in self.session.scalars(query)]

    def update_instance(self, id_: str, **fields: Any) -> InstanceRecord | None:
        row = self.session.get(InstanceRow, id_, with_for_update=True)
        if row is None:
            return None
        for key, value in fields.items():
            setattr(row, key, value)
        self.session.flush()
        return _instance(row)

    def delete_instance(self, id_: str) -> None:
        self.session.execute(delete(InstanceRow).where(InstanceRow.id == id_))

    # logs ----------------------------------------------------------------------------------

    def append_logs(self, lines: Sequence[tuple[str, str, str | None, str]]) -> None:
        """Append (endpoint, deployment, instance, text) chunks."""
        now = utcnow()
        self.session.add_all(
            DeploymentLogRow(endpoint=e, deployment=d, instance=i, text=t, ts=now)
            for e, d, i, t in lines
        )
        self.session.flush()
        for endpoint, deployment in {(e, d) for e, d, _, _ in lines}:
            self._prune(endpoint, deployment)

    def _prune(self, endpoint: str, deployment: str) -> None:
        """Keep the newest LOG_KEEP chunks of the deployment (pruned 100 chunks past it)."""
        where = (DeploymentLogRow.endpoint == endpoint, DeploymentLogRow.deployment == deployment)
        count = self.session.scalar(
            select(func.count()).select_from(DeploymentLogRow).where(*where)
        )
        if not count or count < LOG_KEEP + 100:
            return
        oldest_kept = self.session.scalar(
            select(DeploymentLogRow.id)
            .where(*where)
            .order_by(DeploymentLogRow.id.desc())
            .offset(LOG_KEEP - 1)
            .limit(1)
        )
        if oldest_kept is not None:
            self.session.execute(
                delete(DeploymentLogRow).where(*where, DeploymentLogRow.id < oldest_kept)
            )

    def logs(self, endpoint: str, deployment: str, *, limit: int) -> list[tuple[datetime, str]]:
        """The newest `limit` chunks, oldest first."""
        rows = self.session.execute(
            select(DeploymentLogRow.ts, DeploymentLogRow.text)
            .where(DeploymentLogRow.endpoint == endpoint, DeploymentLogRow.deployment == deployment)
            .order_by(DeploymentLogRow.id.desc())
            .limit(limit)
        ).all()
        return [(aware(ts), text) for ts, text in reversed(rows)]
