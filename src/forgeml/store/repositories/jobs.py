"""Jobs, their log chunks, outputs and lineage edges; and the queue's leasing queries.

The queue is the `jobs` table: a scheduler takes queued jobs with a row lease inside one write
transaction. On PostgreSQL the rows are locked `FOR UPDATE SKIP LOCKED`, so several schedulers
never take the same job and never wait on each other; on SQLite the write transaction starts with
`BEGIN IMMEDIATE`, which serialises writers.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_, select, text, update
from sqlalchemy.orm import Session

from forgeml.store.repositories.common import aware, utcnow
from forgeml.store.tables_jobs import JobLogRow, JobOutputRow, JobRow, LineageRow

ACTIVE = ("preparing", "running", "canceling")
#: job types that run a process on a compute; pipelines and sweeps only orchestrate children
RUNNABLE = ("command",)
#: job types whose children the orchestrator advances
PARENTS = ("pipeline", "sweep")


@dataclass(frozen=True)
class JobRecord:
    name: str
    type: str
    status: str
    spec: dict[str, Any]
    runner: dict[str, Any]
    experiment_name: str
    experiment_id: str
    display_name: str | None
    description: str | None
    tags: dict[str, str]
    compute: str
    parent: str | None
    created_by: str
    created_at: datetime
    queued_at: datetime | None
    prepared_at: datetime | None
    started_at: datetime | None
    ended_at: datetime | None
    updated_at: datetime
    exit_code: int | None
    error: str | None
    warnings: list[str]
    pid: int | None
    host: str | None
    handle: dict[str, Any] | None
    lease_owner: str | None
    lease_expires_at: datetime | None
    heartbeat_at: datetime | None
    cancel_requested: bool
    log_seq: int
    step: str | None = None
    reuse_key: str | None = None
    reused_from: str | None = None
    result: dict[str, Any] | None = None
    waiting: str | None = None
    attempts: int | None = None


_FIELDS = [f.name for f in dataclasses.fields(JobRecord)]
_TIMES = {"created_at", "queued_at", "prepared_at", "started_at", "ended_at", "updated_at"}
_TIMES |= {"lease_expires_at", "heartbeat_at"}


def _record(row: JobRow) -> JobRecord:
    values: dict[str, Any] = {}
    for name in _FIELDS:
        value = getattr(row, name)
        if name in _TIMES and value is not None:
            value = aware(value)
        values[name] = value
    values["tags"] = {str(k): str(v) for k, v in (row.tags or {}).items()}
    values["warnings"] = list(row.warnings or [])
    values["spec"] = dict(row.spec)
    values["runner"] = dict(row.runner)
    return JobRecord(**values)


@dataclass(frozen=True)
class ParentState:
    """A pipeline or sweep without its documents: what advancing it reads on every tick."""

    name: str
    type: str
    status: str
    cancel_requested: bool
    started_at: datetime | None
    display_name: str | None
    experiment_name: str
    result: dict[str, Any] | None


@dataclass(frozen=True)
class ChildState:
    name: str
    type: str
    step: str | None
    status: str
    cancel_requested: bool
    error: str | None
    reused_from: str | None


@dataclass(frozen=True)
class LogChunk:
    seq: int
    stream: str
    text: str
    ts: datetime


@dataclass(frozen=True)
class OutputRecord:
    name: str
    type: str
    uri: str
    asset_kind: str | None
    asset_name: str | None
    asset_version: str | None
    created_at: datetime


@dataclass(frozen=True)
class LineageEdge:
    job: str
    direction: str
    port: str
    asset_kind: str
    asset_name: str
    asset_version: str


@dataclass(frozen=True)
class JobFilter:
    statuses: tuple[str, ...] = ()
    experiment_name: str | None = None
    tags: tuple[tuple[str, str | None], ...] = ()
    parent: str | None = None
    compute: str | None = None
    #: only jobs without a parent
    top_level: bool = False
    #: command, pipeline or sweep
    types: tuple[str, ...] = ()
    #: a case-insensitive part of the name or the display name
    text: str | None = None


#: what a listing can be ordered by; every order ends with the name, so it is total
SORTS = ("created_at", "name", "status", "experiment", "started_at", "duration")
#: orders whose column is never NULL: a page continues after the last row's key (keyset);
#: the others (not started, still running) continue after a count of rows
KEYSET_SORTS = ("created_at", "name", "status", "experiment")


@dataclass(frozen=True)
class JobPage:
    """One page of a listing and where the next one starts (None: this was the last)."""

    records: list[JobRecord]
    #: the last row's (sort value, name), for a keyset order
    last_key: tuple[Any, str] | None
    #: how many rows the listing skipped to reach this page's end, for other orders
    next_offset: int | None


class JobRepository:
    def __init__(self, session: Session) -> None:
        self.session = session
        self.dialect = session.get_bind().dialect.name

    # ------------------------------------------------------------------------- rows
    def exists(self, name: str) -> bool:
        return self.session.get(JobRow, name) is not None

    def get(self, name: str) -> JobRecord | None:
        row = self.session.get(JobRow, name)
        return _record(row) if row else None

    def lock(self, name: str) -> JobRecord | None:
        """Read a job for update: its row stays locked until the transaction ends."""
        row = self.session.get(JobRow, name, with_for_update=self.dialect == "postgresql")
        return _record(row) if row else None

    def insert(self, **values: Any) -> JobRecord:
        now = utcnow()
        values.setdefault("created_at", now)
        values.setdefault("updated_at", now)
        values.setdefault("warnings", [])
        values.setdefault("cancel_requested", False)
        values.setdefault("log_seq", 0)
        row = JobRow(**values)
        self.session.add(row)
        self.session.flush()
        return _record(row)

    def update(self, name: str, **values: Any) -> JobRecord:
        row = self.session.get(JobRow, name)
        assert row is not None, name
        for key, value in values.items():
            setattr(row, key, value)
        row.updated_at = utcnow()
        self.session.flush()
        return _record(row)

    def _where(self, query: Any, where: JobFilter) -> Any:
        if where.top_level:
            query = query.where(JobRow.parent.is_(None))
        if where.parent is not None:
            query = query.where(JobRow.parent == where.parent)
        if where.statuses:
            query = query.where(JobRow.status.in_(where.statuses))
        if where.types:
            query = query.where(JobRow.type.in_(where.types))
        if where.experiment_name is not None:
            query = query.where(JobRow.experiment_name == where.experiment_name)
        if where.compute is not None:
            query = query.where(JobRow.compute == where.compute)
        if where.text:
            # SQLite's LIKE already ignores ASCII case (as its lower() does): no lower() per row
            if self.dialect == "sqlite":
                query = query.where(
                    or_(
                        JobRow.name.contains(where.text, autoescape=True),
                        JobRow.display_name.contains(where.text, autoescape=True),
                    )
                )
            else:
                query = query.where(
                    or_(
                        JobRow.name.icontains(where.text, autoescape=True),
                        JobRow.display_name.icontains(where.text, autoescape=True),
                    )
                )
        return query

    def _sort_column(self, order_by: str) -> Any:
        if order_by == "duration":
            if self.dialect == "sqlite":
                return func.julianday(JobRow.ended_at) - func.julianday(JobRow.started_at)
            return JobRow.ended_at - JobRow.started_at
        columns = {
            "created_at": JobRow.created_at,
            "name": JobRow.name,
            "status": JobRow.status,
            "experiment": JobRow.experiment_name,
            "started_at": JobRow.started_at,
        }
        return columns[order_by]

    def list_page(
        self,
        where: JobFilter,
        *,
        order_by: str = "created_at",
        descending: bool = True,
        after: tuple[Any, str] | None = None,
        offset: int = 0,
        limit: int = 100,
    ) -> JobPage:
        """One page of jobs in the given order. The rows are found by name first, from the
        indexes alone when they cover the filter (no job document is read), and only the
        page's rows are loaded whole."""
        column = self._sort_column(order_by)
        keyset = order_by in KEYSET_SORTS
        first = _direction(column, descending)
        # NULLs (not started, still running) last in both directions and on both databases
        order = [first if keyset else first.nulls_last(), _direction(JobRow.name, descending)]
        # only what the order needs (and the tags, to filter them): the index covers it
        wanted = [JobRow.name, column, *([JobRow.tags] if where.tags else [])]
        query = self._where(select(*wanted), where).order_by(*order)
        if keyset and after is not None:
            value, name = after
            if order_by == "created_at" and isinstance(value, str):
                value = datetime.fromisoformat(value)
            query = query.where(
                or_(
                    _beyond(column, value, descending),
                    and_(column == value, _beyond(JobRow.name, name, descending)),
                )
            )
        found: list[tuple[str, Any]] = []
        scanned = 0
        if not where.tags:
            rows = self.session.execute(
                query.offset(offset if after is None else 0).limit(limit)
            ).all()
            found = [(str(r[0]), r[1]) for r in rows]
            scanned = len(rows)
        else:
            # tags are a JSON map: filter in Python, in batches of the ordered listing
            start = offset if after is None else 0
            while len(found) < limit:
                rows = self.session.execute(query.offset(start).limit(500)).all()
                for row in rows:
                    scanned += 1
                    tags = row[2] or {}
                    if all(k in tags and (v is None or str(tags[k]) == v) for k, v in where.tags):
                        found.append((str(row[0]), row[1]))
                        if len(found) >= limit:
                            break
                if len(rows) < 500:
                    break
                start += 500
        names = [n for n, _ in found]
        full = {
            r.name: r for r in self.session.scalars(select(JobRow).where(JobRow.name.in_(names)))
        }
        records = [_record(full[n]) for n, _ in found if n in full]
        more = len(found) >= limit
        last = found[-1] if found and more else None
        return JobPage(
            records=records,
            last_key=(last[1], last[0]) if keyset and last is not None else None,
            next_offset=offset + scanned if not keyset and more else None,
        )

    def count(self, where: JobFilter) -> int:
        """How many jobs match (tags are not counted: they are filtered in Python)."""
        query = self._where(select(func.count()).select_from(JobRow), where)
        return int(self.session.scalar(query) or 0)

    def search(self, where: JobFilter, *, offset: int = 0, limit: int = 100) -> list[JobRecord]:
        query = self._where(select(JobRow), where)
        rows: Iterable[JobRow]
        if not where.tags:
            query = query.order_by(JobRow.created_at.desc(), JobRow.name.desc())
            rows = self.session.scalars(query.offset(offset).limit(limit)).all()
            return [_record(r) for r in rows]
        # tags are a JSON map: filter in Python, in pages of the ordered listing
        found: list[JobRecord] = []
        skipped = 0
        batch_start = 0
        ordered = query.order_by(JobRow.created_at.desc(), JobRow.name.desc())
        while len(found) < limit:
            rows = self.session.scalars(ordered.offset(batch_start).limit(500)).all()
            if not rows:
                break
            batch_start += 500
            for row in rows:
                tags = row.tags or {}
                if all(k in tags and (v is None or str(tags[k]) == v) for k, v in where.tags):
                    if skipped < offset:
                        skipped += 1
                        continue
                    found.append(_record(row))
                    if len(found) >= limit:
                        break
        return found

    # ------------------------------------------------------------------------- queue
    def computes_with_queued_jobs(self) -> list[str]:
        return list(
            self.session.scalars(
                select(JobRow.compute)
                .where(JobRow.status == "queued", JobRow.type.in_(RUNNABLE))
                .distinct()
            )
        )

    def count_active(self, compute: str) -> int:
        return int(
            self.session.scalar(
                select(func.count())
                .select_from(JobRow)
                .where(
                    JobRow.compute == compute,
                    JobRow.status.in_(ACTIVE),
                    JobRow.type.in_(RUNNABLE),
                )
            )
            or 0
        )

    def count_queued(self, compute: str) -> int:
        return int(
            self.session.scalar(
                select(func.count())
                .select_from(JobRow)
                .where(
                    JobRow.compute == compute,
                    JobRow.status == "queued",
                    JobRow.type.in_(RUNNABLE),
                )
            )
            or 0
        )

    def serialise_compute(self, compute: str) -> None:
        """Make concurrent schedulers take one compute's slots one at a time (PostgreSQL)."""
        if self.dialect == "postgresql":
            self.session.execute(
                text("SELECT pg_advisory_xact_lock(hashtext(:key))"),
                {"key": f"forgeml.compute.{compute}"},
            )

    def take_queued(self, compute: str, limit: int) -> list[str]:
        """The oldest queued jobs of a compute, locked so no other scheduler takes them."""
        if limit <= 0:
            return []
        query = (
            select(JobRow.name)
            .where(JobRow.status == "queued", JobRow.compute == compute, JobRow.type.in_(RUNNABLE))
            .order_by(JobRow.queued_at, JobRow.name)
            .limit(limit)
        )
        if self.dialect == "postgresql":
            query = query.with_for_update(skip_locked=True)
        return list(self.session.scalars(query))

    def active(self) -> list[JobRecord]:
        rows = self.session.scalars(
            select(JobRow).where(JobRow.status.in_(ACTIVE), JobRow.type.in_(RUNNABLE))
        ).all()
        return [_record(r) for r in rows]

    def outputs_of(self, names: list[str]) -> dict[str, list[OutputRecord]]:
        """The outputs of several jobs in one query."""
        found: dict[str, list[OutputRecord]] = {n: [] for n in names}
        if names:
            rows = self.session.scalars(
                select(JobOutputRow).where(JobOutputRow.job.in_(names))
            ).all()
            for row in rows:
                found[row.job].append(_output(row))
        return found

    def open_parents(self, only: set[str] | None = None) -> list[tuple[str, str]]:
        """(name, type) of the pipelines and sweeps that have not ended (of those named in
        `only`, when given): the orchestrator's work list."""
        query = select(JobRow.name, JobRow.type).where(
            JobRow.type.in_(PARENTS), JobRow.status.in_(("queued", *ACTIVE))
        )
        if only is not None:
            if not only:
                return []
            query = query.where(JobRow.name.in_(sorted(only)))
        rows = self.session.execute(query.order_by(JobRow.created_at)).all()
        return [(str(n), str(t)) for n, t in rows]

    def parent_state(self, name: str) -> ParentState | None:
        row = self.session.execute(
            select(
                JobRow.name,
                JobRow.type,
                JobRow.status,
                JobRow.cancel_requested,
                JobRow.started_at,
                JobRow.display_name,
                JobRow.experiment_name,
                JobRow.result,
            ).where(JobRow.name == name)
        ).first()
        if row is None:
            return None
        started = aware(row[4]) if row[4] is not None else None
        return ParentState(row[0], row[1], row[2], row[3], started, row[5], row[6], row[7])

    def specs_of(self, names: list[str]) -> dict[str, dict[str, Any]]:
        """The `spec` documents of several jobs, in one query."""
        rows = self.session.execute(select(JobRow.name, JobRow.spec).where(JobRow.name.in_(names)))
        return {str(n): dict(s) for n, s in rows}

    def runner_doc(self, name: str) -> dict[str, Any] | None:
        """Only the `runner` document of a job (a parent's plan)."""
        value = self.session.scalar(select(JobRow.runner).where(JobRow.name == name))
        return dict(value) if value is not None else None

    def child_states(self, parent: str) -> list[ChildState]:
        """A parent's children, only what orchestration reads (no documents): cheap to poll."""
        rows = self.session.execute(
            select(
                JobRow.name,
                JobRow.type,
                JobRow.step,
                JobRow.status,
                JobRow.cancel_requested,
                JobRow.error,
                JobRow.reused_from,
            )
            .where(JobRow.parent == parent)
            .order_by(JobRow.created_at, JobRow.name)
        ).all()
        return [ChildState(*row) for row in rows]

    def children(self, parent: str) -> list[JobRecord]:
        rows = self.session.scalars(
            select(JobRow).where(JobRow.parent == parent).order_by(JobRow.created_at, JobRow.name)
        ).all()
        return [_record(r) for r in rows]

    def reusable(self, key: str) -> list[JobRecord]:
        """Completed jobs with this reuse key, newest first."""
        rows = self.session.scalars(
            select(JobRow)
            .where(JobRow.reuse_key == key, JobRow.status == "completed")
            .order_by(JobRow.ended_at.desc())
            .limit(5)
        ).all()
        return [_record(r) for r in rows]

    def renew_leases(self, owner: str, names: list[str], expires: datetime) -> None:
        if names:
            self.session.execute(
                update(JobRow)
                .where(JobRow.name.in_(names), JobRow.lease_owner == owner)
                .values(lease_expires_at=expires)
            )

    def running_past(self, now: datetime) -> list[JobRecord]:
        """Active jobs whose lease ran out: their scheduler stopped renewing it."""
        rows = self.session.scalars(
            select(JobRow).where(
                JobRow.status.in_(ACTIVE),
                JobRow.type.in_(RUNNABLE),
                or_(JobRow.lease_expires_at.is_(None), JobRow.lease_expires_at < now),
            )
        ).all()
        return [_record(r) for r in rows]

    # ------------------------------------------------------------------------- logs
    def append_log(self, name: str, stream: str, text_: str, ts: datetime | None = None) -> int:
        """Store one chunk; the counter update locks the job row, so seqs never collide."""
        seq = self.session.scalar(
            update(JobRow)
            .where(JobRow.name == name)
            .values(log_seq=JobRow.log_seq + 1)
            .returning(JobRow.log_seq)
        )
        assert seq is not None, name
        self.session.add(
            JobLogRow(job=name, seq=int(seq), stream=stream, text=text_, ts=ts or utcnow())
        )
        self.session.flush()
        return int(seq)

    def logs(
        self, name: str, *, after: int = 0, limit: int = 1000, streams: tuple[str, ...] = ()
    ) -> list[LogChunk]:
        query = select(JobLogRow).where(JobLogRow.job == name, JobLogRow.seq > after)
        if streams:
            query = query.where(JobLogRow.stream.in_(streams))
        rows = self.session.scalars(query.order_by(JobLogRow.seq).limit(limit)).all()
        return [LogChunk(r.seq, r.stream, r.text, aware(r.ts)) for r in rows]

    def log_tail(self, name: str, stream: str, chunks: int = 20) -> list[str]:
        rows = self.session.scalars(
            select(JobLogRow.text)
            .where(JobLogRow.job == name, JobLogRow.stream == stream)
            .order_by(JobLogRow.seq.desc())
            .limit(chunks)
        ).all()
        return list(reversed(rows))

    # ------------------------------------------------------------------- outputs, lineage
    def put_output(self, job: str, **values: Any) -> OutputRecord:
        row = self.session.get(JobOutputRow, (job, values["name"]))
        if row is None:
            values.setdefault("created_at", utcnow())
            row = JobOutputRow(job=job, **values)
            self.session.add(row)
        else:
            for key, value in values.items():
                setattr(row, key, value)
        self.session.flush()
        return _output(row)

    def outputs(self, name: str) -> list[OutputRecord]:
        rows = self.session.scalars(
            select(JobOutputRow).where(JobOutputRow.job == name).order_by(JobOutputRow.name)
        ).all()
        return [_output(r) for r in rows]

    def add_edge(self, edge: LineageEdge) -> None:
        key = (edge.job, edge.direction, edge.port)
        if self.session.get(LineageRow, key) is None:
            self.session.add(LineageRow(**dataclasses.asdict(edge), created_at=utcnow()))
            self.session.flush()

    def edges(
        self,
        *,
        job: str | None = None,
        asset: tuple[str, str, str | None] | None = None,
    ) -> list[LineageEdge]:
        query = select(LineageRow)
        if job is not None:
            query = query.where(LineageRow.job == job)
        if asset is not None:
            kind, name, version = asset
            cond = and_(LineageRow.asset_kind == kind, LineageRow.asset_name == name)
            if version is not None:
                cond = and_(cond, LineageRow.asset_version == version)
            query = query.where(cond)
        rows = self.session.scalars(
            query.order_by(LineageRow.created_at, LineageRow.direction, LineageRow.port)
        ).all()
        return [
            LineageEdge(r.job, r.direction, r.port, r.asset_kind, r.asset_name, r.asset_version)
            for r in rows
        ]


def _direction(column: Any, descending: bool) -> Any:
    return column.desc() if descending else column.asc()


def _beyond(column: Any, value: Any, descending: bool) -> Any:
    """Rows after `value` in the listing's order."""
    return column < value if descending else column > value


def _output(row: JobOutputRow) -> OutputRecord:
    return OutputRecord(
        name=row.name,
        type=row.type,
        uri=row.uri,
        asset_kind=row.asset_kind,
        asset_name=row.asset_name,
        asset_version=row.asset_version,
        created_at=aware(row.created_at),
    )
