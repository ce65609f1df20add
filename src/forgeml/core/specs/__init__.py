"""The YAML documents users bring, one module per kind, and their loaders."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from forgeml.core.errors import SpecError
from forgeml.core.specs.assets import BuildContext, Data, Environment, Model, VersionedAsset
from forgeml.core.specs.base import CreationContext, Resource, load_resource, validate_spec
from forgeml.core.specs.component import CommandComponent, ComponentInput, ComponentOutput
from forgeml.core.specs.compute import COMPUTE_TYPES, LocalCompute, RayCompute, compute_model

#: URL segment -> document class, for every versioned asset kind.
ASSET_KINDS: dict[str, type[VersionedAsset]] = {
    "data": Data,
    "models": Model,
    "environments": Environment,
    "components": CommandComponent,
}

COMPONENT_TYPES: dict[str, type[VersionedAsset]] = {"command": CommandComponent}


def component_model(data: dict[str, Any], *, file: str | None = None) -> type[VersionedAsset]:
    kind = data.get("type") or "command"
    model = COMPONENT_TYPES.get(str(kind))
    if model is None:
        raise SpecError(
            f"the component type '{kind}' is not supported yet; supported: "
            f"{', '.join(COMPONENT_TYPES)}.",
            file=file,
            field="type",
        )
    return model


def load_data(source: str | Path, overrides: list[str] | None = None) -> Data:
    return load_resource(Data, source, overrides)


def load_model(source: str | Path, overrides: list[str] | None = None) -> Model:
    return load_resource(Model, source, overrides)


def load_environment(source: str | Path, overrides: list[str] | None = None) -> Environment:
    return load_resource(Environment, source, overrides)


def load_component(source: str | Path, overrides: list[str] | None = None) -> CommandComponent:
    obj = load_resource(component_model, source, overrides)
    assert isinstance(obj, CommandComponent)
    return obj


def load_compute(source: str | Path, overrides: list[str] | None = None) -> LocalCompute:
    obj = load_resource(compute_model, source, overrides)
    assert isinstance(obj, LocalCompute)
    return obj


__all__ = [
    "ASSET_KINDS",
    "COMPONENT_TYPES",
    "COMPUTE_TYPES",
    "BuildContext",
    "CommandComponent",
    "ComponentInput",
    "ComponentOutput",
    "CreationContext",
    "Data",
    "Environment",
    "LocalCompute",
    "Model",
    "RayCompute",
    "Resource",
    "VersionedAsset",
    "component_model",
    "compute_model",
    "load_component",
    "load_compute",
    "load_data",
    "load_environment",
    "load_model",
    "validate_spec",
]
