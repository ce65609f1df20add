"""The studio's frame: served at every studio route by the workspace process, the left
navigation, themes, the API and scoring paths untouched, and the page when the build is missing."""

from __future__ import annotations

import httpx
from playwright.sync_api import Page, expect

from tests.cli.live import Server
from tests.studio.conftest import assert_accessible, shot

SECTIONS = [
    ("Home", "/"),
    ("Jobs", "/jobs"),
    ("Pipelines", "/pipelines"),
    ("Components", "/components"),
    ("Data", "/data"),
    ("Models", "/models"),
    ("Environments", "/environments"),
    ("Endpoints", "/online-endpoints"),
    ("Compute", "/compute"),
]


def test_the_studio_is_served_at_the_root_and_every_section(server: Server) -> None:
    for _, path in [*SECTIONS, ("Job", "/jobs/some-job"), ("Model", "/models/m/1")]:
        answer = httpx.get(server.url + path)
        assert answer.status_code == 200, path
        assert '<div id="root">' in answer.text
    # the API, its document and the scoring paths are not the studio's
    assert httpx.get(server.url + "/api/v1/health").json()
    assert httpx.get(server.url + "/openapi.json").json()["openapi"]
    scoring = httpx.post(server.url + "/endpoints/nowhere/score", json={})
    assert scoring.status_code in (401, 404) and "root" not in scoring.text
    assert httpx.get(server.url + "/no-such-page").status_code == 404


def test_the_left_navigation_reaches_every_section_by_keyboard(page: Page) -> None:
    page.goto("/")
    nav = page.get_by_role("navigation", name="Workspace")
    for label, path in SECTIONS:
        nav.get_by_role("link", name=label, exact=True).click()
        expect(page).to_have_url(f"{page.url.split('/', 3)[0]}//{page.url.split('/')[2]}{path}")
        expect(page.get_by_role("heading", level=1)).to_be_visible()
    # keyboard: the skip link comes first and moves to the content
    page.goto("/jobs")
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    assert_accessible(page)
    shot(page, "shell-jobs")


def test_the_theme_switch_is_remembered(page: Page) -> None:
    page.goto("/")
    start = page.evaluate("document.documentElement.dataset.theme")
    page.get_by_role(
        "button", name="Use the dark theme" if start == "light" else "Use the light theme"
    ).click()
    flipped = page.evaluate("document.documentElement.dataset.theme")
    assert flipped != start
    page.reload()
    assert page.evaluate("document.documentElement.dataset.theme") == flipped
