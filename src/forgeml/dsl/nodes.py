"""The objects a pipeline is built from in Python: steps (nodes), their ports, the parameters.

Calling a component (`prep_component(raw_data=..., test_size=...)`) makes a node: it records
what each input is given, offers its ports as `node.inputs.<name>` and `node.outputs.<name>`,
and keeps step settings (`node.compute`, `node.environment_variables`, ...). Inside a running
`@pipeline` function the node is added to the pipeline being built; the step name and the
`${{parent...}}` binding strings are decided only when the function has returned, because they
depend on the variable names the function used. Inputs are checked when given, so a mistake
(an input the component does not declare, a value of the wrong kind) raises at the line that
made it, naming the component and the input.
"""

from __future__ import annotations

import inspect
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from types import CodeType, FrameType
from typing import Any, ClassVar, Generic, TypeVar

from forgeml.core.errors import SpecError
from forgeml.core.specs.component import (
    LITERAL_TYPES,
    CommandComponent,
    ComponentInput,
    check_literal,
)
from forgeml.core.specs.job import JobInput
from forgeml.core.specs.pipeline import PipelineComponent

OUTPUT_MODES = ("rw_mount", "upload", "direct", "mount")
LITERALS = (bool, int, float, str)

Component = CommandComponent | PipelineComponent


# ----------------------------------------------------------------------------- the builder


class Builder:
    """The pipeline a running `@pipeline` function adds its steps to."""

    def __init__(self, func: Callable[..., Any]) -> None:
        self.func = func
        self.code: CodeType | None = getattr(inspect.unwrap(func), "__code__", None)
        self.nodes: list[Node] = []
        self.params: dict[str, PipelineInput] = {}
        #: the running function's frame, found when its first step is made
        self.frame: FrameType | None = None

    def add(self, node: Node) -> None:
        self.nodes.append(node)
        if self.frame is None and self.code is not None:
            # the step may be made in a helper the function calls: walk up to the function
            frame: FrameType | None = sys._getframe(1)
            while frame is not None and frame.f_code is not self.code:
                frame = frame.f_back
            self.frame = frame

    @property
    def label(self) -> str:
        return f"@pipeline function '{self.func.__name__}'"

    def owns(self, node: Node) -> bool:
        return any(node is mine for mine in self.nodes)


_state = threading.local()


def _stack() -> list[Builder]:
    stack: list[Builder] | None = getattr(_state, "stack", None)
    if stack is None:
        stack = []
        _state.stack = stack
    return stack


def current_builder() -> Builder | None:
    """The innermost pipeline being built on this thread, if any."""
    stack = _stack()
    return stack[-1] if stack else None


@contextmanager
def building(builder: Builder) -> Iterator[Builder]:
    """Make `builder` the pipeline that components called now add their steps to."""
    stack = _stack()
    if any(other.func is builder.func for other in stack):
        raise SpecError(
            f"the {builder.label} calls itself (directly or through another @pipeline "
            "function); a pipeline cannot contain itself."
        )
    stack.append(builder)
    try:
        yield builder
    finally:
        stack.pop()


# ------------------------------------------------------------------------------- values


class PipelineInput:
    """A parameter of a `@pipeline` function while it runs: it stands for
    `${{parent.inputs.<name>}}`, whose value is known only when the pipeline runs."""

    __slots__ = ("_builder", "_used_as", "name", "type")

    def __init__(self, name: str, type_: str | None, builder: Builder) -> None:
        self.name = name
        self.type = type_
        self._builder = builder
        #: the types of the component inputs it was given to, to type an input given no value
        self._used_as: list[str] = []

    @property
    def binding(self) -> str:
        return f"${{{{parent.inputs.{self.name}}}}}"

    def __bool__(self) -> bool:
        raise TypeError(
            f"the pipeline input '{self.name}' has no value while the pipeline is built, so it "
            "cannot be tested with if, and, or; pass it to a component, which reads its value "
            "when the pipeline runs."
        )

    def __repr__(self) -> str:
        return f"<pipeline input {self.name!r}: {self.binding}>"


class NodeOutput:
    """One output of a step. Given to another component it binds (and orders) the two steps;
    returned from the pipeline function it becomes a pipeline output. `mode`, `name` and
    `version` may be set, as on an azure-ai-ml node output."""

    __slots__ = ("_mode", "_node", "_port", "_type", "name", "version")

    def __init__(self, node: Node, port: str, type_: str) -> None:
        self._node = node
        self._port = port
        self._type = type_
        self._mode: str | None = None
        self.name: str | None = None
        self.version: str | None = None

    @property
    def node(self) -> Node:
        return self._node

    @property
    def port(self) -> str:
        return self._port

    @property
    def type(self) -> str:
        return self._type

    @property
    def mode(self) -> str | None:
        return self._mode

    @mode.setter
    def mode(self, value: str | None) -> None:
        if value is not None and value not in OUTPUT_MODES:
            raise ValueError(
                f"'{value}' is not an output mode; use one of {', '.join(OUTPUT_MODES)}."
            )
        self._mode = value

    def __repr__(self) -> str:
        return f"<output {self._port!r} ({self._type}) of {self._node._label}>"


class NodeInput:
    """One input of a step; given to another component it passes the same value on
    (`${{parent.jobs.<step>.inputs.<name>}}`)."""

    __slots__ = ("_node", "_port", "_type")

    def __init__(self, node: Node, port: str, type_: str) -> None:
        self._node = node
        self._port = port
        self._type = type_

    @property
    def node(self) -> Node:
        return self._node

    @property
    def port(self) -> str:
        return self._port

    @property
    def type(self) -> str:
        return self._type

    @property
    def value(self) -> Any:
        """What the input was given (None when nothing)."""
        return self._node._given.get(self._port)

    def __repr__(self) -> str:
        return f"<input {self._port!r} ({self._type}) of {self._node._label}>"


P = TypeVar("P", NodeInput, NodeOutput)


class Ports(Mapping[str, P], Generic[P]):
    """`node.inputs` / `node.outputs`: ports by attribute (`.model`) or by key (`["model"]`)."""

    __slots__ = ("_group", "_node", "_ports")

    _node: Node
    _group: str
    _ports: dict[str, P]

    def __init__(self, node: Node, group: str, ports: dict[str, P]) -> None:
        object.__setattr__(self, "_node", node)
        object.__setattr__(self, "_group", group)
        object.__setattr__(self, "_ports", ports)

    def _missing(self, name: str) -> str:
        known = ", ".join(self._ports) or "none"
        group = self._group
        return f"{self._node._label} has no {group[:-1]} '{name}' (its {group}: {known})."

    def __getattr__(self, name: str) -> P:
        if name.startswith("__"):
            raise AttributeError(name)
        found = self._ports.get(name)
        if found is None:
            raise AttributeError(self._missing(name))
        return found

    def __getitem__(self, name: str) -> P:
        found = self._ports.get(name)
        if found is None:
            raise KeyError(self._missing(name))
        return found

    def __iter__(self) -> Iterator[str]:
        return iter(self._ports)

    def __len__(self) -> int:
        return len(self._ports)

    def __setattr__(self, name: str, value: Any) -> None:
        if self._group != "inputs":
            raise AttributeError(
                f"the outputs of {self._node._label} cannot be replaced; set their mode, name "
                "or version instead (node.outputs.<name>.mode = ...)."
            )
        self._node._set_input(name, value)

    def __setitem__(self, name: str, value: Any) -> None:
        self.__setattr__(name, value)

    def __repr__(self) -> str:
        return f"<{self._group} of {self._node._label}: {', '.join(self._ports)}>"


# -------------------------------------------------------------------------------- nodes


class Node:
    """A step made by calling a component; its settings become the step's keys."""

    kind: ClassVar[str] = "command"
    SETTINGS: ClassVar[tuple[str, ...]] = (
        "name",
        "display_name",
        "description",
        "tags",
        "properties",
        "compute",
        "force_rerun",
        "is_deterministic",
    )

    _component: Component
    _given: dict[str, Any]
    _inputs: Ports[NodeInput]
    _outputs: Ports[NodeOutput]

    name: str | None
    display_name: str | None
    description: str | None
    tags: dict[str, str]
    properties: dict[str, str]
    compute: str | PipelineInput | None  # a parameter: the compute is chosen per run
    force_rerun: bool | None
    is_deterministic: bool | None

    def __init__(self, component: Component, inputs: Mapping[str, Any]) -> None:
        object.__setattr__(self, "_component", component)
        object.__setattr__(self, "_given", {})
        for key in self.SETTINGS:
            object.__setattr__(self, key, {} if key in ("tags", "properties") else None)
        self._init_settings()
        ins = {k: NodeInput(self, k, v.type) for k, v in component.inputs.items()}
        outs = {k: NodeOutput(self, k, v.type) for k, v in component.outputs.items()}
        object.__setattr__(self, "_inputs", Ports(self, "inputs", ins))
        object.__setattr__(self, "_outputs", Ports(self, "outputs", outs))
        for key, value in inputs.items():
            self._set_input(key, value)

    def _init_settings(self) -> None:
        """Kinds with more settings start them here."""

    @property
    def component(self) -> Component:
        return self._component

    @property
    def inputs(self) -> Ports[NodeInput]:
        return self._inputs

    @property
    def outputs(self) -> Ports[NodeOutput]:
        return self._outputs

    @property
    def _label(self) -> str:
        return f"the component '{self._component.name or self._component.display_name}'"

    def __setattr__(self, key: str, value: Any) -> None:
        if key in self.SETTINGS:
            object.__setattr__(self, key, value)
            return
        if key in ("inputs", "outputs"):
            raise AttributeError(
                f"the {key} of a step cannot be replaced; set one at a time "
                f"(node.{key}.<name> = ...)."
            )
        raise AttributeError(
            f"a {self.kind} step has no setting '{key}'; the settings are: "
            f"{', '.join(sorted(self.SETTINGS))}."
        )

    def _set_input(self, key: str, value: Any) -> None:
        spec = self._component.inputs.get(key)
        if spec is None:
            known = ", ".join(self._component.inputs) or "none"
            raise TypeError(
                f"{self._label} has no input '{key}' (its inputs: {known}); check the spelling."
            )
        if value is None:
            self._given.pop(key, None)
            return
        self._given[key] = input_value(self._label, key, spec, value)

    def settings(self) -> dict[str, Any]:
        """The step keys set on this node (name excepted: the builder decides it)."""
        out: dict[str, Any] = {}
        for key in self.SETTINGS:
            value = getattr(self, key)
            if key != "name" and value is not None and value != {}:
                out[key] = value
        return out

    def __repr__(self) -> str:
        return f"<{self.kind} step of {self._label}>"


class CommandNode(Node):
    """A step that runs a command component."""

    kind = "command"
    SETTINGS = (
        *Node.SETTINGS,
        "environment_variables",
        "resources",
        "distribution",
        "limits",
    )

    environment_variables: dict[str, str]
    resources: dict[str, Any] | None
    distribution: dict[str, Any] | None
    limits: dict[str, Any] | None

    def _init_settings(self) -> None:
        object.__setattr__(self, "environment_variables", {})


class PipelineNode(Node):
    """A step that runs a pipeline component: a nested pipeline."""

    kind = "pipeline"


def input_value(label: str, key: str, spec: ComponentInput, value: Any) -> Any:
    """What a step input holds: a literal, a data document, or a reference resolved later."""
    if isinstance(value, Node):
        outs = list(value.outputs.values())
        if len(outs) != 1:
            names = ", ".join(f"<step>.outputs.{o.port}" for o in outs) or "it has none"
            raise TypeError(
                f"the input '{key}' of {label} was given a whole step ({value._label}); pass "
                f"one of its outputs instead: {names}."
            )
        value = outs[0]
    if isinstance(value, PipelineInput):
        value._used_as.append(spec.type)
        return value
    if isinstance(value, NodeOutput | NodeInput):
        return value
    if isinstance(value, JobInput):
        doc = value.model_dump(mode="json", exclude_none=True, exclude_defaults=True)
        return {"type": value.type, **doc}
    if isinstance(value, LITERALS):
        if spec.type not in LITERAL_TYPES:
            if spec.type == "path":
                return value
            raise TypeError(
                f"the input '{key}' of {label} is data ({spec.type}); give it "
                f"Input(type='{spec.type}', path=...) or another step's output, not the "
                f"{type(value).__name__} {value!r}."
            )
        try:
            check_literal(spec, value)
        except ValueError as exc:
            raise SpecError(
                f"{label}: the input '{key}' is of type {spec.type}: {exc}", field=f"inputs.{key}"
            ) from None
        return value
    raise TypeError(
        f"the input '{key}' of {label} cannot take a {type(value).__name__}; give it a literal "
        "(str, int, float or bool), an Input(...), a parameter of the pipeline function, or "
        "another step's output such as <step>.outputs.<name>."
    )


def component_node(component: Component, inputs: Mapping[str, Any]) -> Node:
    """A step running `component` with `inputs`; inside a `@pipeline` function, added to it.

    This is what calling a component does: `train_component(train_data=..., n_estimators=50)`.
    """
    node: Node
    if isinstance(component, PipelineComponent):
        node = PipelineNode(component, inputs)
    elif isinstance(component, CommandComponent):
        node = CommandNode(component, inputs)
    else:
        raise TypeError(
            f"only command and pipeline components can be called, not {type(component).__name__}."
        )
    builder = current_builder()
    if builder is not None:
        builder.add(node)
    return node
