"""Asset registry throughput over REST: forgeml against the MLflow model registry, side by side.

For each metadata store (SQLite, then PostgreSQL) this starts a real `forgeml up` and real
`mlflow server`s on loopback (MLflow twice: on its default uvicorn server and on gunicorn), then
drives each through its own Python SDK from its own client process (benchmarks/registry_clients.py)
with the timed phases of all systems interleaved, so that a burst of load elsewhere on the machine
falls on all of them alike: model-version creates (with uploaded content, and registry-only), gets
(by version and "latest") and lists (all models, the versions of one model), with one client and
with several concurrent clients. Then it times `forgeml --help` against `mlflow --help`, and writes
benchmarks/RESULTS.md. See benchmarks/README.md.

Run: `.venv/bin/python benchmarks/assets.py [--n 60] [--threads 4] [--stores sqlite,postgresql]`.
MLflow is installed once into benchmarks/.work/mlflow-venv, never into the project's environment.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import shutil
import signal
import socket
import sqlite3
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
from typing import IO, Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
WORK = HERE / ".work"
PEER_VENV = WORK / "mlflow-venv"
LOGS = WORK / "assets-logs"  # server and client logs of the last run
PEER_PACKAGES = ["mlflow", "psycopg2-binary"]
DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/postgres"
# MLflow 3 reports usage to its makers unless told not to; nothing here may leave the machine.
# Its server also starts background job consumers (GenAI scorers) that no registry call uses.
QUIET = {
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "DO_NOT_TRACK": "true",
    "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
    "PYTHONWARNINGS": "ignore",
}
READING_MARK = "<!-- reading: kept across reruns of assets.py -->"

OPS = [
    ("create_content", "create a version with content"),
    ("create_registry", "create a version, registry only"),
    ("get_version", "get a version"),
    ("get_latest", "get the latest version"),
    ("list_models", "list all models"),
    ("list_versions", "list versions of a model"),
]
LIST_OPS = {"list_models", "list_versions"}


@dataclass
class System:
    key: str
    title: str
    python: Path
    server_cmd: list[str]
    health: str
    url: str
    log: Path
    proc: subprocess.Popen[bytes] | None = None
    client: subprocess.Popen[str] | None = None
    results: dict[str, Any] = field(default_factory=dict)

    def ask(self, command: dict[str, Any]) -> dict[str, Any]:
        assert self.client and self.client.stdin and self.client.stdout
        self.client.stdin.write(json.dumps(command) + "\n")
        self.client.stdin.flush()
        line = self.client.stdout.readline()
        if not line:
            raise RuntimeError(f"the {self.title} client died; see {self.log}.client")
        reply: dict[str, Any] = json.loads(line)
        if "fatal" in reply:
            raise RuntimeError(f"the {self.title} client failed: {reply['fatal']}")
        return reply


# ================================================================ processes


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(system: System, timeout: float = 180) -> None:
    assert system.proc
    began = time.perf_counter()
    while time.perf_counter() - began < timeout:
        if system.proc.poll() is not None:
            tail = system.log.read_text()[-3000:]
            raise RuntimeError(f"{system.title} exited with {system.proc.returncode}:\n{tail}")
        try:
            with urllib.request.urlopen(system.health, timeout=2) as reply:
                if reply.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{system.health} did not answer in {timeout:.0f} s; see {system.log}")


def stop(proc: subprocess.Popen[Any] | None) -> None:
    """End a process started here, with the process group it leads (MLflow forks workers)."""
    if proc is None or proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def group_rss_mib(pgid: int) -> float:
    """Resident memory of every process in one process group (the server and its workers)."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[2]) == pgid:
                total += int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
    return total / 2**20


@contextlib.contextmanager
def postgres_database(admin_url: str, prefix: str) -> Iterator[str]:
    import psycopg

    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{admin_url.rsplit('/', 1)[0]}/{name}"
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def peer_python(args: argparse.Namespace) -> tuple[Path | None, str]:
    """The MLflow virtualenv's interpreter (created once), and MLflow's version or the reason."""
    python = PEER_VENV / "bin" / "python"
    if not python.exists() and args.install_peer:
        print(f"installing {' '.join(PEER_PACKAGES)} into {PEER_VENV} (once) ...", flush=True)
        try:
            subprocess.run(
                [shutil.which("python3") or sys.executable, "-m", "venv", str(PEER_VENV)],
                check=True,
            )
            subprocess.run(
                [str(python), "-m", "pip", "install", "-q", *PEER_PACKAGES],
                check=True,
                timeout=1800,
            )
        except (subprocess.SubprocessError, OSError) as exc:
            shutil.rmtree(PEER_VENV, ignore_errors=True)
            return None, f"installing mlflow failed: {exc}"
    if not python.exists():
        return None, f"there is no MLflow virtualenv at {PEER_VENV} (--no-install-peer was given)"
    probe = subprocess.run(
        [str(python), "-c", "import mlflow, psycopg2; print(mlflow.__version__)"],
        capture_output=True,
        text=True,
        env={**os.environ, **QUIET},
    )
    if probe.returncode != 0:
        return None, f"mlflow does not import in {PEER_VENV}: {probe.stderr.strip()[-500:]}"
    return python, probe.stdout.strip()


# ================================================================ one store


def systems_for(
    store: str, args: argparse.Namespace, peer: Path | None, scratch: Path, stack: Any
) -> list[System]:
    forgeml_bin = Path(sys.executable).with_name("forgeml")
    port = free_port()
    cmd = [str(forgeml_bin), "up", "--port", str(port), "--home", str(scratch / f"forgeml-{store}")]
    if store == "postgresql":
        cmd += ["--store", stack.enter_context(postgres_database(args.postgres, "bench_forgeml"))]
    url = f"http://127.0.0.1:{port}"
    out = [
        System(
            "forgeml",
            "forgeml",
            Path(sys.executable),
            cmd,
            f"{url}/api/v1/health",
            url,
            LOGS / f"forgeml-{store}.log",
        )
    ]
    if peer is None:
        return out
    for flavour in args.mlflow_servers:
        root = scratch / f"mlflow-{flavour}-{store}"
        root.mkdir()
        if store == "postgresql":
            backend = stack.enter_context(postgres_database(args.postgres, "bench_mlflow"))
            # SQLAlchemy 2.1 maps a plain postgresql:// to psycopg 3; MLflow documents psycopg2
            backend = backend.replace("postgresql://", "postgresql+psycopg2://", 1)
        else:
            backend = f"sqlite:///{root / 'mlflow.db'}"
        port = free_port()
        cmd = [
            str(peer.with_name("mlflow")),
            "server",
            "--host=127.0.0.1",
            f"--port={port}",
            f"--backend-store-uri={backend}",
            f"--artifacts-destination={root / 'mlartifacts'}",
            f"--workers={args.mlflow_workers}",
        ]
        if flavour == "gunicorn":
            cmd.append("--gunicorn-opts=--log-level=warning")
        url = f"http://127.0.0.1:{port}"
        title = "MLflow, uvicorn (default)" if flavour == "uvicorn" else "MLflow, gunicorn"
        out.append(
            System(
                f"mlflow-{flavour}",
                title,
                peer,
                cmd,
                f"{url}/health",
                url,
                LOGS / f"mlflow-{flavour}-{store}.log",
            )
        )
    return out


def bench_store(
    store: str, args: argparse.Namespace, peer: Path | None, scratch: Path
) -> dict[str, Any]:
    env = {**os.environ, **QUIET}
    worker = HERE / "registry_clients.py"
    loads: list[float] = []
    with contextlib.ExitStack() as stack:
        systems = systems_for(store, args, peer, scratch, stack)
        logs: list[IO[bytes]] = []
        for s in systems:
            logs.append(stack.enter_context(s.log.open("wb")))
            s.proc = subprocess.Popen(
                s.server_cmd,
                stdout=logs[-1],
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
            )
            stack.callback(stop, s.proc)
        for s in systems:
            wait_http(s)
        print(f"  {', '.join(s.title for s in systems)}: serving; warming up ...", flush=True)
        for s in systems:
            client_log = stack.enter_context(Path(f"{s.log}.client").open("w"))
            s.client = subprocess.Popen(
                [
                    str(s.python),
                    str(worker),
                    s.key.split("-")[0],
                    s.url,
                    str(args.threads),
                    str(scratch / f"content-{s.key}-{store}"),  # removed with the scratch folder
                ],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=client_log,
                text=True,
                env=env,
                start_new_session=True,
            )
            stack.callback(stop, s.client)
        for s in systems:
            s.results.update(s.ask({"cmd": "setup", "n": args.n}))
        phases = [(op, mode) for op, _ in OPS for mode in ("seq", "conc")]
        for index, (op, mode) in enumerate(phases):
            count = args.n_list if op in LIST_OPS else args.n
            # rotate who goes first, so that no system always runs right after another's writes
            order = systems[index % len(systems) :] + systems[: index % len(systems)]
            for s in order:
                loads.append(os.getloadavg()[0])
                cmd = {
                    "cmd": "phase",
                    "op": op,
                    "mode": mode,
                    "count": count,
                    "seed": index,
                    # creates run to the end so that every registry holds the same; reads may stop
                    "max_s": None if op.startswith("create") else args.phase_seconds,
                }
                s.results[f"{op}/{mode}"] = s.ask(cmd)
            print(f"  {op} ({mode}) done", flush=True)
        for s in systems:
            s.results["summary"] = s.ask({"cmd": "summary"})
            assert s.proc and s.client and s.client.stdin
            s.results["server_rss_mib"] = group_rss_mib(s.proc.pid)
            s.client.stdin.close()  # the client ends its loop and exits
            with contextlib.suppress(subprocess.TimeoutExpired):
                s.client.wait(timeout=30)
        return {
            "systems": {s.key: {"title": s.title, **s.results} for s in systems},
            "load": loads,
        }


# ================================================================ cold start and facts


def cold_start(cmd: list[str], runs: int, budget_s: float = 30.0) -> dict[str, float] | None:
    """Wall clock and CPU time (user + system) of a command; CPU time shrugs off other load.

    One untimed run first; then `runs` runs, or as many (at least 3) as fit in `budget_s`.
    """
    if not Path(cmd[0]).exists():
        return None
    env = {**os.environ, **QUIET}
    walls: list[float] = []
    cpus: list[float] = []
    for attempt in range(runs + 1):  # the first run only warms the page cache
        if len(walls) >= 3 and sum(walls) > budget_s:
            break
        began = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - began
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            return None
        if attempt:
            walls.append(wall)
            cpus.append(usage.ru_utime + usage.ru_stime)
    return {
        "median": statistics.median(walls),
        "min": min(walls),
        "max": max(walls),
        "cpu": statistics.median(cpus),
        "runs": len(walls),
    }


def machine_facts(args: argparse.Namespace, peer_version: str) -> dict[str, str]:
    mem, cpu = "?", platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem = f"{int(line.split()[1]) / 2**20:.1f} GiB"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    pg = "not measured"
    if "postgresql" in args.stores:
        with contextlib.suppress(Exception):
            import psycopg

            with psycopg.connect(args.postgres) as conn:
                row = conn.execute("SHOW server_version").fetchone()
                pg = str(row[0]) if row else "?"
    from importlib.metadata import version

    commit = "?"
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        git = ["git", "-C", str(ROOT)]
        commit = subprocess.run(
            [*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            [*git, "status", "--porcelain", "--", "src", "pyproject.toml"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        if dirty:
            commit += " plus uncommitted changes in src/"
    return {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": f"{os.cpu_count()} cores ({cpu})",
        "memory": mem,
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "forgeml": f"{version('forgeml')} (commit {commit})",
        "mlflow": peer_version,
        "postgresql": pg,
        "sqlite": sqlite3.sqlite_version,
    }


# ================================================================ the report


def _cell(r: dict[str, Any] | None) -> str:
    if not r:
        return "—"
    rate = r["ops_per_s"]
    text = f"{rate:.{0 if rate >= 10 else 1}f}"
    if r["p50_ms"] is not None:
        text += f" ({r['p50_ms']:.1f})"
    if r["ops"] + r["errors"] < r.get("requested", 0):
        text += f" [{r['ops']} calls]"
    if r["errors"]:
        text += f" **{r['errors']} failed**"
    return text


def store_table(systems: dict[str, Any], threads: int) -> list[str]:
    keys = list(systems)
    peers = [k for k in keys if k != "forgeml"]
    head = "| operation | clients | " + " | ".join(
        f"{systems[k]['title']} ops/s (p50 ms)" for k in keys
    )
    lines = [head + (" | forgeml ÷ faster MLflow |" if peers else " |")]
    lines.append("|---|---:|" + "---:|" * (len(keys) + (1 if peers else 0)))
    for op, label in OPS:
        for mode, clients in (("seq", 1), ("conc", threads)):
            cells = [_cell(systems[k].get(f"{op}/{mode}")) for k in keys]
            row = f"| {label} | {clients} | " + " | ".join(cells) + " |"
            if peers:
                ours = systems["forgeml"].get(f"{op}/{mode}")
                best = max(systems[k].get(f"{op}/{mode}", {}).get("ops_per_s", 0) for k in peers)
                ratio = f"{ours['ops_per_s'] / best:.1f}" if ours and best else "—"
                row += f" {ratio} |"
            lines.append(row)
    return lines


def write_report(
    path: Path,
    facts: dict[str, str],
    results: dict[str, Any],
    cold: dict[str, Any],
    args: argparse.Namespace,
    notes: list[str],
) -> None:
    loads = [x for r in results.values() for x in r["load"]]
    if loads:
        facts["load average (1 min) at phase starts"] = (
            f"{min(loads):.1f} to {max(loads):.1f}, median {statistics.median(loads):.1f}"
        )
    lines = [
        "# Benchmarks: the asset registry over REST, forgeml vs the MLflow model registry",
        "",
        f"Written by `{' '.join(args.argv)}` (what each operation does on each side: "
        "benchmarks/README.md). One run on the machine below; rerun to refresh.",
        "",
        "## Machine and run",
        "",
        "| | |",
        "|---|---|",
        *(f"| {k} | {v} |" for k, v in facts.items()),
        f"| run | {args.n} calls per create/get row, {args.n_list} per list row (get and list "
        f"phases stop starting calls after {args.phase_seconds:g} s), {args.threads} "
        f"concurrent clients; MLflow servers with --workers={args.mlflow_workers}, job "
        "execution off |",
        "",
        "Each row is a timed phase; the phases of the systems are interleaved. *ops/s* = calls "
        "completed ÷ wall time of the phase; *p50* = median latency of one call, in ms. The "
        f"{args.threads}-client rows run {args.threads} threads (one SDK client each) in one "
        "client process. Servers, clients and the database share the machine's cores. "
        "*forgeml ÷ faster MLflow* above 1 means forgeml did more calls per second. "
        "*[k calls]* marks a phase that reached its time limit after k calls.",
        "",
    ]
    for store, data in results.items():
        systems = data["systems"]
        lines += [f"## {store}", "", *store_table(systems, args.threads), ""]
        lines += [
            "After the phases: "
            + "; ".join(
                f"{v['title']}: {v['summary']['models']} models, "
                f"{v['summary']['versions_per_listed_model']} versions per model, "
                f"server RSS {v['server_rss_mib']:.0f} MiB"
                for v in systems.values()
            )
            + ".",
            "",
        ]
        errors = [
            f"- {v['title']}, {k}: {r['errors']} failed; first: `{r['first_error']}`"
            for v in systems.values()
            for k, r in v.items()
            if isinstance(r, dict) and r.get("errors")
        ]
        if errors:
            lines += ["Failures:", "", *errors, ""]
    if results:
        systems = next(iter(results.values()))["systems"]
        # both MLflow servers are driven by the same client, so one MLflow column says it
        keys = ["forgeml", *[k for k in systems if k.startswith("mlflow")][:1]]
        lines += [
            "## HTTP requests per operation",
            "",
            "Counted in each SDK's HTTP layer: one untimed call of each operation on a model "
            "that exists (MLflow's `create_registered_model` on a name's first use is not "
            "counted). A create with content is, for forgeml: which blobs are missing, one PUT "
            "per file (two here), the manifest, the create; for MLflow: runs/create, runs/get, "
            "one artifact PUT per file, model-versions/create. MLflow's latest is "
            "registered-models/get then get-latest-versions.",
            "",
            "| operation | " + " | ".join(systems[k]["title"].split(",")[0] for k in keys) + " |",
            "|---|" + "---:|" * len(keys),
        ]
        for op, label in OPS:
            counts = [str(systems[k]["requests_per_op"].get(op, "—")) for k in keys]
            lines.append(f"| {label} | " + " | ".join(counts) + " |")
        lines.append("")
    lines += [
        "## CLI cold start",
        "",
        f"Each command {args.cold_runs} times (fewer where {args.cold_runs} runs would take over "
        "30 s) after one untimed run (so the page cache is warm: this is interpreter start "
        "plus imports). Wall clock is what a user waits; the CPU time "
        "the process used (user + system) moves far less when other work shares the cores. "
        "forgeml's target is under 0.3 s.",
        "",
        "| command | runs | wall median s | wall min s | wall max s | CPU (user+sys) median s |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for label, v in cold.items():
        if v is None:
            lines.append(f"| `{label}` | not available | | | | |")
        else:
            lines.append(
                f"| `{label}` | {v['runs']} | {v['median']:.3f} | {v['min']:.3f} "
                f"| {v['max']:.3f} | {v['cpu']:.3f} |"
            )
    lines.append("")
    if notes:
        lines += ["## Notes", "", *(f"- {n}" for n in notes), ""]
    reading = ""
    if path.exists():
        old = path.read_text()
        if READING_MARK in old:
            reading = old[old.index(READING_MARK) :]
    path.write_text("\n".join(lines) + ("\n" + reading if reading else ""))


# ================================================================ main


def parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    p.add_argument("--n", type=int, default=60, help="calls per create/get phase (default 60)")
    p.add_argument("--n-list", type=int, default=30, help="calls per list phase (default 30)")
    p.add_argument(
        "--phase-seconds",
        type=float,
        default=5.0,
        help="a get/list phase starts no call after this many seconds (default 5)",
    )
    p.add_argument("--threads", type=int, default=4, help="concurrent clients (default 4)")
    p.add_argument("--stores", default="sqlite,postgresql", help="comma list (default both)")
    p.add_argument(
        "--postgres",
        default=os.environ.get("FORGEML_BENCH_POSTGRES", DEFAULT_PG),
        help="admin URL of a PostgreSQL server; a database is created and dropped per system",
    )
    p.add_argument("--no-peer", action="store_true", help="measure forgeml only")
    p.add_argument(
        "--no-install-peer",
        dest="install_peer",
        action="store_false",
        help=f"do not create {PEER_VENV.relative_to(ROOT)} when it is missing",
    )
    p.add_argument(
        "--mlflow-servers",
        default="uvicorn,gunicorn",
        help="which `mlflow server` web servers to run (default: uvicorn,gunicorn)",
    )
    p.add_argument("--mlflow-workers", type=int, default=4, help="mlflow server --workers (4)")
    p.add_argument("--cold-runs", type=int, default=10, help="runs per cold-start command (10)")
    p.add_argument("--output", type=Path, default=HERE / "RESULTS.md")
    args = p.parse_args(argv)
    args.argv = ["python", "benchmarks/assets.py", *argv]
    args.stores = [s.strip() for s in args.stores.split(",") if s.strip()]
    args.mlflow_servers = [s.strip() for s in args.mlflow_servers.split(",") if s.strip()]
    return args


def main(argv: list[str]) -> int:
    args = parse(argv)
    began = time.perf_counter()
    notes: list[str] = []
    peer, peer_version = (None, "not measured (--no-peer)") if args.no_peer else peer_python(args)
    if peer is None and not args.no_peer:
        notes.append(f"MLflow could not be measured: {peer_version}.")
    results: dict[str, Any] = {}
    shutil.rmtree(LOGS, ignore_errors=True)
    LOGS.mkdir(parents=True)
    with tempfile.TemporaryDirectory(prefix="forgeml-bench-") as tmp:
        for store in args.stores:
            print(f"{store}:", flush=True)
            results[store] = bench_store(store, args, peer, Path(tmp))

    print("cold start ...", flush=True)
    bindir = Path(sys.executable).parent
    cold: dict[str, Any] = {
        "python -c pass (project venv)": cold_start([sys.executable, "-c", "pass"], args.cold_runs),
        "forgeml --help": cold_start([str(bindir / "forgeml"), "--help"], args.cold_runs),
    }
    if peer is not None:
        cold["python -c pass (MLflow venv)"] = cold_start([str(peer), "-c", "pass"], args.cold_runs)
        cold["mlflow --help"] = cold_start(
            [str(peer.with_name("mlflow")), "--help"], args.cold_runs
        )
    az = shutil.which("az")
    if az:
        cold["az ml --help"] = cold_start([az, "ml", "--help"], args.cold_runs)
    else:
        notes.append(
            "Azure ML's CLI (`az ml`) is not installed on this machine (and does nothing useful "
            "without an Azure subscription), so its cold start is not timed."
        )

    facts = machine_facts(args, peer_version)
    facts["total run time"] = f"{time.perf_counter() - began:.0f} s"
    # the raw numbers go beside a non-default --output, so a trial run leaves the real ones be
    default_output = args.output.resolve() == (HERE / "RESULTS.md").resolve()
    raw = WORK / "assets-last-results.json" if default_output else args.output.with_suffix(".json")
    raw.write_text(json.dumps({"facts": facts, "results": results, "cold": cold}, indent=2))
    write_report(args.output, facts, results, cold, args, notes)
    print(args.output.read_text())
    print(f"raw numbers: {raw}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
