"""Liveness and version."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from forgeml import __version__

router = APIRouter(prefix="/api/v1", tags=["health"])


class Health(BaseModel):
    status: str
    version: str


@router.get("/health", response_model=Health)
def health() -> Health:
    return Health(status="ok", version=__version__)
