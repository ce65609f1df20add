"""Sweep jobs run for real: trials are child command jobs that log their primary metric through
MLflow, the workspace samples their hyperparameters, keeps to the concurrency limit, stops the
trials the early-termination policy cuts, and ends with the best trial and its outputs.

Most trials log through MLflow's REST protocol with the standard library (`log_metric.py`
below), because importing the `mlflow` package takes seconds per trial on a small machine; the
grid test uses the real `mlflow` client, as users' training scripts do.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
import pytest

from forgeml import MLClient
from forgeml.core.specs.job import load_job
from forgeml.schemas.jobs import SweepJobInfo
from tests.pipelines.conftest import (
    children,
    log_text,
    make_compute,
    max_overlap,
    pipeline,
    sweep,
    write,
)

LOG_METRIC = '''\
"""Log `count` values of a metric to this job's MLflow run (MLflow's REST protocol), with a
pause of `pause / value` seconds after each: a better (higher) value logs faster."""
import json, os, sys, time, urllib.request

key, value, count, pause = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
url = os.environ["MLFLOW_TRACKING_URI"].rstrip("/") + "/api/2.0/mlflow/runs/log-metric"
for step in range(count):
    body = {"run_id": os.environ["MLFLOW_RUN_ID"], "key": key, "value": value,
            "timestamp": int(time.time() * 1000), "step": step}
    request = urllib.request.Request(url, data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
    urllib.request.urlopen(request, timeout=30).read()
    print(f"step {step} {key}={value}", flush=True)
    time.sleep(pause / value if value else pause)
'''


def project(root: Path, name: str, text: str) -> Path:
    """A sweep (or pipeline) file beside ./src holding log_metric.py."""
    write(root, "src/log_metric.py", LOG_METRIC)
    return write(root, name, text)


def submit(sdk: MLClient, path: Path, overrides: list[str] | None = None) -> str:
    return str(sdk.jobs.create_or_update(load_job(path, overrides)).name)


def history(sdk: MLClient, run: str, metric: str) -> list[float]:
    reply = httpx.get(
        f"{sdk.url}/api/2.0/mlflow/metrics/get-history",
        params={"run_id": run, "metric_key": metric},
        timeout=30,
    )
    assert reply.status_code == 200, reply.text
    return [float(m["value"]) for m in reply.json().get("metrics", [])]


def params_by_trial(job: SweepJobInfo) -> list[dict[str, object]]:
    """Each trial's parameters, by trial number."""
    ordered = sorted(job.trials, key=lambda t: int(t.job.rsplit("--", 1)[1]))
    return [t.parameters for t in ordered]


# ------------------------------------------------------------------------------ sampling

RANDOM = """\
$schema: https://azuremlschemas.azureedge.net/latest/sweepJob.schema.json
type: sweep
compute: azureml:COMPUTE
trial:
  code: ./src
  command: python log_metric.py m ${{search_space.x}} 1 0 && echo kernel ${{search_space.k}}
  environment: {image: python:3.11}
search_space:
  x: {type: uniform, min_value: 1, max_value: 100}
  k: {type: choice, values: [rbf, linear, poly]}
sampling_algorithm: {type: random, seed: 11}
objective: {goal: maximize, primary_metric: m}
limits: {max_total_trials: 3}
"""


def test_a_seeded_random_sweep_samples_the_same_parameters_again_and_picks_the_best(
    sdk: MLClient, compute: str, tmp_path: Path
) -> None:
    path = project(tmp_path, "sweep.yml", RANDOM.replace("COMPUTE", compute))
    names = [
        submit(sdk, path),
        submit(sdk, path),
        submit(sdk, path, ["sampling_algorithm.seed=12"]),
    ]
    jobs = [sweep(sdk, n) for n in names]
    assert [j.status for j in jobs] == ["completed"] * 3, [j.error for j in jobs]

    same, again, other = (params_by_trial(j) for j in jobs)
    assert len(same) == 3 and same == again  # the same seed, the same trials
    assert other != same
    assert all(1 <= float(str(p["x"])) <= 100 and p["k"] in ("rbf", "linear", "poly") for p in same)

    job = jobs[0]
    kids = children(sdk, names[0])
    assert set(kids) == {"0", "1", "2"}
    for trial in job.trials:
        assert trial.status == "completed"
        assert trial.metric == float(str(trial.parameters["x"]))  # what the trial logged
        out = log_text(sdk, trial.job, "std_out")
        assert f"kernel {trial.parameters['k']}" in out
    best = max(job.trials, key=lambda t: float(str(t.parameters["x"])))
    assert job.best_trial is not None
    assert job.best_trial.job == best.job and job.best_trial.parameters == best.parameters
    assert job.best_trial.metric == best.metric


GRID = """\
type: sweep
compute: COMPUTE
trial:
  command: >-
    python -c "import mlflow;
    mlflow.log_metric('loss', ${{search_space.a}} * 10 + len('${{search_space.b}}'))"
  environment: {image: python:3.11}
search_space:
  a: {type: choice, values: [1, 2]}
  b: {type: choice, values: [x, yy]}
sampling_algorithm: grid
objective: {goal: minimize, primary_metric: loss}
limits: {max_total_trials: 10, max_concurrent_trials: 4}
"""


@pytest.mark.slow
def test_a_grid_sweep_runs_each_point_once_and_picks_the_lowest_loss_logged_with_mlflow(
    sdk: MLClient, compute: str, tmp_path: Path
) -> None:
    path = write(tmp_path, "grid.yml", GRID.replace("COMPUTE", compute))
    name = submit(sdk, path)
    job = sweep(sdk, name, timeout=180)

    assert job.status == "completed", job.error
    points = params_by_trial(job)
    assert len(points) == 4  # the grid, not max_total_trials
    assert sorted((p["a"], p["b"]) for p in points) == [(1, "x"), (1, "yy"), (2, "x"), (2, "yy")]
    assert set(children(sdk, name)) == {"0", "1", "2", "3"}
    assert {t.metric for t in job.trials} == {11.0, 12.0, 21.0, 22.0}
    assert job.best_trial is not None
    assert job.best_trial.parameters == {"a": 1, "b": "x"} and job.best_trial.metric == 11.0


def test_a_sweep_never_runs_more_trials_at_once_than_allowed(sdk: MLClient, tmp_path: Path) -> None:
    compute = make_compute(sdk, 8)  # room for all five: the sweep's own limit must hold them
    room = tmp_path / "room"
    room.mkdir()
    # each trial waits (20 s at most) until two trials have started, so that on a busy machine
    # too the two allowed run at the same moment; then it works for half a second
    wait = (
        f"touch {room}/$$ && for i in $(seq 200); do [ $(ls {room} | wc -l) -ge 2 ] && break; "
        "sleep 0.1; done && sleep 0.5"
    )
    path = project(
        tmp_path,
        "sweep.yml",
        f"""\
        type: sweep
        compute: {compute}
        trial:
          code: ./src
          command: {wait} && python log_metric.py m ${{{{search_space.i}}}} 1 0
          environment: {{image: python:3.11}}
        search_space:
          i: {{type: choice, values: [1, 2, 3, 4, 5]}}
        sampling_algorithm: grid
        objective: {{goal: maximize, primary_metric: m}}
        limits: {{max_total_trials: 5, max_concurrent_trials: 2}}
        """,
    )
    name = submit(sdk, path)
    job = sweep(sdk, name)

    assert job.status == "completed", job.error
    trials = list(children(sdk, name).values())
    assert len(trials) == 5
    assert max_overlap(trials) == 2
    assert job.best_trial is not None and job.best_trial.parameters == {"i": 5}


BANDIT = """\
type: sweep
compute: COMPUTE
trial:
  code: ./src
  command: python log_metric.py m ${{search_space.x}} 12 2
  environment: {image: python:3.11}
search_space:
  x: {type: choice, values: [50, 1]}
sampling_algorithm: grid
objective: {goal: maximize, primary_metric: m}
early_termination: {type: bandit, slack_factor: 0.1, evaluation_interval: 1, delay_evaluation: 1}
limits: {max_total_trials: 2, max_concurrent_trials: 2}
"""


def test_a_bandit_policy_stops_a_bad_trial_while_it_runs(
    sdk: MLClient, compute: str, tmp_path: Path
) -> None:
    """x = 50 logs its twelve values in half a second; x = 1 logs one every two seconds and is
    far below the best (50 / 1.1) from its second value on."""
    path = project(tmp_path, "sweep.yml", BANDIT.replace("COMPUTE", compute))
    name = submit(sdk, path)
    job = sweep(sdk, name)

    assert job.status == "completed", job.error
    by_x = {t.parameters["x"]: t for t in job.trials}
    good, bad = by_x[50], by_x[1]
    assert good.status == "completed" and len(history(sdk, good.job, "m")) == 12
    assert bad.status == "canceled"
    logged = history(sdk, bad.job, "m")
    assert 2 <= len(logged) < 12  # judged from interval 2 on, stopped well before the end
    assert "early termination" in log_text(sdk, bad.job)
    assert f"trial {bad.job.rsplit('--', 1)[1]} stopped early" in log_text(sdk, name)
    assert job.best_trial is not None and job.best_trial.job == good.job


# ------------------------------------------------------------------ sweeps and outputs

TRIAL = """\
type: command
name: train_TOKEN
inputs:
  lr: {type: number}
  data: {type: uri_folder}
outputs:
  model: {type: uri_folder}
code: ./src
environment: {image: python:3.11}
command: >-
  cat ${{inputs.data}}/rows.txt && python log_metric.py score ${{inputs.lr}} 1 0 &&
  echo lr=${{inputs.lr}} > ${{outputs.model}}/model.txt
"""

WITH_SWEEP = """\
type: pipeline
settings:
  default_compute: COMPUTE
inputs:
  data: {type: uri_folder, path: ./data}
jobs:
  sweep_step:
    type: sweep
    trial: ./train.yml
    inputs:
      data: ${{parent.inputs.data}}
    search_space:
      lr: {type: choice, values: [0.1, 0.9, 0.5]}
    sampling_algorithm: grid
    objective: {goal: maximize, primary_metric: score}
    limits: {max_total_trials: 3, max_concurrent_trials: 3}
  use:
    command: echo best $(cat ${{inputs.model}}/model.txt)
    environment: {image: python:3.11}
    inputs:
      model: ${{parent.jobs.sweep_step.outputs.model}}
"""


def uris(sdk: MLClient, job: str) -> dict[str, str]:
    return {o.name: o.uri for o in sdk.jobs.outputs(job).items}


def test_a_sweep_step_hands_the_best_trials_output_to_the_next_step(
    sdk: MLClient, compute: str, tmp_path: Path
) -> None:
    tok = uuid.uuid4().hex[:10]
    write(tmp_path, "data/rows.txt", f"rows {tok}\n")
    write(tmp_path, "train.yml", TRIAL.replace("TOKEN", tok))
    path = project(tmp_path, "pipeline.yml", WITH_SWEEP.replace("COMPUTE", compute))
    name = submit(sdk, path)
    job = pipeline(sdk, name)

    assert job.status == "completed", job.error
    assert {s.name: s.type for s in job.steps} == {"sweep_step": "sweep", "use": "command"}
    tuned = sdk.jobs.get(f"{name}--sweep_step")
    assert isinstance(tuned, SweepJobInfo) and tuned.status == "completed"
    trials = children(sdk, str(tuned.name))
    assert len(trials) == 3
    assert sorted(float(str(t.parameters["lr"])) for t in tuned.trials) == [0.1, 0.5, 0.9]
    assert all(f"rows {tok}" in log_text(sdk, str(t.name), "std_out") for t in trials.values())
    assert tuned.best_trial is not None and tuned.best_trial.parameters == {"lr": 0.9}
    assert uris(sdk, str(tuned.name)) == uris(sdk, tuned.best_trial.job)  # the best's outputs
    assert "best lr=0.9" in log_text(sdk, f"{name}--use", "std_out")


def test_a_standalone_sweeps_outputs_are_its_best_trials(
    sdk: MLClient, compute: str, tmp_path: Path
) -> None:
    write(tmp_path, "data/rows.txt", "rows\n")
    write(tmp_path, "train.yml", TRIAL.replace("TOKEN", uuid.uuid4().hex[:10]))
    path = project(
        tmp_path,
        "sweep.yml",
        f"""\
        type: sweep
        compute: {compute}
        trial: ./train.yml
        inputs:
          data: {{type: uri_folder, path: ./data}}
        search_space:
          lr: {{type: choice, values: [0.3, 0.2]}}
        sampling_algorithm: grid
        objective: {{goal: minimize, primary_metric: score}}
        limits: {{max_total_trials: 2}}
        """,
    )
    name = submit(sdk, path)
    job = sweep(sdk, name)

    assert job.status == "completed", job.error
    assert job.best_trial is not None and job.best_trial.parameters == {"lr": 0.2}
    assert set(uris(sdk, name)) == {"model"}
    assert uris(sdk, name) == uris(sdk, job.best_trial.job)
    got = sdk.jobs.download(name, output_name="model", download_path=tmp_path / "dl")
    assert (got / "named-outputs" / "model" / "model.txt").read_text() == "lr=0.2\n"
