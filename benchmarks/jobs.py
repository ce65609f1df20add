"""Submit-to-running latency of a no-op command job with a warm environment.

For each metadata store (SQLite, then PostgreSQL when one answers) this starts two real
`forgeml up` processes side by side: one as shipped (a runner process is kept started ahead of
the next job) and one with `FORGEML_WARM_RUNNER=false` (each job's runner is a fresh Python
process), the design choice this benchmark exists to check. It submits the same no-op job
(`command: "true"`, an `image:`-only environment, which runs on the host interpreter and needs no
build: the warm case by definition) to each, alternating between them so that load elsewhere on
the machine falls on both alike. One warm-up job per server is not counted.

Measured per job, with the server's own timestamps against the client's clock on the same
machine: submit (the POST's round trip), submit-to-preparing (a compute slot taken, the runner
launched), submit-to-running (the runner has the job, the environment, the code and the inputs
ready and reports `running`: the issue's metric, target under 300 ms median) and
submit-to-completed. Results go to benchmarks/RESULTS-jobs.md.

Run: `.venv/bin/python benchmarks/jobs.py [--n 30] [--stores sqlite,postgresql]`.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
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
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
FORGEML = Path(sys.executable).parent / "forgeml"
DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/postgres"
JOB = {"command": "true", "environment": {"image": "python:3.11"}, "experiment_name": "bench"}
PHASES = [
    ("submit", "submit (POST /jobs round trip)"),
    ("preparing", "submit → preparing (slot taken, runner launched)"),
    ("running", "submit → running"),
    ("completed", "submit → completed"),
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    key: str
    title: str
    warm: bool
    store: str | None
    home: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    samples: dict[str, list[float]] = field(default_factory=lambda: {k: [] for k, _ in PHASES})

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, log: Path) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("FORGEML_")}
        env["FORGEML_WARM_RUNNER"] = "true" if self.warm else "false"
        args = [str(FORGEML), "up", "--port", str(self.port), "--home", str(self.home)]
        if self.store:
            args += ["--store", self.store]
        with log.open("wb") as sink:
            self.proc = subprocess.Popen(args, stdout=sink, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + 60
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/api/v1/health", timeout=2).status_code == 200:
                    return
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{self.title} did not start:\n{log.read_text()}")
            time.sleep(0.1)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def _ts(value: str | None) -> float:
    assert value is not None
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def one_job(http: httpx.Client, server: Server, record: bool) -> None:
    t0 = time.time()
    reply = http.post(f"{server.url}/api/v1/jobs", json=JOB)
    submitted = time.time()
    reply.raise_for_status()
    name = reply.json()["name"]
    deadline = time.monotonic() + 120
    while True:
        job = http.get(f"{server.url}/api/v1/jobs/{name}").json()
        if job["status"] in ("completed", "failed", "canceled"):
            break
        if time.monotonic() > deadline:
            raise RuntimeError(f"job {name} on {server.title} is stuck: {job['status']}")
        time.sleep(0.01)
    if job["status"] != "completed":
        raise RuntimeError(f"the no-op job {name} on {server.title} {job['status']}: {job}")
    if record:
        server.samples["submit"].append(submitted - t0)
        server.samples["preparing"].append(_ts(job["prepared_at"]) - t0)
        server.samples["running"].append(_ts(job["started_at"]) - t0)
        server.samples["completed"].append(_ts(job["ended_at"]) - t0)


def pg_database(admin: str) -> tuple[str, Any] | None:
    try:
        import psycopg
    except ImportError:
        return None
    name = f"forgeml_bench_{uuid.uuid4().hex[:8]}"
    try:
        with psycopg.connect(admin, autocommit=True, connect_timeout=3) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.Error:
        return None
    base, _, _ = admin.rpartition("/")

    def drop() -> None:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                (name,),
            )
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')

    return f"{base}/{name}", drop


def run_store(
    store: str, n: int, work: Path, pg_admin: str, gap: float
) -> tuple[list[Server], str | None]:
    urls: list[str | None] = [None, None]
    drops: list[Any] = []
    if store == "postgresql":
        # one database per server: two servers on one database would share one queue
        for i in range(2):
            made = pg_database(pg_admin)
            if made is None:
                for drop in drops:
                    drop()
                return [], f"no PostgreSQL database could be created at {pg_admin}; skipped."
            urls[i] = made[0]
            drops.append(made[1])
    servers = [
        Server(f"{store}-warm", "warm runner (as shipped)", True, urls[0], work / f"{store}-w"),
        Server(f"{store}-cold", "fresh runner per job", False, urls[1], work / f"{store}-c"),
    ]
    try:
        for s in servers:
            s.start(work / f"{s.key}.log")
        with httpx.Client(timeout=60) as http:
            for s in servers:
                one_job(http, s, record=False)  # warm-up: first imports, first run row
            for i in range(n):
                for s in servers if i % 2 == 0 else list(reversed(servers)):
                    time.sleep(gap)  # a user's pace, not a burst: see --gap
                    one_job(http, s, record=True)
    finally:
        for s in servers:
            s.stop()
        for drop in drops:
            drop()
    return servers, None


def fmt(values: list[float]) -> str:
    ms = sorted(v * 1000 for v in values)
    p90 = ms[min(len(ms) - 1, round(0.9 * (len(ms) - 1)))]
    return f"{statistics.median(ms):.0f} | {p90:.0f} | {ms[0]:.0f} | {ms[-1]:.0f}"


def write(
    results: dict[str, tuple[list[Server], str | None]], n: int, gap: float, took: float
) -> str:
    load = os.getloadavg()
    lines = [
        "# Submit-to-running latency of a no-op job (benchmarks/jobs.py)",
        "",
        f"Measured {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC on {platform.node()}: "
        f"{os.cpu_count()} CPUs, {platform.python_implementation()} {platform.python_version()}, "
        f"load average at the end {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} "
        f"(1/5/15 min); the run took {took:.0f} s.",
        "",
        f'{n} jobs per server after one warm-up job, `command: "true"` with an `image:`-only '
        "environment (no build: the warm case), submitted one at a time over REST "
        f"{gap:g} s after the previous one ended (`--gap`); the two servers of a store ran side "
        "by side and took turns. Milliseconds, from the client's clock just before the POST to "
        "the server's timestamp of each state.",
        "",
        "**Target (issue 3): submit → running under 300 ms median.**",
        "",
    ]
    for store, (servers, note) in results.items():
        lines += [f"## {store}", ""]
        if note:
            lines += [note, ""]
            continue
        lines += [
            "| measure | server | median | p90 | min | max |",
            "|---|---|---|---|---|---|",
        ]
        for key, title in PHASES:
            for s in servers:
                lines.append(f"| {title} | {s.title} | {fmt(s.samples[key])} |")
        lines.append("")
    lines += [
        "## Reading",
        "",
        "Most of a fresh runner's time is Python starting and importing the runner (httpx, "
        "pydantic, the runtime): hundreds of milliseconds on this machine before the job is even "
        "fetched. The local backend therefore keeps one runner process started ahead of the "
        "next job (`forgeml.compute.warm`, started on the first job, retired after ten idle "
        "minutes, `FORGEML_WARM_RUNNER=false` turns it off); it takes the job's folder, "
        "environment and log file when handed one. The scheduler is woken by the submit itself "
        "rather than polling, so a slot is taken within milliseconds of the POST. What is left "
        "of submit → running with a warm runner is the runner's own round trips (fetch the "
        "job, report preparing, realise the environment, report running). The tails (p90, "
        "max) follow the machine's load: on a 2-CPU machine shared with other work, every step "
        "that has to wait for a CPU adds that wait.",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=30)
    parser.add_argument("--stores", default="sqlite,postgresql")
    parser.add_argument("--postgres", default=os.environ.get("FORGEML_BENCH_POSTGRES", DEFAULT_PG))
    parser.add_argument(
        "--gap", type=float, default=1.0, help="seconds between one job's end and the next submit"
    )
    parser.add_argument("--out", type=Path, default=HERE / "RESULTS-jobs.md")
    args = parser.parse_args()
    started = time.monotonic()
    results = {}
    with tempfile.TemporaryDirectory(prefix="forgeml-bench-jobs-") as tmp:
        for store in args.stores.split(","):
            results[store] = run_store(store, args.n, Path(tmp), args.postgres, args.gap)
    text = write(results, args.n, args.gap, time.monotonic() - started)
    args.out.write_text(text)
    raw = {k: {s.key: s.samples for s in v[0]} for k, v in results.items()}
    (HERE / ".work").mkdir(exist_ok=True)
    (HERE / ".work" / "jobs-last-results.json").write_text(json.dumps(raw, indent=1))
    print(text)


if __name__ == "__main__":
    main()
