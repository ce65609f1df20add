"""The studio's pages and files as the server serves them: every studio route gets the page,
a missing build gets a page that says how to build it, and nothing shadows the API."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.testclient import TestClient

from forgeml.server import studio


def _app(dist: Path) -> TestClient:
    app = FastAPI()

    @app.get("/api/v1/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    studio.mount(app, dist)
    return TestClient(app)


def test_without_a_build_the_root_says_how_to_build_the_studio(tmp_path: Path) -> None:
    http = _app(tmp_path / "nowhere")
    for path in ("/", "/jobs", "/models/m/1"):
        page = http.get(path)
        assert page.status_code == 200
        assert "make studio" in page.text and "/docs" in page.text
    assert http.get("/api/v1/health").json() == {"status": "ok"}


def test_a_build_is_served_at_every_studio_route_with_its_static_files(tmp_path: Path) -> None:
    (tmp_path / "static").mkdir()
    (tmp_path / "index.html").write_text('<div id="root"></div>', encoding="utf-8")
    (tmp_path / "static" / "app-1.js").write_text("console.log(1)", encoding="utf-8")
    (tmp_path / "favicon.svg").write_text("<svg/>", encoding="utf-8")
    http = _app(tmp_path)
    for section in studio.SECTIONS:
        for path in (f"/{section}", f"/{section}/a/b"):
            page = http.get(path)
            assert page.status_code == 200 and 'id="root"' in page.text, path
            assert page.headers["cache-control"] == "no-cache"
    script = http.get("/static/app-1.js")
    assert script.text == "console.log(1)"
    assert script.headers["content-encoding"] == "gzip"
    assert "immutable" in script.headers["cache-control"]
    plain = http.get("/static/app-1.js", headers={"Accept-Encoding": "identity"})
    assert plain.text == "console.log(1)" and "content-encoding" not in plain.headers
    assert http.get("/static/..%2Findex.html").status_code == 404
    assert http.get("/static/nope.js").status_code == 404
    assert http.get("/static/a%00b").status_code == 404
    assert http.get("/static/" + "x" * 300).status_code == 404
    assert http.get("/favicon.svg").status_code == 200
    # not a studio section: not the studio's page
    assert http.get("/endpoints/e/score").status_code == 404
    assert http.get("/elsewhere").status_code == 404


def test_the_studio_sections_match_the_studio_routes() -> None:
    routes = Path(__file__).resolve().parents[2] / "studio" / "src" / "routes.tsx"
    text = routes.read_text(encoding="utf-8")
    for section in studio.SECTIONS:
        if section != "home":
            assert f'"/{section}' in text or f'"{section}"' in text, section
