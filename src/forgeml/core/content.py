"""Content addressing: manifests of files, their digests, and the `forgeml://content/` URIs.

A local file or folder named in a YAML is stored once, by the sha256 of each file's bytes. The
folder itself is a manifest (sorted relative paths with their digests and sizes) whose own sha256
names it; an asset's `path` then reads `forgeml://content/<manifest digest>[/<file>]`. Identical
content therefore has an identical URI, which is what makes a re-upload a no-op.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from forgeml.core.errors import SpecError

CONTENT_PREFIX = "forgeml://content/"
_DIGEST = re.compile(r"^[0-9a-f]{64}$")


def check_digest(digest: str) -> str:
    if not _DIGEST.match(digest):
        raise SpecError(f"'{digest}' is not a sha256 digest (64 lowercase hex characters).")
    return digest


def safe_relpath(path: str) -> str:
    """Refuse absolute paths, `..` segments and odd separators in a stored file name."""
    text = path.replace("\\", "/")
    pure = PurePosixPath(text)
    if (
        not text
        or text.startswith("/")
        or re.match(r"^[A-Za-z]:", text)
        or any(part in ("..", "") for part in text.split("/"))
        or "\x00" in text
        or pure.is_absolute()
    ):
        raise SpecError(
            f"the file name '{path}' is not allowed: names must be relative, without '..' or "
            "empty segments. Rename the file or move it inside the uploaded folder."
        )
    return str(pure)


@dataclass(frozen=True)
class ManifestEntry:
    path: str
    sha256: str
    size: int


@dataclass(frozen=True)
class Manifest:
    """The files of an uploaded file or folder, in path order."""

    entries: tuple[ManifestEntry, ...]
    single_file: bool = False

    @staticmethod
    def build(entries: list[ManifestEntry], *, single_file: bool = False) -> Manifest:
        seen: set[str] = set()
        clean = []
        for e in entries:
            p = safe_relpath(e.path)
            if p in seen:
                raise SpecError(f"the file '{p}' appears twice in one upload.")
            seen.add(p)
            clean.append(ManifestEntry(p, check_digest(e.sha256), int(e.size)))
        return Manifest(tuple(sorted(clean, key=lambda e: e.path)), single_file)

    def to_json(self) -> dict[str, Any]:
        return {
            "single_file": self.single_file,
            "files": [{"path": e.path, "sha256": e.sha256, "size": e.size} for e in self.entries],
        }

    @staticmethod
    def from_json(data: dict[str, Any]) -> Manifest:
        files = data.get("files")
        if not isinstance(files, list):
            raise SpecError("a manifest needs a 'files' list of {path, sha256, size}.")
        return Manifest.build(
            [ManifestEntry(str(f["path"]), str(f["sha256"]), int(f["size"])) for f in files],
            single_file=bool(data.get("single_file", False)),
        )

    def canonical(self) -> bytes:
        return json.dumps(self.to_json(), sort_keys=True, separators=(",", ":")).encode()

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.canonical()).hexdigest()

    @property
    def size(self) -> int:
        return sum(e.size for e in self.entries)

    def uri(self) -> str:
        if self.single_file and len(self.entries) == 1:
            return content_uri(self.digest, self.entries[0].path)
        return content_uri(self.digest)


def content_uri(digest: str, subpath: str = "") -> str:
    tail = f"/{safe_relpath(subpath)}" if subpath else ""
    return f"{CONTENT_PREFIX}{check_digest(digest)}{tail}"


def parse_content_uri(uri: str) -> tuple[str, str]:
    """Split `forgeml://content/<digest>[/<sub>]` into the manifest digest and the sub-path."""
    if not uri.startswith(CONTENT_PREFIX):
        raise SpecError(f"'{uri}' is not a workspace content URI.")
    digest, _, sub = uri[len(CONTENT_PREFIX) :].partition("/")
    check_digest(digest)
    return digest, safe_relpath(sub) if sub else ""


def is_local_path(value: str) -> bool:
    """True when a YAML `path`/`code` value names a file on the submitting machine."""
    if re.match(r"^[A-Za-z][A-Za-z0-9+.\-]*://", value):
        return False
    return not value.startswith(("azureml:", "runs:/", "git+", "file:"))
