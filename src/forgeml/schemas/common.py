"""Pages, error bodies, content-upload negotiation and asset container summaries."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, Field

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    """One page of a listing; pass `next_token` back as `page_token` for the next one."""

    items: list[T]
    next_token: str | None = None


class ErrorBody(BaseModel):
    code: str
    message: str
    details: dict[str, Any] = Field(default_factory=dict)


class WantedBlobs(BaseModel):
    """The sha256 digests a client is about to upload."""

    digests: list[str] = Field(max_length=100_000)


class MissingBlobs(BaseModel):
    """The subset of the asked digests the artifact store does not hold yet."""

    missing: list[str]


class ManifestFile(BaseModel):
    path: str
    sha256: str
    size: int = Field(ge=0)


class ManifestBody(BaseModel):
    """A file or a folder, as the list of its files; its own digest names it."""

    single_file: bool = False
    files: list[ManifestFile]


class ContentRef(BaseModel):
    digest: str
    uri: str
    size: int
    file_count: int


class AssetContainer(BaseModel):
    """A name and its versions, summarised: what `<kind> list` shows without `--name`."""

    name: str
    latest_version: str | None
    version_count: int
    archived: bool
    created_at: datetime
    last_modified_at: datetime
    # the latest version's summary, so that a listing needs no request per row
    type: str | None = Field(None, description="The latest version's type, where its kind has one.")
    description: str | None = Field(None, description="The latest version's description.")
    tags: dict[str, str] = Field(default_factory=dict, description="The latest version's tags.")
