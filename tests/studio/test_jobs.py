"""The studio's jobs: the list (status chips, filters, search and sort in the URL), a job's page
(overview, logs, a metric chart, outputs with their files and "Register model"), submitting a job
from pasted YAML and watching it complete, cancel and rerun."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

import forgeml
from forgeml import MLClient
from tests.jobs.conftest import wait_for
from tests.studio.conftest import assert_accessible, shot, tick

ENV = {"image": "python:3.11"}
LOG_LOSS = (
    "python -c \"import mlflow; print('hello from metrics'); "
    "[mlflow.log_metric('loss', 1.0 / (s + 1), step=s) for s in range(20)]; "
    "mlflow.log_param('lr', 0.01)\""
)
WRITE_MODEL = (
    "python -c \"import pathlib, sys; pathlib.Path(sys.argv[1], 'weights.txt').write_text('w=1'); "
    "pathlib.Path('outputs').mkdir(exist_ok=True); "
    "pathlib.Path('outputs', 'notes.txt').write_text('n')\" ${{outputs.model}}"
)


@pytest.fixture(scope="module")
def seeded(sdk: MLClient) -> Iterator[dict[str, str]]:
    jobs = {
        "metrics": forgeml.command(
            name="studio-metrics",
            display_name="Log a loss curve",
            tags={"team": "vision"},
            command=LOG_LOSS,
            environment=ENV,
            experiment_name="studio-a",
        ),
        "echo": forgeml.command(
            name="studio-echo",
            command="echo hello-studio",
            environment=ENV,
            experiment_name="studio-b",
        ),
        "fail": forgeml.command(
            name="studio-fail",
            command="python -c \"import sys; print('boom', file=sys.stderr); sys.exit(2)\"",
            environment=ENV,
            experiment_name="studio-b",
        ),
        "model": forgeml.command(
            name="studio-model",
            command=WRITE_MODEL,
            environment=ENV,
            experiment_name="studio-a",
            outputs={"model": forgeml.Output(type="uri_folder")},
        ),
    }
    names = {k: str(sdk.jobs.create_or_update(j).name) for k, j in jobs.items()}
    for name in names.values():
        wait_for(sdk, name)
    yield names


def rows(page: Page) -> list[str]:
    return page.locator("table.table tbody tr").evaluate_all(
        "rs => rs.map(r => r.getAttribute('data-row'))"
    )


def test_the_list_filters_searches_and_sorts_in_the_url(page: Page, seeded: dict[str, str]) -> None:
    page.goto("/jobs")
    table = page.get_by_role("table", name="Jobs")
    expect(table.get_by_role("link", name="studio-metrics")).to_be_visible()
    row = table.locator("tr[data-row='studio-fail']")
    expect(row.locator("[data-status]")).to_have_text("failed")
    expect(table.locator("tr[data-row='studio-echo'] [data-status]")).to_have_text("completed")
    expect(table.locator("tr[data-row='studio-metrics']")).to_contain_text("studio-a")
    expect(table.locator("tr[data-row='studio-metrics']")).to_contain_text("local")
    expect(page.get_by_text("4 jobs")).to_be_visible()
    assert_accessible(page)
    shot(page, "jobs-list")

    page.get_by_label("Status").select_option("failed")
    expect(page).to_have_url(re.compile(r"status=failed"))
    expect(table.locator("tbody tr")).to_have_count(1)
    assert rows(page) == ["studio-fail"]
    page.get_by_label("Status").select_option("")
    page.get_by_label("Search").fill("ECHO")
    expect(page).to_have_url(re.compile(r"q=ECHO"))
    expect(table.locator("tbody tr")).to_have_count(1)
    page.get_by_label("Search").fill("")
    expect(table.locator("tbody tr")).to_have_count(4)
    page.get_by_label("Tag").fill("team=vision")
    expect(page).to_have_url(re.compile(r"tag=team%3Dvision"))
    expect(table.locator("tbody tr")).to_have_count(1)
    page.get_by_role("button", name="Clear filters").click()
    expect(table.locator("tbody tr")).to_have_count(4)

    page.get_by_role("button", name=re.compile(r"^Name")).click()
    expect(page).to_have_url(re.compile(r"sort=name"))
    expect(table.locator("tbody tr").first).to_have_attribute("data-row", "studio-model")
    page.get_by_role("button", name=re.compile(r"^Name")).click()
    expect(page).to_have_url(re.compile(r"order=asc"))
    expect(table.locator("tbody tr").first).to_have_attribute("data-row", "studio-echo")
    # the state is in the URL: a reload shows the same
    page.reload()
    expect(table.locator("tbody tr").first).to_have_attribute("data-row", "studio-echo")

    # pick two, compare
    tick(page.get_by_label("Select studio-echo"))
    tick(page.get_by_label("Select studio-metrics"))
    page.get_by_role("button", name="Compare (2)").click()
    expect(page).to_have_url(re.compile(r"/compare\?jobs=studio-echo(,|%2C)studio-metrics"))


def test_a_job_page_shows_overview_logs_metrics_and_outputs(
    page: Page, seeded: dict[str, str]
) -> None:
    page.goto("/jobs")
    page.get_by_role("link", name="studio-metrics").click()
    expect(page).to_have_url(re.compile(r"/jobs/studio-metrics$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Log a loss curve")
    overview = page.get_by_role("tabpanel")
    expect(overview.get_by_text("mlflow.log_metric('loss'", exact=False).first).to_be_visible()
    expect(overview.locator(".kv").first).to_contain_text("studio-a")
    expect(overview.locator(".kv").first).to_contain_text("local")
    expect(overview.get_by_text("python:3.11", exact=True)).to_be_visible()
    expect(overview.get_by_text("0.01", exact=True)).to_be_visible()  # the logged parameter
    assert_accessible(page)
    shot(page, "job-overview")

    page.get_by_role("tab", name="Logs").click()
    expect(page).to_have_url(re.compile(r"tab=logs"))
    logs = page.get_by_test_id("log-view")
    expect(logs).to_contain_text("hello from metrics")
    expect(page.get_by_text("The job has ended")).to_be_visible()
    page.get_by_label("Search the logs").fill("hello")
    expect(logs.locator("mark").first).to_have_text("hello")
    expect(page.get_by_text(re.compile(r"\d+ of \d+ lines match"))).to_be_visible()
    page.get_by_label("Search the logs").fill("")
    page.get_by_label("Stream").select_option("std_out")
    expect(page).to_have_url(re.compile(r"stream=std_out"))
    expect(logs).to_contain_text("hello from metrics")
    expect(logs).not_to_contain_text("queued on compute")
    shot(page, "job-logs")

    page.get_by_role("tab", name="Metrics").click()
    chart = page.get_by_role("figure", name="Chart of loss")
    expect(chart.locator("canvas")).to_be_visible()
    expect(page.get_by_text("20 values")).to_be_visible()
    assert_accessible(page)
    shot(page, "job-metrics")

    # a failed job says why
    page.goto("/jobs/studio-fail")
    expect(page.get_by_role("alert")).to_contain_text("exit code 2")
    expect(page.get_by_role("alert")).to_contain_text("boom")


def test_outputs_are_browsed_and_registered_as_a_model(page: Page, seeded: dict[str, str]) -> None:
    page.goto("/jobs/studio-model?tab=outputs")
    page.get_by_role("button", name="Browse files of model").click()
    files = page.get_by_role("region", name="Files of model")
    expect(files.get_by_role("cell", name="weights.txt", exact=True)).to_be_visible()
    with page.expect_download() as download:
        files.get_by_role("link", name=re.compile("Download")).click()
    assert download.value.suggested_filename == "weights.txt"
    shot(page, "job-outputs", dark=False)
    page.get_by_role("button", name="Register model from model").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("Model name").fill("studio-weights")
    dialog.get_by_role("button", name="Register").click()
    expect(dialog.get_by_role("link", name="studio-weights:1")).to_be_visible()
    dialog.get_by_role("button", name="Close").click()
    # the run's artifacts: what the job wrote to ./outputs
    artifacts = page.get_by_role("region", name="Artifacts")
    artifacts.get_by_role("button", name="outputs/").click()
    expect(artifacts.get_by_role("link", name="Download outputs/notes.txt")).to_be_visible()
    assert_accessible(page)


def test_a_pasted_yaml_job_is_submitted_and_completes(page: Page, sdk: MLClient) -> None:
    page.goto("/submit")
    box = page.get_by_label(re.compile("^Job YAML"))
    bad = "command: echo from-the-browser\nenvironment: {image: python:3.11}\ncolour: blue\n"
    box.fill(bad)
    page.get_by_role("button", name="Submit", exact=True).click()
    error = page.get_by_role("alert")
    expect(error).to_contain_text("<pasted YAML>:3")
    expect(error).to_contain_text("unknown key 'colour'")
    expect(box).to_have_value(bad)  # the text stays to be fixed
    assert_accessible(page)
    shot(page, "job-submit")
    local = "command: python main.py\ncode: ./src\nenvironment: {image: python:3.11}\n"
    box.fill(local)
    page.get_by_role("button", name="Submit", exact=True).click()
    expect(error).to_contain_text("forgeml job create -f")

    box.fill(bad.replace("colour: blue\n", "display_name: from the browser\n"))
    page.get_by_role("button", name="Submit", exact=True).click()
    expect(page).to_have_url(re.compile(r"/jobs/[^/?]+$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("from the browser")
    expect(page.locator(".page-header [data-status]")).to_have_text("completed", timeout=60_000)
    page.get_by_role("tab", name="Logs").click()
    expect(page.get_by_test_id("log-view")).to_contain_text("from-the-browser")


def test_cancel_a_running_job_and_rerun_one(page: Page, sdk: MLClient) -> None:
    job = sdk.jobs.create_or_update(
        forgeml.command(name="studio-sleep", command="sleep 300", environment=ENV)
    )
    wait_for(sdk, str(job.name), ("running",))
    page.goto("/jobs/studio-sleep")
    expect(page.locator(".page-header [data-status]")).to_have_text("running")
    page.get_by_role("button", name="Cancel").click()
    expect(page.locator(".page-header [data-status]")).to_have_text("canceled", timeout=30_000)
    expect(page.get_by_role("button", name="Cancel")).to_have_count(0)

    page.goto("/jobs/studio-echo")
    page.get_by_role("button", name="Rerun").click()
    expect(page).not_to_have_url(re.compile(r"/jobs/studio-echo$"))
    expect(page.get_by_role("link", name="↻ rerun")).to_be_visible()
    expect(page.locator(".page-header [data-status]")).to_have_text("completed", timeout=60_000)
