"""MLflow's proxied artifacts (`mlflow-artifacts:/<path>`), kept in the artifact store.

Run and logged-model artifacts live in the store's mutable file area under `mlflow/<path>`, the
layout MLflow's own server uses (`<experiment>/<run>/artifacts/...`,
`<experiment>/models/<model id>/artifacts/...`). Registered model versions are immutable
content; they are served read-only under the reserved prefix `forgeml-content/<digest>/...`, so
`models:/name/1` downloads exactly the snapshot the asset version names. `snapshot` turns a
folder of the mutable area into such content.
"""

from __future__ import annotations

import hashlib
import posixpath
from typing import BinaryIO

from forgeml.artifacts.base import FileInfo
from forgeml.core.content import (
    Manifest,
    ManifestEntry,
    content_uri,
    parse_content_uri,
    safe_relpath,
)
from forgeml.core.errors import ForbiddenError, NotFoundError
from forgeml.core.tracking import invalid
from forgeml.services.authz import authorize
from forgeml.services.context import Context

SCHEME = "mlflow-artifacts:"
AREA = "mlflow"
CONTENT = "forgeml-content"


def clean(path: str | None) -> str:
    """A safe artifact path relative to the root ('' for the root itself)."""
    text = (path or "").strip().strip("/")
    if not text:
        return ""
    if ".." in text.replace("\\", "/").split("/") or "\x00" in text or "\\" in text:
        raise invalid(f"Invalid path: '{path}'. Artifact paths must not contain '..' or '\\'.")
    return safe_relpath(text)


def path_of_uri(uri: str) -> str | None:
    """The artifact path of an `mlflow-artifacts:/...` URI (None for other schemes)."""
    if not uri.startswith(SCHEME):
        return None
    rest = uri[len(SCHEME) :]
    if rest.startswith("//"):  # mlflow-artifacts://host:port/path
        rest = rest[2:].partition("/")[2]
    return clean(rest)


def content_path(uri: str) -> str:
    """The artifact path that serves the content `forgeml://content/<digest>[/<file>]`."""
    digest, sub = parse_content_uri(uri)
    return f"{CONTENT}/{digest}" + (f"/{sub}" if sub else "")


def _split_content(path: str) -> tuple[str, str] | None:
    parts = path.split("/", 2)
    if parts[0] != CONTENT:
        return None
    if len(parts) < 2:
        raise NotFoundError(f"No such artifact: '{path}'")
    return parts[1], parts[2] if len(parts) > 2 else ""


def _manifest(ctx: Context, digest: str) -> Manifest:
    try:
        manifest = ctx.artifacts.get_manifest(digest)
    except Exception:
        manifest = None
    if manifest is None:
        raise NotFoundError(f"No such artifact: '{CONTENT}/{digest}'")
    return manifest


def put(ctx: Context, path: str, stream: BinaryIO) -> int:
    authorize(ctx, "artifacts.write", path)
    path = clean(path)
    if not path:
        raise invalid("An artifact upload needs a file path.")
    if path.split("/")[0] == CONTENT:
        raise ForbiddenError(
            f"'{CONTENT}/' holds registered model versions, which are immutable; upload "
            "elsewhere (run or model artifacts)."
        )
    return ctx.artifacts.write_file(f"{AREA}/{path}", stream)


def open_file(ctx: Context, path: str) -> tuple[BinaryIO, int]:
    authorize(ctx, "artifacts.read", path)
    path = clean(path)
    content = _split_content(path) if path else None
    if content is not None:
        digest, sub = content
        for entry in _manifest(ctx, digest).entries:
            if entry.path == sub:
                return ctx.artifacts.open_blob(entry.sha256), entry.size
        raise NotFoundError(f"No such artifact: '{path}'")
    info = ctx.artifacts.file_info(f"{AREA}/{path}") if path else None
    if info is None or info.is_dir:
        raise NotFoundError(f"No such artifact: '{path}'")
    return ctx.artifacts.open_file(f"{AREA}/{path}"), info.size or 0


def _content_children(ctx: Context, digest: str, sub: str) -> list[FileInfo]:
    prefix = f"{sub}/" if sub else ""
    seen: dict[str, FileInfo] = {}
    for entry in _manifest(ctx, digest).entries:
        if not entry.path.startswith(prefix):
            continue
        head, _, tail = entry.path[len(prefix) :].partition("/")
        if tail:
            seen.setdefault(head, FileInfo(head, True))
        else:
            seen[head] = FileInfo(head, False, entry.size)
    return sorted(seen.values(), key=lambda f: f.path)


def list_dir(ctx: Context, path: str | None) -> list[FileInfo]:
    """The direct children of a folder as basenames; a file or nothing gives []."""
    authorize(ctx, "artifacts.read", path or "*")
    path = clean(path)
    content = _split_content(path) if path else None
    if content is not None:
        return _content_children(ctx, *content)
    entries = ctx.artifacts.list_files(f"{AREA}/{path}" if path else AREA)
    return [FileInfo(posixpath.basename(e.path), e.is_dir, e.size) for e in entries]


def delete(ctx: Context, path: str) -> None:
    authorize(ctx, "artifacts.write", path)
    path = clean(path)
    if not path or path.split("/")[0] == CONTENT:
        raise ForbiddenError(f"'{path or '/'}' cannot be deleted through the MLflow API.")
    ctx.artifacts.delete_files(f"{AREA}/{path}")


def _walk(ctx: Context, path: str) -> list[str]:
    """Every file under an area folder, relative to it."""
    out: list[str] = []
    stack = [""]
    while stack:
        rel = stack.pop()
        for entry in list_dir(ctx, f"{path}/{rel}" if rel else path):
            child = f"{rel}/{entry.path}" if rel else entry.path
            if entry.is_dir:
                stack.append(child)
            else:
                out.append(child)
    return sorted(out)


def snapshot(ctx: Context, path: str) -> str:
    """Store the files under an artifact folder as immutable content; its content URI."""
    authorize(ctx, "content.write", path)
    path = clean(path)
    content = _split_content(path) if path else None
    if content is not None:  # already content: nothing to copy
        digest, sub = content
        _manifest(ctx, digest)
        return content_uri(digest, sub)
    files = _walk(ctx, path)
    if not files:
        raise invalid(f"No artifacts found under '{SCHEME}/{path}': nothing to register.")
    entries = []
    for rel in files:
        area_path = f"{AREA}/{path}/{rel}"
        hasher, size = hashlib.sha256(), 0
        with ctx.artifacts.open_file(area_path) as fh:
            while chunk := fh.read(1 << 20):
                hasher.update(chunk)
                size += len(chunk)
        digest = hasher.hexdigest()
        if not ctx.artifacts.has_blob(digest):
            with ctx.artifacts.open_file(area_path) as fh:
                ctx.artifacts.put_blob(digest, fh)
        entries.append(ManifestEntry(rel, digest, size))
    manifest = Manifest.build(entries)
    return content_uri(ctx.artifacts.put_manifest(manifest))


def exists(ctx: Context, path: str) -> bool:
    path = clean(path)
    if not path:
        return False
    content = _split_content(path)
    if content is not None:
        return bool(_content_children(ctx, *content)) or any(
            e.path == content[1] for e in _manifest(ctx, content[0]).entries
        )
    return ctx.artifacts.file_info(f"{AREA}/{path}") is not None
