"""Command jobs run for real: `forgeml up` schedules them, the runner executes them as processes.

Every environment here is `image:`-only, so jobs run on the workspace's own interpreter (with a
warning on the job) and no virtualenv is built; environment builds are tested with the runner.
"""

from __future__ import annotations

import io
import itertools
import json
import re
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

import forgeml
from forgeml import Data, MLClient
from forgeml.client.jobs import JobFailedError
from forgeml.core.specs.job import load_job
from tests.cli.live import Cli, Server
from tests.jobs.conftest import alive, log_text, wait_for

TRAIN = """\
import argparse, os, pathlib, sys
p = argparse.ArgumentParser()
p.add_argument("--iris"); p.add_argument("--extra"); p.add_argument("--lr", type=float)
p.add_argument("--model"); p.add_argument("--scratch")
a = p.parse_args()
print("iris files:", sorted(os.listdir(a.iris)))
print("extra:", pathlib.Path(a.extra, "notes.txt").read_text().strip())
print("lr:", a.lr, "env:", os.environ["GREETING"], "run:", os.environ["MLFLOW_RUN_ID"])
pathlib.Path(a.model, "weights.txt").write_text(f"lr={a.lr}\\n")
pathlib.Path(a.scratch, "tmp.txt").write_text("scratch\\n")
os.makedirs("outputs", exist_ok=True)
pathlib.Path("outputs", "metrics.json").write_text('{"accuracy": 0.93}')
print("training done", file=sys.stderr)
"""

JOB = """\
$schema: https://azuremlschemas.azureedge.net/latest/commandJob.schema.json
code: ./src
command: >-
  python train.py --iris ${{inputs.iris}} --extra ${{inputs.extra}} --lr ${{inputs.lr}}
  --model ${{outputs.model}} --scratch ${{outputs.scratch}}
environment: {image: "python:3.11"}
environment_variables: {GREETING: hello}
experiment_name: iris-training
display_name: train iris
compute: azureml:COMPUTE
inputs:
  iris: {type: uri_folder, path: azureml:iris-parts@latest}
  extra: {type: uri_folder, path: ./extra}
  lr: 0.05
outputs:
  model: {type: uri_folder, name: iris-weights}
  scratch:
"""


def project(root: Path, compute: str) -> Path:
    (root / "src").mkdir(parents=True)
    (root / "src" / "train.py").write_text(TRAIN)
    (root / "extra").mkdir()
    (root / "extra" / "notes.txt").write_text("from my laptop\n")
    (root / "job.yml").write_text(JOB.replace("COMPUTE", compute))
    return root / "job.yml"


def test_a_job_runs_with_its_inputs_and_its_outputs_become_assets(
    sdk: MLClient, compute: str, tmp_path: Path
) -> None:
    parts = tmp_path / "parts"
    parts.mkdir()
    for i in range(2):
        (parts / f"part-{i}.csv").write_text("petal_length,species\n1.4,setosa\n")
    iris = sdk.data.create_or_update(Data(name="iris-parts", path=str(parts)))

    submitted = sdk.jobs.create_or_update(load_job(project(tmp_path / "proj", compute)))
    name = str(submitted.name)
    live = io.StringIO()
    job = sdk.jobs.stream(name, out=live)

    assert job.status == "completed" and job.exit_code == 0
    shown = live.getvalue()
    assert "iris files: ['part-0.csv', 'part-1.csv']" in shown
    assert "extra: from my laptop" in shown
    assert f"lr: 0.05 env: hello run: {name}" in shown
    assert "training done" in shown and "Status: completed" in shown
    assert any("no container runtime" in w for w in job.warnings)
    assert job.queued_at and job.prepared_at and job.started_at and job.ended_at
    assert job.queued_at <= job.prepared_at <= job.started_at <= job.ended_at
    assert "training done" in log_text(sdk, name, "std_err")

    weights = sdk.data.get("iris-weights", version="1")
    assert weights.tags["job_name"] == name
    outputs = sdk.jobs.outputs(name)
    stored = {o.name: o.asset for o in outputs.items}
    assert stored == {"model": "azureml:iris-weights:1", "scratch": None}
    assert {(e.direction, e.asset) for e in outputs.lineage} == {
        ("input", f"azureml:iris-parts:{iris.version}"),
        ("output", "azureml:iris-weights:1"),
    }

    got = sdk.jobs.download(name, download_path=tmp_path / "dl", all=True)
    assert (got / "named-outputs" / "model" / "weights.txt").read_text() == "lr=0.05\n"
    assert (got / "named-outputs" / "scratch" / "tmp.txt").read_text() == "scratch\n"
    metrics = got / "artifacts" / "outputs" / "metrics.json"
    assert json.loads(metrics.read_text()) == {"accuracy": 0.93}
    assert "training done" in (got / "artifacts" / "user_logs" / "std_log.txt").read_text()
    assert (
        "completed" in (got / "artifacts" / "system_logs" / "workspace" / "system.txt").read_text()
    )

    run = httpx.get(f"{sdk.url}/api/2.0/mlflow/runs/get", params={"run_id": name}).json()["run"]
    assert run["info"]["status"] == "FINISHED"
    assert run["info"]["experiment_id"] == job.experiment_id


def test_a_failing_command_shows_its_exit_code_and_the_end_of_stderr(
    cli: Cli, compute: str, tmp_path: Path
) -> None:
    (tmp_path / "fail.yml").write_text(
        f"command: >-\n  python -c \"import sys; [print('line', i, file=sys.stderr) for i in "
        f"range(30)]; print('ValueError: lr must be positive', file=sys.stderr); sys.exit(3)\"\n"
        f"environment: {{image: python:3.11}}\ncompute: {compute}\n"
    )
    (tmp_path / "ok.yml").write_text(
        f"command: echo fine\nenvironment: {{image: python:3.11}}\ncompute: {compute}\n"
    )
    done = cli.run("job", "create", "-f", "fail.yml", "--stream", "-o", "json", cwd=tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    name = json.loads(done.stdout[: done.stdout.index("\nRunId:")])["name"]
    assert "Status: failed" in done.stdout and "ValueError: lr must be positive" in done.stdout

    shown = json.loads(cli.ok("job", "show", "-n", name))
    assert shown["status"] == "failed" and shown["exit_code"] == 3
    assert "exited with code 3" in shown["error"]
    assert shown["error"].rstrip().endswith("ValueError: lr must be positive")
    assert "line 29" in shown["error"] and "line 5\n" not in shown["error"]  # the tail only
    assert cli.run("job", "stream", "-n", name).returncode == 1
    assert shown["experiment_name"] == tmp_path.name  # the submitting folder's name

    ok = cli.run("job", "create", "-f", "ok.yml", "--stream", cwd=tmp_path)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "fine" in ok.stdout and "Status: completed" in ok.stdout
    listed = cli.ok("job", "list", "--status", "failed", "-o", "json")
    assert name in {j["name"] for j in json.loads(listed)}


def test_cancel_stops_the_whole_process_tree_within_seconds(sdk: MLClient, compute: str) -> None:
    job = sdk.jobs.create_or_update(
        forgeml.command(
            command=(
                "sleep 300 & echo child $! ; echo shell $$ ; "
                'python -c \'import os, time; print("python", os.getpid(), flush=True); '
                "time.sleep(300)'"
            ),
            environment={"image": "python:3.11"},  # type: ignore[arg-type]
            compute=compute,
        )
    )
    name = str(job.name)
    deadline = time.monotonic() + 60
    while "python " not in log_text(sdk, name, "std_out"):
        assert time.monotonic() < deadline, log_text(sdk, name)
        time.sleep(0.1)
    text = log_text(sdk, name, "std_out")
    pids = [int(p) for p in re.findall(r"(?:child|shell|python) (\d+)", text)]
    assert len(pids) == 3 and all(alive(p) for p in pids)

    started = time.monotonic()
    assert sdk.jobs.cancel(name).status == "canceling"
    done = wait_for(sdk, name, timeout=30)
    assert done.status == "canceled"
    while any(alive(p) for p in pids):
        assert time.monotonic() - started < 15, [p for p in pids if alive(p)]
        time.sleep(0.1)
    assert time.monotonic() - started < 15
    run = httpx.get(f"{sdk.url}/api/2.0/mlflow/runs/get", params={"run_id": name}).json()["run"]
    assert run["info"]["status"] == "KILLED"


def test_a_compute_runs_no_more_than_its_max_concurrent_jobs(sdk: MLClient) -> None:
    sdk.compute.create_or_update(forgeml.LocalCompute(name="one-slot", max_concurrent_jobs=1))
    names = [
        str(
            sdk.jobs.create_or_update(
                forgeml.command(
                    command="sleep 1",
                    environment={"image": "python:3.11"},  # type: ignore[arg-type]
                    compute="one-slot",
                )
            ).name
        )
        for _ in range(3)
    ]
    time.sleep(0.5)
    statuses = [sdk.jobs.get(n).status for n in names]
    assert statuses.count("queued") >= 2, statuses
    jobs = [wait_for(sdk, n, timeout=120) for n in names]
    assert [j.status for j in jobs] == ["completed"] * 3
    spans = sorted((j.prepared_at, j.ended_at) for j in jobs)
    for (_, end), (start, _) in itertools.pairwise(spans):
        assert end is not None and start is not None and end <= start, spans


def _sse(url: str, events: list[tuple[str, Any]], after: int = 0) -> None:
    with httpx.stream("GET", url, params={"after": after}, timeout=60) as reply:
        assert reply.status_code == 200
        assert reply.headers["content-type"].startswith("text/event-stream")
        kind = ""
        for line in reply.iter_lines():
            if line.startswith("event:"):
                kind = line[6:].strip()
            elif line.startswith("data:"):
                events.append((kind, json.loads(line[5:])))


def test_logs_stream_live_over_sse_from_the_start_and_when_attached_midway(
    sdk: MLClient, server: Server, compute: str
) -> None:
    job = sdk.jobs.create_or_update(
        forgeml.command(
            command=(
                "python -c 'import sys, time\n"
                "for i in range(12):\n"
                '    print("tick", i, flush=True); time.sleep(0.25)\n'
                'print("bye", file=sys.stderr)\''
            ),
            environment={"image": "python:3.11"},  # type: ignore[arg-type]
            compute=compute,
        )
    )
    url = f"{server.url}/api/v1/jobs/{job.name}/logs/stream"
    from_start: list[tuple[str, Any]] = []
    reader = threading.Thread(target=_sse, args=(url, from_start))
    reader.start()
    deadline = time.monotonic() + 60
    while not any(k == "log" and "tick 3" in d["text"] for k, d in from_start):
        assert time.monotonic() < deadline and reader.is_alive(), from_start
        time.sleep(0.05)
    # attach midway, resuming after the last chunk seen so far
    seen = max(d["seq"] for k, d in from_start if k == "log")
    midway: list[tuple[str, Any]] = []
    _sse(url, midway, after=seen)
    reader.join(30)

    def text(events: list[tuple[str, Any]]) -> str:
        return "".join(d["text"] for k, d in events if k == "log" and d["stream"] == "std_out")

    full = text(from_start)
    assert [int(n) for n in re.findall(r"tick (\d+)", full)] == list(range(12))
    assert any(
        k == "log" and d["stream"] == "std_err" and "bye" in d["text"] for k, d in from_start
    )
    assert any(k == "log" and d["stream"] == "system" for k, d in from_start)
    statuses = [d["status"] for k, d in from_start if k == "status"]
    assert statuses[-1] == "completed" and len(statuses) >= 2
    assert from_start[-1][0] == "end" and from_start[-1][1]["status"] == "completed"
    later = [d["seq"] for k, d in midway if k == "log"]
    assert later and min(later) > seen and later == sorted(set(later))
    assert "tick 11" in text(midway) and "tick 0" not in text(midway)
    assert midway[-1] == ("end", {"status": "completed", "exit_code": 0, "error": None})


def test_stream_raises_for_a_job_that_did_not_complete(sdk: MLClient, compute: str) -> None:
    job = sdk.jobs.create_or_update(
        forgeml.command(
            command="echo going; exit 7",
            environment={"image": "python:3.11"},  # type: ignore[arg-type]
            compute=compute,
            timeout=30,
        )
    )
    with pytest.raises(JobFailedError, match="exit code 7") as err:
        sdk.jobs.stream(str(job.name), out=io.StringIO())
    assert err.value.job.status == "failed"
