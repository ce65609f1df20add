"""The `ArtifactStore` seam: where file content lives, addressed by its sha256.

Every backend stores blobs (file bytes, named by their digest) and manifests (the list of files
that make a folder, named by the digest of the list). Writes are all-or-nothing: a blob appears
only once its bytes hashed to its name, so an interrupted upload leaves nothing behind.
Contract tests in tests/contracts/test_artifacts.py run against every backend.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from typing import BinaryIO, ClassVar

from forgeml.core.content import Manifest


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
