"""The studio's compare page (/compare?jobs=a,b): two runs that logged the same metric over
steps with different parameters, their parameters side by side with the difference marked, the
metric's chart with both runs overlaid, and runs added and removed through the URL."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

from playwright.sync_api import Page, expect

import forgeml
from forgeml import MLClient
from tests.jobs.conftest import wait_for
from tests.studio.conftest import assert_accessible, shot, tick

TRAIN = '''\
"""Log parameters and a loss over ten steps to this job's MLflow run (MLflow's REST protocol,
standard library only: importing mlflow takes seconds)."""
import json, os, sys, time, urllib.request

lr = float(sys.argv[1])
base = os.environ["MLFLOW_TRACKING_URI"].rstrip("/") + "/api/2.0/mlflow/runs/log-batch"
now = int(time.time() * 1000)
body = {
    "run_id": os.environ["MLFLOW_RUN_ID"],
    "params": [{"key": "lr", "value": str(lr)}, {"key": "optimizer", "value": "sgd"}],
    "metrics": [{"key": "loss", "value": 1 / (1 + lr * s), "timestamp": now, "step": s}
                for s in range(10)]
               + [{"key": "accuracy", "value": 0.5 + lr / 2, "timestamp": now, "step": 9}],
}
request = urllib.request.Request(base, data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
urllib.request.urlopen(request, timeout=30).read()
print("logged", lr, flush=True)
'''


def train(sdk: MLClient, code: Path, lr: float) -> str:
    job = sdk.jobs.create_or_update(
        forgeml.command(
            command=f"python train.py {lr}",
            code=code,
            environment={"image": "python:3.11"},  # type: ignore[arg-type]
            experiment_name="studio-compare",
        )
    )
    return str(job.name)


def test_two_runs_side_by_side_with_an_overlaid_chart_and_runs_added_and_removed(
    page: Page, sdk: MLClient, tmp_path: Path
) -> None:
    code = tmp_path / "src"
    code.mkdir()
    (code / "train.py").write_text(textwrap.dedent(TRAIN))
    a, b = train(sdk, code, 0.1), train(sdk, code, 0.5)
    for name in (a, b):
        assert wait_for(sdk, name).status == "completed"

    page.goto("/compare")
    expect(page.get_by_role("heading", name="Compare runs", level=1)).to_be_visible()
    expect(page.get_by_text("No runs to compare yet")).to_be_visible()
    page.get_by_label("Add a run by job name").fill(f"{a}, {b}")
    page.get_by_role("button", name="Add", exact=True).click()
    expect(page).to_have_url(re.compile(rf"jobs={a}%2C{b}|jobs={a},{b}"))

    params = page.get_by_role("table", name="Parameters of the compared runs")
    expect(params.locator("thead th")).to_have_count(3)  # the key, then a column per run
    expect(params.get_by_role("link", name=a)).to_be_visible()
    expect(params.get_by_role("link", name=b)).to_be_visible()
    lr_row = params.locator("tr[data-key='lr']")
    expect(lr_row).to_have_class(re.compile("differs"))
    expect(lr_row.locator("td")).to_have_text(["0.1", "0.5"])
    expect(params.locator("tr[data-key='optimizer']")).not_to_have_class(re.compile("differs"))
    tick(page.get_by_label("Only the differing values"))
    expect(params.locator("tr[data-key='optimizer']")).to_have_count(0)
    expect(page).to_have_url(re.compile(r"diff=1"))
    tick(page.get_by_label("Only the differing values"), on=False)

    metrics = page.get_by_role("table", name="Latest metrics of the compared runs")
    expect(metrics.locator("tr[data-key='accuracy'] td")).to_have_text(["0.55", "0.75"])

    chart = page.get_by_role("figure", name="Chart of loss")
    legend = chart.locator(".u-legend .u-series")
    expect(legend.filter(has_text=a)).to_have_count(1)
    expect(legend.filter(has_text=b)).to_have_count(1)
    expect(page.get_by_role("figure", name="Chart of accuracy")).to_be_visible()
    shot(page, "compare")
    assert_accessible(page)

    # remove one run: the URL, the tables and the chart follow
    page.get_by_role("button", name=f"Remove {b}").click()
    expect(page).to_have_url(re.compile(rf"jobs={a}$"))
    expect(params.locator("thead th")).to_have_count(2)
    expect(params.get_by_role("link", name=b)).to_have_count(0)
    expect(chart.get_by_role("img")).to_be_visible()

    # a link opens the same comparison
    page.goto(f"/compare?jobs={a},{b}")
    expect(page.get_by_role("button", name=f"Remove {a}")).to_be_visible()
    expect(page.get_by_role("button", name=f"Remove {b}")).to_be_visible()
