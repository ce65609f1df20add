"""The studio's endpoint pages against a real deployment: a registered scikit-learn MLflow
model served by one online endpoint with two deployments (blue and green). The list shows the
endpoint and its split; its page shows both deployments ready; the traffic slider moves the
split to 70/30 while requests keep flowing without one failing; the test console scores a
payload; the figures count the requests; the log shows them. The deploy form (the model page's
Deploy action) makes an endpoint and a deployment; the batch pages show a batch deployment."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from forgeml import MLClient
from forgeml.core.specs import Data, Environment, Model
from forgeml.core.specs.endpoints import (
    BatchEndpoint,
    ModelBatchDeployment,
    OnlineDeployment,
    OnlineEndpoint,
)
from tests.serving.conftest import Load, Scorer
from tests.studio.conftest import assert_accessible, shot

ENDPOINT = "studio-ep"
MODEL = "azureml:sk-linear:1"
ENV = "azureml:fast-py:1"
PAYLOAD = {"input_data": {"columns": ["a", "b"], "data": [[1.0, 2.0], [0.0, 1.0]]}}

SAVE_MODEL_PY = """
import sys
import time
import mlflow.sklearn
import pandas as pd
from mlflow.models import infer_signature
from sklearn.linear_model import LinearRegression

frame = pd.DataFrame({"a": [0.0, 1.0, 2.0, 3.0], "b": [1.0, 0.0, 2.0, 1.0]})
model = LinearRegression().fit(frame, frame.a + 2 * frame.b)
mlflow.sklearn.save_model(
    model, sys.argv[1], signature=infer_signature(frame, model.predict(frame)),
    pip_requirements=["scikit-learn", "pandas"],
)
"""


@pytest.fixture(scope="module")
def deployed(sdk: MLClient, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A registered model y = a + 2b, an image-only environment (the workspace's own Python),
    and endpoint `studio-ep` with blue (all traffic) and green (none), one instance each."""
    root = tmp_path_factory.mktemp("studio-model")
    subprocess.run(
        [sys.executable, "-c", SAVE_MODEL_PY, str(root / "linear")],
        check=True,
        capture_output=True,
        timeout=120,
    )
    sdk.models.create_or_update(
        Model(name="sk-linear", version="1", path=str(root / "linear"), type="mlflow_model")
    )
    sdk.environments.create_or_update(Environment(name="fast-py", version="1", image="python:3.11"))
    sdk.online_endpoints.begin_create_or_update(OnlineEndpoint(name=ENDPOINT)).result()
    pollers = [
        sdk.online_deployments.begin_create_or_update(
            OnlineDeployment(
                name=name, endpoint_name=ENDPOINT, model=MODEL, environment=ENV, instance_count=1
            ),
            all_traffic=name == "blue",
        )
        for name in ("blue", "green")
    ]
    for poller in pollers:
        poller.result(timeout=120)
    yield ENDPOINT


def test_the_list_shows_the_endpoint_and_the_page_moves_traffic_without_errors(
    page: Page, sdk: MLClient, deployed: str
) -> None:
    page.goto("/online-endpoints")
    expect(page.get_by_role("heading", name="Endpoints", level=1)).to_be_visible()
    table = page.get_by_role("table", name="Online endpoints")
    row = table.locator(f"tr[data-row='{deployed}']")
    expect(row).to_contain_text("blue 100%")
    expect(row.locator("td").nth(3)).to_have_text("2")  # deployments
    page.get_by_label("Name").fill("no-such-endpoint")
    expect(page).to_have_url(re.compile(r"q=no-such-endpoint"))
    expect(page.get_by_text("No online endpoint matches")).to_be_visible()
    page.get_by_label("Name").fill("studio")
    expect(row).to_be_visible()
    assert_accessible(page)
    shot(page, "endpoints-list")

    row.get_by_role("link", name=deployed).click()
    expect(page).to_have_url(re.compile(rf"/online-endpoints/{deployed}$"))
    deployments = page.get_by_role("table", name="Deployments")
    for name in ("blue", "green"):
        expect(deployments.locator(f"tr[data-row='{name}'] [data-status]")).to_have_text(
            "succeeded"
        )
    expect(deployments.locator("tr[data-row='blue']").get_by_role("link")).to_have_text(
        "sk-linear:1"
    )
    # keys: read only on request, masked until revealed
    page.get_by_role("button", name="Show keys").click()
    primary = page.get_by_label("Primary key")
    expect(primary).to_have_attribute("type", "password")
    page.get_by_role("button", name="Reveal keys").click()
    expect(primary).to_have_attribute("type", "text")
    expect(primary).to_have_value(sdk.online_endpoints.get_keys(deployed).primary_key)
    page.get_by_role("button", name="Hide").click()
    expect(page.get_by_label("Primary key")).to_have_count(0)
    assert_accessible(page)
    shot(page, "endpoint-details")

    scorer = Scorer.of(sdk, deployed)
    with Load(scorer, threads=2, body=PAYLOAD) as load:
        load.next(5)  # requests are flowing before the change
        changing = time.monotonic()
        slider = page.get_by_label("Traffic for blue")
        slider.focus()
        page.keyboard.press("End")
        for _ in range(30):
            page.keyboard.press("ArrowLeft")
        expect(slider).to_have_value("70")
        expect(page.get_by_label("Traffic percent for green")).to_have_value("30")
        expect(page.get_by_text("Total 100%")).to_be_visible()
        page.get_by_role("button", name="Apply").click()
        expect(page.get_by_text("Traffic updated")).to_be_visible()
        assert sdk.online_endpoints.get(deployed).traffic == {"blue": 70, "green": 30}
        after = load.next(40)  # answers to requests sent after the change
        result = load.stop()
    scorer.close()
    during = [a for a in result.answers if a.sent >= changing]
    assert len(during) > 40
    assert [a.status for a in during if a.status != 200] == [], result.failures
    assert {a.deployment for a in after.answers} == {"blue", "green"}
    expect(
        page.get_by_role("table", name="Deployments").locator("tr[data-row='green']")
    ).to_contain_text("30%")
    # with two deployments, one number sets both; Reset goes back to the applied split
    page.get_by_label("Traffic percent for blue").fill("55")
    expect(page.get_by_label("Traffic percent for green")).to_have_value("45")
    expect(page.get_by_role("button", name="Apply")).to_be_enabled()
    page.get_by_role("button", name="Reset").click()
    expect(page.get_by_label("Traffic for green")).to_have_value("30")
    expect(page.get_by_role("button", name="Apply")).to_be_disabled()


def test_the_console_scores_and_the_figures_and_logs_show_the_requests(
    page: Page, deployed: str
) -> None:
    page.goto(f"/online-endpoints/{deployed}?tab=test")
    page.get_by_label("Request body (JSON)").fill(json.dumps(PAYLOAD, indent=2))
    page.get_by_role("button", name="Send").click()
    expect(page.get_by_test_id("answer-status")).to_have_text("200")
    answer = page.get_by_label("Response body")
    expect(answer).to_contain_text("[")
    assert [round(v, 6) for v in json.loads(answer.inner_text())] == [5.0, 2.0]
    # pinned to green
    page.get_by_label("Deployment").select_option("green")
    page.get_by_role("button", name="Send").click()
    expect(page.get_by_text(re.compile(r"Deployment\s*green"))).to_be_visible()
    # a payload the model rejects: its status and message are shown
    page.get_by_label("Request body (JSON)").fill(
        '{"input_data": {"columns": ["zzz"], "data": [[1]]}}'
    )
    page.get_by_role("button", name="Send").click()
    expect(page.get_by_test_id("answer-status")).to_have_text(re.compile(r"4\d\d"))
    # not JSON: said at once, nothing sent
    page.get_by_label("Request body (JSON)").fill("{not json")
    page.get_by_role("button", name="Send").click()
    expect(page.get_by_text("The request body is not valid JSON")).to_be_visible()
    assert_accessible(page)
    shot(page, "endpoint-test-console")

    page.get_by_role("tab", name="Monitoring").click()
    requests = page.get_by_role("group", name="Figures of blue").locator("[data-figure='Requests']")
    expect(requests).not_to_have_text("0")
    assert int(requests.inner_text().replace(",", "")) > 0
    expect(
        page.get_by_role("group", name="Figures of blue").locator("[data-figure='p50']")
    ).to_have_text(re.compile(r"ms$"))
    assert_accessible(page)
    shot(page, "endpoint-monitoring")

    page.get_by_role("tab", name="Logs").click()
    page.get_by_label("Deployment").select_option("green")
    expect(page.get_by_label("Log of green")).to_contain_text("POST /score -> 200", timeout=20_000)
    assert_accessible(page)
    shot(page, "endpoint-logs")


def test_the_deploy_form_makes_an_endpoint_and_a_deployment(page: Page, deployed: str) -> None:
    page.goto(f"/online-endpoints?deploy={MODEL}")
    dialog = page.get_by_role("dialog", name="Deploy a model to an online endpoint")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_label("Model")).to_have_value(MODEL)
    expect(dialog.get_by_text("An MLflow model: no scoring script")).to_be_visible()
    expect(dialog.get_by_label("Deployment name")).to_have_value("blue")
    dialog.get_by_label("Endpoint name").fill("studio-deployed")
    dialog.get_by_label("Environment (optional)").fill(ENV)
    assert_accessible(page)
    shot(page, "endpoint-deploy-form", dark=False)
    dialog.get_by_role("button", name="Deploy").click()
    expect(page).to_have_url(re.compile(r"/online-endpoints/studio-deployed$"))
    row = page.get_by_role("table", name="Deployments").locator("tr[data-row='blue']")
    expect(row.locator("[data-status]")).to_have_text("succeeded", timeout=120_000)
    expect(page.get_by_text("Online endpoint · blue 100%")).to_be_visible()


def test_the_batch_pages_show_a_deployment_and_invoke_it(
    page: Page, sdk: MLClient, deployed: str, tmp_path: Path
) -> None:
    sdk.batch_endpoints.begin_create_or_update(BatchEndpoint(name="studio-batch")).result()
    sdk.batch_deployments.begin_create_or_update(
        ModelBatchDeployment(
            name="sk",
            endpoint_name="studio-batch",
            model=MODEL,
            environment=ENV,
            settings={"mini_batch_size": 3, "output_action": "append_row"},
        )
    ).result()
    sdk.batch_endpoints.begin_create_or_update(
        BatchEndpoint(name="studio-batch", defaults={"deployment_name": "sk"})
    ).result()
    page.goto("/online-endpoints")
    page.get_by_role("navigation", name="Endpoint kind").get_by_role(
        "link", name="Batch endpoints"
    ).click()
    expect(page).to_have_url(re.compile(r"/batch-endpoints$"))
    row = page.get_by_role("table", name="Batch endpoints").locator("tr[data-row='studio-batch']")
    expect(row).to_contain_text("sk")
    assert_accessible(page)
    shot(page, "batch-endpoints-list", dark=False)
    row.get_by_role("link", name="studio-batch").click()
    deps = page.get_by_role("table", name="Deployments")
    expect(deps.locator("tr[data-row='sk']")).to_contain_text("default")
    expect(deps.locator("tr[data-row='sk']")).to_contain_text("mini_batch_size=3")
    expect(page.get_by_text("No jobs yet")).to_be_visible()
    assert_accessible(page)
    shot(page, "batch-endpoint")

    # invoke on a registered data asset: the scoring job opens, and the endpoint lists it
    rows = tmp_path / "rows"
    rows.mkdir()
    (rows / "part-0.csv").write_text("a,b\n1.0,2.0\n0.0,1.0\n")
    sdk.data.create_or_update(
        Data(name="studio-rows", version="1", path=str(rows), type="uri_folder")
    )
    page.get_by_label("Input data").fill("azureml:studio-rows:1")
    page.get_by_label("Job name (optional)").fill("studio-batch-run")
    page.get_by_role("button", name="Invoke").click()
    expect(page).to_have_url(re.compile(r"/jobs/studio-batch-run$"))
    expect(page.get_by_role("heading", level=1)).not_to_have_text("studio-batch")
    page.go_back()
    jobs = page.get_by_role("table", name="Jobs of this endpoint")
    expect(jobs.get_by_role("link", name="studio-batch-run")).to_be_visible()
    expect(jobs.locator("tr[data-row='studio-batch-run']")).to_contain_text("sk")
