"""What the studio reads about one asset version besides its document: the jobs on either side
of it (lineage) and a bounded preview of one of its files."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field


class LineageJob(BaseModel):
    """A job on one side of an asset version, with enough to show and link it."""

    name: str
    display_name: str | None = None
    type: str
    status: str
    experiment_name: str | None = None
    created_at: datetime
    port: str | None = Field(
        None, description="The job's input or output that the asset was bound to."
    )


class AssetLineage(BaseModel):
    """The job whose output registered the version, and the jobs that took it as an input."""

    produced_by: list[LineageJob] = Field(default_factory=list)
    used_by: list[LineageJob] = Field(default_factory=list)
    truncated: bool = Field(False, description="True when more jobs used it than were listed.")


class ContentPreview(BaseModel):
    """The start of one uploaded file: a table for CSV/TSV, text for text, nothing for binary."""

    path: str
    size: int
    kind: Literal["table", "text", "binary"]
    columns: list[str] = Field(default_factory=list)
    rows: list[list[str]] = Field(default_factory=list)
    text: str | None = None
    truncated: bool = Field(
        False, description="True when the file goes on past what the preview shows."
    )
