"""The studio's pipeline and sweep pages: a pipeline job's page draws its graph (a node per step,
edges from the bindings) with live statuses, a click on a step opens its logs, a rerun marks the
reused steps; the Pipelines list shows it; a sweep's page shows its trials, the best one and a
parallel-coordinates line per trial."""

from __future__ import annotations

import re
import textwrap
import uuid
from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page, expect

import forgeml
from forgeml import MLClient
from forgeml.core.specs.job import load_job
from tests.pipelines.conftest import wait_parent
from tests.studio.conftest import assert_accessible, shot

PIPELINE = """\
type: pipeline
display_name: prepare and train TOKEN
experiment_name: studio-pipelines
settings:
  default_compute: COMPUTE
inputs:
  greeting: hello
jobs:
  prepare:
    command: echo preparing TOKEN ${{inputs.greeting}} && echo rows > ${{outputs.data}}/rows.txt
    environment: {image: python:3.11}
    inputs:
      greeting: ${{parent.inputs.greeting}}
    outputs:
      data:
  train:
    command: >-
      echo training on $(cat ${{inputs.data}}/rows.txt) && echo model > ${{outputs.model}}/m.txt
    environment: {image: python:3.11}
    inputs:
      data: ${{parent.jobs.prepare.outputs.data}}
    outputs:
      model:
  evaluate:
    command: echo evaluating $(cat ${{inputs.model}}/m.txt) TOKEN
    environment: {image: python:3.11}
    inputs:
      model: ${{parent.jobs.train.outputs.model}}
      data: ${{parent.jobs.prepare.outputs.data}}
"""

LOG_METRIC = '''\
"""Log a metric to this job's MLflow run over MLflow's REST protocol (stdlib only: fast)."""
import json, os, sys, time, urllib.request

key, value = sys.argv[1], float(sys.argv[2])
url = os.environ["MLFLOW_TRACKING_URI"].rstrip("/") + "/api/2.0/mlflow/runs/log-metric"
body = {"run_id": os.environ["MLFLOW_RUN_ID"], "key": key, "value": value,
        "timestamp": int(time.time() * 1000), "step": 0}
request = urllib.request.Request(url, data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
urllib.request.urlopen(request, timeout=30).read()
print(f"{key}={value}", flush=True)
'''

SWEEP = """\
type: sweep
display_name: studio sweep
compute: azureml:COMPUTE
trial:
  code: ./src
  command: >-
    python log_metric.py accuracy ${{search_space.lr}} && echo kernel ${{search_space.kernel}}
  environment: {image: python:3.11}
search_space:
  lr: {type: choice, values: [0.1, 0.5, 0.9]}
  kernel: {type: choice, values: [rbf, linear]}
sampling_algorithm: {type: random, seed: 7}
objective: {goal: maximize, primary_metric: accuracy}
limits: {max_total_trials: 3, max_concurrent_trials: 3}
"""


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


@pytest.fixture(scope="module")
def compute(sdk: MLClient) -> str:
    name = f"c-{uuid.uuid4().hex[:8]}"
    sdk.compute.create_or_update(forgeml.LocalCompute(name=name, max_concurrent_jobs=4))
    return name


def step(page: Page, name: str, status: str) -> Locator:
    """A step node's button, by its accessible name: the step and its status."""
    return page.get_by_role("button", name=re.compile(rf"^Step {name}, {status}"))


def test_the_pipelines_list_starts_empty_and_says_how_to_submit_one(page: Page) -> None:
    page.goto("/pipelines")
    expect(page.get_by_role("heading", name="Pipelines", level=1)).to_be_visible()
    expect(page.get_by_text("No pipeline jobs yet")).to_be_visible()
    expect(page.get_by_text("forgeml job create -f pipeline.yml")).to_be_visible()
    page.get_by_label("Status").select_option("failed")
    expect(page).to_have_url(re.compile(r"status=failed"))
    expect(page.get_by_text("No pipeline matches these filters")).to_be_visible()
    assert_accessible(page)


def test_a_pipeline_page_draws_the_graph_opens_a_steps_logs_and_marks_reused_steps(
    page: Page, sdk: MLClient, compute: str, tmp_path: Path
) -> None:
    token = uuid.uuid4().hex[:8]
    path = write(
        tmp_path, "pipeline.yml", PIPELINE.replace("TOKEN", token).replace("COMPUTE", compute)
    )
    first = str(sdk.jobs.create_or_update(load_job(path)).name)

    page.goto(f"/jobs/{first}")
    graph = page.get_by_test_id("pipeline-graph")
    expect(graph.locator(".react-flow__node-step")).to_have_count(3)
    expect(graph.locator(".react-flow__node-pinput")).to_have_count(1)  # the `greeting` input
    # prepare -> train, prepare -> evaluate, train -> evaluate, and greeting -> prepare
    expect(graph.locator(".react-flow__edge")).to_have_count(4)
    for name in ("prepare", "train", "evaluate"):
        expect(graph.get_by_text("inline command").first).to_be_visible()
        expect(step(page, name, "completed")).to_be_visible(timeout=90_000)  # polled, no reload
    expect(page.get_by_text("3 of 3 steps completed")).to_be_visible()

    # a step opens by keyboard, and by a click
    step(page, "prepare", "completed").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("complementary", name="Step prepare")).to_be_visible()
    step(page, "train", "completed").click()
    panel = page.get_by_role("complementary", name="Step train")
    expect(panel.get_by_text("training on rows")).to_be_visible()
    expect(page).to_have_url(re.compile(r"step=train"))
    shot(page, "pipeline-graph")
    panel.get_by_role("button", name="Metrics").click()
    expect(panel.get_by_text("No metrics logged")).to_be_visible()
    panel.get_by_role("button", name="Outputs").click()
    expect(panel.get_by_text("model", exact=True)).to_be_visible()
    expect(panel.get_by_role("link", name="Open the step's job page")).to_have_attribute(
        "href", f"/jobs/{first}--train"
    )
    assert_accessible(page)

    # a rerun of a completed pipeline reuses every step: the graph marks them
    again = str(sdk.jobs.rerun(first).name)
    wait_parent(sdk, again)
    page.goto(f"/jobs/{again}")
    for name in ("prepare", "train", "evaluate"):
        expect(
            page.get_by_role("button", name=f"Step {name}, completed, reused from {first}--{name}")
        ).to_be_visible()
    reused = page.get_by_test_id("pipeline-graph").get_by_role("link", name="reused")
    expect(reused).to_have_count(3)
    expect(reused.first).to_have_attribute("href", re.compile(rf"/jobs/{first}--"))
    expect(page.get_by_text("3 reused")).to_be_visible()
    shot(page, "pipeline-graph-reused", dark=False)

    # the Pipelines list shows both, filtered by name
    page.goto("/pipelines")
    expect(page.get_by_role("link", name=first, exact=True)).to_be_visible()
    expect(page.get_by_role("link", name=again, exact=True)).to_be_visible()
    page.get_by_label("Name").fill(again)
    expect(page.get_by_role("link", name=first, exact=True)).to_have_count(0)
    expect(page).to_have_url(re.compile(rf"q={again}"))
    row = page.locator(f"tr[data-row='{again}']")
    expect(row.get_by_text("3/3")).to_be_visible()
    expect(row.get_by_text("3 reused")).to_be_visible()
    shot(page, "pipelines-list")
    assert_accessible(page)


def test_a_sweep_page_shows_the_trials_the_best_one_and_a_line_per_trial(
    page: Page, sdk: MLClient, compute: str, tmp_path: Path
) -> None:
    write(tmp_path, "src/log_metric.py", LOG_METRIC)
    path = write(tmp_path, "sweep.yml", SWEEP.replace("COMPUTE", compute))
    name = str(sdk.jobs.create_or_update(load_job(path)).name)

    page.goto(f"/jobs/{name}")
    trials = page.get_by_role("table", name="Trials of the sweep").locator("tbody tr")
    expect(trials).to_have_count(3, timeout=60_000)
    done = wait_parent(sdk, name)
    assert done.status == "completed", done.error
    best = done.best_trial
    assert best is not None
    # polled until it ended: every trial completed, the best one marked in the table
    expect(trials.locator("[data-status='completed']")).to_have_count(3, timeout=30_000)
    best_row = page.locator(f"tr[data-row='{best.job}']")
    expect(best_row).to_have_class(re.compile("best-row"))
    expect(best_row.get_by_text("best", exact=True)).to_be_visible()
    expect(page.get_by_test_id("best-trial")).to_contain_text(best.job)
    expect(page.get_by_text("Maximize ↑")).to_be_visible()
    # parallel coordinates: an axis per parameter and the objective, a line per trial
    svg = page.get_by_test_id("parallel-coordinates")
    expect(svg.locator("path.pc-line")).to_have_count(3)
    expect(svg.locator("path.pc-best")).to_have_count(1)
    expect(svg.locator("path.pc-best")).to_have_attribute("data-trial", best.job)
    for axis in ("lr", "kernel", "accuracy ↑"):
        expect(svg.locator(".pc-label", has_text=axis)).to_have_count(1)
    compare = page.get_by_role("link", name="Compare the trials")
    expect(compare).to_have_attribute("href", re.compile(rf"/compare\?jobs={name}--\d"))
    shot(page, "sweep-view")
    assert_accessible(page)
