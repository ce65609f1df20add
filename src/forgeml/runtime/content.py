"""A local cache of workspace content, so that repeated jobs never download a file twice.

Files are kept by their sha256 under `<cache>/blobs/<ab>/<digest>` (read-only, verified on
arrival) and manifests under `<cache>/manifests/<digest>.json`. A read-only input is a tree of
hard links to those blobs, built once per manifest under `<cache>/trees/<digest>/` and shared by
every job that reads it: a folder is assembled beside its final name and renamed into place, so a
tree that exists is whole. A writable copy (the code snapshot, a `download` input) is copied from
the blobs into the job's folder instead, so that a job that edits its files cannot damage the
cache.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import stat
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from forgeml.core.content import Manifest, ManifestEntry, parse_content_uri
from forgeml.core.errors import NotFoundError, SpecError
from forgeml.runtime.api import RuntimeApi

_READ_ONLY_FILE = stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH
_READ_ONLY_DIR = _READ_ONLY_FILE | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH


class ContentCache:
    """Content addressed by `forgeml://content/...` URIs, fetched on demand and kept."""

    def __init__(self, root: Path, api: RuntimeApi, *, workers: int = 8) -> None:
        self.root = root
        self.api = api
        self.workers = workers
        for sub in ("blobs", "manifests", "trees", "tmp"):
            (root / sub).mkdir(parents=True, exist_ok=True)

    # ------------------------------------------------------------------ manifests, blobs

    def manifest(self, digest: str) -> Manifest:
        path = self.root / "manifests" / f"{digest}.json"
        with contextlib.suppress(OSError, ValueError, SpecError):
            cached = Manifest.from_json(_load_json(path))
            if cached.digest == digest:
                return cached
        manifest = self.api.manifest(digest)
        if manifest.digest != digest:
            raise SpecError(f"the workspace answered a different manifest for {digest[:12]}.")
        tmp = self._tmp()
        tmp.write_bytes(manifest.canonical())
        os.replace(tmp, path)
        return manifest

    def blob_path(self, sha256: str) -> Path:
        return self.root / "blobs" / sha256[:2] / sha256

    def blobs(self, digest: str, entries: list[ManifestEntry]) -> dict[str, Path]:
        """The cached blob of each entry (relative path -> blob), downloading what is missing."""
        missing = {e.sha256: e for e in entries if not self.blob_path(e.sha256).exists()}

        def fetch(entry: ManifestEntry) -> None:
            final = self.blob_path(entry.sha256)
            final.parent.mkdir(parents=True, exist_ok=True)
            tmp = self._tmp()
            try:
                self.api.download(digest, entry.path, entry.sha256, tmp)
                tmp.chmod(_READ_ONLY_FILE)
                os.replace(tmp, final)
            finally:
                tmp.unlink(missing_ok=True)

        if missing:
            with ThreadPoolExecutor(self.workers) as pool:
                list(pool.map(fetch, missing.values()))
        return {e.path: self.blob_path(e.sha256) for e in entries}

    # ------------------------------------------------------------------- materialization

    def select(self, uri: str) -> tuple[str, str, list[ManifestEntry], Manifest]:
        """The manifest digest, sub-path and entries a content URI names."""
        digest, sub = parse_content_uri(uri)
        manifest = self.manifest(digest)
        if not sub:
            return digest, sub, list(manifest.entries), manifest
        chosen = [e for e in manifest.entries if e.path == sub or e.path.startswith(sub + "/")]
        if not chosen:
            raise NotFoundError(f"'{uri}' names no file or folder in that content.")
        return digest, sub, chosen, manifest

    def read_only(self, uri: str) -> Path:
        """A read-only local path for the content: its shared tree (built once)."""
        digest, sub, _entries, manifest = self.select(uri)
        tree = self.root / "trees" / digest
        if not tree.is_dir():
            with self._locked(tree.with_suffix(".lock")):
                if not tree.is_dir():
                    self._build_tree(digest, manifest, tree)
        return _located(tree, sub, manifest)

    def copy(self, uri: str, dest: Path) -> Path:
        """A writable copy of the content in the folder `dest`; the path the URI names there."""
        digest, sub, entries, manifest = self.select(uri)
        blobs = self.blobs(digest, entries)
        dest.mkdir(parents=True, exist_ok=True)
        for entry in entries:
            target = dest / entry.path
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(blobs[entry.path], target)
        return _located(dest, sub, manifest)

    def read_text(self, uri: str, name: str) -> str | None:
        """The text of the file `name` at the top of the content, or None if it has none."""
        digest, sub, entries, _manifest = self.select(uri)
        wanted = f"{sub}/{name}" if sub else name
        entry = next((e for e in entries if e.path == wanted), None)
        if entry is None:
            return None
        return self.blobs(digest, [entry])[entry.path].read_text(encoding="utf-8")

    # -------------------------------------------------------------------------- helpers

    def _build_tree(self, digest: str, manifest: Manifest, tree: Path) -> None:
        blobs = self.blobs(digest, list(manifest.entries))
        staging = self.root / "trees" / f".{digest}.{uuid.uuid4().hex[:8]}"
        try:
            for rel, blob in blobs.items():
                target = staging / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                try:
                    os.link(blob, target)
                except OSError:  # another file system, or no hard links: copy instead
                    shutil.copyfile(blob, target)
                    target.chmod(_READ_ONLY_FILE)
            staging.mkdir(parents=True, exist_ok=True)  # an empty manifest is still a tree
            os.rename(staging, tree)
        except BaseException:
            _remove(staging)
            raise
        for dirpath, _dirs, _files in os.walk(tree):
            Path(dirpath).chmod(_READ_ONLY_DIR)

    def _tmp(self) -> Path:
        return self.root / "tmp" / f"{os.getpid()}-{uuid.uuid4().hex}"

    @contextlib.contextmanager
    def _locked(self, path: Path) -> Iterator[None]:
        with path.open("a+") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)


def _located(root: Path, sub: str, manifest: Manifest) -> Path:
    if sub:
        return root / sub
    if manifest.single_file and len(manifest.entries) == 1:
        return root / manifest.entries[0].path
    return root


def _load_json(path: Path) -> dict[str, object]:
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError("not a manifest")
    return data


def _remove(path: Path) -> None:
    """Remove a tree even where its folders were made read-only."""
    if not path.exists():
        return
    for dirpath, _dirs, _files in os.walk(path):
        os.chmod(dirpath, stat.S_IRWXU)
    shutil.rmtree(path, ignore_errors=True)
