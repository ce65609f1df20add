"""MLflow tracking ingest: the same `mlflow` client script against forgeml and `mlflow server`.

The workload of issue 3 (shared/formats/mlflow-rest.md §13): (1) one run, N `mlflow.log_metric`
calls one by one; (2) 10,000 metrics through `MlflowClient.log_batch` in chunks of 1,000;
(3) `search_runs` over 1,000 runs with filters (populated once per server, then timed). Each
measurement runs in its own client process with MLFLOW_TRACKING_URI set, using this project's
`mlflow` client for every server, and the repetitions of all systems are interleaved so a burst of
load elsewhere on the machine falls on all of them alike. Systems, all on SQLite: forgeml
(`forgeml up`), MLflow as briefed (`mlflow server`: 4 uvicorn workers, server-side jobs on) and
MLflow tuned (`--workers 1`, MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false); with --postgres, also
forgeml on PostgreSQL. Also measured: launch to first answer of an MLflow API call (fresh store)
and resident memory of the whole process group at idle and after the workload.

Run: `.venv/bin/python benchmarks/tracking.py [--single 10000] [--reps 3] [--postgres URL]`.
MLflow's server runs from benchmarks/.work/mlflow-venv (see assets.py, which creates it).
A stub server that only answers gives the client's own cost per call, the floor under every
server's numbers. Results: benchmarks/.work/tracking-results.json and a Markdown table.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
WORK = HERE / ".work"
PEER = WORK / "mlflow-venv" / "bin" / "mlflow"
FORGEML = Path(sys.executable).with_name("forgeml")
# nothing here may leave the machine: MLflow reports usage unless told not to
QUIET = {"MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true", "PYTHONWARNINGS": "ignore"}
PROBE = "/api/2.0/mlflow/experiments/get?experiment_id=0"

CLIENT_PRELUDE = """
import json, os, sys, time, logging
logging.disable(logging.WARNING)
import mlflow
from mlflow import MlflowClient
from mlflow.entities import Metric, Param, RunTag
out = {}
"""
SINGLE = """
N = int(os.environ["N"])
mlflow.set_experiment("single-" + os.environ["TAG"])
t0 = time.monotonic()
with mlflow.start_run() as run:
    t1 = time.monotonic()
    for i in range(N):
        mlflow.log_metric("loss", 1.0 / (i + 1), step=i)
    t2 = time.monotonic()
if not os.environ.get("STUB"):
    assert len(MlflowClient().get_metric_history(run.info.run_id, "loss")) == N
out = {"total_s": t2 - t0, "ms_per_call": (t2 - t1) / N * 1000}
"""
BATCH = """
c = MlflowClient(); ts = int(time.time() * 1000)
mlflow.set_experiment("batch-" + os.environ["TAG"])
t0 = time.monotonic()
with mlflow.start_run() as run:
    t1 = time.monotonic()
    for s in range(0, 10_000, 1000):
        c.log_batch(run.info.run_id,
                    metrics=[Metric("loss", 1.0 / (i + 1), ts, i) for i in range(s, s + 1000)])
    t2 = time.monotonic()
if not os.environ.get("STUB"):
    assert len(c.get_metric_history(run.info.run_id, "loss")) == 10_000
out = {"total_s": t2 - t0, "batches_s": t2 - t1}
"""
POPULATE = """
from concurrent.futures import ThreadPoolExecutor
c = MlflowClient(); ts = int(time.time() * 1000)
eid = c.create_experiment("search-bench")
def one(i):
    r = c.create_run(eid, run_name=f"r{i}")
    c.log_batch(r.info.run_id, metrics=[Metric("acc", (i % 100) / 100, ts, 0)],
                params=[Param("alpha", str(i % 10)), Param("model", "lr" if i % 2 else "rf")],
                tags=[RunTag("team", "a" if i % 3 else "b")])
    c.set_terminated(r.info.run_id)
t0 = time.monotonic()
with ThreadPoolExecutor(8) as pool:
    list(pool.map(one, range(int(os.environ["RUNS"]))))
out = {"populate_s": time.monotonic() - t0, "experiment_id": eid}
"""
SEARCH = """
c = MlflowClient(); eid = os.environ["EID"]
def timed(fn):
    t = time.monotonic(); n = len(fn()); return time.monotonic() - t, n
out["filter"] = timed(lambda: c.search_runs([eid], "metrics.acc > 0.5", max_results=1000))
out["order"] = timed(lambda: c.search_runs(
    [eid], "params.model = 'lr' and attributes.status = 'FINISHED'",
    max_results=1000, order_by=["metrics.acc DESC"]))
out["all"] = timed(lambda: c.search_runs([eid], "", max_results=1000))
out["pandas"] = timed(lambda: mlflow.search_runs([eid], filter_string="metrics.acc > 0.5"))
"""


# The client's own cost: a server that does nothing but answer. What the `mlflow` client spends
# per call (building, validating, sending, parsing) is the floor under every server's numbers.
STUB_SERVER = """
import sys, uvicorn
RUN = (b'{"run":{"info":{"run_id":"stub","run_uuid":"stub","experiment_id":"0",'
       b'"status":"RUNNING","start_time":1,"artifact_uri":"mlflow-artifacts:/0/stub/artifacts",'
       b'"lifecycle_stage":"active"},"data":{}}}')
EXPERIMENT = b'{"experiment":{"experiment_id":"0","name":"Default","lifecycle_stage":"active"}}'
async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    while (await receive()).get("more_body"):
        pass
    path = scope["path"]
    body = RUN if path.endswith(("runs/create", "runs/get")) else (
        EXPERIMENT if "/experiments/" in path else b"{}")
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": body})
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
"""


@dataclass
class System:
    key: str
    title: str
    cmd: list[str]
    env: dict[str, str] = field(default_factory=dict)
    cwd: Path | None = None
    url: str = ""
    proc: subprocess.Popen[bytes] | None = None
    results: dict[str, Any] = field(default_factory=dict)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def make_systems(root: Path, postgres: str | None) -> list[System]:
    out = []
    port = free_port()
    out.append(
        System(
            "forgeml",
            "forgeml (`forgeml up`, SQLite)",
            [str(FORGEML), "up", "--port", str(port), "--home", str(root / "forgeml")],
            url=f"http://127.0.0.1:{port}",
        )
    )
    if postgres:
        port = free_port()
        out.append(
            System(
                "forgeml-pg",
                "forgeml (`forgeml up`, PostgreSQL)",
                [
                    str(FORGEML),
                    "up",
                    "--port",
                    str(port),
                    "--home",
                    str(root / "forgeml-pg"),
                    "--store",
                    postgres,
                ],
                url=f"http://127.0.0.1:{port}",
            )
        )
    port = free_port()
    out.append(
        System(
            "stub",
            "a stub server that only answers (the client's own cost)",
            [sys.executable, "-c", STUB_SERVER, str(port)],
            env={"STUB": "1"},
            url=f"http://127.0.0.1:{port}",
        )
    )
    for key, title, extra, env in (
        ("mlflow-default", "MLflow as briefed (4 workers, jobs on)", [], {}),
        (
            "mlflow-tuned",
            "MLflow tuned (`--workers 1`, jobs off)",
            ["--workers", "1"],
            {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"},
        ),
    ):
        port = free_port()
        home = root / key
        home.mkdir(parents=True, exist_ok=True)
        out.append(
            System(
                key,
                title,
                [
                    str(PEER),
                    "server",
                    "--backend-store-uri",
                    f"sqlite:///{home / 'mlflow.db'}",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(port),
                    *extra,
                ],
                env=env,
                cwd=home,
                url=f"http://127.0.0.1:{port}",
            )
        )
    return out


def start(system: System, log: Path) -> float:
    """Launch; seconds until the first 200 from an MLflow API call."""
    env = (
        {k: v for k, v in os.environ.items() if not k.startswith(("FORGEML_", "MLFLOW_"))}
        | QUIET
        | system.env
    )
    began = time.monotonic()
    with log.open("wb") as sink:
        system.proc = subprocess.Popen(
            system.cmd,
            stdout=sink,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=system.cwd,
            start_new_session=True,
        )
    while time.monotonic() - began < 180:
        if system.proc.poll() is not None:
            raise RuntimeError(f"{system.title} exited: {log.read_text()[-2000:]}")
        with (
            contextlib.suppress(OSError),
            urllib.request.urlopen(system.url + PROBE, timeout=2) as reply,
        ):
            if reply.status == 200:
                return time.monotonic() - began
        time.sleep(0.05)
    raise RuntimeError(f"{system.title} did not answer within 180 s; see {log}")


def stop(system: System) -> None:
    proc = system.proc
    if proc is None or proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def memory(pgid: int) -> dict[str, float]:
    """RSS and PSS (MiB) summed over a process group, and how many processes it holds."""
    rss = pss = count = 0
    for proc in Path("/proc").glob("[0-9]*"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
            if int(fields[2]) != pgid:
                continue
            count += 1
            for line in (proc / "smaps_rollup").read_text().splitlines():
                if line.startswith("Rss:"):
                    rss += int(line.split()[1])
                elif line.startswith("Pss:"):
                    pss += int(line.split()[1])
    return {"rss_mib": rss / 1024, "pss_mib": pss / 1024, "processes": count}


def client(system: System, code: str, **env: str) -> dict[str, Any]:
    script = CLIENT_PRELUDE + code + "\nprint('RESULT ' + json.dumps(out))\n"
    full = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    full |= QUIET | {"MLFLOW_TRACKING_URI": system.url} | system.env | env
    done = subprocess.run(
        [sys.executable, "-c", script], env=full, capture_output=True, text=True, timeout=3600
    )
    for line in done.stdout.splitlines():
        if line.startswith("RESULT "):
            return dict(json.loads(line[len("RESULT ") :]))
    raise RuntimeError(f"client failed against {system.title}:\n{done.stderr[-3000:]}")


def summary(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def cold_starts(systems: list[System], root: Path, runs: int) -> None:
    """Launch to first answer on a fresh SQLite store (PostgreSQL's database is reused)."""
    for system in systems:
        if system.key in ("forgeml-pg", "stub"):
            continue
        times = []
        for i in range(runs):
            twin = next(s for s in make_systems(root / f"cold-{i}", None) if s.key == system.key)
            try:
                times.append(start(twin, root / f"cold-{system.key}-{i}.log"))
            finally:
                stop(twin)
        system.results["cold_start_s"] = summary(times)
        print(f"  cold start {system.key}: {times}", flush=True)


@contextlib.contextmanager
def pg_database(admin_url: str | None) -> Iterator[str | None]:
    """A fresh database on the server at `admin_url`, dropped afterwards."""
    if not admin_url:
        yield None
        return
    import psycopg

    name = f"bench_tracking_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{admin_url.rsplit('/', 1)[0]}/{name}"
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def run(args: argparse.Namespace) -> list[System]:
    with pg_database(args.postgres) as database:
        return run_on(args, database)


def run_on(args: argparse.Namespace, database: str | None) -> list[System]:
    root = Path(tempfile.mkdtemp(prefix="tracking-bench-", dir=WORK))
    systems = [s for s in make_systems(root, database) if s.key in args.systems]
    print(f"scratch: {root}", flush=True)
    cold_starts(systems, root, args.cold)
    try:
        for system in systems:
            system.results["first_answer_s"] = start(system, root / f"{system.key}.log")
        time.sleep(args.idle)
        for system in systems:
            assert system.proc is not None
            system.results["idle"] = memory(system.proc.pid)
            print(f"  idle {system.key}: {system.results['idle']}", flush=True)
        single: dict[str, list[float]] = {s.key: [] for s in systems}
        batch: dict[str, list[float]] = {s.key: [] for s in systems}
        for rep in range(args.reps):
            for system in systems:
                n = args.single_default if system.key == "mlflow-default" else args.single
                got = client(system, SINGLE, N=str(n), TAG=str(rep))
                single[system.key].append(got["ms_per_call"])
                got = client(system, BATCH, TAG=str(rep))
                batch[system.key].append(got["batches_s"])
                print(
                    f"  rep {rep} {system.key}: {single[system.key][-1]:.2f} ms/call, "
                    f"batches {batch[system.key][-1]:.3f} s",
                    flush=True,
                )
        for system in systems:
            n = args.single_default if system.key == "mlflow-default" else args.single
            system.results["single_n"] = n
            system.results["log_metric_ms"] = summary(single[system.key])
            system.results["log_batch_s"] = summary(batch[system.key])
            if system.key == "stub":
                continue
            populated = client(system, POPULATE, RUNS=str(args.runs))
            system.results["populate_s"] = populated["populate_s"]
            system.results["eid"] = populated["experiment_id"]
        searches: dict[str, dict[str, list[float]]] = {s.key: {} for s in systems}
        searched = [s for s in systems if s.key != "stub"]
        for _ in range(args.reps):
            for system in searched:
                got = client(system, SEARCH, EID=system.results["eid"])
                for name, (seconds, hits) in got.items():
                    searches[system.key].setdefault(name, []).append(seconds)
                    system.results[f"hits_{name}"] = hits
        for system in searched:
            system.results["search_s"] = {k: summary(v) for k, v in searches[system.key].items()}
            assert system.proc is not None
            system.results["after"] = memory(system.proc.pid)
    finally:
        for system in systems:
            stop(system)
    return systems


def cell(stats: dict[str, float], unit: str, digits: int = 2) -> str:
    return (
        f"**{stats['median']:.{digits}f} {unit}** "
        f"[{stats['min']:.{digits}f}-{stats['max']:.{digits}f}]"
    )


def report(systems: list[System], args: argparse.Namespace) -> str:
    cols = [s.title for s in systems]
    lines = [
        "| measurement | " + " | ".join(cols) + " |",
        "|---" * (len(cols) + 1) + "|",
    ]

    def row(label: str, fn: Any) -> None:
        cells = []
        for s in systems:
            try:
                cells.append(fn(s.results))
            except KeyError:
                cells.append("—")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")

    row("(1) `log_metric` one by one, per call", lambda r: cell(r["log_metric_ms"], "ms"))
    row("(1) … calls per measurement", lambda r: f"{r['single_n']:,}")
    row("(2) 10 x `log_batch(1000)`", lambda r: cell(r["log_batch_s"], "s", 3))
    for name, label in (
        ("filter", "`metrics.acc > 0.5`"),
        ("order", "params + status filter, `order_by metrics.acc DESC`"),
        ("all", "no filter (1,000 runs)"),
        ("pandas", "`mlflow.search_runs` → DataFrame"),
    ):
        row(f"(3) search_runs: {label}", lambda r, n=name: cell(r["search_s"][n], "s", 3))
    row("populate 1,000 runs (4,000 calls, 8 client threads)", lambda r: f"{r['populate_s']:.1f} s")
    row(
        "launch → first answer (fresh SQLite store)",
        lambda r: cell(r["cold_start_s"], "s") if "cold_start_s" in r else "—",
    )
    row(
        f"idle: processes / RSS / PSS ({args.idle:.0f} s after start)",
        lambda r: (
            f"{r['idle']['processes']} / {r['idle']['rss_mib']:.0f} MiB / "
            f"{r['idle']['pss_mib']:.0f} MiB"
        ),
    )
    row(
        "after the workload: RSS / PSS",
        lambda r: f"{r['after']['rss_mib']:.0f} MiB / {r['after']['pss_mib']:.0f} MiB",
    )
    return "\n".join(lines)


def parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--single", type=int, default=10_000, help="log_metric calls per measurement")
    p.add_argument(
        "--single-default",
        type=int,
        default=500,
        help="log_metric calls against MLflow's default server (~55 ms each)",
    )
    p.add_argument("--runs", type=int, default=1000, help="runs populated for search_runs")
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--cold", type=int, default=3, help="cold starts per system")
    p.add_argument("--idle", type=float, default=15.0, help="seconds of idle before memory")
    p.add_argument(
        "--postgres",
        default=None,
        help="also run forgeml on PostgreSQL: an admin URL, a scratch database is made there",
    )
    p.add_argument(
        "--systems",
        default="forgeml,forgeml-pg,mlflow-tuned,mlflow-default,stub",
        type=lambda v: v.split(","),
    )
    return p.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse(argv)
    if not PEER.exists():
        print(f"no MLflow server at {PEER}: run benchmarks/assets.py once to create it")
        return 1
    WORK.mkdir(exist_ok=True)
    systems = run(args)
    facts = {
        "machine": f"{os.cpu_count()} CPUs, {platform.machine()}, {platform.platform()}",
        "python": platform.python_version(),
        "mlflow": subprocess.run(
            [str(PEER.with_name("python")), "-c", "import mlflow; print(mlflow.__version__)"],
            capture_output=True,
            text=True,
            env=os.environ | QUIET,
        ).stdout.strip(),
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "args": vars(args),
    }
    data = {"facts": facts, "systems": {s.key: s.results for s in systems}}
    (WORK / "tracking-results.json").write_text(json.dumps(data, indent=2))
    print(json.dumps(facts, indent=2))
    print(report(systems, args))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
