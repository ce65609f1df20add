"""The base of every YAML document forgeml accepts, and the conversion of schema errors.

Each spec kind is a pydantic model that forbids unknown keys, as Azure ML's loader does. A failed
validation becomes a `SpecError` naming the file, the dotted field path, the line and what was
expected; an unknown key lists the valid keys at that level.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar, Self, TypeVar

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError

from forgeml.core.errors import SpecError
from forgeml.core.specs.yamlio import Locator, apply_overrides, load_yaml_file

T = TypeVar("T", bound=BaseModel)
R = TypeVar("R", bound="Resource")

NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,254}$")


class SpecModel(BaseModel):
    """A strict YAML mapping: unknown keys are refused with the list of valid ones."""

    model_config = ConfigDict(
        extra="forbid", populate_by_name=True, validate_assignment=False, protected_namespaces=()
    )


class CreationContext(BaseModel):
    """Who made a resource and when; set by the server, never read from YAML."""

    created_at: datetime
    created_by: str
    last_modified_at: datetime


class Resource(SpecModel):
    """A top-level document: `$schema` accepted and ignored, plus server-set read-only fields."""

    READ_ONLY: ClassVar[frozenset[str]] = frozenset({"creation_context", "archived", "id"})

    schema_url: str | None = Field(default=None, alias="$schema", exclude=True)
    name: str | None = None
    description: str | None = None
    tags: dict[str, str] = Field(default_factory=dict)
    creation_context: CreationContext | None = None
    archived: bool = False

    _base_path: Path | None = PrivateAttr(default=None)
    _source: str | None = PrivateAttr(default=None)

    @property
    def base_path(self) -> Path:
        """The folder relative paths resolve against: the YAML's folder, else the cwd."""
        return self._base_path or Path.cwd()

    @property
    def source(self) -> str | None:
        """The YAML file this document was loaded from, for error messages."""
        return self._source

    def with_base_path(self, path: Path | None, source: str | None = None) -> Self:
        self._base_path = path
        self._source = source
        return self

    #: fields the workspace fills in its answers (a scoring URI, a state), never sent to it
    SERVER_SET: ClassVar[frozenset[str]] = frozenset()

    def to_wire(self) -> dict[str, Any]:
        return self.model_dump(
            mode="json",
            exclude_none=True,
            exclude={"creation_context", "archived", *self.SERVER_SET},
        )


def _coerce_tags(data: dict[str, Any]) -> None:
    tags = data.get("tags")
    if isinstance(tags, dict):
        data["tags"] = {str(k): "" if v is None else str(v) for k, v in tags.items()}


def _field_path(loc: tuple[str | int, ...], data: Any) -> tuple[str | int, ...]:
    """Drop pydantic's union-branch tags from an error location, keeping real keys only."""
    out: list[str | int] = []
    node = data
    for part in loc:
        if isinstance(node, dict) and part in node:
            out.append(part)
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            out.append(part)
            node = node[part]
        elif node is None or not isinstance(node, dict | list):
            # below a leaf: the rest are union/branch labels
            continue
        elif (
            isinstance(part, str) and not part[:1].isupper() and "[" not in part and "-" not in part
        ):
            out.append(part)  # a missing key
            node = None
    return tuple(out)


def _model_at(model: type[BaseModel], path: tuple[str | int, ...]) -> type[BaseModel] | None:
    """The pydantic model that validates the mapping at `path`, to list its valid keys."""
    current: Any = model
    for part in path:
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = current.model_fields.get(str(part))
            if field is None:
                return None
            current = field.annotation
            continue
        # a container annotation (dict[str, X], list[X], X | None): step into its value type
        current = _container_value(current)
        if current is None:
            return None
    found = _first_model(current)
    return found if isinstance(found, type) and issubclass(found, BaseModel) else None


def _container_value(annotation: Any) -> Any:
    args = [a for a in (getattr(annotation, "__args__", ()) or ()) if a is not type(None)]
    origin = getattr(annotation, "__origin__", None)
    if origin is dict and len(args) == 2:
        return args[1]
    if origin is list and args:
        return args[0]
    for arg in args:
        inner = _container_value(arg)
        if inner is not None:
            return inner
    return None


def _first_model(annotation: Any) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        found = _first_model(arg)
        if found is not None:
            return found
    return None


def valid_keys(model: type[BaseModel]) -> list[str]:
    keys = []
    for name, field in model.model_fields.items():
        if issubclass(model, Resource) and name in Resource.READ_ONLY:
            continue
        keys.append(field.alias or name)
    return sorted(keys)


def spec_error(
    exc: ValidationError,
    model: type[BaseModel],
    data: Any,
    *,
    file: str | None = None,
    locator: Locator | None = None,
    prefix: tuple[str | int, ...] = (),
) -> SpecError:
    """Turn the first pydantic error into a message a user can act on."""
    errors = exc.errors(include_url=False)
    # an unknown key is usually a misspelt one, so it goes first (before "x is missing")
    err = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
    path = _field_path(tuple(err["loc"]), data)
    dotted = ".".join(str(p) for p in (*prefix, *path)) or None
    line = locator.line((*prefix, *path)) if locator else None
    kind = err["type"]
    if kind == "extra_forbidden":
        owner = _model_at(model, path[:-1])
        keys = ", ".join(valid_keys(owner)) if owner else "see the documentation"
        message = f"unknown key '{path[-1] if path else ''}'. Valid keys here are: {keys}."
    elif kind == "missing":
        message = "this key is required but missing; add it."
    elif kind == "literal_error":
        expected = err.get("ctx", {}).get("expected", "")
        message = f"the value {err.get('input')!r} is not allowed; expected one of {expected}."
    elif kind == "value_error":
        message = str(err.get("ctx", {}).get("error", err["msg"]))
    else:
        message = f"{err['msg']} (got {err.get('input')!r})."
    if len(exc.errors()) > 1:
        message += f" ({len(exc.errors()) - 1} more problem(s) after this one.)"
    return SpecError(message, file=file, field=dotted, line=line)


def validate_spec(
    model: type[T],
    data: Any,
    *,
    file: str | None = None,
    locator: Locator | None = None,
) -> T:
    if isinstance(data, dict):
        data = dict(data)
        if issubclass(model, Resource):
            for key in Resource.READ_ONLY & data.keys():
                raise SpecError(
                    f"'{key}' is set by the workspace and cannot be given in a document; "
                    "remove it.",
                    file=file,
                    field=key,
                    line=locator.line((key,)) if locator else None,
                )
            if "version" in data and data["version"] is not None:
                data["version"] = str(data["version"])
            _coerce_tags(data)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise spec_error(exc, model, data, file=file, locator=locator) from None


def load_resource(
    model: type[R] | Callable[..., type[R]],
    source: str | Path,
    overrides: list[str] | None = None,
) -> R:  # one loader for every kind; the picker form serves kinds that dispatch on `type`
    """Load a YAML file as `model`, with `--set` overrides applied before validation.

    `model` is a document class, or a function of the loaded mapping (and `file=`) that picks
    one, for kinds that dispatch on their `type` key.
    """
    path = Path(source)
    data, locator = load_yaml_file(path)
    if overrides:
        apply_overrides(data, overrides)
    cls: type[R] = model if isinstance(model, type) else model(data, file=str(path))
    obj = validate_spec(cls, data, file=str(path), locator=locator)
    return obj.with_base_path(path.resolve().parent, str(path))
