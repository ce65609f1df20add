"""The studio's built files (`make studio` writes them into this package's `studio_dist/`): its
script and style files under `/static/`, and its page for every studio route. The routes are a
fixed list of first path segments, so they never shadow the API (`/api/...`, `/openapi.json`,
`/docs`) or the scoring paths (`/endpoints/<name>/...`)."""

from __future__ import annotations

import gzip
import mimetypes
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse, Response

#: where the build writes the studio (see studio/vite.config.ts)
DIST = Path(__file__).with_name("studio_dist")
#: first path segments of the studio's own pages (studio/src/routes.tsx lists the same)
SECTIONS = (
    "home",
    "jobs",
    "pipelines",
    "components",
    "data",
    "models",
    "environments",
    "online-endpoints",
    "batch-endpoints",
    "compute",
    "compare",
    "submit",
)

MISSING = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>forgeml</title>
<style>body{{font:16px/1.5 system-ui,sans-serif;max-width:42rem;margin:4rem auto;padding:0 1rem}}
code{{background:#eef;padding:.1rem .3rem;border-radius:4px}}</style></head>
<body><h1>forgeml workspace</h1>
<p>The API is running: see <a href="/docs">/docs</a> (OpenAPI document:
<a href="/openapi.json">/openapi.json</a>).</p>
<p>The studio has not been built: {where} holds no <code>index.html</code>. Build it from the
project's folder with <code>make studio</code> (or <code>make run</code>, which builds it first);
it needs Node.js 20 and npm.</p></body></html>
"""


class StaticFiles:
    """The build's content-hashed files: cached for good by browsers, and gzipped (once, kept in
    memory) for a browser that accepts it, which cuts the first page's script to a third."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder.resolve()
        self.zipped: dict[Path, bytes] = {}

    def __call__(self, path: str, request: Request) -> Response:
        try:
            file = (self.folder / path).resolve()
            found = file.is_relative_to(self.folder) and file.is_file()
        except (OSError, ValueError):  # a NUL byte, a name too long for the file system
            found = False
        if not found:
            return Response(status_code=404)
        media = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
        headers = {
            "Cache-Control": "public, max-age=31536000, immutable",
            "Vary": "Accept-Encoding",
        }
        if "gzip" not in request.headers.get("accept-encoding", "") or not _compressible(media):
            return FileResponse(file, media_type=media, headers=headers)
        body = self.zipped.get(file)
        if body is None:
            body = self.zipped[file] = gzip.compress(file.read_bytes(), compresslevel=9)
        return Response(body, media_type=media, headers={**headers, "Content-Encoding": "gzip"})


def _compressible(media: str) -> bool:
    return media.startswith("text/") or media in ("application/javascript", "image/svg+xml")


def mount(app: FastAPI, dist: Path = DIST) -> None:
    """Serve the studio from `dist`, or a page that says how to build it."""
    index = dist / "index.html"
    app.add_api_route(
        "/static/{path:path}",
        StaticFiles(dist / "static"),
        methods=["GET"],
        include_in_schema=False,
        response_model=None,
    )

    def page() -> Response:
        if index.is_file():
            # the page names content-hashed files: it must be fetched again after a rebuild
            return FileResponse(index, headers={"Cache-Control": "no-cache"})
        return HTMLResponse(MISSING.format(where=dist))

    paths = ["/"] + [p for s in SECTIONS for p in (f"/{s}", f"/{s}/{{rest:path}}")]
    for path in paths:
        app.add_api_route(path, page, methods=["GET"], include_in_schema=False, response_model=None)
    icon = dist / "favicon.svg"

    def favicon() -> Response:
        return FileResponse(icon) if icon.is_file() else Response(status_code=404)

    app.add_api_route("/favicon.svg", favicon, methods=["GET"], include_in_schema=False)
