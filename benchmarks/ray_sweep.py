"""Sweep trials on the local compute and on a local Ray cluster, side by side in one run.

`python benchmarks/ray_sweep.py [--trials 200] [--concurrent 4] [--reps 1]` starts a Ray head on
127.0.0.1 (`ray start --head`, its own ports and temp folder), one `forgeml up`, a `local` compute
and a `ray` compute on that head with the same `max_concurrent_jobs`, and runs a sweep of
`--trials` no-op trials (`echo`) on each, alternating which goes first. It reports trials per
second and, per trial, the time from the compute taking the trial (`prepared_at`) to its end
(`ended_at`): the difference between the two computes is the overhead Ray adds to one trial
(a Ray job: a supervisor actor and a runner process on the node). Results:
benchmarks/RESULTS-ray.md, also copied into benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from pipelines import (
    Server,
    _ts,
    free_port,
    list_children,
    machine,
)

HERE = Path(__file__).resolve().parent
WORK = HERE / ".work"
RAY = str(Path(sys.executable).with_name("ray"))
IMAGE = {"image": "python:3.11-slim"}


def start_ray(temp: Path) -> tuple[str, dict[str, str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RAY_", "FORGEML_"))}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    dash = free_port()
    flags = {
        "port": free_port(),
        "dashboard-port": dash,
        "ray-client-server-port": free_port(),
        "dashboard-agent-listen-port": free_port(),
        "dashboard-agent-grpc-port": free_port(),
        "runtime-env-agent-port": free_port(),
        "metrics-export-port": free_port(),
    }
    args = [RAY, "start", "--head", "--node-ip-address=127.0.0.1", "--dashboard-host=127.0.0.1"]
    args += ["--disable-usage-stats", f"--temp-dir={temp}"]
    args += [f"--{k}={v}" for k, v in flags.items()]
    subprocess.run(args, env=env, check=True, capture_output=True, timeout=180)
    url = f"http://127.0.0.1:{dash}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.post(f"{url}/api/jobs/", json={"entrypoint": "true"}).status_code == 200:
                return url, env
        time.sleep(0.5)
    raise RuntimeError("the Ray Jobs API did not take a job")


def stop_ray(temp: Path) -> None:
    for _ in range(2):
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                with contextlib.suppress(OSError):
                    cmd = Path(f"/proc/{entry}/cmdline").read_bytes()
                    if str(temp).encode() in cmd:
                        os.kill(int(entry), signal.SIGKILL if _ else signal.SIGTERM)
        time.sleep(2)
    shutil.rmtree(temp, ignore_errors=True)


def ray_job_floor(dashboard: str, entrypoint: str, runs: int = 3) -> float:
    """Seconds from submitting a Ray job running `entrypoint` to Ray calling it ended, one at a
    time on an idle cluster (median): the Jobs API's own cost, without forgeml."""
    spans = []
    with httpx.Client(timeout=60) as http:
        for _ in range(runs):
            t0 = time.time()
            sid = http.post(f"{dashboard}/api/jobs/", json={"entrypoint": entrypoint}).json()[
                "submission_id"
            ]
            while True:
                job = http.get(f"{dashboard}/api/jobs/{sid}").json()
                if job["status"] in ("SUCCEEDED", "FAILED", "STOPPED"):
                    break
                time.sleep(0.02)
            spans.append(job["end_time"] / 1000 - t0)
    return statistics.median(spans)


def sweep_doc(compute: str, trials: int, concurrent: int) -> dict[str, Any]:
    return {
        "type": "sweep",
        "experiment_name": f"bench-{compute}",
        "trial": {"command": "echo ${{search_space.x}}", "environment": IMAGE},
        "search_space": {"x": {"type": "uniform", "min_value": 0, "max_value": 1}},
        "sampling_algorithm": {"type": "random", "seed": 1},
        "objective": {"goal": "maximize", "primary_metric": "none_logged"},
        "limits": {"max_total_trials": trials, "max_concurrent_trials": concurrent},
        "compute": f"azureml:{compute}",
    }


def run_sweep(
    http: httpx.Client, url: str, compute: str, args: argparse.Namespace
) -> dict[str, Any]:
    t0 = time.time()
    reply = http.post(f"{url}/api/v1/jobs", json=sweep_doc(compute, args.trials, args.concurrent))
    reply.raise_for_status()
    name = reply.json()["name"]
    deadline = time.monotonic() + args.timeout
    while True:
        job = http.get(f"{url}/api/v1/jobs/{name}").json()
        if job["status"] in ("completed", "failed", "canceled"):
            break
        if time.monotonic() > deadline:
            raise RuntimeError(f"sweep {name} on {compute} still {job['status']}")
        time.sleep(0.5)
    kids = list_children(http, url, name)
    ended = _ts(job.get("ended_at")) or time.time()
    seconds = ended - t0
    done = [k for k in kids if k.get("status") == "completed"]
    spans = [
        _ts(k["ended_at"]) - _ts(k["prepared_at"])  # type: ignore[operator]
        for k in done
        if k.get("prepared_at") and k.get("ended_at")
    ]
    return {
        "compute": compute,
        "status": job["status"],
        "seconds": seconds,
        "trials": len(kids),
        "completed": len(done),
        "trials_per_s": len(done) / seconds if seconds else 0.0,
        "trial_p50_s": statistics.median(spans) if spans else float("nan"),
        "trial_p90_s": sorted(spans)[int(0.9 * (len(spans) - 1))] if spans else float("nan"),
    }


def report(
    results: list[dict[str, Any]],
    args: argparse.Namespace,
    info: dict[str, str],
    floors: dict[str, float],
) -> str:
    by: dict[str, list[dict[str, Any]]] = {}
    for row in results:
        by.setdefault(row["compute"], []).append(row)

    def med(compute: str, key: str) -> float:
        return statistics.median(r[key] for r in by.get(compute, [])) if by.get(compute) else 0.0

    lines = [
        "# Sweep trials: local compute vs a local Ray cluster (benchmarks/ray_sweep.py)",
        "",
        f"Written by `python benchmarks/ray_sweep.py --trials {args.trials} --concurrent "
        f"{args.concurrent} --reps {args.reps}`. One `forgeml up`; a `local` compute and a "
        "`ray` compute (a `ray start --head` on 127.0.0.1 of the same machine) with the same "
        f"`max_concurrent_jobs` ({args.concurrent}); a sweep of {args.trials} no-op trials "
        "(`echo`) on each, alternating which runs first.",
        "",
        "| | |",
        "|---|---|",
        *(f"| {k} | {v} |" for k, v in info.items()),
        "",
        "| compute | runs | trials completed | seconds | trials/s | per trial, taken -> ended: "
        "p50 s | p90 s |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for compute in ("bench-local", "bench-ray"):
        rows = by.get(compute, [])
        if not rows:
            continue
        lines.append(
            f"| {compute.removeprefix('bench-')} | {len(rows)} | {med(compute, 'completed'):.0f} "
            f"| {med(compute, 'seconds'):.1f} | **{med(compute, 'trials_per_s'):.2f}** "
            f"| {med(compute, 'trial_p50_s'):.2f} | {med(compute, 'trial_p90_s'):.2f} |"
        )
    if by.get("bench-local") and by.get("bench-ray"):
        added = med("bench-ray", "trial_p50_s") - med("bench-local", "trial_p50_s")
        ratio = med("bench-local", "trials_per_s") / max(med("bench-ray", "trials_per_s"), 1e-9)
        lines += [
            "",
            f"**Overhead Ray adds per trial: {added:.2f} s** (median time from the compute "
            "taking a trial to its end, Ray minus local). The local compute ran "
            f"{ratio:.1f}x as many trials per second.",
            "",
            "One Ray job at a time on the idle cluster, submission to end, without forgeml: "
            f"`true` {floors.get('true', float('nan')):.2f} s, a Python that imports the job "
            f"runner {floors.get('runner import', float('nan')):.2f} s.",
            "",
            "Where it goes: the local compute forks a runner from a warm fork server "
            "(milliseconds); on Ray every trial is a Ray job, so Ray starts a job supervisor "
            "actor (a Python worker process) and then the runner as a new process "
            "(`python -m forgeml.runtime.runner`, importing forgeml), and the scheduler learns "
            "of the end by polling the Jobs API. On a 2-core machine the Ray head's own "
            "processes (GCS, raylet, dashboard) also compete with the trials for the CPUs. The "
            "Ray compute is for work that does not fit one machine, not for microsecond trials.",
        ]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--concurrent", type=int, default=4)
    parser.add_argument("--reps", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=1800)
    parser.add_argument("--out", type=Path, default=HERE / "RESULTS-ray.md")
    args = parser.parse_args()
    WORK.mkdir(exist_ok=True)
    temp = Path(tempfile.mkdtemp(prefix="bray", dir="/tmp"))
    home = Path(tempfile.mkdtemp(prefix="forgeml-bench-ray-"))
    server = Server(home=home)
    results: list[dict[str, Any]] = []
    floors: dict[str, float] = {}
    started = time.monotonic()
    try:
        dashboard, _ = start_ray(temp)
        server.start(WORK / "ray-forgeml.log")
        with httpx.Client(timeout=60) as http:
            for body in (
                {"name": "bench-local", "type": "local", "max_concurrent_jobs": args.concurrent},
                {
                    "name": "bench-ray",
                    "type": "ray",
                    "address": dashboard,
                    "max_concurrent_jobs": args.concurrent,
                    "resources": {"num_cpus": 0.1},
                    "working_dir": str(home / "ray-nodes"),
                    "python": sys.executable,
                },
            ):
                http.post(f"{server.url}/api/v1/computes", json=body).raise_for_status()
            floors = {
                "true": ray_job_floor(dashboard, "true"),
                "runner import": ray_job_floor(
                    dashboard, f"{sys.executable} -c 'import forgeml.runtime.runner'"
                ),
            }
            print(json.dumps({"ray_job_floor_s": floors}), flush=True)
            for rep in range(args.reps):
                order = ["bench-local", "bench-ray"]
                if rep % 2:
                    order.reverse()
                for compute in order:
                    row = run_sweep(http, server.url, compute, args)
                    print(json.dumps(row), flush=True)
                    results.append(row)
    finally:
        server.stop()
        stop_ray(temp)
        shutil.rmtree(home, ignore_errors=True)
    info = machine()
    info["total run time"] = f"{time.monotonic() - started:.0f} s"
    text = report(results, args, info, floors)
    args.out.write_text(text, encoding="utf-8")
    (WORK / "ray-last-results.json").write_text(json.dumps(results, indent=2))
    if args.out == HERE / "RESULTS-ray.md":
        combined = HERE / "RESULTS.md"
        current = combined.read_text(encoding="utf-8")
        head = "# Sweep trials: local compute vs a local Ray cluster"
        if head in current:
            current = current[: current.index(head)].rstrip() + "\n"
        combined.write_text(current + "\n" + text, encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
