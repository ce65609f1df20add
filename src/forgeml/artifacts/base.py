"""The `ArtifactStore` seam: where file content lives, addressed by its sha256.

Every backend stores blobs (file bytes, named by their digest) and manifests (the list of files
that make a folder, named by the digest of the list). Beside them lives a small mutable file area
addressed by path (`runs/<run id>/artifacts/...`), for what other tools expect to overwrite, such
as MLflow run artifacts. Writes are all-or-nothing: a blob appears
only once its bytes hashed to its name, so an interrupted upload leaves nothing behind.
Contract tests in tests/contracts/test_artifacts.py run against every backend.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import BinaryIO, ClassVar

from forgeml.core.content import Manifest


@dataclass(frozen=True)
class FileInfo:
    """One entry of a path listing: `path` is relative to the listed folder's parent root."""

    path: str
    is_dir: bool
    size: int | None = None


class ArtifactStore(ABC):
    """Content-addressed storage. Subclasses set `url` and the `supports_*` flags."""

    supports_presigned_urls: ClassVar[bool] = False
    url: str

    @abstractmethod
    def has_blob(self, digest: str) -> bool: ...

    def missing_blobs(self, digests: Iterable[str]) -> list[str]:
        return [d for d in dict.fromkeys(digests) if not self.has_blob(d)]

    @abstractmethod
    def put_blob(self, digest: str, stream: BinaryIO) -> int:
        """Store the stream's bytes under `digest` after checking they hash to it; return size."""

    @abstractmethod
    def open_blob(self, digest: str) -> BinaryIO: ...

    @abstractmethod
    def blob_size(self, digest: str) -> int: ...

    @abstractmethod
    def put_manifest(self, manifest: Manifest) -> str:
        """Store a manifest whose blobs are all present; return its digest."""

    @abstractmethod
    def get_manifest(self, digest: str) -> Manifest | None: ...

    def iter_blob(self, digest: str, chunk: int = 1 << 20) -> Iterator[bytes]:
        with self.open_blob(digest) as fh:
            while data := fh.read(chunk):
                yield data

    @abstractmethod
    def check(self) -> None:
        """Raise if the store cannot be reached (used at start-up)."""

    # ---------------------------------------------------------------- the mutable file area
    @abstractmethod
    def write_file(self, path: str, stream: BinaryIO) -> int:
        """Write (or overwrite) the file at `path` all at once; return its size."""

    @abstractmethod
    def open_file(self, path: str) -> BinaryIO:
        """Open the file at `path` for reading; `NotFoundError` if absent."""

    @abstractmethod
    def file_info(self, path: str) -> FileInfo | None:
        """What is at `path`: a file (with size), a folder, or nothing."""

    @abstractmethod
    def list_files(self, path: str) -> list[FileInfo]:
        """The direct children of the folder `path` (paths relative to the area's root)."""

    @abstractmethod
    def delete_files(self, path: str) -> None:
        """Delete the file or folder at `path`; nothing there is not an error."""
