"""Turning local paths into workspace content: hash, send only what is missing, register.

A folder is walked (honouring `.amlignore`, else `.gitignore`, where asked), each file hashed
with sha256, the server asked which digests it lacks, only those uploaded, and the manifest
registered last. An interruption at any point leaves no asset half-registered: an asset can only
name a manifest, and a manifest is only accepted once all of its files are stored.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from forgeml.client.http import Http
from forgeml.core.content import Manifest, ManifestEntry, safe_relpath
from forgeml.core.errors import SpecError

CHUNK = 1 << 20
IGNORE_FILES = (".amlignore", ".gitignore")


@dataclass(frozen=True)
class LocalFile:
    relpath: str
    source: Path
    sha256: str
    size: int


def sha256_file(path: Path) -> tuple[str, int]:
    hasher, size = hashlib.sha256(), 0
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK):
            hasher.update(chunk)
            size += len(chunk)
    return hasher.hexdigest(), size


def _ignore_spec(root: Path) -> object | None:
    import pathspec

    for name in IGNORE_FILES:
        candidate = root / name
        if candidate.is_file():
            lines = candidate.read_text(encoding="utf-8").splitlines()
            return pathspec.GitIgnoreSpec.from_lines(lines)
    return None


def _walk(root: Path, *, honour_ignore: bool) -> Iterator[tuple[str, Path]]:
    spec = _ignore_spec(root) if honour_ignore else None
    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = Path(dirpath).relative_to(root)
        dirnames[:] = sorted(
            d
            for d in dirnames
            if not (spec and spec.match_file(str(rel_dir / d) + "/"))  # type: ignore[attr-defined]
            and d not in (".git", "__pycache__")
        )
        for name in sorted(filenames):
            rel = (rel_dir / name).as_posix()
            if spec and spec.match_file(rel):  # type: ignore[attr-defined]
                continue
            yield rel, Path(dirpath) / name


def collect(
    path: Path, *, field: str, honour_ignore: bool = False, prefix: str = ""
) -> list[tuple[str, Path]]:
    if path.is_file():
        return [(prefix + path.name if prefix else path.name, path)]
    if path.is_dir():
        return [
            ((prefix + rel) if prefix else rel, src)
            for rel, src in _walk(path, honour_ignore=honour_ignore)
        ]
    raise SpecError(
        f"'{path}' does not exist; check the path (it is relative to the YAML file's folder).",
        field=field,
    )


#: uploads this small skip the question of which blobs the store already has
SMALL_COUNT = 4
SMALL_BYTES = 256 * 1024


class Uploader:
    def __init__(self, http: Http, *, workers: int = 8) -> None:
        self.http = http
        self.workers = workers

    def upload_files(self, files: list[tuple[str, Path]], *, single_file: bool, field: str) -> str:
        """Upload files (relative name, source) and return the content URI of the whole."""
        if not files:
            raise SpecError("the folder holds no files to upload.", field=field)
        if len(files) <= SMALL_COUNT:
            hashed = [(rel, src, *sha256_file(src)) for rel, src in files]
        else:
            with ThreadPoolExecutor(self.workers) as pool:
                hashed = list(
                    pool.map(lambda item: (item[0], item[1], *sha256_file(item[1])), files)
                )
        local = [
            LocalFile(safe_relpath(rel), src, digest, size) for rel, src, digest, size in hashed
        ]
        digests = list(dict.fromkeys(f.sha256 for f in local))
        small = len(local) <= SMALL_COUNT and sum(f.size for f in local) <= SMALL_BYTES
        missing: set[str] = set(digests) if small else set()
        # a few small files are sent at once (a blob sent twice is stored once); for more,
        # asking which ones the store lacks saves sending what it has
        for start in range(0, 0 if small else len(digests), 10_000):
            reply = self.http.json(
                "POST", "/content/missing", json={"digests": digests[start : start + 10_000]}
            )
            missing.update(reply["missing"])
        todo = {f.sha256: f for f in local if f.sha256 in missing}
        if len(todo) <= 1:
            for item in todo.values():
                self._put(item)
        else:
            with ThreadPoolExecutor(self.workers) as pool:
                list(pool.map(self._put, todo.values()))
        manifest = Manifest.build(
            [ManifestEntry(f.relpath, f.sha256, f.size) for f in local], single_file=single_file
        )
        reply = self.http.json("POST", "/content/manifests", json=manifest.to_json())
        return str(reply["uri"])

    def _put(self, item: LocalFile) -> None:
        def body() -> Iterator[bytes]:
            with item.source.open("rb") as fh:
                while chunk := fh.read(CHUNK):
                    yield chunk

        self.http.request(
            "PUT",
            f"/content/blobs/{item.sha256}",
            content=body(),
            headers={"content-type": "application/octet-stream", "content-length": str(item.size)},
        )

    def upload_named(self, path: Path, *, field: str) -> str:
        """Upload a file or folder keeping its own name at the top (`<uri>/<name>`), as Azure ML
        keeps a model's folder name under AZUREML_MODEL_DIR."""
        if path.is_file():
            return self.upload_path(path, field=field)
        files = collect(path, field=field, prefix=f"{path.name}/")
        return f"{self.upload_files(files, single_file=False, field=field)}/{path.name}"

    def upload_path(
        self,
        path: Path,
        *,
        field: str,
        honour_ignore: bool = False,
        includes: list[Path] | None = None,
    ) -> str:
        files = collect(path, field=field, honour_ignore=honour_ignore)
        for extra in includes or []:
            files.extend(
                collect(
                    extra,
                    field="additional_includes",
                    prefix=f"{extra.name}/" if extra.is_dir() else "",
                )
            )
        return self.upload_files(files, single_file=path.is_file() and not includes, field=field)
