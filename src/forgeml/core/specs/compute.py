"""Compute targets. `local` runs jobs as processes of this machine; later kinds add clusters."""

from __future__ import annotations

import os
from typing import Any, Literal

from pydantic import Field, field_validator

from forgeml.core.errors import SpecError
from forgeml.core.specs.base import NAME_PATTERN, Resource


def _default_slots() -> int:
    return max(1, os.cpu_count() or 1)


class LocalCompute(Resource):
    """Processes on the workspace's own machine, at most `max_concurrent_jobs` at once."""

    name: str | None = None
    type: Literal["local"] = "local"
    max_concurrent_jobs: int = Field(default_factory=_default_slots, ge=1, le=1024)

    @field_validator("name")
    @classmethod
    def _valid_name(cls, value: str | None) -> str | None:
        # the name is a URL segment (/computes/<name>): a '/' would make it unreachable
        if value is not None and not NAME_PATTERN.match(value):
            raise ValueError(
                f"the name '{value}' is not allowed: use letters, digits, '-', '_' or '.', "
                "starting with a letter or digit."
            )
        return value


COMPUTE_TYPES: dict[str, type[Resource]] = {"local": LocalCompute}
Compute = LocalCompute


def compute_model(data: dict[str, Any], *, file: str | None = None) -> type[Resource]:
    """The compute class a document's `type` names; unknown types list the known ones."""
    kind = data.get("type", "local")
    model = COMPUTE_TYPES.get(str(kind))
    if model is None:
        raise SpecError(
            f"the compute type '{kind}' is not supported; supported types: "
            f"{', '.join(sorted(COMPUTE_TYPES))}.",
            file=file,
            field="type",
        )
    return model
