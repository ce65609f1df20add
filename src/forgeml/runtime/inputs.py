"""Turning a job's inputs into what its command sees: local paths, URIs or literal values.

Workspace content (`forgeml://content/...`) in `ro_mount` mode (and `eval_mount`) becomes the
shared read-only tree in the content cache; in `download` mode (and `eval_download`) a writable
copy under `<workdir>/inputs/<name>/`; in `direct` mode the URI itself. Other URIs are passed as
they are in `direct` mode and otherwise downloaded: http(s) with httpx, any other scheme that
fsspec knows (s3://, gs://, ...) through fsspec. A literal's value is its text; an input with
neither value nor URI is unset (an optional input the job left out).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from urllib.parse import unquote, urlparse

import httpx

from forgeml.core.content import CONTENT_PREFIX
from forgeml.core.errors import UserError
from forgeml.runtime.content import ContentCache
from forgeml.schemas.runtime import RunnerInput

Log = Callable[[str], None]
FILE_TYPES = frozenset({"uri_file"})


class InputError(UserError):
    """An input could not be made available to the command."""


def literal_text(value: object) -> str:
    """How a literal appears in a command line (Python's own text for numbers and booleans)."""
    return value if isinstance(value, str) else str(value)


def materialize(
    inputs: dict[str, RunnerInput], cache: ContentCache, workdir: Path, log: Log
) -> dict[str, str | None]:
    """Each input's text for `${{inputs.<name>}}`; None for an unset input."""
    resolved: dict[str, str | None] = {}
    for name, item in inputs.items():
        try:
            resolved[name] = _one(name, item, cache, workdir, log)
        except UserError as exc:
            raise InputError(f"input '{name}': {exc.message}") from None
        except OSError as exc:
            raise InputError(f"input '{name}' could not be made available: {exc}") from None
    return resolved


def _one(name: str, item: RunnerInput, cache: ContentCache, workdir: Path, log: Log) -> str | None:
    if item.uri is None:
        return None if item.value is None else literal_text(item.value)
    uri = item.uri
    if item.mode == "direct":
        return uri
    writable = item.mode in ("download", "eval_download")
    dest = workdir / "inputs" / name
    if uri.startswith(CONTENT_PREFIX):
        path = cache.copy(uri, dest) if writable else cache.read_only(uri)
        log(f"input '{name}': {uri} -> {path}{'' if writable else ' (read-only)'}")
        return str(path)
    scheme = urlparse(uri).scheme.lower()
    if scheme in ("http", "https"):
        path = _download_http(uri, dest)
    elif scheme in ("", "file"):
        raise InputError(
            f"'{uri}' is a path on the submitting machine; the CLI and SDK upload local inputs, "
            "so submit the job with them."
        )
    else:
        path = _download_fsspec(uri, dest, folder=item.type not in FILE_TYPES)
    log(f"input '{name}': downloaded {uri} -> {path}")
    return str(path)


def _download_http(uri: str, dest: Path) -> Path:
    filename = Path(unquote(urlparse(uri).path)).name or "download"
    dest.mkdir(parents=True, exist_ok=True)
    target = dest / filename
    try:
        with (
            httpx.stream("GET", uri, follow_redirects=True, timeout=60.0) as response,
            target.open("wb") as fh,
        ):
            if response.status_code >= 400:
                raise InputError(f"downloading {uri} answered HTTP {response.status_code}.")
            for chunk in response.iter_bytes(1 << 20):
                fh.write(chunk)
    except httpx.HTTPError as exc:
        raise InputError(f"downloading {uri} failed: {exc}") from None
    return target


def _download_fsspec(uri: str, dest: Path, *, folder: bool) -> Path:
    import fsspec

    try:
        fs, path = fsspec.core.url_to_fs(uri)
    except (ValueError, ImportError) as exc:
        raise InputError(
            f"'{uri}' cannot be read here ({exc}); use `mode: direct` to hand the URI to the "
            "command, or store the data in the workspace as a data asset."
        ) from None
    dest.mkdir(parents=True, exist_ok=True)
    try:
        if folder and fs.isdir(path):
            fs.get(path.rstrip("/") + "/", str(dest) + "/", recursive=True)
            return dest
        target = dest / Path(path).name
        fs.get(path, str(target))
        return target
    except Exception as exc:  # each fsspec backend raises its own types
        shutil.rmtree(dest, ignore_errors=True)
        raise InputError(f"downloading {uri} failed: {exc}") from None
