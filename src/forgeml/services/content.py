"""Uploading content: which blobs are missing, storing a blob, registering a manifest; and
reading it back: a manifest, one file, or a bounded preview of one file."""

from __future__ import annotations

import csv
import io
import itertools
from pathlib import PurePosixPath
from typing import BinaryIO

from forgeml.core.content import Manifest, check_digest, parse_content_uri
from forgeml.core.errors import NotFoundError, SpecError
from forgeml.schemas import ContentRef, ManifestBody, MissingBlobs, WantedBlobs
from forgeml.schemas.asset_views import ContentPreview
from forgeml.services.authz import authorize
from forgeml.services.context import Context


def missing(ctx: Context, body: WantedBlobs) -> MissingBlobs:
    authorize(ctx, "content.write")
    for d in body.digests:
        check_digest(d)
    return MissingBlobs(missing=ctx.artifacts.missing_blobs(body.digests))


def put_blob(ctx: Context, digest: str, stream: BinaryIO) -> int:
    authorize(ctx, "content.write", digest)
    check_digest(digest)
    if ctx.artifacts.has_blob(digest):
        # drain nothing: identical content is stored once
        return ctx.artifacts.blob_size(digest)
    return ctx.artifacts.put_blob(digest, stream)


def put_manifest(ctx: Context, body: ManifestBody) -> ContentRef:
    authorize(ctx, "content.write")
    manifest = Manifest.from_json(body.model_dump())
    if not manifest.entries:
        raise SpecError("the upload holds no files; an empty folder cannot be registered.")
    digest = ctx.artifacts.put_manifest(manifest)
    return ContentRef(
        digest=digest, uri=manifest.uri(), size=manifest.size, file_count=len(manifest.entries)
    )


def get_manifest(ctx: Context, digest: str) -> Manifest:
    authorize(ctx, "content.read", digest)
    manifest = ctx.artifacts.get_manifest(check_digest(digest))
    if manifest is None:
        raise NotFoundError(f"no uploaded content {digest} exists in this workspace.")
    return manifest


def open_file(ctx: Context, digest: str, path: str) -> tuple[BinaryIO, int]:
    manifest = get_manifest(ctx, digest)
    for entry in manifest.entries:
        if entry.path == path:
            return ctx.artifacts.open_blob(entry.sha256), entry.size
    raise NotFoundError(f"the content {digest} has no file '{path}'.")


def check_content_uri(
    ctx: Context, uri: str, *, kind: str, field: str, must_contain: str | None = None
) -> None:
    """Check that an asset's `forgeml://content/` path exists and fits its type."""
    digest, sub = parse_content_uri(uri)
    manifest = ctx.artifacts.get_manifest(digest)
    if manifest is None:
        raise SpecError(
            f"the content {uri} was never uploaded (or the upload did not finish); upload the "
            "files again with the CLI or SDK, which do this for local paths.",
            field=field,
        )
    names = {e.path for e in manifest.entries}
    if kind == "file":
        if not sub and len(manifest.entries) != 1:
            raise SpecError(
                f"{uri} is a folder, but this asset's type needs one file.", field=field
            )
        if sub and sub not in names:
            raise SpecError(f"{uri} names a file that is not in the upload.", field=field)
    elif sub and not (kind == "any" and sub in names):
        prefix = sub.rstrip("/") + "/"
        if not any(n.startswith(prefix) for n in names):
            raise SpecError(f"{uri} is a file, but this asset's type needs a folder.", field=field)
    if must_contain and f"{sub.rstrip('/')}/{must_contain}".lstrip("/") not in names:
        raise SpecError(
            f"the folder has no '{must_contain}' file at its top, which this asset type needs.",
            field=field,
        )


#: the most a preview reads of one file: the studio shows the start of big files, never all
PREVIEW_MAX_BYTES = 1 << 20
TABLE_SUFFIXES = {".csv": ",", ".tsv": "\t", ".tab": "\t"}


def preview(
    ctx: Context, digest: str, path: str, *, rows: int = 50, max_bytes: int = 64 << 10
) -> ContentPreview:
    """The first `rows` rows of a CSV/TSV file, or the start of a text file, reading at most
    `max_bytes` of it; binary files answer with their size only."""
    max_bytes = max(1, min(max_bytes, PREVIEW_MAX_BYTES))
    stream, size = open_file(ctx, digest, path)
    with stream:
        head = stream.read(max_bytes)
    cut = size > len(head)
    text = _decode(head, cut)
    if text is None:
        return ContentPreview(path=path, size=size, kind="binary", truncated=cut)
    delimiter = TABLE_SUFFIXES.get(PurePosixPath(path).suffix.lower())
    if delimiter is None:
        return ContentPreview(path=path, size=size, kind="text", text=text, truncated=cut)
    if cut:
        # the last line was cut in the middle: show whole rows only
        text = text[: text.rfind("\n") + 1] if "\n" in text else ""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        columns = next(reader, [])
        table = list(itertools.islice(reader, rows))
        more = next(reader, None) is not None
    except csv.Error:
        # a field past the csv module's limit, or a quote never closed: show the text as is
        return ContentPreview(path=path, size=size, kind="text", text=text, truncated=cut)
    return ContentPreview(
        path=path, size=size, kind="table", columns=columns, rows=table, truncated=cut or more
    )


def _decode(head: bytes, cut: bool) -> str | None:
    """`head` as UTF-8 text, or None where it looks binary."""
    if b"\0" in head[:8192]:
        return None
    try:
        return head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # a character split by the byte limit is not a sign of a binary file
        if cut and exc.start >= len(head) - 3:
            return head[: exc.start].decode("utf-8", errors="replace")
        return None
