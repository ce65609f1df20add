"""The command component document (Azure ML `commandComponent` YAML) and its interface rules."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from forgeml.core.specs.assets import Environment, VersionedAsset
from forgeml.core.specs.base import SpecModel
from forgeml.core.specs.distribution import Distribution, Resources

LITERAL_TYPES = ("string", "number", "integer", "boolean")
DATA_TYPES = ("uri_file", "uri_folder", "mltable", "mlflow_model", "custom_model", "triton_model")
RESERVED_PORT_NAMES = frozenset(
    {"path", "ld_library_path", "user", "logname", "home", "pwd", "shell"}
)
_PORT_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_COMPONENT_NAME = re.compile(r"^[a-z][a-z0-9_.\-]*$")
_EXPR = re.compile(r"\$\{\{\s*(inputs|outputs)\.([A-Za-z0-9_]+)\s*\}\}")
_OPTIONAL_BLOCK = re.compile(r"\$\[\[(.*?)\]\]", re.DOTALL)

InputType = Literal[
    "string",
    "number",
    "integer",
    "boolean",
    "uri_file",
    "uri_folder",
    "mltable",
    "mlflow_model",
    "custom_model",
    "triton_model",
    "path",
]


class ComponentInput(SpecModel):
    type: InputType
    optional: bool = False
    default: Any = None
    min: float | None = None
    max: float | None = None
    enum: list[Any] | None = None
    description: str | None = None
    mode: Literal["ro_mount", "download", "direct", "eval_mount", "eval_download"] | None = None

    @model_validator(mode="after")
    def _consistent(self) -> ComponentInput:
        if (self.min is not None or self.max is not None) and self.type not in (
            "number",
            "integer",
        ):
            raise ValueError("'min' and 'max' apply only to number and integer inputs.")
        if self.enum is not None and self.type != "string":
            raise ValueError("'enum' applies only to string inputs.")
        if self.default is not None:
            check_literal(self, self.default)
        return self


class ComponentOutput(SpecModel):
    type: Literal[
        "uri_file", "uri_folder", "mltable", "mlflow_model", "custom_model", "triton_model", "path"
    ] = "uri_folder"
    description: str | None = None
    mode: Literal["rw_mount", "upload", "direct", "mount"] | None = None
    is_control: bool | None = None


def check_literal(port: ComponentInput, value: Any) -> Any:
    """Check a literal value against an input's type, bounds and enum; return it coerced."""
    kind = port.type
    if kind == "integer":
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise ValueError(f"{value!r} is not an integer.")
        try:
            value = int(value)
        except ValueError:
            raise ValueError(f"{value!r} is not an integer.") from None
    elif kind == "number":
        if isinstance(value, bool):
            raise ValueError(f"{value!r} is not a number.")
        try:
            value = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"{value!r} is not a number.") from None
    elif kind == "boolean":
        if isinstance(value, str) and value.lower() in ("true", "false"):
            value = value.lower() == "true"
        if not isinstance(value, bool):
            raise ValueError(f"{value!r} is not a boolean (true or false).")
    elif kind == "string":
        value = str(value)
        if port.enum is not None and value not in [str(x) for x in port.enum]:
            raise ValueError(f"{value!r} is not one of {port.enum}.")
    if kind in ("number", "integer"):
        if port.min is not None and value < port.min:
            raise ValueError(f"{value!r} is below the minimum {port.min:g}.")
        if port.max is not None and value > port.max:
            raise ValueError(f"{value!r} is above the maximum {port.max:g}.")
    return value


def check_component_name(value: str | None, example: str) -> str | None:
    if value is not None and not _COMPONENT_NAME.match(value):
        raise ValueError(
            f"the component name '{value}' is not allowed: use lowercase letters, digits and "
            f"'_', starting with a letter (for example '{example}')."
        )
    return value


def empty_ports(value: Any) -> Any:
    """`outputs: {model: }` (a port with no settings) means the port with its defaults."""
    if isinstance(value, dict):
        return {k: ({} if v is None else v) for k, v in value.items()}
    return value


class CommandComponent(VersionedAsset):
    """A reusable command step: an interface (inputs, outputs) and how to run it."""

    type: Literal["command"] = "command"
    display_name: str | None = None
    is_deterministic: bool = True
    inputs: dict[str, ComponentInput] = Field(default_factory=dict)
    outputs: dict[str, ComponentOutput] = Field(default_factory=dict)
    code: str | None = None
    environment: str | Environment
    command: str
    resources: Resources = None
    distribution: Distribution = None
    additional_includes: list[str] | None = None

    @field_validator("name")
    @classmethod
    def _component_name(cls, value: str | None) -> str | None:
        return check_component_name(value, "train_model")

    @field_validator("inputs", "outputs", mode="before")
    @classmethod
    def _null_ports(cls, value: Any) -> Any:
        return empty_ports(value)

    @model_validator(mode="after")
    def _interface(self) -> CommandComponent:
        for name in [*self.inputs, *self.outputs]:
            if not _PORT_NAME.match(name) or name.lower() in RESERVED_PORT_NAMES:
                raise ValueError(
                    f"the port name '{name}' is not allowed: use letters, digits and '_', and "
                    f"none of {', '.join(sorted(RESERVED_PORT_NAMES))}."
                )
        both = set(self.inputs) & set(self.outputs)
        if both:
            raise ValueError(f"'{sorted(both)[0]}' is both an input and an output; rename one.")
        outside = _OPTIONAL_BLOCK.sub("", self.command)
        for group, port in _EXPR.findall(self.command):
            ports: dict[str, Any] = self.inputs if group == "inputs" else self.outputs
            if port not in ports:
                declared = ", ".join(sorted(ports)) or "none"
                raise ValueError(
                    f"the command uses ${{{{{group}.{port}}}}} but no {group[:-1]} '{port}' is "
                    f"declared (declared: {declared})."
                )
        for _group, port in _EXPR.findall(outside):
            spec = self.inputs.get(port)
            if _group == "inputs" and spec is not None and spec.optional and spec.default is None:
                raise ValueError(
                    f"the optional input '{port}' is used outside $[[ ]]; wrap the part of the "
                    "command that needs it in $[[ ... ]] so it is dropped when no value is given."
                )
        return self

    def __call__(self, **inputs: Any) -> Any:
        """A pipeline step running this component (see `forgeml.dsl.pipeline`)."""
        from forgeml.dsl import component_node

        return component_node(self, inputs)
