"""A pipeline's steps as a graph: interfaces, bindings, edges, and the checks made at submit.

`build_graph` takes the steps of a pipeline (components already loaded or resolved: the
workspace resolves `azureml:` references first) and the pipeline's own ports, and returns the
nodes in a topological order. Every problem a user can fix is refused here with a `SpecError`
whose field names the step and port: an unknown step or port in a binding, a cycle (naming the
steps on it), a type mismatch between an output and the input it feeds, a required input left
unbound, a pipeline output no step fills.

Edges exist only through `${{parent.jobs.<step>.outputs.<port>}}` bindings, as in Azure ML;
steps without edges between them run in parallel. Pure logic: no store, no HTTP.
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Literal

from forgeml.core.errors import SpecError
from forgeml.core.specs.component import (
    DATA_TYPES,
    LITERAL_TYPES,
    CommandComponent,
    ComponentInput,
    ComponentOutput,
)
from forgeml.core.specs.job import JobInput, JobOutput, literal_type
from forgeml.core.specs.pipeline import PipelineComponent, PipelineStep, check_step_name

STEP_KINDS = ("command", "sweep", "pipeline")
#: the output every step has: the run's artifacts (what the command wrote to ./outputs)
ARTIFACTS = "artifacts"
_BINDING = re.compile(
    r"^\$\{\{\s*parent\.(?:(inputs|outputs)\.([A-Za-z0-9_]+)|jobs\.([A-Za-z0-9_]+)\."
    r"(inputs|outputs)\.([A-Za-z0-9_]+))\s*\}\}$"
)
_ANY_EXPR = re.compile(r"\$\{\{.*?\}\}")

BindingKind = Literal["literal", "data", "parent_input", "step_output", "step_input", "unset"]


@dataclass(frozen=True)
class Port:
    """A port's declared interface: its type, and for inputs whether it may stay unset."""

    type: str
    optional: bool = False
    default: Any = None
    mode: str | None = None

    @property
    def is_literal(self) -> bool:
        return self.type in LITERAL_TYPES


@dataclass(frozen=True)
class Binding:
    """Where one input of a step gets its value."""

    kind: BindingKind
    value: Any = None  # a literal, or a data input document (`type`, `path`, `mode`)
    step: str | None = None
    port: str | None = None

    @property
    def expression(self) -> str:
        if self.kind == "parent_input":
            return f"${{{{parent.inputs.{self.port}}}}}"
        if self.kind in ("step_output", "step_input"):
            group = "outputs" if self.kind == "step_output" else "inputs"
            return f"${{{{parent.jobs.{self.step}.{group}.{self.port}}}}}"
        return repr(self.value)


@dataclass
class Node:
    """One step: what it runs, its interface, where its inputs come from."""

    name: str
    kind: str
    step: PipelineStep
    #: the component it runs; None for an inline command step (the step is its own component)
    component: CommandComponent | PipelineComponent | None
    #: for a sweep step: the trial component
    trial: CommandComponent | None
    inputs: dict[str, Port]
    outputs: dict[str, Port]
    bindings: dict[str, Binding] = field(default_factory=dict)
    #: output port -> the pipeline output it fills
    promoted: dict[str, str] = field(default_factory=dict)
    #: output port -> settings given on the step (`type`, `mode`, `name`, `version`)
    output_settings: dict[str, dict[str, Any]] = field(default_factory=dict)
    upstream: tuple[str, ...] = ()

    @property
    def is_deterministic(self) -> bool:
        if self.step.is_deterministic is not None:
            return self.step.is_deterministic
        comp = self.trial or self.component
        return bool(getattr(comp, "is_deterministic", True))


@dataclass
class Graph:
    nodes: dict[str, Node]
    order: list[str]
    inputs: dict[str, Port]
    outputs: dict[str, Port]
    #: pipeline output -> (step, port) that fills it
    sources: dict[str, tuple[str, str]]
    warnings: list[str] = field(default_factory=list)

    def downstream(self, step: str) -> set[str]:
        """Every step that depends on `step`, directly or not."""
        out: set[str] = set()
        frontier = [step]
        while frontier:
            current = frontier.pop()
            for node in self.nodes.values():
                if current in node.upstream and node.name not in out:
                    out.add(node.name)
                    frontier.append(node.name)
        return out


# ------------------------------------------------------------------------------ interfaces


def port_of_input(value: JobInput | ComponentInput | Any) -> Port:
    if isinstance(value, JobInput | ComponentInput):
        return Port(value.type, value.optional, value.default, value.mode)
    if value is None:
        return Port("string", optional=True)
    return Port(literal_type(value))


def port_of_output(value: JobOutput | ComponentOutput | None) -> Port:
    if value is None:
        return Port("uri_folder")
    return Port(value.type, mode=value.mode)


def compatible(source: str, target: str) -> bool:
    """Can an output (or pipeline input) of type `source` feed an input of type `target`?"""
    if source == target or "path" in (source, target):
        return True
    if target in LITERAL_TYPES and source in LITERAL_TYPES:
        # literals are coerced on use (an integer feeds a number, anything feeds a string)
        return target == "string" or (target == "number" and source == "integer")
    if target in LITERAL_TYPES or source in LITERAL_TYPES:
        return False
    # any folder-shaped output can feed a uri_folder input; a file feeds only a file
    return target == "uri_folder" and source != "uri_file"


def _interface(
    name: str, step: PipelineStep, field_prefix: str
) -> tuple[
    str, CommandComponent | PipelineComponent | None, CommandComponent | None, dict[str, Port]
]:
    """(kind, component, trial, declared outputs) of one step; inputs are derived later."""
    kind = step.type or "command"
    where = f"{field_prefix}.{name}"
    if kind not in STEP_KINDS:
        raise SpecError(
            f"step '{name}' is of type '{kind}', which is not supported yet; supported step "
            f"types: {', '.join(STEP_KINDS)}.",
            field=f"{where}.type",
        )
    if kind == "sweep":
        trial = step.trial
        if not isinstance(trial, CommandComponent):
            raise SpecError(
                f"sweep step '{name}' needs 'trial': a command component (a file such as "
                "./train.yml or azureml:<name>:<version>).",
                field=f"{where}.trial",
            )
        outputs = {k: port_of_output(v) for k, v in trial.outputs.items()}
        return kind, None, trial, outputs
    component = step.component
    if kind == "pipeline":
        if not isinstance(component, PipelineComponent):
            raise SpecError(
                f"step '{name}' is a pipeline step; give it 'component:' naming a pipeline "
                "component (type: pipeline).",
                field=f"{where}.component",
            )
        return kind, component, None, {k: port_of_output(v) for k, v in component.outputs.items()}
    if isinstance(component, PipelineComponent):
        raise SpecError(
            f"step '{name}' uses a pipeline component; declare the step with 'type: pipeline'.",
            field=f"{where}.type",
        )
    if isinstance(component, CommandComponent):
        return kind, component, None, {k: port_of_output(v) for k, v in component.outputs.items()}
    if component is not None:
        raise SpecError(
            f"step '{name}': the component {component!r} was not found or could not be read.",
            field=f"{where}.component",
        )
    if not step.command:
        raise SpecError(
            f"step '{name}' has neither 'component' nor 'command'; give one of them.",
            field=where,
        )
    if step.environment is None:
        raise SpecError(
            f"the inline command step '{name}' needs an 'environment'.",
            field=f"{where}.environment",
        )
    own: dict[str, Port] = {}
    for key, given in step.outputs.items():
        if isinstance(given, dict):
            own[key] = Port(str(given.get("type") or "uri_folder"), mode=given.get("mode"))
        else:
            own[key] = Port("uri_folder")
    return kind, None, None, own


def _declared_inputs(node: Node) -> dict[str, Port] | None:
    """The inputs a component declares (None for an inline step, whose inputs are its own)."""
    if node.kind == "sweep" and node.trial is not None:
        space = set(node.step.search_space or {})
        return {k: port_of_input(v) for k, v in node.trial.inputs.items() if k not in space}
    if node.component is not None:
        return {k: port_of_input(v) for k, v in node.component.inputs.items()}
    return None


# -------------------------------------------------------------------------------- building


def parse_binding(value: Any) -> tuple[str, str | None, str, str] | None:
    """`${{parent...}}` -> (group, step, kind, port); None for a value that is no binding."""
    if not isinstance(value, str):
        return None
    match = _BINDING.match(value.strip())
    if match is None:
        return None
    if match.group(1):
        return ("parent", None, match.group(1), match.group(2))
    return ("jobs", match.group(3), match.group(4), match.group(5))


def build_graph(
    jobs: dict[str, PipelineStep],
    inputs: dict[str, Port],
    outputs: dict[str, Port],
    *,
    field_prefix: str = "jobs",
) -> Graph:
    """Check a pipeline's steps and bindings; return its graph in a topological order."""
    if not jobs:
        raise SpecError("a pipeline needs at least one step under 'jobs'.", field=field_prefix)
    nodes: dict[str, Node] = {}
    for name, step in jobs.items():
        check_step_name(name, f"{field_prefix}.{name}")
        kind, component, trial, outs = _interface(name, step, field_prefix)
        nodes[name] = Node(name, kind, step, component, trial, {}, outs)
    graph = Graph(nodes, [], inputs, outputs, {})
    for node in nodes.values():
        _bind_inputs(graph, node, field_prefix)
    for node in nodes.values():
        _bind_outputs(graph, node, field_prefix)
    for name in outputs:
        if name not in graph.sources:
            raise SpecError(
                f"the pipeline output '{name}' is not filled by any step; bind a step output to "
                f"it with ${{{{parent.outputs.{name}}}}} or remove it.",
                field=f"outputs.{name}",
            )
    graph.order = _topological(nodes, field_prefix)
    return graph


def _bind_inputs(graph: Graph, node: Node, prefix: str) -> None:
    declared = _declared_inputs(node)
    where = f"{prefix}.{node.name}.inputs"
    upstream: list[str] = []
    for key, given in node.step.inputs.items():
        field = f"{where}.{key}"
        binding, source_port = _binding(graph, node, key, given, field)
        if binding.step is not None and binding.kind == "step_output":
            upstream.append(binding.step)
        if declared is not None:
            target = declared.get(key)
            if target is None:
                graph.warnings.append(
                    f"step '{node.name}' is given the input '{key}', which its component does "
                    "not declare; it is ignored."
                )
                continue
        else:
            target = source_port
        node.inputs[key] = target
        node.bindings[key] = binding
        if source_port is not None and not compatible(source_port.type, target.type):
            raise SpecError(
                f"step '{node.name}': input '{key}' is of type {target.type} but "
                f"{binding.expression} is of type {source_port.type}; connect an output of a "
                "matching type.",
                field=field,
            )
    if declared is not None:
        for key, port in declared.items():
            if key in node.bindings:
                continue
            node.inputs[key] = port
            if port.default is not None:
                node.bindings[key] = Binding("literal", port.default)
            elif port.optional:
                node.bindings[key] = Binding("unset")
            else:
                raise SpecError(
                    f"step '{node.name}': the required input '{key}' ({port.type}) is not bound; "
                    "give it a value or a binding such as ${{parent.inputs.<name>}}.",
                    field=f"{where}.{key}",
                )
    node.upstream = tuple(dict.fromkeys(upstream))


def _binding(graph: Graph, node: Node, key: str, given: Any, field: str) -> tuple[Binding, Port]:
    """One input's binding and the port (type) of its source."""
    if isinstance(given, dict) and set(given) == {"value"}:
        given = given["value"]
    parsed = parse_binding(given)
    if parsed is None:
        if isinstance(given, str) and _ANY_EXPR.search(given):
            raise SpecError(
                f"step '{node.name}': '{given}' is not a binding forgeml understands; use "
                "${{parent.inputs.<name>}} or ${{parent.jobs.<step>.outputs.<name>}} as the whole "
                "value.",
                field=field,
            )
        if isinstance(given, dict):
            kind = str(given.get("type") or "uri_folder")
            if kind in LITERAL_TYPES:
                value = given.get("value", given.get("default"))
                return Binding("literal", value), Port(kind, bool(given.get("optional")))
            if kind not in DATA_TYPES:
                raise SpecError(
                    f"step '{node.name}': '{kind}' is not an input type; use one of "
                    f"{', '.join((*LITERAL_TYPES, *DATA_TYPES))}.",
                    field=f"{field}.type",
                )
            if given.get("path") is None:
                return Binding("unset"), Port(kind, True, mode=given.get("mode"))
            return Binding("data", dict(given)), Port(kind, mode=given.get("mode"))
        if given is None:
            return Binding("unset"), Port("string", optional=True)
        return Binding("literal", given), Port(literal_type(given))
    group, step, kind, port = parsed
    if group == "parent":
        if kind == "outputs":
            raise SpecError(
                f"step '{node.name}': an input cannot read ${{{{parent.outputs.{port}}}}}; bind "
                "it to a step's output with ${{parent.jobs.<step>.outputs.<name>}}.",
                field=field,
            )
        source = graph.inputs.get(port)
        if source is None:
            known = ", ".join(sorted(graph.inputs)) or "none"
            raise SpecError(
                f"step '{node.name}' reads ${{{{parent.inputs.{port}}}}}, but the pipeline has "
                f"no input '{port}' (its inputs: {known}).",
                field=field,
            )
        return Binding("parent_input", port=port), source
    assert step is not None
    other = graph.nodes.get(step)
    if other is None:
        known = ", ".join(sorted(graph.nodes))
        raise SpecError(
            f"step '{node.name}' reads the step '{step}', which does not exist (steps: {known}).",
            field=field,
        )
    if step == node.name:
        raise SpecError(f"step '{node.name}' cannot read its own {kind}.", field=field)
    if kind == "inputs":
        given_there = other.step.inputs.get(port)
        if given_there is None:
            raise SpecError(
                f"step '{node.name}' reads ${{{{parent.jobs.{step}.inputs.{port}}}}}, but step "
                f"'{step}' is given no input '{port}'.",
                field=field,
            )
        inner, source_port = _binding(graph, other, port, given_there, field)
        return inner, source_port
    if port == ARTIFACTS:
        return Binding("step_output", step=step, port=port), Port("uri_folder")
    out = other.outputs.get(port)
    if out is None:
        known = ", ".join(sorted(other.outputs)) or "none"
        raise SpecError(
            f"step '{node.name}' reads ${{{{parent.jobs.{step}.outputs.{port}}}}}, but step "
            f"'{step}' has no output '{port}' (its outputs: {known}).",
            field=field,
        )
    return Binding("step_output", step=step, port=port), out


def _bind_outputs(graph: Graph, node: Node, prefix: str) -> None:
    for key, given in node.step.outputs.items():
        field = f"{prefix}.{node.name}.outputs.{key}"
        if key not in node.outputs:
            known = ", ".join(sorted(node.outputs)) or "none"
            raise SpecError(
                f"step '{node.name}' has no output '{key}' (its outputs: {known}).", field=field
            )
        if isinstance(given, dict):
            node.output_settings[key] = {k: v for k, v in given.items() if v is not None}
            continue
        if given is None:
            continue
        parsed = parse_binding(given)
        if parsed is None or parsed[0] != "parent" or parsed[2] != "outputs":
            raise SpecError(
                f"step '{node.name}': output '{key}' takes ${{{{parent.outputs.<name>}}}} or "
                "output settings (type, mode, name, version), not "
                f"{given!r}.",
                field=field,
            )
        target = parsed[3]
        pipeline_port = graph.outputs.get(target)
        if pipeline_port is None:
            known = ", ".join(sorted(graph.outputs)) or "none"
            raise SpecError(
                f"step '{node.name}' fills ${{{{parent.outputs.{target}}}}}, but the pipeline "
                f"has no output '{target}' (its outputs: {known}).",
                field=field,
            )
        if target in graph.sources:
            first = graph.sources[target][0]
            raise SpecError(
                f"the pipeline output '{target}' is filled by both step '{first}' and step "
                f"'{node.name}'; bind it once.",
                field=field,
            )
        own = node.outputs[key]
        if not compatible(own.type, pipeline_port.type) and pipeline_port.type != own.type:
            raise SpecError(
                f"step '{node.name}': output '{key}' is of type {own.type} but the pipeline "
                f"output '{target}' is of type {pipeline_port.type}.",
                field=field,
            )
        graph.sources[target] = (node.name, key)
        node.promoted[key] = target


def _topological(nodes: dict[str, Node], prefix: str) -> list[str]:
    indegree = {name: len(node.upstream) for name, node in nodes.items()}
    ready = deque(name for name in nodes if indegree[name] == 0)
    order: list[str] = []
    while ready:
        name = ready.popleft()
        order.append(name)
        for other in nodes.values():
            if name in other.upstream:
                indegree[other.name] -= 1
                if indegree[other.name] == 0:
                    ready.append(other.name)
    if len(order) == len(nodes):
        return order
    cycle = _find_cycle({n: nodes[n].upstream for n in nodes if n not in order})
    path = " -> ".join(cycle)
    raise SpecError(
        f"the steps form a cycle ({path}); a step cannot depend on its own outputs.",
        field=f"{prefix}.{cycle[0]}.inputs",
    )


def _find_cycle(edges: dict[str, tuple[str, ...]]) -> list[str]:
    for start in edges:
        path: list[str] = [start]
        seen = {start}
        current = start
        while True:
            nxt = next((u for u in edges.get(current, ()) if u in edges), None)
            if nxt is None:
                break
            if nxt in seen:
                cycle = [*path[path.index(nxt) :], nxt]
                return list(reversed(cycle))
            path.append(nxt)
            seen.add(nxt)
            current = nxt
    return sorted(edges)
