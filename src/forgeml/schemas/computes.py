"""What `compute show` reports of a compute target besides its spec: its nodes and resources."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class ComputeNode(BaseModel):
    node_id: str
    address: str
    alive: bool = True
    head: bool = False
    total: dict[str, float] = Field(default_factory=dict)
    available: dict[str, float] = Field(default_factory=dict)


class ComputeStatus(BaseModel):
    """A compute's live state: `ready`, or `unreachable` with the reason in `message`."""

    name: str
    type: str
    state: Literal["ready", "unreachable"] = "ready"
    message: str | None = None
    address: str | None = None
    dashboard_url: str | None = None
    nodes: list[ComputeNode] = Field(default_factory=list)
    total: dict[str, float] = Field(default_factory=dict)
    available: dict[str, float] = Field(default_factory=dict)
    max_concurrent_jobs: int = 1
    active_jobs: int = 0
    queued_jobs: int = 0
