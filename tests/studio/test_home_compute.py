"""The studio's home page and compute pages: a new workspace's home says how to make the first
job, model and endpoint; after a job it lists the job with its status; the compute list shows the
built-in `local` target, and its page shows its live status and the jobs that ran on it."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

import forgeml
from forgeml import MLClient
from tests.jobs.conftest import wait_for
from tests.studio.conftest import assert_accessible, shot


def test_home_on_an_empty_workspace_then_with_a_job(page: Page, sdk: MLClient) -> None:
    page.goto("/")
    expect(page.get_by_role("heading", name="Welcome to forgeml studio", level=1)).to_be_visible()
    expect(page.get_by_text("No jobs yet")).to_be_visible()
    expect(page.get_by_text("No models yet")).to_be_visible()
    expect(page.get_by_text("No endpoints yet")).to_be_visible()
    expect(page.get_by_role("link", name="Submit job")).to_have_attribute("href", "/submit")
    expect(page.get_by_role("link", name="API reference")).to_have_attribute("href", "/docs")
    assert_accessible(page)
    shot(page, "home-empty")

    job = sdk.jobs.create_or_update(
        forgeml.command(
            command="echo hello from the home page",
            environment={"image": "python:3.11"},  # type: ignore[arg-type]
            experiment_name="studio-home",
            display_name="home-hello",
        )
    )
    assert wait_for(sdk, str(job.name)).status == "completed"
    page.reload()
    recent = page.get_by_role("list", name="Recent jobs")
    row = recent.get_by_role("listitem").filter(has_text="home-hello")
    expect(row.locator("[data-status]")).to_have_text("completed")
    row.get_by_role("link", name="home-hello").click()
    expect(page).to_have_url(re.compile(rf"/jobs/{job.name}$"))
    page.goto("/")
    expect(page.get_by_role("link", name=re.compile(r"^1\s*Jobs$"))).to_be_visible()
    shot(page, "home-with-a-job")


def test_the_compute_list_and_the_local_compute_page(page: Page, sdk: MLClient) -> None:
    page.goto("/compute")
    expect(page.get_by_role("heading", name="Compute", level=1)).to_be_visible()
    table = page.get_by_role("table", name="Compute targets")
    row = table.locator("tr[data-row='local']")
    expect(row.get_by_role("link", name="local")).to_be_visible()
    expect(row.locator("[data-status]")).to_have_text("ready")
    expect(row).to_contain_text("this machine")
    # the filter lives in the URL
    page.get_by_label("Name").fill("nothing-like-this")
    expect(page).to_have_url(re.compile(r"q=nothing-like-this"))
    expect(page.get_by_text("No compute target matches")).to_be_visible()
    page.get_by_label("Name").fill("")
    assert_accessible(page)
    shot(page, "compute-list")

    table.get_by_role("link", name="local").click()
    expect(page).to_have_url(re.compile(r"/compute/local$"))
    expect(page.get_by_role("heading", name="local", level=1)).to_be_visible()
    expect(page.get_by_role("meter", name="CPU in use")).to_be_visible()
    nodes = page.get_by_role("table", name="Nodes")
    expect(nodes.locator("tbody tr")).to_have_count(1)
    expect(nodes).to_contain_text("head")
    # the job the first test ran is listed under the compute it ran on
    jobs = page.get_by_role("table", name="Jobs on local")
    expect(jobs.get_by_role("link", name="home-hello")).to_be_visible()
    assert_accessible(page)
    shot(page, "compute-local")
