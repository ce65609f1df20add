"""Browser tests of the studio: Playwright drives Debian's chromium (`make test` installs it)
against a real `forgeml up` with its built studio. Each module gets its own workspace; each test
a fresh browser page that fails the test on any uncaught script error. `shot` saves screenshots
under test-output/studio/ (look at them); `assert_accessible` runs axe-core on the page."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Locator, Page, Playwright, expect, sync_playwright

from forgeml import MLClient
from tests.cli.live import Server, start_workspace
from tests.jobs.conftest import kill_leftovers

ROOT = Path(__file__).resolve().parents[2]
DIST = ROOT / "src" / "forgeml" / "server" / "studio_dist"
AXE = ROOT / "studio" / "node_modules" / "axe-core" / "axe.min.js"
SHOTS = ROOT / "test-output" / "studio"
CHROMIUM = os.environ.get("FORGEML_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def playwright_driver() -> Iterator[Playwright]:
    if not (DIST / "index.html").is_file():
        pytest.fail(f"the studio is not built ({DIST} has no index.html): run `make studio`")
    if not Path(CHROMIUM).is_file():
        pytest.fail(f"no chromium at {CHROMIUM}: run `make browser` (Debian's chromium package)")
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="session")
def chromium(playwright_driver: Playwright) -> Iterator[Browser]:
    browser = playwright_driver.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    try:
        yield browser
    finally:
        browser.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = start_workspace(tmp_path_factory.mktemp("studio-workspace"))
    try:
        yield srv
    finally:
        srv.stop()
        kill_leftovers(srv.home)


@pytest.fixture(scope="module")
def sdk(server: Server) -> Iterator[MLClient]:
    with MLClient(url=server.url) as client:
        yield client


@pytest.fixture
def page(chromium: Browser, server: Server) -> Iterator[Page]:
    context = chromium.new_context(
        base_url=server.url, viewport={"width": 1440, "height": 900}, accept_downloads=True
    )
    context.set_default_timeout(15_000)
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        yield tab
    finally:
        context.close()
    assert not errors, f"the studio raised script errors: {errors}"


def shot(page: Page, name: str, *, dark: bool = True) -> None:
    """Screenshots of the page in the light theme (and the dark one) for a person to look at."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    safe = re.sub(r"[^a-z0-9_-]+", "-", name.lower())
    themes = ("light", "dark") if dark else ("light",)
    before = page.evaluate("document.documentElement.dataset.theme")
    for theme in themes:
        page.evaluate(f"document.documentElement.dataset.theme = {json.dumps(theme)}")
        page.wait_for_timeout(150)
        page.screenshot(path=str(SHOTS / f"{safe}-{theme}.png"), full_page=True)
    page.evaluate(f"document.documentElement.dataset.theme = {json.dumps(before)}")


def axe_violations(page: Page, *, impacts: tuple[str, ...] = ("serious", "critical")) -> list[Any]:
    """axe-core's violations on the page at the given impacts, in both themes."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
    found: list[Any] = []
    before = page.evaluate("document.documentElement.dataset.theme")
    for theme in ("light", "dark"):
        page.evaluate(f"document.documentElement.dataset.theme = {json.dumps(theme)}")
        result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
        for v in result["violations"]:
            if v["impact"] in impacts:
                targets = [n["target"] for n in v["nodes"]][:5]
                found.append({"theme": theme, "id": v["id"], "help": v["help"], "nodes": targets})
    page.evaluate(f"document.documentElement.dataset.theme = {json.dumps(before)}")
    return found


def assert_accessible(page: Page) -> None:
    violations = axe_violations(page)
    assert not violations, json.dumps(violations, indent=1)


def tick(box: Locator, on: bool = True) -> None:
    """Click a checkbox as a user does and wait for it to show the new state. (Playwright's
    `check()` reads the state right after its click, but a box whose state lives in the URL is
    redrawn by the router's navigation a moment later.)"""
    if box.is_checked() != on:
        box.click()
    expect(box).to_be_checked(checked=on)
