"""The studio at scale: the jobs list, its filters and a long metric chart over a seeded store.

Issue 7, item 7: "With 100,000 jobs and 50 metrics each in the store, the jobs list first renders
in under 1 s and a filter answers in under 300 ms on this machine; a chart of 100,000 metric
points stays responsive (downsample on the server)."

Run: `.venv/bin/python benchmarks/studio.py` (`--help` lists the flags; `--no-browser` measures
the API alone, `--peer` adds MLflow's own search API over the same runs).

Seeding (once; cached under benchmarks/.work/studio/ keyed by SEED_VERSION and the sizes): a real
`forgeml up` on a fresh home runs a few template jobs to their end (a command job that logs
params and metrics through MLflow, a failing one, a two-step pipeline, a two-trial sweep), so
every row shape is the app's own. The server is stopped and the templates are cloned with SQL
bulk inserts (SQLAlchemy Core, executemany, big transactions) into 100,000 top-level jobs: the
job rows (documents rewritten to the clone's name, display name, experiment, compute and tags),
their MLflow runs (the job name is the run id) with tags and a few params, 50 latest metrics per
job in `run_latest_metrics`, full histories for a handful of runs, and one run whose `loss`
history holds 100,000 points for the chart. Only ended states are seeded (completed, failed,
canceled), so the scheduler of the measured server has nothing to do.

Measured against `forgeml up --home <seeded>` on a free loopback port: the jobs list API (first
page, status filter, name search, another sort order), the studio in Debian's chromium through
Playwright (navigation to the first job row, search and status filter to the rows updating, the
Metrics tab drawing the chart) and the downsampled series API. Results go to
benchmarks/RESULTS-studio.md; the raw numbers to benchmarks/.work/studio/last-results.json.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import random
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import httpx

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
WORK = HERE / ".work" / "studio"
FORGEML = Path(sys.executable).parent / "forgeml"
#: bump when the seeded rows change shape: a cached store of another version is seeded again
SEED_VERSION = 2
CHROMIUM = os.environ.get("FORGEML_CHROMIUM", "/usr/bin/chromium")
#: as tests/studio/conftest.py launches it
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ROW = "[data-row], table tbody tr"
CHART_KEY = "loss"
CHART_POINTS = 100_000
EXPERIMENTS = [
    "fraud-detection", "churn", "image-classification", "object-detection", "segmentation",
    "ranking", "recsys", "forecasting", "nlp-sentiment", "nlp-ner", "translation", "asr",
    "tabular-automl", "anomaly", "llm-finetune", "embedding", "ctr", "pricing", "ocr", "default",
]  # fmt: skip
COMPUTES = ["local", "cpu-small", "cpu-large", "gpu-a100", "gpu-t4"]
USERS = ["local", "alice", "bob", "chen", "dana", "eli"]
TEAMS = ["vision", "nlp", "ads", "risk", "platform"]
ADJECTIVES = "amber brave calm clever cool crisp eager gentle happy keen lively lucid merry quick"
NOUNS = "apple bird boat brook cloud coast comet dune fern fig forest garden heron lake maple"
PARAMS: dict[str, list[Any]] = {
    "lr": [0.1, 0.03, 0.01, 0.003, 0.001, 0.0003],
    "batch_size": [16, 32, 64, 128, 256],
    "optimizer": ["adam", "adamw", "sgd", "lion"],
}
DISPLAY = ["train", "finetune", "evaluate", "baseline", "ablation", "sweep", "prep", "export"]


# ---------------------------------------------------------------------------- server


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    home: Path
    log: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("FORGEML_")}
        args = [str(FORGEML), "up", "--port", str(self.port), "--home", str(self.home)]
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("wb") as sink:
            self.proc = subprocess.Popen(args, stdout=sink, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + 180
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/api/v1/health", timeout=2).status_code == 200:
                    return
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"forgeml up did not start:\n{self.log.read_text()}")
            time.sleep(0.2)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)

    def rss_mib(self) -> float | None:
        if self.proc is None:
            return None
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        return None


@contextlib.contextmanager
def running(home: Path, log: Path) -> Iterator[Server]:
    server = Server(home, log)
    server.start()
    try:
        yield server
    finally:
        server.stop()


# ---------------------------------------------------------------------------- templates

_LOG = (
    "import mlflow; mlflow.log_params({'lr': 0.01, 'batch_size': 64, 'optimizer': 'adam'}); "
    "[mlflow.log_metric('loss', 1.0 / (s + 1), step=s) for s in range(5)]"
)
TEMPLATES: dict[str, dict[str, Any]] = {
    "completed": {
        "command": f'python -c "{_LOG}"',
        "environment": {"image": "python:3.11"},
        "experiment_name": "templates",
        "display_name": "train",
        "tags": {"team": "vision"},
    },
    "failed": {
        "command": "python -c \"import sys; print('diverged'); sys.exit(3)\"",
        "environment": {"image": "python:3.11"},
        "experiment_name": "templates",
        "display_name": "train",
        "tags": {"team": "vision"},
    },
    "pipeline": {
        "type": "pipeline",
        "display_name": "prep-and-train",
        "experiment_name": "templates",
        "settings": {"default_compute": "local"},
        "jobs": {
            "prep": {
                "command": "echo rows > ${{outputs.clean}}/rows.txt",
                "environment": {"image": "python:3.11"},
                "outputs": {"clean": None},
            },
            "train": {
                "command": "cat ${{inputs.rows}}/rows.txt",
                "environment": {"image": "python:3.11"},
                "inputs": {"rows": "${{parent.jobs.prep.outputs.clean}}"},
            },
        },
    },
    "sweep": {
        "type": "sweep",
        "display_name": "lr-sweep",
        "experiment_name": "templates",
        "compute": "local",
        "trial": {
            "command": (
                "python -c \"import mlflow; mlflow.log_metric('loss', ${{search_space.a}} * 0.1)\""
            ),
            "environment": {"image": "python:3.11"},
        },
        "search_space": {"a": {"type": "choice", "values": [1, 2]}},
        "sampling_algorithm": "grid",
        "objective": {"goal": "minimize", "primary_metric": "loss"},
        "limits": {"max_total_trials": 2, "max_concurrent_trials": 2},
    },
}


def run_templates(server: Server) -> dict[str, str]:
    """Submit the template jobs and wait for their end: kind -> job name."""
    names: dict[str, str] = {}
    with httpx.Client(base_url=server.url, timeout=60) as http:
        for compute in COMPUTES[1:]:
            body = {"name": compute, "type": "local", "max_concurrent_jobs": 2}
            http.post("/api/v1/computes", json=body).raise_for_status()
        for kind, body in TEMPLATES.items():
            reply = http.post("/api/v1/jobs", json=body)
            if reply.status_code != 201:
                raise RuntimeError(f"template {kind} was refused: {reply.text}")
            names[kind] = reply.json()["name"]
        deadline = time.monotonic() + 600
        for kind, name in names.items():
            while True:
                job = http.get(f"/api/v1/jobs/{name}").json()
                if job["status"] in ("completed", "failed", "canceled"):
                    break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"template {kind} ({name}) is stuck in {job['status']}")
                time.sleep(0.5)
            want = "failed" if kind == "failed" else "completed"
            if job["status"] != want:
                raise RuntimeError(f"template {kind} ({name}) {job['status']}: {job.get('error')}")
    return names


# ---------------------------------------------------------------------------- seeding


@dataclass
class Template:
    """One template job with its descendants, as rows of every table that names them."""

    name: str
    names: list[str]  # the job and its descendants
    rows: dict[str, list[dict[str, Any]]]  # table -> rows


#: the tables whose rows belong to one job (and its run), with the column naming it
JOB_TABLES = {
    "jobs": "name",
    "job_logs": "job",
    "job_outputs": "job",
    "lineage": "job",
    "runs": "run_id",
    "run_tags": "run_id",
    "run_params": "run_id",
}


def _load_template(conn: Any, name: str) -> Template:
    from sqlalchemy import text

    names = [name]
    frontier = [name]
    while frontier:
        kids = conn.execute(
            text("SELECT name FROM jobs WHERE parent IN :p").bindparams(_expanding("p", frontier))
        ).scalars()
        frontier = list(kids)
        names += frontier
    rows: dict[str, list[dict[str, Any]]] = {}
    for table, column in JOB_TABLES.items():
        query = text(f"SELECT * FROM {table} WHERE {column} IN :n").bindparams(
            _expanding("n", names)
        )
        rows[table] = [dict(r._mapping) for r in conn.execute(query)]
    return Template(name, names, rows)


def _expanding(name: str, values: list[str]) -> Any:
    from sqlalchemy import bindparam

    return bindparam(name, value=values, expanding=True)


def _rename(value: Any, old: str, new: str) -> Any:
    """Replace a template's name (and its descendants', which start with it) in a raw value:
    the JSON documents are still strings as they come from SQLite."""
    if isinstance(value, str) and old in value:
        return value.replace(old, new)
    return value


def _sqlite_ts(when: dt.datetime) -> str:
    # SQLAlchemy's SQLite DateTime storage format (what the app's rows hold)
    return when.strftime("%Y-%m-%d %H:%M:%S.%f")


@dataclass
class Plan:
    n_jobs: int
    n_metrics: int
    seed: int = 7
    pipelines: float = 0.02
    sweeps: float = 0.01
    failed: float = 0.15
    canceled: float = 0.04
    history_runs: int = 20
    history_steps: int = 500
    chart_points: int = CHART_POINTS


METRIC_KEYS_BASE = ["loss", "accuracy", "val_loss", "val_accuracy", "f1", "auc", "lr", "epoch"]


def metric_keys(n: int) -> list[str]:
    keys = list(METRIC_KEYS_BASE[:n])
    i = 0
    while len(keys) < n:
        keys.append(f"layer_{i:02d}/grad_norm")
        i += 1
    return keys


def seed_store(home: Path, plan: Plan, log: Callable[[str], None]) -> dict[str, Any]:
    """Make a fresh home holding `plan.n_jobs` top-level jobs; what was seeded."""
    if home.exists():
        shutil.rmtree(home)
    home.mkdir(parents=True)
    t0 = time.perf_counter()
    log("seeding: running the template jobs on a real server")
    with running(home, home.parent / "template-server.log") as server:
        names = run_templates(server)
        # the experiments, made by the app as a submission would make them
        with httpx.Client(base_url=server.url, timeout=60) as http:
            for exp in EXPERIMENTS:
                reply = http.post("/api/2.0/mlflow/experiments/create", json={"name": exp})
                if reply.status_code != 200 and "already exists" not in reply.text.lower():
                    reply.raise_for_status()
    t_templates = time.perf_counter() - t0
    log(f"seeding: templates done in {t_templates:.0f} s: {names}")
    info = _bulk(home / "forgeml.db", names, plan, log)
    info["templates_s"] = round(t_templates, 1)
    info["total_s"] = round(time.perf_counter() - t0, 1)
    return info


def _bulk(
    db: Path, names: dict[str, str], plan: Plan, log: Callable[[str], None]
) -> dict[str, Any]:
    from sqlalchemy import create_engine, event, text

    engine = create_engine(f"sqlite:///{db}")

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn: Any, _record: Any) -> None:
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        # a seed is rebuilt from scratch when interrupted: durability buys nothing here
        cur.execute("PRAGMA synchronous=OFF")
        cur.execute("PRAGMA cache_size=-262144")
        cur.execute("PRAGMA temp_store=MEMORY")
        cur.close()

    rng = random.Random(plan.seed)
    timings: dict[str, float] = {}
    with engine.begin() as conn:
        templates = {k: _load_template(conn, v) for k, v in names.items()}
        experiments = {
            str(r[0]): int(r[1])
            for r in conn.execute(text("SELECT name, experiment_id FROM experiments"))
        }
        # secondary indexes are built once at the end: faster than keeping them up per row
        dropped = [
            (str(n), str(sql))
            for n, sql in conn.execute(
                text(
                    "SELECT name, sql FROM sqlite_master WHERE type='index' AND sql IS NOT NULL "
                    "AND tbl_name IN ('jobs','runs','run_latest_metrics','run_tags','run_params')"
                )
            )
        ]
        for name, _ in dropped:
            conn.exec_driver_sql(f'DROP INDEX "{name}"')
    keys = metric_keys(plan.n_metrics)
    end = dt.datetime(2026, 11, 27, 12, 0, tzinfo=dt.UTC)
    span = dt.timedelta(days=180).total_seconds()
    adjectives, nouns = ADJECTIVES.split(), NOUNS.split()
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
    # oldest first, so names and created times go up together as a live store's do
    starts = sorted(end.timestamp() - rng.random() * span for _ in range(plan.n_jobs))
    counts = {t: 0 for t in ("jobs", "runs", "run_tags", "run_params", "run_latest_metrics")}
    counts |= {"job_logs": 0, "job_outputs": 0, "lineage": 0, "run_metrics": 0}
    by_status: dict[str, int] = {}
    by_type: dict[str, int] = {}
    all_runs: list[str] = []
    batch = 5000
    t0 = time.perf_counter()
    sample_names: dict[str, str] = {}
    for first in range(0, plan.n_jobs, batch):
        out: dict[str, list[dict[str, Any]]] = {t: [] for t in JOB_TABLES}
        latest: list[tuple[Any, ...]] = []
        for i in range(first, min(first + batch, plan.n_jobs)):
            draw = rng.random()
            if draw < plan.pipelines:
                kind, status = "pipeline", "completed"
            elif draw < plan.pipelines + plan.sweeps:
                kind, status = "sweep", "completed"
            else:
                fate = rng.random()
                if fate < plan.failed:
                    kind, status = "failed", "failed"
                elif fate < plan.failed + plan.canceled:
                    kind, status = "completed", "canceled"
                else:
                    kind, status = "completed", "completed"
            tmpl = templates[kind]
            suffix = "".join(rng.choice(alphabet) for _ in range(10))
            new = f"{rng.choice(adjectives)}_{rng.choice(nouns)}_{suffix}"
            created = dt.datetime.fromtimestamp(starts[i], dt.UTC).replace(tzinfo=None)
            duration = rng.lognormvariate(5.5, 1.2)  # seconds: median ~4 min, long tail
            experiment = EXPERIMENTS[min(int(rng.paretovariate(1.2)) - 1, len(EXPERIMENTS) - 1)]
            compute = rng.choice(COMPUTES)
            display = f"{rng.choice(DISPLAY)}-{experiment.split('-')[0]}-{i % 997}"
            tags = {"team": rng.choice(TEAMS), "priority": rng.choice(["low", "normal", "high"])}
            if rng.random() < 0.1:
                tags["release"] = "candidate"
            user = rng.choice(USERS)
            by_status[status] = by_status.get(status, 0) + 1
            by_type[tmpl.rows["jobs"][0]["type"]] = by_type.get(tmpl.rows["jobs"][0]["type"], 0) + 1
            sample_names.setdefault(f"{kind}:{status}", new)
            _clone(
                out,
                tmpl,
                new,
                status=status,
                created=created,
                duration=duration,
                experiment=experiment,
                experiment_id=experiments[experiment],
                compute=compute,
                display=display,
                tags=tags,
                user=user,
                rng=rng,
            )
            run_names = [n.replace(tmpl.name, new) for n in tmpl.names]
            all_runs.append(new)
            end_ms = int((starts[i] + duration) * 1000)
            for run in run_names:
                top = run == new
                for k, key in enumerate(keys if top else keys[:5]):
                    value = rng.random() if k else rng.lognormvariate(-1.5, 0.6)
                    latest.append((run, key, value, 0, end_ms, rng.randint(10, 10_000)))
        with engine.begin() as conn:
            for table, rows in out.items():
                if rows:
                    conn.execute(text(_insert_sql(table, rows[0])), rows)
                    counts[table] += len(rows)
            conn.exec_driver_sql(
                "INSERT INTO run_latest_metrics (run_id, key, value, is_nan, timestamp, step) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                latest,
            )
            counts["run_latest_metrics"] += len(latest)
        if first and first % 20000 == 0:
            rate = (first + batch) / (time.perf_counter() - t0)
            log(f"seeding: {first + batch} jobs, {rate:.0f} jobs/s")
    timings["rows_s"] = time.perf_counter() - t0
    log(f"seeding: rows in {timings['rows_s']:.0f} s; histories")

    t1 = time.perf_counter()
    chart_run = all_runs[-1]
    history_runs = rng.sample(all_runs, min(plan.history_runs, len(all_runs)))
    with engine.begin() as conn:
        sql = (
            "INSERT INTO run_metrics (run_id, key, timestamp, step, value, is_nan) "
            "VALUES (?, ?, ?, ?, ?, ?)"
        )
        points: list[tuple[Any, ...]]
        for run in history_runs:
            points = []
            for key in keys:
                level = rng.random()
                for step in range(plan.history_steps):
                    value = level / (1 + step / 50) + rng.gauss(0, 0.01)
                    points.append((run, key, 1_760_000_000_000 + step * 1000, step, value, 0))
            conn.exec_driver_sql(sql, points)
            counts["run_metrics"] += len(points)
        points = []
        for step in range(plan.chart_points):
            value = 2.0 / (1 + step / 2000) + 0.05 * rng.gauss(0, 1)
            points.append((chart_run, CHART_KEY, 1_760_000_000_000 + step * 100, step, value, 0))
        # its other metrics were logged once per epoch: short series beside the long one
        for key in keys:
            if key != CHART_KEY:
                level = rng.random()
                for step in range(0, plan.chart_points, max(1, plan.chart_points // 1000)):
                    value = level / (1 + step / 20000) + rng.gauss(0, 0.01)
                    points.append((chart_run, key, 1_760_000_000_000 + step * 100, step, value, 0))
        conn.exec_driver_sql(sql, points)
        counts["run_metrics"] += len(points)
        # the newest value of each history is what the run's latest metrics say
        conn.exec_driver_sql(
            "UPDATE run_latest_metrics SET (value, timestamp, step) = (SELECT m.value, "
            "m.timestamp, m.step FROM run_metrics m WHERE m.run_id = run_latest_metrics.run_id "
            "AND m.key = run_latest_metrics.key ORDER BY m.step DESC, m.timestamp DESC LIMIT 1) "
            "WHERE run_id IN (" + ", ".join("?" * (len(history_runs) + 1)) + ") AND EXISTS "
            "(SELECT 1 FROM run_metrics m WHERE m.run_id = run_latest_metrics.run_id "
            "AND m.key = run_latest_metrics.key)",
            (*history_runs, chart_run),
        )
    timings["histories_s"] = time.perf_counter() - t1
    t2 = time.perf_counter()
    log("seeding: building the secondary indexes")
    with engine.begin() as conn:
        for _, ddl in dropped:
            conn.exec_driver_sql(ddl)
        conn.exec_driver_sql("ANALYZE")
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    timings["indexes_s"] = time.perf_counter() - t2
    return {
        "version": SEED_VERSION,
        "jobs_top_level": plan.n_jobs,
        "metrics_per_job": plan.n_metrics,
        "rows": counts,
        "by_status": by_status,
        "by_type": by_type,
        "chart_run": chart_run,
        "chart_key": CHART_KEY,
        "chart_points": plan.chart_points,
        "history_runs": history_runs,
        "samples": sample_names,
        "templates": names,
        "timings_s": {k: round(v, 1) for k, v in timings.items()},
        "db_mib": round(db.stat().st_size / 2**20),
    }


def _insert_sql(table: str, row: dict[str, Any]) -> str:
    cols = list(row)
    return f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join(':' + c for c in cols)})"


def _clone(
    out: dict[str, list[dict[str, Any]]],
    tmpl: Template,
    new: str,
    *,
    status: str,
    created: dt.datetime,
    duration: float,
    experiment: str,
    experiment_id: int,
    compute: str,
    display: str,
    tags: dict[str, str],
    user: str,
    rng: random.Random,
) -> None:
    """Copy a template's rows under a new name, with this job's own fields."""
    old = tmpl.name
    started = created + dt.timedelta(seconds=1.5)
    ended = started + dt.timedelta(seconds=duration)
    run_status = {"completed": "FINISHED", "failed": "FAILED", "canceled": "KILLED"}[status]
    offset = created - _parse_ts(tmpl.rows["jobs"][0]["created_at"])
    for table, rows in tmpl.rows.items():
        for row in rows:
            new_row = {k: _rename(v, old, new) for k, v in row.items()}
            for column in ("created_at", "queued_at", "prepared_at", "started_at", "ts"):
                if new_row.get(column) and table != "runs":
                    new_row[column] = _sqlite_ts(_parse_ts(new_row[column]) + offset)
            top = row.get(JOB_TABLES[table]) == old
            if table == "jobs":
                new_row["experiment_name"] = experiment
                new_row["experiment_id"] = str(experiment_id)
                new_row["created_by"] = user
                new_row["started_at"] = _sqlite_ts(started)
                new_row["ended_at"] = _sqlite_ts(ended)
                new_row["updated_at"] = _sqlite_ts(ended)
                spec = json.loads(new_row["spec"])
                runner = json.loads(new_row["runner"])
                spec["experiment_name"] = experiment
                runner["experiment_name"] = experiment
                runner["experiment_id"] = str(experiment_id)
                if top:
                    new_row["display_name"] = display
                    new_row["tags"] = json.dumps(tags)
                    spec["display_name"] = display
                    spec["tags"] = tags
                    if row["type"] == "command":
                        new_row["compute"] = compute
                        spec["compute"] = compute
                    if status == "canceled":
                        new_row.update(
                            status="canceled",
                            exit_code=None,
                            error=None,
                            cancel_requested=1,
                        )
                new_row["spec"] = json.dumps(spec)
                new_row["runner"] = json.dumps(runner)
            elif table == "runs":
                new_row["experiment_id"] = experiment_id
                new_row["start_time"] = int(started.replace(tzinfo=dt.UTC).timestamp() * 1000)
                new_row["end_time"] = int(ended.replace(tzinfo=dt.UTC).timestamp() * 1000)
                new_row["user_id"] = user
                if top:
                    new_row["status"] = run_status
                    new_row["run_name"] = display
            elif table == "run_params" and top and row["key"] in PARAMS:
                new_row["value"] = str(rng.choice(PARAMS[row["key"]]))
            elif table == "run_tags" and top:
                if row["key"] == "mlflow.runName":
                    new_row["value"] = display
                elif row["key"] == "mlflow.user":
                    new_row["value"] = user
                elif row["key"] in tags or row["key"] == "team":
                    continue
            out[table].append(new_row)
    # the user's tags on the run, as a submission mirrors them
    for key, value in tags.items():
        out["run_tags"].append({"run_id": new, "key": key, "value": value})


def _parse_ts(value: Any) -> dt.datetime:
    # naive UTC, as SQLite hands the app's rows back
    when = value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value))
    return (
        when.replace(tzinfo=None)
        if when.tzinfo is None
        else when.astimezone(dt.UTC).replace(tzinfo=None)
    )


def seeded_home(
    plan: Plan, log: Callable[[str], None], *, reseed: bool
) -> tuple[Path, dict[str, Any]]:
    folder = WORK / f"seed-v{SEED_VERSION}-{plan.n_jobs}x{plan.n_metrics}"
    marker = folder / "seed.json"
    if marker.is_file() and not reseed:
        info = json.loads(marker.read_text())
        log(f"using the seeded store in {folder} (seeded in {info['total_s']} s)")
        return folder / "home", info
    folder.mkdir(parents=True, exist_ok=True)
    marker.unlink(missing_ok=True)
    info = seed_store(folder / "home", plan, log)
    marker.write_text(json.dumps(info, indent=2))
    log(f"seeded in {info['total_s']} s ({info['db_mib']} MiB)")
    return folder / "home", info


# ---------------------------------------------------------------------------- API


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = max(0, min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1))))
    return ordered[k]


@dataclass
class Sample:
    label: str
    target_ms: float | None
    values_ms: list[float] = field(default_factory=list)
    note: str = ""
    #: the server process's CPU time (user + system) per request, averaged over the calls
    cpu_ms: float | None = None
    failures: int = 0
    failure: str = ""

    def fail(self, message: str) -> None:
        """A visit that did not get there: counted and said, not timed."""
        self.failures += 1
        self.failure = message

    def row(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "n": len(self.values_ms),
            "server_cpu_ms": round(self.cpu_ms, 1) if self.cpu_ms is not None else None,
            "p50_ms": round(pct(self.values_ms, 50), 1) if self.values_ms else None,
            "p95_ms": round(pct(self.values_ms, 95), 1) if self.values_ms else None,
            "target_ms": self.target_ms,
            "note": "; ".join(
                p
                for p in (
                    self.note,
                    f"{self.failures} visit(s) failed, last: {self.failure}"
                    if self.failures
                    else "",
                )
                if p
            ),
        }


def cpu_s(pid: int | None) -> float | None:
    """CPU time so far (user + system, seconds) of a process and its descendants (MLflow's
    server runs its web server as a child)."""
    if pid is None:
        return None
    stats: dict[int, tuple[int, float]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks = int(fields[11]) + int(fields[12])
        stats[int(entry.name)] = (int(fields[1]), ticks / os.sysconf("SC_CLK_TCK"))
    if pid not in stats:
        return None
    tree = {pid}
    grew = True
    while grew:
        kids = {p for p, (ppid, _) in stats.items() if ppid in tree} - tree
        grew = bool(kids)
        tree |= kids
    return sum(stats[p][1] for p in tree)


def timed(sample: Sample, call: Callable[[], httpx.Response], reps: int, pid: int | None) -> None:
    """Make the call `reps` times: the wall time of each, and the server's CPU per call."""
    before = cpu_s(pid)
    for _ in range(reps):
        t0 = time.perf_counter()
        reply = call()
        sample.values_ms.append((time.perf_counter() - t0) * 1000)
        reply.raise_for_status()
    after = cpu_s(pid)
    if before is not None and after is not None and reps:
        sample.cpu_ms = (after - before) * 1000 / reps


def measure_api(server: Server, info: dict[str, Any], reps: int) -> list[Sample]:
    pid = server.proc.pid if server.proc else None
    found: list[Sample] = []
    http = httpx.Client(base_url=server.url, timeout=120)
    term = info["samples"]["completed:completed"].split("_")[1]  # a noun: ~1/15 of names
    exp = "churn"
    cases: list[tuple[str, dict[str, Any], float, Callable[[dict[str, Any]], str]]] = [
        ("first page (limit 50, newest first)", {}, 1000, _check_sorted("created_at", True)),
        ("first page with total=true", {"total": "true"}, 1000, _check_total),
        ("status=failed", {"status": "failed"}, 300, _check_field("status", "failed")),
        ("status=canceled", {"status": "canceled"}, 300, _check_field("status", "canceled")),
        (
            "status=failed, total=true",
            {"status": "failed", "total": "true"},
            300,
            _check_total,
        ),
        (
            f"experiment_name={exp}",
            {"experiment_name": exp},
            300,
            _check_field("experiment_name", exp),
        ),
        (f"search={term} (~1 in 15 names)", {"search": term}, 300, _check_search(term)),
        (f"search={term}, total=true", {"search": term, "total": "true"}, 300, _check_total),
        ("search=zzzzq (no match)", {"search": "zzzzq"}, 300, _check_search("zzzzq")),
        ("type=pipeline", {"type": "pipeline"}, 300, _check_field("type", "pipeline")),
        ("type=sweep", {"type": "sweep"}, 300, _check_field("type", "sweep")),
        ("type=command", {"type": "command"}, 300, _check_field("type", "command")),
        (
            f"status=failed + experiment + search={term}",
            {"status": "failed", "experiment_name": exp, "search": term},
            300,
            _check_search(term),
        ),
        ("order_by=name, asc", {"order_by": "name", "order": "asc"}, 300, _check_sorted("name")),
        ("order_by=status", {"order_by": "status"}, 300, _check_sorted("status", True)),
        (
            "order_by=experiment",
            {"order_by": "experiment"},
            300,
            _check_sorted("experiment_name", True),
        ),
        ("order_by=duration (longest first)", {"order_by": "duration"}, 300, lambda _: ""),
        ("order_by=started_at, asc", {"order_by": "started_at", "order": "asc"}, 300, lambda _: ""),
        ("tag=release=candidate (~1 in 10 jobs)", {"tag": "release=candidate"}, 300, _check_tag),
    ]
    pages = [
        ("page 20 (token followed), newest first", {}),
        ("page 20, order_by=duration", {"order_by": "duration"}),
    ]
    for label, params in pages:
        query: dict[str, Any] = {"limit": 50, **params}
        for _ in range(19):
            token = http.get("/api/v1/jobs", params=query).json().get("next_token")
            if not token:
                break
            query["page_token"] = token
        cases.append((label, query, 300, lambda _: ""))
    for label, params, target, check in cases:
        sample = Sample(f"jobs list: {label}", target)
        query = {"limit": 50, **params}
        first = http.get("/api/v1/jobs", params=query)
        if first.status_code != 200:
            sample.note = f"HTTP {first.status_code}: {first.text[:200]}"
            found.append(sample)
            continue
        sample.note = check(first.json())
        timed(sample, partial(http.get, "/api/v1/jobs", params=query), reps, pid)
        found.append(sample)

    job = info["samples"]["completed:completed"]
    for label, path in [
        ("get a job", f"/api/v1/jobs/{job}"),
        ("a job's run summary (50 metrics)", f"/api/v1/jobs/{job}/run"),
        ("get a pipeline job", f"/api/v1/jobs/{info['samples']['pipeline:completed']}"),
    ]:
        sample = Sample(label, 300)
        timed(sample, partial(http.get, path), reps, pid)
        found.append(sample)

    run = info["chart_run"]
    for points in (1000, 5000):
        sample = Sample(
            f"metric series, {info['chart_points']:,} points -> max_points={points}", 300
        )
        wanted: dict[str, Any] = {"job": run, "key": CHART_KEY, "max_points": points}
        timed(sample, partial(http.get, "/api/v1/metrics/series", params=wanted), reps, pid)
        reply = http.get("/api/v1/metrics/series", params=wanted)
        body = reply.json()["items"][0]
        size = len(reply.content)
        sample.note = (
            f"{len(body['points'])} points back of {body['total']}, "
            f"downsampled={body['downsampled']}, {size / 1024:.0f} KiB"
        )
        found.append(sample)
    http.close()
    return found


def _check_field(key: str, value: str) -> Callable[[dict[str, Any]], str]:
    def check(body: dict[str, Any]) -> str:
        items = body["items"]
        if any(j.get(key) != value for j in items):
            return f"`{key}` not applied by the server: other rows came back"
        return f"{len(items)} rows"

    return check


def _check_search(term: str) -> Callable[[dict[str, Any]], str]:
    def check(body: dict[str, Any]) -> str:
        items = body["items"]
        hay = [(j["name"] + " " + (j.get("display_name") or "")).lower() for j in items]
        if any(term.lower() not in h for h in hay):
            return "`search` not applied by the server: the rows are the unfiltered list"
        return f"{len(items)} rows"

    return check


def _check_sorted(key: str, descending: bool = False) -> Callable[[dict[str, Any]], str]:
    def check(body: dict[str, Any]) -> str:
        def value(job: dict[str, Any]) -> Any:
            if key == "created_at":
                return (job.get("creation_context") or {}).get("created_at") or ""
            return job.get(key) or ""

        values = [value(j) for j in body["items"]]
        if values != sorted(values, reverse=descending):
            return f"rows not in `{key}` order"
        return ""

    return check


def _check_total(body: dict[str, Any]) -> str:
    total = body.get("total")
    return f"total {total:,}" if isinstance(total, int) else "no `total` in the reply"


def _check_tag(body: dict[str, Any]) -> str:
    bad = [j for j in body["items"] if (j.get("tags") or {}).get("release") != "candidate"]
    return "tag filter not applied" if bad else ""


def verify_api(server: Server, info: dict[str, Any]) -> list[str]:
    """The seeded rows through the real API: each sample job, its run and the list."""
    problems = []
    with httpx.Client(base_url=server.url, timeout=120) as http:
        page = http.get("/api/v1/jobs", params={"limit": 50})
        want = min(50, info["jobs_top_level"])
        if page.status_code != 200 or len(page.json()["items"]) < want:
            problems.append(f"GET /api/v1/jobs: {page.status_code} {page.text[:300]}")
        for key, name in info["samples"].items():
            for path in (f"/api/v1/jobs/{name}", f"/api/v1/jobs/{name}/run"):
                reply = http.get(path)
                if reply.status_code != 200:
                    problems.append(f"{key}: GET {path}: {reply.status_code} {reply.text[:300]}")
            job = http.get(f"/api/v1/jobs/{name}").json()
            want = key.split(":")[1]
            if job.get("status") != want:
                problems.append(f"{key}: status {job.get('status')}, expected {want}")
        summary = http.get(f"/api/v1/jobs/{info['samples']['completed:completed']}/run").json()
        if len(summary.get("metrics", [])) != info["metrics_per_job"]:
            problems.append(f"run summary has {len(summary.get('metrics', []))} metrics")
    return problems


# ---------------------------------------------------------------------------- browser

#: records, relative to navigation start, when the first job row and a chart canvas appear
WATCH = """
(() => {
  window.__bench = {firstRow: null, chart: null, charts: null, longest: 0, blocking: 0};
  const look = () => {
    const b = window.__bench;
    if (b.firstRow === null && document.querySelector('%ROW%')) b.firstRow = performance.now();
    if (b.chart === null && document.querySelector('%CHART%')) b.chart = performance.now();
    // every chart of the first screen drawn (the page reads a chart's series as it comes
    // near the screen, so the ones further down are drawn as the user scrolls)
    const near = Array.from(document.querySelectorAll('.chart'))
      .filter(c => c.getBoundingClientRect().top < innerHeight);
    if (b.charts === null && near.length > 0 && near.every(c => c.querySelector('canvas')))
      b.charts = performance.now();
  };
  new MutationObserver(look).observe(document, {childList: true, subtree: true});
  // main-thread tasks over 50 ms: what makes a page feel stuck while it draws
  new PerformanceObserver(list => {
    for (const e of list.getEntries()) {
      window.__bench.longest = Math.max(window.__bench.longest, e.duration);
      window.__bench.blocking += Math.max(0, e.duration - 50);
    }
  }).observe({type: 'longtask', buffered: true});
})();
"""


def watch_script(info: dict[str, Any]) -> str:
    chart = f'.chart[aria-label="Chart of {info["chart_key"]}"] canvas'
    return WATCH.replace("%ROW%", ROW.replace("'", "\\'")).replace(
        "%CHART%", chart.replace("'", "\\'")
    )


#: set a control's value as a user does (React listens to input/change) and time until
#: `done()` holds for the rows, watched on every DOM change; also when the page's jobs request
#: left (after any debounce) and how long the server took to answer it
CHANGE = """
async ([selector, value, event, predicate, timeoutMs]) => {
  const el = document.querySelector(selector);
  if (!el) return {error: 'no control ' + selector};
  const done = new Function('rows', predicate);
  const rows = () => Array.from(document.querySelectorAll('%ROW%'));
  const before = rows().map(r => r.textContent).join('|');
  return await new Promise(resolve => {
    const t0 = performance.now();
    const finish = (extra) => {
      obs.disconnect(); clearTimeout(timer);
      const t1 = performance.now();
      const reqs = performance.getEntriesByType('resource').filter(
        e => e.name.includes('/api/v1/jobs?') && e.startTime >= t0 && e.responseEnd <= t1);
      const req = reqs[reqs.length - 1];
      resolve({ms: t1 - t0, sent: req ? req.startTime - t0 : null,
               fetchMs: req ? req.responseEnd - req.startTime : null, ...extra});
    };
    const check = () => {
      const now = rows();
      const text = now.map(r => r.textContent).join('|');
      if (text !== before && done(now)) finish({rows: now.length});
    };
    const obs = new MutationObserver(check);
    obs.observe(document.body, {childList: true, subtree: true, characterData: true});
    const timer = setTimeout(() => finish({error: 'timeout', rows: rows().length}), timeoutMs);
    const proto = el.tagName === 'SELECT'
      ? HTMLSelectElement.prototype : HTMLInputElement.prototype;
    Object.getOwnPropertyDescriptor(proto, 'value').set.call(el, value);
    el.dispatchEvent(new Event(event, {bubbles: true}));
  });
}
""".replace("%ROW%", ROW.replace("'", "\\'"))

#: where the first render's time goes: the page's own scripts, and the jobs request
PHASES = """
() => {
  const nav = performance.getEntriesByType('navigation')[0];
  const res = performance.getEntriesByType('resource');
  const js = res.filter(e => e.initiatorType === 'script' || e.name.endsWith('.js'));
  const jobs = res.filter(e => e.name.includes('/api/v1/jobs?'))[0];
  return {
    'HTML': nav ? nav.responseEnd : null,
    'scripts loaded': js.length ? Math.max(...js.map(e => e.responseEnd)) : null,
    'jobs request sent': jobs ? jobs.startTime : null,
    'jobs answer in': jobs ? jobs.responseEnd : null,
  };
}
"""

#: the Metrics tab's series requests: how many, and when the long one was asked, sent (a
#: browser holds at most 6 connections to one server: the rest wait) and answered
SERIES = """
(key) => {
  const all = performance.getEntriesByType('resource').filter(
    e => e.name.includes('/api/v1/metrics/series'));
  const long = all.find(e => new URL(e.name).searchParams.get('key') === key);
  return {
    'series requests': all.length,
    [key + ' asked at ms']: long ? long.startTime : null,
    [key + ' sent at ms']: long ? long.requestStart : null,
    [key + ' answered at ms']: long ? long.responseEnd : null,
    'last series answered at ms': all.length ? Math.max(...all.map(e => e.responseEnd)) : null,
  };
}
"""

SEARCH_BOX = [
    "#jobs-search",
    "input[type=search]",
    "input[aria-label*='earch' i]",
    "input[placeholder*='earch' i]",
]
STATUS_SELECT = ["#jobs-status", "select[aria-label*='tatus' i]", "select[name=status]"]
VIEWPORT = {"width": 1440, "height": 900}


@dataclass
class Browsing:
    first: Sample
    search: Sample
    search_sent: Sample
    status: Sample
    url_filter: Sample
    chart: Sample
    charts: Sample
    phases: dict[str, list[float]] = field(default_factory=dict)
    series: dict[str, list[float]] = field(default_factory=dict)
    longest: list[float] = field(default_factory=list)
    blocking: list[float] = field(default_factory=list)

    def all(self) -> list[Sample]:
        return [
            self.first,
            self.search,
            self.search_sent,
            self.status,
            self.url_filter,
            self.chart,
            self.charts,
        ]


def measure_browser(server: Server, info: dict[str, Any], reps: int) -> list[Sample]:
    from playwright.sync_api import sync_playwright

    points = info["chart_points"]
    b = Browsing(
        Sample("studio /jobs: navigation start -> first job row", 1000),
        Sample("studio /jobs: type in the search box -> rows updated (with the debounce)", None),
        Sample("studio /jobs: search request sent (after the debounce) -> rows updated", 300),
        Sample("studio /jobs: choose status 'failed' -> rows updated", 300),
        Sample("studio /jobs?status=failed: navigation start -> first job row", 1000),
        Sample(
            f"studio job page, Metrics tab filtered to {info['chart_key']} (`?metric=`): "
            f"navigation start -> its chart ({points:,} points)",
            1000,
        ),
        Sample(
            f"studio job page, Metrics tab of {info['metrics_per_job']} metrics: navigation "
            "start -> every chart of the first screen drawn",
            None,
        ),
    )
    term = info["samples"]["completed:completed"].split("_")[1]
    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            for rep in range(reps + 1):  # the first visit warms the caches and is not counted
                if not _browse_once(browser, server, info, b, term, counted=rep > 0):
                    break
        finally:
            browser.close()
    return b.all()


def _browse_once(
    browser: Any, server: Server, info: dict[str, Any], b: Browsing, term: str, *, counted: bool
) -> bool:
    ctx = browser.new_context(base_url=server.url, viewport=VIEWPORT)
    ctx.add_init_script(watch_script(info))
    page = ctx.new_page()
    page.set_default_timeout(30_000)
    try:
        page.goto("/jobs")
        try:
            page.wait_for_function("window.__bench.firstRow !== null", timeout=30_000)
        except Exception as exc:
            b.first.fail(f"no row ({ROW}) appeared: {str(exc).splitlines()[0]}")
            return False
        if counted:
            b.first.values_ms.append(page.evaluate("window.__bench.firstRow"))
            for key, value in page.evaluate(PHASES).items():
                if value is not None:
                    b.phases.setdefault(key, []).append(float(value))
            b.first.note = "; ".join(f"{k} p50 {pct(v, 50):.0f} ms" for k, v in b.phases.items())
        box = _first(page, SEARCH_BOX)
        if box is None:
            b.search.note = "no search box found (" + ", ".join(SEARCH_BOX) + ")"
        else:
            pred = (
                "return rows.length > 0 && rows.every("
                f"r => r.textContent.toLowerCase().includes('{term}'))"
            )
            result = page.evaluate(CHANGE, [box, term, "input", pred, 15_000])
            _record(b.search, result, counted)
            if counted and result.get("sent") is not None:
                b.search_sent.values_ms.append(result["ms"] - result["sent"])
                b.search_sent.note = "server's share (fetch): " + _share(b, result)
            # back to the whole list before the next filter
            page.evaluate(CHANGE, [box, "", "input", "return rows.length > 0", 15_000])
        select = _first(page, STATUS_SELECT)
        if select is None:
            b.status.note = "no status select found (" + ", ".join(STATUS_SELECT) + ")"
        else:
            pred = "return rows.length > 0 && rows.every(r => /failed/i.test(r.textContent))"
            _record(
                b.status, page.evaluate(CHANGE, [select, "failed", "change", pred, 15_000]), counted
            )
    finally:
        ctx.close()

    ctx = browser.new_context(base_url=server.url, viewport=VIEWPORT)
    ctx.add_init_script(watch_script(info))
    page = ctx.new_page()
    try:
        page.goto("/jobs?status=failed")
        try:
            page.wait_for_function("window.__bench.firstRow !== null", timeout=30_000)
            if counted:
                b.url_filter.values_ms.append(page.evaluate("window.__bench.firstRow"))
        except Exception as exc:
            b.url_filter.fail(f"no row appeared: {str(exc).splitlines()[0]}")
        page.goto(f"/jobs/{info['chart_run']}?tab=metrics&metric={info['chart_key']}")
        try:
            page.wait_for_function("window.__bench.chart !== null", timeout=30_000)
            if counted:
                b.chart.values_ms.append(page.evaluate("window.__bench.chart"))
        except Exception as exc:
            b.chart.fail(f"no chart of {info['chart_key']} appeared: {str(exc).splitlines()[0]}")
        page.goto(f"/jobs/{info['chart_run']}?tab=metrics")
        try:
            page.wait_for_function("window.__bench.charts !== null", timeout=30_000)
            if counted:
                b.charts.values_ms.append(page.evaluate("window.__bench.charts"))
                b.longest.append(page.evaluate("window.__bench.longest"))
                b.blocking.append(page.evaluate("window.__bench.blocking"))
                for key, value in page.evaluate(SERIES, info["chart_key"]).items():
                    if value is not None:
                        b.series.setdefault(key, []).append(float(value))
                b.charts.note = "; ".join(
                    [
                        f"longest main-thread task p50 {pct(b.longest, 50):.0f} ms",
                        f"total blocking time p50 {pct(b.blocking, 50):.0f} ms",
                        *(f"{k} p50 {pct(v, 50):.0f}" for k, v in b.series.items()),
                    ]
                )
        except Exception as exc:
            b.charts.fail(f"not every chart appeared: {str(exc).splitlines()[0]}")
    finally:
        ctx.close()
    return True


_FETCH: list[float] = []


def _share(b: Browsing, result: dict[str, Any]) -> str:
    if result.get("fetchMs") is not None:
        _FETCH.append(float(result["fetchMs"]))
    return f"p50 {pct(_FETCH, 50):.0f} ms" if _FETCH else "?"


def _first(page: Any, selectors: list[str]) -> str | None:
    for selector in selectors:
        if page.query_selector(selector) is not None:
            return selector
    return None


def _record(sample: Sample, result: dict[str, Any], counted: bool) -> None:
    if result.get("error"):
        sample.fail(f"{result['error']} (rows: {result.get('rows')})")
    elif counted:
        sample.values_ms.append(float(result["ms"]))


# ---------------------------------------------------------------------------- peer

MLFLOW = Path(sys.executable).parent / "mlflow"
QUIET = {"MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true", "PYTHONWARNINGS": "ignore"}


def seed_mlflow(folder: Path, forgeml_db: Path, log: Callable[[str], None]) -> Path:
    """MLflow's own SQLite store holding the same experiments, runs, tags, params and metrics,
    copied row for row from the seeded forgeml store (MLflow creates its schema first)."""
    db = folder / "mlflow.db"
    marker = folder / "mlflow-seeded"
    if marker.is_file() and db.is_file():
        return db
    db.unlink(missing_ok=True)
    t0 = time.perf_counter()
    make = (
        "import sys; from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore; "
        "SqlAlchemyStore(sys.argv[1], sys.argv[2])"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")} | QUIET
    subprocess.run(
        [sys.executable, "-c", make, f"sqlite:///{db}", str(folder / "mlflow-artifacts")],
        check=True,
        env=env,
        capture_output=True,
    )
    conn = sqlite3.connect(db)
    conn.executescript(
        f"""
        PRAGMA synchronous=OFF;
        ATTACH DATABASE '{forgeml_db}' AS f;
        BEGIN;
        DELETE FROM experiments;
        INSERT INTO experiments (experiment_id, name, artifact_location, lifecycle_stage,
            creation_time, last_update_time)
          SELECT experiment_id, name, artifact_location, lifecycle_stage, creation_time,
            last_update_time FROM f.experiments;
        INSERT INTO runs (run_uuid, name, source_type, source_name, entry_point_name, user_id,
            status, start_time, end_time, source_version, lifecycle_stage, artifact_uri,
            experiment_id)
          SELECT run_id, run_name, 'JOB', run_id, '', user_id, status, start_time, end_time, '',
            lifecycle_stage, artifact_uri, experiment_id FROM f.runs;
        INSERT INTO tags (key, value, run_uuid) SELECT key, value, run_id FROM f.run_tags;
        INSERT INTO params (key, value, run_uuid) SELECT key, value, run_id FROM f.run_params;
        INSERT INTO latest_metrics (key, value, timestamp, step, is_nan, run_uuid)
          SELECT key, value, timestamp, step, is_nan, run_id FROM f.run_latest_metrics;
        INSERT INTO metrics (key, value, timestamp, run_uuid, step, is_nan)
          SELECT key, value, timestamp, run_id, step, is_nan FROM f.run_metrics;
        COMMIT;
        ANALYZE;
        """
    )
    conn.close()
    marker.write_text(f"{time.perf_counter() - t0:.0f}\n")
    log(f"peer: MLflow store copied in {time.perf_counter() - t0:.0f} s")
    return db


@contextlib.contextmanager
def mlflow_server(db: Path, log: Path) -> Iterator[tuple[str, int]]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FORGEML_", "MLFLOW_"))}
    env |= QUIET | {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    args = [str(MLFLOW), "server", "--backend-store-uri", f"sqlite:///{db}"]
    args += ["--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
    with log.open("wb") as sink:
        proc = subprocess.Popen(args, stdout=sink, stderr=subprocess.STDOUT, env=env, cwd=db.parent)
    try:
        deadline = time.monotonic() + 180
        while True:
            with contextlib.suppress(httpx.HTTPError):
                probe = httpx.get(f"{url}/api/2.0/mlflow/experiments/search?max_results=1")
                if probe.status_code == 200:
                    break
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"mlflow server did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.5)
        yield url, proc.pid
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)


def measure_search(
    url: str,
    who: str,
    info: dict[str, Any],
    experiment_ids: list[str],
    reps: int,
    pid: int | None,
) -> list[Sample]:
    """MLflow's runs/search over every experiment (as a list of all jobs is), 50 a page."""
    cases = [
        ("newest first", ""),
        ("status = FAILED", "attributes.status = 'FAILED'"),
        ("run name ILIKE %ablation% (1 in 8)", "attributes.run_name ILIKE '%ablation%'"),
        ("metric filter (accuracy > 0.9)", "metrics.accuracy > 0.9"),
    ]
    found = []
    with httpx.Client(base_url=url, timeout=300) as http:
        for label, flt in cases:
            body = {
                "experiment_ids": experiment_ids,
                "filter": flt,
                "max_results": 50,
                "order_by": ["attributes.start_time DESC"],
            }
            sample = Sample(f"{who}: runs/search, {label}", None)
            first = http.post("/api/2.0/mlflow/runs/search", json=body)
            if first.status_code != 200:
                sample.note = f"HTTP {first.status_code}: {first.text[:200]}"
                found.append(sample)
                continue
            sample.note = (
                f"{len(first.json().get('runs', []))} runs, {len(first.content) / 1024:.0f} KiB"
            )
            timed(
                sample,
                partial(http.post, "/api/2.0/mlflow/runs/search", json=body),
                reps,
                pid,
            )
            found.append(sample)
        sample = Sample(f"{who}: metrics/get-history, {info['chart_points']:,} points", None)
        params = {"run_id": info["chart_run"], "metric_key": info["chart_key"]}
        if who.startswith("MLflow"):
            params["max_results"] = str(info["chart_points"])
        for _ in range(3):
            t0 = time.perf_counter()
            reply = http.get("/api/2.0/mlflow/metrics/get-history", params=params)
            sample.values_ms.append((time.perf_counter() - t0) * 1000)
            if reply.status_code != 200:
                sample.note = f"HTTP {reply.status_code}: {reply.text[:200]}"
                break
            got = len(reply.json().get("metrics", []))
            sample.note = (
                f"{got:,} points, {len(reply.content) / 2**20:.1f} MiB (not paged further)"
            )
        found.append(sample)
        # what MLflow's UI charts with: a sample of at most max_results points per run
        sample = Sample(f"{who}: metrics/get-history-bulk-interval, max_results=1000", None)
        params = {
            "run_ids": info["chart_run"],
            "metric_key": info["chart_key"],
            "max_results": "1000",
        }
        for _ in range(reps):
            t0 = time.perf_counter()
            reply = http.get(
                "/ajax-api/2.0/mlflow/metrics/get-history-bulk-interval", params=params
            )
            sample.values_ms.append((time.perf_counter() - t0) * 1000)
            if reply.status_code != 200:
                sample.note = f"HTTP {reply.status_code}: {reply.text[:120]}"
                sample.values_ms.clear()
                break
            sample.note = f"{len(reply.json().get('metrics', [])):,} points"
        found.append(sample)
    return found


def measure_peer(
    server: Server, folder: Path, info: dict[str, Any], reps: int, log: Callable[[str], None]
) -> list[Sample]:
    db = seed_mlflow(folder, server.home / "forgeml.db", log)
    with httpx.Client(base_url=server.url, timeout=60) as http:
        exps = http.get("/api/2.0/mlflow/experiments/search", params={"max_results": 1000})
        ids = [e["experiment_id"] for e in exps.json()["experiments"]]
    pid = server.proc.pid if server.proc else None
    found = measure_search(server.url, "forgeml (MLflow API)", info, ids, reps, pid)
    with mlflow_server(db, WORK / "mlflow-server.log") as (url, peer_pid):
        who = f"MLflow {_mlflow_version()} server"
        found += measure_search(url, who, info, ids, reps, peer_pid)
    return found


def _mlflow_version() -> str:
    with contextlib.suppress(Exception):
        from importlib.metadata import version

        return version("mlflow")
    return "?"


# ---------------------------------------------------------------------------- results


def machine() -> dict[str, str]:
    try:
        load = os.getloadavg()[0]
    except OSError:
        load = float("nan")
    mem = "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem = f"{int(line.split()[1]) / 2**20:.1f} GiB"
    chromium = "?"
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        chromium = subprocess.run(
            [CHROMIUM, "--version"], capture_output=True, text=True, timeout=20
        ).stdout.strip()
    commit = "?"
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT
        ).stdout.strip()
    return {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": f"{os.cpu_count()} cores ({platform.processor() or platform.machine()})",
        "memory": mem,
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "chromium": chromium,
        "commit": commit,
        "load average (1 min) at start": f"{load:.1f}",
    }


def _fmt(v: float | None) -> str:
    return "—" if v is None else (f"{v:.0f}" if v >= 100 else f"{v:.1f}")


def write_results(
    path: Path, info: dict[str, Any], env: dict[str, str], samples: list[Sample], extra: list[str]
) -> None:
    rows = info["rows"]
    lines = [
        "# Studio at scale: the jobs list, filters and a long chart (benchmarks/studio.py)",
        "",
        "Written by `.venv/bin/python benchmarks/studio.py`. Issue 7, item 7: with 100,000 jobs "
        "and 50 metrics each in the store, the jobs list first renders in under 1 s and a filter "
        "answers in under 300 ms; a chart of 100,000 metric points stays responsive.",
        "",
        "## Machine and run",
        "",
        "| | |",
        "|---|---|",
        *[f"| {k} | {v} |" for k, v in env.items()],
        "",
        "## The seeded store (SQLite)",
        "",
        f"{info['jobs_top_level']:,} top-level jobs ({_counts(info['by_type'])}; "
        f"{_counts(info['by_status'])}), {rows['jobs']:,} job rows with pipeline steps and "
        f"sweep trials, {rows['runs']:,} MLflow runs, {rows['run_latest_metrics']:,} latest "
        f"metrics ({info['metrics_per_job']} per top-level job), {rows['run_tags']:,} run tags, "
        f"{rows['run_params']:,} params, {rows['run_metrics']:,} metric history rows (every "
        f"metric of {len(info['history_runs'])} runs over their steps, and the charted run: "
        f"{info['chart_points']:,} `{info['chart_key']}` points and 1,000 for each of its "
        "other metrics). "
        f"{len(EXPERIMENTS)} experiments, {len(COMPUTES)} computes, created times spread over "
        f"180 days. Database file: {info['db_mib']:,} MiB. Seeding took {info['total_s']} s "
        f"(template jobs on a real server {info['templates_s']} s; bulk rows, histories and "
        f"indexes: {_counts(info['timings_s'])}).",
        "",
        "Measured while other work (browser test suites, builds) shared the machine's cores: "
        "wall times swing with that load; the server's CPU time per request moves far less. "
        "The first browser visit and one request per API row are not counted.",
        "",
    ]
    groups: list[tuple[str, Callable[[Sample], bool], str]] = [
        (
            "Jobs list API (`GET /api/v1/jobs?limit=50&...`, top-level jobs)",
            lambda s: s.label.startswith("jobs list"),
            "Wall time of one request from a client on the same machine (httpx, keep-alive).",
        ),
        (
            "A job and its chart (API)",
            lambda s: s.label.startswith(("get a", "a job", "metric series")),
            "The series rows ask the server to downsample the run's 100,000 points into buckets "
            "of steps (mean, min and max per bucket).",
        ),
        (
            "The studio in chromium",
            lambda s: s.label.startswith("studio"),
            "Measured inside the page with `performance.now()` (navigation start = 0) and a "
            "MutationObserver, each visit in a fresh browser context (no HTTP cache). A filter "
            "row is the time from setting the control's value as a user does to every row on "
            "screen matching; the search box waits for typing to pause (300 ms) before it asks "
            "the server, so its end-to-end row includes that pause and the next row starts at "
            "the request.",
        ),
        (
            "Peer: MLflow's search API over the same runs",
            lambda s: "runs/search" in s.label or "get-history" in s.label,
            "`POST /api/2.0/mlflow/runs/search` over every experiment, 50 runs a page, newest "
            "first, against `mlflow server` (--workers 1, SQLite store holding the same "
            "experiments, runs, tags, params and metrics, copied row for row) and against "
            "forgeml's MLflow-compatible API on the seeded store. MLflow's UI lists runs with "
            "this call (per experiment) and charts with get-history-bulk-interval.",
        ),
    ]
    for title, member, text in groups:
        chosen = [s for s in samples if member(s)]
        if not chosen:
            continue
        lines += [
            f"## {title}",
            "",
            text,
            "",
            "| metric | n | p50 ms | p95 ms | server CPU ms/req | target ms | met? | note |",
            "|---|---:|---:|---:|---:|---:|---|---|",
        ]
        for s in chosen:
            r = s.row()
            met = "—"
            if r["p50_ms"] is not None and s.target_ms is not None:
                met = (
                    "yes"
                    if r["p95_ms"] <= s.target_ms
                    else ("p50 only" if r["p50_ms"] <= s.target_ms else "**no**")
                )
            lines.append(
                f"| {r['label']} | {r['n']} | {_fmt(r['p50_ms'])} | {_fmt(r['p95_ms'])} | "
                f"{_fmt(s.cpu_ms)} | {_fmt(s.target_ms)} | {met} | {r['note']} |"
            )
        lines.append("")
    lines += extra
    path.write_text("\n".join(lines).rstrip() + "\n")


def _counts(d: dict[str, Any]) -> str:
    return ", ".join(f"{k} {v:,}" if isinstance(v, int) else f"{k} {v}" for k, v in d.items())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=100_000, help="top-level jobs to seed")
    parser.add_argument("--metrics", type=int, default=50, help="latest metrics per job")
    parser.add_argument("--reps", type=int, default=20, help="repetitions per API row")
    parser.add_argument("--browser-reps", type=int, default=10, help="repetitions per page")
    parser.add_argument("--no-browser", action="store_true", help="measure the API alone")
    parser.add_argument("--no-api", action="store_true", help="skip the jobs API rows")
    parser.add_argument(
        "--peer", action="store_true", help="also MLflow's runs/search on the same runs"
    )
    parser.add_argument("--reseed", action="store_true", help="seed again even when cached")
    parser.add_argument("--seed-only", action="store_true", help="seed (or reuse) and stop")
    parser.add_argument(
        "--output", type=Path, default=HERE / "RESULTS-studio.md", help="the results file"
    )
    args = parser.parse_args()

    def log(msg: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)

    env = machine()
    home, info = seeded_home(Plan(args.jobs, args.metrics), log, reseed=args.reseed)
    if args.seed_only:
        return
    samples: list[Sample] = []
    extra: list[str] = []
    with running(home, WORK / "server.log") as server:
        problems = verify_api(server, info)
        if problems:
            raise SystemExit("the seeded store breaks the API:\n" + "\n".join(problems))
        log("API check passed; measuring the API")
        if not args.no_api:
            samples += measure_api(server, info, args.reps)
        if not args.no_browser:
            log("measuring the studio in chromium")
            samples += measure_browser(server, info, args.browser_reps)
        if args.peer:
            log("measuring the MLflow search API on both servers")
            # a slow MLflow search takes seconds: fewer calls bound the run time
            samples += measure_peer(server, home.parent, info, min(args.reps, 5), log)
        rss = server.rss_mib()
        if rss is not None:
            extra.append(f"Server RSS after the run: {rss:.0f} MiB.")
    for s in samples:
        r = s.row()
        log(f"{r['label']}: p50 {r['p50_ms']} ms, p95 {r['p95_ms']} ms {r['note']}")
    write_results(args.output, info, env, samples, extra)
    raw = WORK / "last-results.json"
    raw.write_text(
        json.dumps({"env": env, "seed": info, "samples": [s.row() for s in samples]}, indent=2)
    )
    log(f"wrote {args.output} and {raw}")


if __name__ == "__main__":
    main()
