"""Parsing the reference forms Azure ML YAML uses to point at assets.

`azureml:name:version`, `azureml:name@label`, `name@label`, `name:version`, the registry form
`azureml://registries/<reg>/<kind>/<name>/versions/<v>` (or `/labels/<label>`) and the long
ARM-id form `azureml:/subscriptions/.../workspaces/<ws>/<kind>/<name>/versions/<v>` all become an
`AssetRef`. Resolving it against the store is the services' job.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from forgeml.core.errors import SpecError

KINDS = ("data", "models", "environments", "components")

_REGISTRY = re.compile(
    r"^azureml://registries/(?P<registry>[^/]+)/(?P<kind>[a-z]+)/(?P<name>[^/]+)"
    r"(?:/(?:versions/(?P<version>[^/]+)|labels/(?P<label>[^/]+)))?/?$"
)
_ARM = re.compile(
    r"^azureml:/subscriptions/[^/]+/resourceGroups/[^/]+/providers/Microsoft\.MachineLearningServices"
    r"/workspaces/[^/]+/(?P<kind>[a-z]+)/(?P<name>[^/]+)(?:/versions/(?P<version>[^/]+))?/?$",
    re.IGNORECASE,
)
_SHORT = re.compile(
    r"^(?P<name>[A-Za-z0-9][A-Za-z0-9_.\-]*)(?::(?P<version>[^:@/]+)|@(?P<label>[A-Za-z0-9_\-]+))?$"
)


@dataclass(frozen=True)
class AssetRef:
    """A parsed reference. `kind` is set only when the reference itself names one."""

    name: str
    version: str | None = None
    label: str | None = None
    registry: str | None = None
    kind: str | None = None

    def __str__(self) -> str:
        if self.registry:
            tail = (
                f"versions/{self.version}" if self.version else f"labels/{self.label or 'latest'}"
            )
            return f"azureml://registries/{self.registry}/{self.kind}/{self.name}/{tail}"
        if self.version:
            return f"azureml:{self.name}:{self.version}"
        return f"azureml:{self.name}@{self.label or 'latest'}"


def is_reference(value: str) -> bool:
    """True for strings written as a reference rather than a path or an inline value."""
    return value.startswith("azureml:") or bool(re.match(r"^[^/\\:]+@[A-Za-z0-9_\-]+$", value))


def parse_ref(value: str, *, field: str | None = None) -> AssetRef:
    text = value.strip()
    match = _REGISTRY.match(text)
    if match:
        kind = match["kind"]
        if kind not in KINDS:
            raise SpecError(
                f"'{value}' names the registry kind '{kind}'; expected one of {', '.join(KINDS)}.",
                field=field,
            )
        return AssetRef(
            name=match["name"],
            version=match["version"],
            label=match["label"] or (None if match["version"] else "latest"),
            registry=match["registry"],
            kind=kind,
        )
    match = _ARM.match(text)
    if match:
        return AssetRef(
            name=match["name"],
            version=match["version"],
            kind=match["kind"].lower(),
            label=None if match["version"] else "latest",
        )
    if text.startswith("azureml:"):
        text = text[len("azureml:") :]
    match = _SHORT.match(text)
    if not match:
        raise SpecError(
            f"'{value}' is not a reference this workspace understands. Use "
            "azureml:<name>:<version>, azureml:<name>@latest or azureml://registries/<registry>/<kind>/<name>/versions/<v>.",
            field=field,
        )
    label = match["label"]
    if not match["version"] and not label:
        label = "latest"
    return AssetRef(name=match["name"], version=match["version"], label=label)
