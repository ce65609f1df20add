"""A pipeline and a sweep whose steps and trials run on the Ray cluster: `settings.default_compute`
and a sweep's `compute` send every child job there, outputs flow from step to step through the
workspace, and the sweep ends with its best trial."""

from __future__ import annotations

from pathlib import Path

import pytest

from forgeml import MLClient
from forgeml.core.specs.job import load_job
from tests.jobs.conftest import log_text
from tests.pipelines.conftest import children, pipeline, sweep, write
from tests.pipelines.test_sweeps import LOG_METRIC

pytestmark = [pytest.mark.ray, pytest.mark.slow]

PIPELINE = """\
type: pipeline
settings: {default_compute: azureml:COMPUTE}
jobs:
  make:
    command: echo "made on $RAY_ADDRESS" > ${{outputs.out}}/made.txt
    environment: {image: python:3.11-slim}
    outputs: {out: {type: uri_folder}}
  use:
    command: cat ${{inputs.data}}/made.txt && cp ${{inputs.data}}/made.txt ${{outputs.out}}/
    environment: {image: python:3.11-slim}
    inputs:
      data: ${{parent.jobs.make.outputs.out}}
    outputs: {out: {type: uri_folder}}
"""

SWEEP = """\
type: sweep
compute: azureml:COMPUTE
trial:
  code: ./src
  command: python log_metric.py m ${{search_space.x}} 1 0
  environment: {image: python:3.11-slim}
search_space:
  x: {type: choice, values: [1, 5, 3, 2]}
sampling_algorithm: grid
objective: {goal: maximize, primary_metric: m}
limits: {max_total_trials: 4, max_concurrent_trials: 2}
"""


def test_a_pipeline_runs_its_steps_on_the_cluster(
    sdk: MLClient, ray_compute: str, tmp_path: Path
) -> None:
    path = write(tmp_path, "pipeline.yml", PIPELINE.replace("COMPUTE", ray_compute))
    name = str(sdk.jobs.create_or_update(load_job(path)).name)
    job = pipeline(sdk, name, timeout=180)
    steps = children(sdk, name)
    assert job.status == "completed", {s: log_text(sdk, c.name) for s, c in steps.items()}
    for child in steps.values():
        assert child.compute == ray_compute
        assert "started the Ray job" in log_text(sdk, str(child.name))
    assert "made on " in log_text(sdk, f"{name}--use")


def test_a_sweep_runs_its_trials_on_the_cluster_and_picks_the_best(
    sdk: MLClient, ray_compute: str, tmp_path: Path
) -> None:
    write(tmp_path, "src/log_metric.py", LOG_METRIC)
    path = write(tmp_path, "sweep.yml", SWEEP.replace("COMPUTE", ray_compute))
    name = str(sdk.jobs.create_or_update(load_job(path)).name)
    job = sweep(sdk, name, timeout=240)
    assert job.status == "completed", log_text(sdk, name)
    assert len(job.trials) == 4
    assert job.best_trial is not None and job.best_trial.parameters == {"x": 5}
    for trial in children(sdk, name).values():
        assert "started the Ray job" in log_text(sdk, str(trial.name))
