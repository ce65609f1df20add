"""Command jobs on a real Ray cluster: they run there, stream logs, store outputs, can be
canceled, and fail (or retry) when the worker dies under them."""

from __future__ import annotations

import json
import os
import re
import signal
import sys
import time
from pathlib import Path

import pytest

import forgeml
from forgeml import MLClient
from forgeml.core.specs.job import load_job
from tests.cli.live import Cli, clean_env, free_port, start_server
from tests.jobs.conftest import log_text, processes_under, wait_for
from tests.ray.conftest import RayHead, create_ray_compute

pytestmark = [pytest.mark.ray, pytest.mark.slow]


def _job(tmp_path: Path, body: str, name: str = "job.yml") -> Path:
    path = tmp_path / name
    path.write_text(body, encoding="utf-8")
    return path


def test_a_command_job_runs_on_the_cluster_with_inputs_and_outputs(
    sdk: MLClient, ray_compute: str, ray_workdir: Path, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "numbers.txt").write_text("1\n2\n3\n", encoding="utf-8")
    path = _job(
        tmp_path,
        f"""\
command: >-
  echo "ray address: $RAY_ADDRESS" &&
  python -c "import sys; print(sum(int(x) for x in open(sys.argv[1] + '/numbers.txt')))"
  ${{{{inputs.data}}}} | tee ${{{{outputs.out}}}}/sum.txt
environment: {{image: python:3.11-slim}}
compute: azureml:{ray_compute}
inputs:
  data: {{type: uri_folder, path: {data}}}
outputs:
  out: {{type: uri_folder}}
""",
    )
    job = sdk.jobs.create_or_update(load_job(path))
    done = wait_for(sdk, str(job.name), timeout=120)
    logs = log_text(sdk, str(job.name))
    assert done.status == "completed", logs
    # the command is a process of the cluster: a Ray driver there connects with no address
    assert re.search(r"ray address: \S+:\d+", logs) and "6\n" in logs
    assert "started the Ray job forgeml-" in logs
    # the runner worked in the compute's folder on the node
    assert (ray_workdir / "jobs" / str(job.name)).is_dir()
    target = tmp_path / "got"
    sdk.jobs.download(str(job.name), download_path=str(target), output_name="out")
    assert [p.read_text().strip() for p in target.rglob("sum.txt")] == ["6"]


def _runner_pids(workdir: Path) -> list[int]:
    """The job runner on the node: the oldest process working in the job's folder."""
    pids = sorted(
        (os.stat(f"/proc/{pid}").st_mtime, pid)
        for pid in processes_under(workdir)
        if os.readlink(f"/proc/{pid}/cwd") == str(workdir.resolve())
    )
    return [pid for _, pid in pids]


def _wait_running(sdk: MLClient, name: str) -> None:
    done = wait_for(sdk, name, ("running", "completed", "failed", "canceled"), timeout=90)
    assert done.status == "running", log_text(sdk, name)


def test_cancel_stops_the_work_on_the_cluster(
    sdk: MLClient, ray_compute: str, ray_workdir: Path, tmp_path: Path
) -> None:
    path = _job(
        tmp_path,
        f"""\
command: echo started && sleep 300
environment: {{image: python:3.11-slim}}
compute: {ray_compute}
""",
    )
    name = str(sdk.jobs.create_or_update(load_job(path)).name)
    _wait_running(sdk, name)
    folder = ray_workdir / "jobs" / name
    deadline = time.monotonic() + 10
    while len(processes_under(folder)) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert processes_under(folder), "the job's processes run in its folder on the node"
    sdk.jobs.cancel(name)
    done = wait_for(sdk, name, timeout=60)
    assert done.status == "canceled", log_text(sdk, name)
    deadline = time.monotonic() + 30
    while processes_under(folder) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not processes_under(folder), "the command still runs on the cluster"


def test_a_worker_that_dies_fails_the_job_with_the_reason(
    sdk: MLClient, ray_compute: str, ray_workdir: Path, tmp_path: Path
) -> None:
    path = _job(
        tmp_path,
        f"""\
command: sleep 300
environment: {{image: python:3.11-slim}}
compute: {ray_compute}
""",
    )
    name = str(sdk.jobs.create_or_update(load_job(path)).name)
    _wait_running(sdk, name)
    for pid in _runner_pids(ray_workdir / "jobs" / name)[:1]:
        os.kill(pid, signal.SIGKILL)
    done = wait_for(sdk, name, timeout=60)
    assert done.status == "failed", log_text(sdk, name)
    assert "runner exited" in (done.error or "")
    assert "Ray:" in (done.error or ""), done.error  # what Ray said of its job


def test_a_lost_runner_is_retried_when_the_job_asks_for_retries(
    sdk: MLClient, ray_compute: str, ray_workdir: Path, tmp_path: Path
) -> None:
    marker = tmp_path / "first-attempt"
    path = _job(
        tmp_path,
        f"""\
command: >-
  if [ -e {marker} ]; then echo second attempt; else touch {marker}; sleep 300; fi
environment: {{image: python:3.11-slim}}
compute: {ray_compute}
retry_settings:
  max_retries: 1
""",
    )
    name = str(sdk.jobs.create_or_update(load_job(path)).name)
    _wait_running(sdk, name)
    deadline = time.monotonic() + 30
    while not marker.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    os.kill(_runner_pids(ray_workdir / "jobs" / name)[0], signal.SIGKILL)
    done = wait_for(sdk, name, timeout=90)
    logs = log_text(sdk, name)
    assert done.status == "completed", logs
    assert "retrying: attempt 2 of 2" in logs and "second attempt" in logs
    assert done.attempts == 2


def test_a_job_asking_more_than_the_cluster_has_waits_with_the_reason(
    sdk: MLClient, cli: Cli, ray_compute: str, tmp_path: Path
) -> None:
    path = _job(
        tmp_path,
        f"""\
command: echo never
environment: {{image: python:3.11-slim}}
compute: {ray_compute}
resources:
  properties: {{num_cpus: 64}}
""",
    )
    name = str(sdk.jobs.create_or_update(load_job(path)).name)
    deadline = time.monotonic() + 30
    while not sdk.jobs.get(name).waiting_reason and time.monotonic() < deadline:
        time.sleep(0.2)
    job = sdk.jobs.get(name)
    assert job.status == "queued"
    assert "CPU=64" in (job.waiting_reason or "") and "CPU=2" in (job.waiting_reason or "")
    shown = json.loads(cli.ok("job", "show", "--name", name))
    assert "cannot hold" in shown["waiting_reason"]
    # it keeps waiting (no failure), and a cancel ends it
    time.sleep(2)
    assert sdk.jobs.get(name).status == "queued"
    sdk.jobs.cancel(name)
    assert wait_for(sdk, name, timeout=30).status == "canceled"


def test_compute_show_reports_the_nodes_and_free_resources(
    cli: Cli, ray_compute: str, ray_head: RayHead
) -> None:
    shown = json.loads(cli.ok("compute", "show", "--name", ray_compute))
    assert shown["type"] == "ray" and shown["address"] == ray_head.address
    status = shown["status"]
    assert status["state"] == "ready"
    assert len(status["nodes"]) == 1 and status["nodes"][0]["head"] is True
    assert status["total"]["CPU"] == 2.0
    assert 0 <= status["available"]["CPU"] <= 2.0
    table = cli.ok("compute", "show", "--name", ray_compute, "-o", "yaml")
    assert "nodes:" in table


def test_an_unreachable_address_fails_compute_creation_with_the_error(
    cli: Cli, tmp_path: Path
) -> None:
    port = free_port()
    spec = tmp_path / "ray.yml"
    spec.write_text(f"name: nowhere\ntype: ray\naddress: http://127.0.0.1:{port}\n")
    error = cli.fails("compute", "create", "--file", str(spec))
    assert f"http://127.0.0.1:{port}" in error and "ConnectError" in error, error
    assert "address" in error
    assert "nowhere" not in cli.ok("compute", "list")


def test_a_ray_client_address_is_resolved_to_the_cluster(
    sdk: MLClient, ray_head: RayHead, ray_workdir: Path
) -> None:
    made = sdk.compute.create_or_update(
        forgeml.RayCompute(
            name="via-client",
            address=ray_head.client_address,
            working_dir=str(ray_workdir),
            python=sys.executable,
        )
    )
    assert made.address == ray_head.client_address
    status = sdk.compute.status("via-client")
    assert status.state == "ready" and status.dashboard_url == ray_head.address


def test_an_auto_address_finds_the_cluster_of_this_machine(
    ray_head: RayHead, ray_workdir: Path, tmp_path: Path
) -> None:
    # as on a node of the cluster: Ray finds its running head itself (here through the temp
    # folder this head was started with)
    port, home = free_port(), tmp_path / "home"
    env = clean_env(RAY_TMPDIR=ray_head.env["RAY_TMPDIR"])
    server = start_server(
        ["--port", str(port), "--home", str(home)], port=port, log=tmp_path / "up.log", env=env
    )
    try:
        with MLClient(url=server.url) as sdk:
            create_ray_compute(sdk, "here", "auto", ray_workdir, num_cpus=0.25)
            assert sdk.compute.status("here").dashboard_url == ray_head.address
            job = forgeml.command(
                command="echo found the cluster",
                environment={"image": "python:3.11"},  # type: ignore[arg-type]
                compute="here",
            )
            name = str(sdk.jobs.create_or_update(job).name)
            done = wait_for(sdk, name, timeout=90)
            assert done.status == "completed", log_text(sdk, name)
            assert "found the cluster" in log_text(sdk, name, "std_out")
    finally:
        server.stop()
