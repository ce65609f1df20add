"""`ArtifactStore` over any fsspec filesystem: a local folder by default, S3 by `s3://` URL.

Layout under the root: `blobs/<aa>/<digest>`, `manifests/<digest>.json`, and `files/<path>` for
the mutable file area. Incoming bytes are
spooled to a local temporary file while hashed; only bytes that match their digest are moved (local)
or uploaded (remote) to their final key, so a reader never sees a partial blob.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from typing import Any, BinaryIO, cast

from forgeml.artifacts.base import ArtifactStore, FileInfo
from forgeml.core.content import Manifest, check_digest, safe_relpath
from forgeml.core.errors import NotFoundError, SpecError, UnavailableError

CHUNK = 1 << 20


class FsspecArtifactStore(ArtifactStore):
    def __init__(self, url: str, storage_options: dict[str, Any] | None = None) -> None:
        import fsspec

        self.url = url
        options = dict(storage_options or {})
        protocol = url.split("://", 1)[0] if "://" in url else "file"
        if protocol == "s3":
            endpoint = os.environ.get("FORGEML_S3_ENDPOINT_URL")
            if endpoint and "client_kwargs" not in options:
                options["client_kwargs"] = {"endpoint_url": endpoint}
            options.setdefault("use_listings_cache", False)
        self.fs, root = fsspec.core.url_to_fs(url, **options)
        self.local = protocol in ("file", "local")
        self.root = str(root).rstrip("/")
        if self.local:
            os.makedirs(self.root, exist_ok=True)
            os.makedirs(self._path("tmp"), exist_ok=True)

    def _path(self, *parts: str) -> str:
        return "/".join([self.root, *parts])

    def _blob(self, digest: str) -> str:
        check_digest(digest)
        return self._path("blobs", digest[:2], digest)

    def _manifest(self, digest: str) -> str:
        check_digest(digest)
        return self._path("manifests", f"{digest}.json")

    def check(self) -> None:
        try:
            if not self.local:
                self.fs.ls(self.root)
        except FileNotFoundError:
            if not self.local:
                self.fs.mkdir(self.root)
        except Exception as exc:
            raise UnavailableError(
                f"the artifact store {self.url} cannot be reached: {exc}"
            ) from exc

    def has_blob(self, digest: str) -> bool:
        return bool(self.fs.exists(self._blob(digest)))

    def put_blob(self, digest: str, stream: BinaryIO) -> int:
        target = self._blob(digest)
        tmp_dir = self._path("tmp") if self.local else None
        fd, tmp = tempfile.mkstemp(prefix="upload-", dir=tmp_dir)
        try:
            hasher, size = hashlib.sha256(), 0
            with os.fdopen(fd, "wb") as out:
                while chunk := stream.read(CHUNK):
                    hasher.update(chunk)
                    out.write(chunk)
                    size += len(chunk)
            actual = hasher.hexdigest()
            if actual != digest:
                raise SpecError(
                    f"the uploaded bytes hash to {actual}, not {digest}: the upload was cut short "
                    "or changed on the way. Upload the file again."
                )
            if self.local:
                os.makedirs(os.path.dirname(target), exist_ok=True)
                os.replace(tmp, target)
            else:
                self.fs.put_file(tmp, target)
            return size
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)

    def open_blob(self, digest: str) -> BinaryIO:
        try:
            return cast(BinaryIO, self.fs.open(self._blob(digest), "rb"))
        except FileNotFoundError:
            raise NotFoundError(f"the artifact store holds no content {digest}.") from None

    def blob_size(self, digest: str) -> int:
        try:
            return int(self.fs.size(self._blob(digest)))
        except FileNotFoundError:
            raise NotFoundError(f"the artifact store holds no content {digest}.") from None

    def put_manifest(self, manifest: Manifest) -> str:
        missing = self.missing_blobs(e.sha256 for e in manifest.entries)
        if missing:
            raise SpecError(
                f"{len(missing)} file(s) of this upload are not in the artifact store yet "
                f"(first: {missing[0]}); upload them before registering the folder."
            )
        digest = manifest.digest
        path = self._manifest(digest)
        if not self.fs.exists(path):
            data = manifest.canonical()
            if self.local:
                os.makedirs(os.path.dirname(path), exist_ok=True)
                fd, tmp = tempfile.mkstemp(prefix="manifest-", dir=self._path("tmp"))
                with os.fdopen(fd, "wb") as out:
                    out.write(data)
                os.replace(tmp, path)
            else:
                self.fs.pipe_file(path, data)
        return digest

    # ---------------------------------------------------------------- the mutable file area
    def _file(self, path: str) -> str:
        return self._path("files", safe_relpath(path)) if path.strip("/") else self._path("files")

    def _spool(self, stream: BinaryIO) -> tuple[str, int]:
        fd, tmp = tempfile.mkstemp(prefix="file-", dir=self._path("tmp") if self.local else None)
        size = 0
        with os.fdopen(fd, "wb") as out:
            while chunk := stream.read(CHUNK):
                out.write(chunk)
                size += len(chunk)
        return tmp, size

    def write_file(self, path: str, stream: BinaryIO) -> int:
        target = self._file(path)
        tmp, size = self._spool(stream)
        try:
            if self.local:
                os.makedirs(os.path.dirname(target), exist_ok=True)
                os.replace(tmp, target)
            else:
                self.fs.put_file(tmp, target)
            return size
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)

    def open_file(self, path: str) -> BinaryIO:
        try:
            info = self.fs.info(self._file(path))
            if info.get("type") == "directory":
                raise FileNotFoundError(path)
            return cast(BinaryIO, self.fs.open(self._file(path), "rb"))
        except FileNotFoundError:
            raise NotFoundError(f"no artifact file '{path}' exists.") from None

    def file_info(self, path: str) -> FileInfo | None:
        try:
            info = self.fs.info(self._file(path))
        except FileNotFoundError:
            return None
        if info.get("type") == "directory":
            return FileInfo(path=path.strip("/"), is_dir=True)
        return FileInfo(path=path.strip("/"), is_dir=False, size=int(info.get("size") or 0))

    def list_files(self, path: str) -> list[FileInfo]:
        base = self._file(path)
        try:
            entries = self.fs.ls(base, detail=True)
        except FileNotFoundError:
            return []
        root = self._path("files") + "/"
        out = []
        for entry in entries:
            name = str(entry["name"]).rstrip("/")
            full = name if name.startswith("/") or not self.root.startswith("/") else "/" + name
            rel = full[len(root) :] if full.startswith(root) else name.split("/files/", 1)[-1]
            if rel == path.strip("/") or not rel:
                continue  # some backends list the folder itself
            is_dir = entry.get("type") == "directory"
            out.append(FileInfo(rel, is_dir, None if is_dir else int(entry.get("size") or 0)))
        return sorted(out, key=lambda f: f.path)

    def delete_files(self, path: str) -> None:
        target = self._file(path)
        if self.fs.exists(target):
            self.fs.rm(target, recursive=True)

    def get_manifest(self, digest: str) -> Manifest | None:
        try:
            raw = self.fs.cat_file(self._manifest(digest))
        except FileNotFoundError:
            return None
        return Manifest.from_json(json.loads(raw))


def open_artifact_store(url: str, storage_options: dict[str, Any] | None = None) -> ArtifactStore:
    """The artifact store for a URL: a plain path or file:// is a local folder."""
    if "://" not in url:
        url = "file://" + os.path.abspath(os.path.expanduser(url))
    return FsspecArtifactStore(url, storage_options)
