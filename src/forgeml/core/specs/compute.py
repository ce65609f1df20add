"""Compute targets: `local` runs jobs as processes of this machine, `ray` on a Ray cluster.

A Ray target names the cluster (`address`), what one job reserves on it per node (`resources`),
where runners work on each node (`working_dir`), the Python that has forgeml installed there
(`python`) and the URL the nodes reach the workspace at (`workspace_url`, default the
workspace's own)."""

from __future__ import annotations

import os
import re
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator

from forgeml.core.errors import SpecError
from forgeml.core.specs.base import NAME_PATTERN, Resource, SpecModel


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
        return check_compute_name(value)


def check_compute_name(value: str | None) -> str | None:
    # the name is a URL segment (/computes/<name>): a '/' would make it unreachable
    if value is not None and not NAME_PATTERN.match(value):
        raise ValueError(
            f"the name '{value}' is not allowed: use letters, digits, '-', '_' or '.', "
            "starting with a letter or digit."
        )
    return value


_MEMORY = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}


def memory_bytes(value: int | float | str | None) -> int | None:
    """`4g`, `512Mi`, `1.5GB` or a number of bytes, as bytes."""
    if value is None:
        return None
    if isinstance(value, int | float):
        return int(value)
    match = _MEMORY.match(value)
    if not match:
        raise ValueError(
            f"'{value}' is not a memory size: write a number of bytes or a number with a unit "
            "(k, m, g, t), e.g. 4g."
        )
    return int(float(match.group(1)) * _UNITS[match.group(2).lower()])


class RayResources(SpecModel):
    """What one job reserves on the cluster, per node (`resources.instance_count` nodes)."""

    num_cpus: float = Field(default=1.0, ge=0)
    num_gpus: float = Field(default=0.0, ge=0)
    memory: int | float | str | None = Field(default=None, description="bytes, or e.g. `4g`")
    custom_resources: dict[str, float] = Field(default_factory=dict)

    @field_validator("memory")
    @classmethod
    def _memory(cls, value: int | float | str | None) -> int | float | str | None:
        memory_bytes(value)
        return value

    def as_ray(self) -> dict[str, float]:
        """Ray's resource names: `CPU`, `GPU`, `memory` (bytes) and the custom ones."""
        out: dict[str, float] = {"CPU": self.num_cpus}
        if self.num_gpus:
            out["GPU"] = self.num_gpus
        mem = memory_bytes(self.memory)
        if mem:
            out["memory"] = float(mem)
        out.update(self.custom_resources)
        return {k: v for k, v in out.items() if v}


class RayCompute(Resource):
    """A Ray cluster: each job's runner runs as a Ray job that reserves `resources`."""

    name: str | None = None
    type: Literal["ray"] = "ray"
    address: str = Field(
        description="`auto` (the cluster this machine is part of), `ray://host:10001` (Ray "
        "Client) or `http://host:8265` (the dashboard, which serves the Jobs API)"
    )
    max_concurrent_jobs: int = Field(default=16, ge=1, le=100_000)
    resources: RayResources = Field(default_factory=RayResources)
    working_dir: str = Field(
        default="/tmp/forgeml-ray", description="where runners work and cache on each node"
    )
    python: str = Field(
        default="python", description="the interpreter on the nodes that has forgeml installed"
    )
    workspace_url: str | None = Field(
        default=None, description="the workspace's URL as the nodes reach it"
    )

    @field_validator("name")
    @classmethod
    def _valid_name(cls, value: str | None) -> str | None:
        return check_compute_name(value)

    @field_validator("address")
    @classmethod
    def _address(cls, value: str) -> str:
        value = value.strip()
        if value != "auto" and not re.match(r"^(ray|https?)://[^/\s]+", value):
            raise ValueError(
                f"'{value}' is not a Ray address: use `auto`, `ray://<head>:10001` or "
                "`http://<head>:8265`."
            )
        return value


COMPUTE_TYPES: dict[str, type[Resource]] = {"local": LocalCompute, "ray": RayCompute}
Compute = LocalCompute | RayCompute
#: a compute target on the wire, told apart by its `type`
AnyCompute = Annotated[LocalCompute | RayCompute, Field(discriminator="type")]


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
