"""Command jobs on a real Ray cluster: they run there, stream logs, store outputs, can be
canceled, and fail (or retry) when the worker dies under them."""

from __future__ import annotations

import os
import re
import signal
import time
from pathlib import Path

import pytest

from forgeml import MLClient
from forgeml.core.specs.job import load_job
from tests.jobs.conftest import log_text, processes_under, wait_for
from tests.ray.conftest import RayHead

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
