"""`@pipeline`: a Python function whose component calls become the steps of a pipeline job.

Shaped like azure-ai-ml's `azure.ai.ml.dsl.pipeline`. Calling the decorated function runs it with
each parameter replaced by a placeholder bound to `${{parent.inputs.<param>}}`; every component it
calls becomes a step, named after the local variable the step was assigned to, else after its
component. The variables are read from the function's frame once it has returned (azure-ai-ml
reads the same locals through a profiler hook, which would displace a profiler or debugger the
user runs). What the function returns (None, one step output, or a dict of them) becomes the
pipeline's outputs. The result is the same `PipelineJob` document that loading the equivalent
YAML gives, checked by the same graph rules, so the SDK submits either the same way. Called inside
another `@pipeline` function, it becomes a `type: pipeline` step over a pipeline component built
from it.
"""

from __future__ import annotations

import functools
import inspect
import re
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ParamSpec, TypeVar, overload

from forgeml.core.errors import SpecError
from forgeml.core.specs.base import validate_spec
from forgeml.core.specs.component import (
    _PORT_NAME,
    LITERAL_TYPES,
    RESERVED_PORT_NAMES,
    ComponentInput,
    ComponentOutput,
    check_literal,
)
from forgeml.core.specs.job import JobInput, JobOutput, literal_type
from forgeml.core.specs.pipeline import (
    STEP_NAME_RULE,
    PipelineComponent,
    PipelineJob,
    PipelineStep,
)
from forgeml.dsl.nodes import (
    LITERALS,
    Builder,
    Node,
    NodeInput,
    NodeOutput,
    PipelineInput,
    building,
    component_node,
    current_builder,
)
from forgeml.pipelines.graph import build_graph, port_of_input, port_of_output

Params = ParamSpec("Params")
R = TypeVar("R")

_STEP = re.compile(r"^[a-z_][a-z0-9_]*$")
_NOT_COMPONENT_CHAR = re.compile(r"[^a-z0-9_.\-]")
_NOT_STEP_CHAR = re.compile(r"[^a-z0-9_]")
_PY_TYPES = {float: "number", int: "integer", bool: "boolean", str: "string"}
_PY_NAMES = {"float": "number", "int": "integer", "bool": "boolean", "str": "string"}
_DATA_NAMES = ("Input", "JobInput")


@dataclass(frozen=True)
class _Options:
    name: str | None
    version: str | None
    display_name: str | None
    description: str | None
    experiment_name: str | None
    tags: dict[str, str] | None
    compute: str | None
    settings: dict[str, Any]


@dataclass
class _Param:
    """One parameter of the function as a pipeline input."""

    name: str
    type: str | None
    value: Any  # a literal, a JobInput, a reference (nested only), or None
    given: bool  # passed by the caller (not a default)
    required: bool  # the function declares no default


@overload
def pipeline(func: Callable[Params, Any], /) -> Callable[Params, Any]: ...


@overload
def pipeline(
    *,
    name: str | None = None,
    version: str | None = None,
    display_name: str | None = None,
    description: str | None = None,
    experiment_name: str | None = None,
    default_compute: str | None = None,
    default_datastore: str | None = None,
    continue_on_step_failure: bool | None = None,
    force_rerun: bool | None = None,
    tags: dict[str, str] | None = None,
    compute: str | None = None,
) -> Callable[[Callable[Params, Any]], Callable[Params, Any]]: ...


def pipeline(
    func: Callable[..., Any] | None = None,
    /,
    *,
    name: str | None = None,
    version: str | None = None,
    display_name: str | None = None,
    description: str | None = None,
    experiment_name: str | None = None,
    default_compute: str | None = None,
    default_datastore: str | None = None,
    continue_on_step_failure: bool | None = None,
    force_rerun: bool | None = None,
    tags: dict[str, str] | None = None,
    compute: str | None = None,
) -> Any:
    """Build a pipeline from the components a function calls.

    `name` and `version` name the pipeline component (the function's name by default);
    `display_name` (default: `name`, else the function's name), `description` (default: the
    docstring), `experiment_name`, `tags` and `compute` go to the job; `default_compute`,
    `default_datastore`, `continue_on_step_failure` and `force_rerun` to its `settings`. Inside
    another `@pipeline` function the job-level options are not used: the call is a step.
    """
    settings = {
        "default_compute": default_compute,
        "default_datastore": default_datastore,
        "continue_on_step_failure": continue_on_step_failure,
        "force_rerun": force_rerun,
    }
    options = _Options(
        name=name,
        version=None if version is None else str(version),
        display_name=display_name,
        description=description,
        experiment_name=experiment_name,
        tags=tags,
        compute=compute,
        settings={k: v for k, v in settings.items() if v is not None},
    )

    def decorate(target: Callable[..., Any]) -> Callable[..., Any]:
        if not callable(target):
            raise TypeError(f"@pipeline decorates a function, not a {type(target).__name__}.")
        definition = _Definition(target, options)

        @functools.wraps(target)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            return definition.call(args, kwargs)

        return wrapper

    if func is not None:
        return decorate(func)
    return decorate


class _Definition:
    """A decorated function and its options; `call` builds one job (or nested step)."""

    def __init__(self, func: Callable[..., Any], options: _Options) -> None:
        self.func = func
        self.options = options
        self.signature = inspect.signature(func)
        self.fn = func.__name__
        for param in self.signature.parameters.values():
            if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
                raise TypeError(
                    f"the @pipeline function '{self.fn}' takes "
                    f"{'*' if param.kind is param.VAR_POSITIONAL else '**'}{param.name}; "
                    "declare each pipeline input as a named parameter instead."
                )
            if not _PORT_NAME.match(param.name) or param.name.lower() in RESERVED_PORT_NAMES:
                raise SpecError(
                    f"the parameter '{param.name}' of the @pipeline function '{self.fn}' cannot "
                    f"name a pipeline input: avoid {', '.join(sorted(RESERVED_PORT_NAMES))}.",
                    field=f"inputs.{param.name}",
                )

    # ------------------------------------------------------------------------- one call
    def call(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        try:
            bound = self.signature.bind(*args, **kwargs)
        except TypeError as exc:
            raise TypeError(f"{self.fn}(): {exc}") from None
        given = set(bound.arguments)
        bound.apply_defaults()
        outer = current_builder()
        params = {
            k: self._param(k, v, given=k in given, nested=outer is not None)
            for k, v in bound.arguments.items()
        }
        builder = Builder(self.func)
        for param in params.values():
            builder.params[param.name] = PipelineInput(param.name, param.type, builder)
        returned, local_vars = self._run(builder)
        names = _name_nodes(builder, local_vars)
        outputs = self._outputs(returned, builder)
        promoted = {(id(out.node), out.port): key for key, out in outputs.items()}
        steps = {names[id(node)]: _step(node, names, builder, promoted) for node in builder.nodes}
        for param in params.values():
            if param.type is None:
                used = builder.params[param.name]._used_as
                param.type = used[0] if used else "string"
        if outer is None:
            return self._job(params, steps, outputs)
        component = self._component(params, steps, outputs)
        inputs = {
            p.name: p.value
            for p in params.values()
            if p.value is not None and (p.given or isinstance(p.value, JobInput))
        }
        return component_node(component, inputs)

    def _run(self, builder: Builder) -> tuple[Any, dict[str, Any]]:
        """Run the function on the placeholders; return what it returned and its locals."""
        positional: list[Any] = []
        keywords: dict[str, Any] = {}
        for param in self.signature.parameters.values():
            placeholder = builder.params[param.name]
            if param.kind is param.POSITIONAL_ONLY:
                positional.append(placeholder)
            else:
                keywords[param.name] = placeholder
        with building(builder):
            returned = self.func(*positional, **keywords)
        # the frame keeps its locals after it returned: the names the steps were assigned to
        frame, builder.frame = builder.frame, None
        return returned, dict(frame.f_locals) if frame is not None else {}

    # ---------------------------------------------------------------------- parameters
    def _param(self, name: str, value: Any, *, given: bool, nested: bool) -> _Param:
        param = self.signature.parameters[name]
        required = param.default is inspect.Parameter.empty
        kind, is_data, declared = _annotation(param.annotation)
        where = f"the pipeline input '{name}' of {self.fn}()"
        if isinstance(value, Node):
            outs = list(value.outputs.values())
            if len(outs) == 1:
                value = outs[0]
        if isinstance(value, PipelineInput | NodeOutput | NodeInput):
            if not nested:
                raise TypeError(
                    f"{where} was given {value!r}; step outputs and pipeline parameters can be "
                    "passed only inside another @pipeline function. Give a literal or an "
                    "Input(...) here."
                )
            return _Param(name, value.type or kind, value, given, required)
        if isinstance(value, JobInput):
            return _Param(name, value.type, value.model_copy(), given, required)
        if isinstance(value, LITERALS):
            if is_data:
                data_type = kind or "uri_folder"
                raise TypeError(
                    f"{where} is annotated as data ({data_type}) but was given the "
                    f"{type(value).__name__} {value!r}; give Input(type='{data_type}', "
                    f"path={value!r}) instead."
                )
            if kind in LITERAL_TYPES:
                spec = ComponentInput(type=kind)
                if declared is not None:
                    spec = ComponentInput(
                        type=kind,
                        min=declared.min,
                        max=declared.max,
                        enum=declared.enum,
                    )
                try:
                    value = check_literal(spec, value)
                except ValueError as exc:
                    raise SpecError(
                        f"{where} is annotated as {kind}: {exc}", field=f"inputs.{name}"
                    ) from None
                return _Param(name, kind, value, given, required)
            return _Param(name, literal_type(value), value, given, required)
        if value is None:
            return _Param(name, kind or ("uri_folder" if is_data else None), None, given, required)
        raise TypeError(
            f"{where} cannot take a {type(value).__name__}; give a literal (str, int, float or "
            "bool) or an Input(type=..., path=...)."
        )

    # ------------------------------------------------------------------------- outputs
    def _outputs(self, returned: Any, builder: Builder) -> dict[str, NodeOutput]:
        if returned is None:
            return {}
        if isinstance(returned, NodeOutput):
            found: Mapping[Any, Any] = {returned.port: returned}
        elif isinstance(returned, Mapping):
            found = returned
        else:
            raise TypeError(
                f"the {builder.label} returned {returned!r}; return None, one step output "
                "(step.outputs.<name>) or a dict {name: step output} of the pipeline's outputs."
            )
        out: dict[str, NodeOutput] = {}
        seen: dict[tuple[int, str], str] = {}
        for key, value in found.items():
            if not isinstance(key, str) or not isinstance(value, NodeOutput):
                raise TypeError(
                    f"the {builder.label} returned a dict with {key!r}: {value!r}; each entry "
                    "must map an output name to a step output (step.outputs.<name>)."
                )
            if not _PORT_NAME.match(key) or key.lower() in RESERVED_PORT_NAMES:
                raise SpecError(
                    f"the {builder.label} returns an output named '{key}', which is not allowed: "
                    f"use letters, digits and '_', and none of "
                    f"{', '.join(sorted(RESERVED_PORT_NAMES))}.",
                    field=f"outputs.{key}",
                )
            if not builder.owns(value.node):
                raise SpecError(
                    f"the {builder.label} returns {value!r} as '{key}', but that step was not "
                    "made in this pipeline function; return outputs of its own steps.",
                    field=f"outputs.{key}",
                )
            ident = (id(value.node), value.port)
            if ident in seen:
                raise SpecError(
                    f"the {builder.label} returns the same step output as '{seen[ident]}' and "
                    f"'{key}'; return it once.",
                    field=f"outputs.{key}",
                )
            seen[ident] = key
            out[key] = value
        return out

    # ------------------------------------------------------------------------ documents
    def _job(
        self, params: dict[str, _Param], steps: dict[str, PipelineStep], outputs: dict[str, Any]
    ) -> PipelineJob:
        inputs: dict[str, Any] = {}
        for param in params.values():
            if param.value is None:
                inputs[param.name] = JobInput(type=param.type, optional=True)
            else:
                inputs[param.name] = param.value
        opts = self.options
        data = {
            "type": "pipeline",
            "display_name": opts.display_name or opts.name or self.fn,
            "description": opts.description or inspect.getdoc(self.func),
            "experiment_name": opts.experiment_name,
            "tags": dict(opts.tags or {}),
            "compute": opts.compute,
            "settings": dict(opts.settings),
            "inputs": inputs,
            "outputs": {k: _job_output(v) for k, v in outputs.items()},
            "jobs": steps,
        }
        job = validate_spec(PipelineJob, data)
        in_ports = {k: port_of_input(job.input_port(k)) for k in job.inputs}
        out_ports = {k: port_of_output(v) for k, v in job.outputs.items()}
        self._check_graph(job.jobs, in_ports, out_ports)
        return job.with_base_path(Path.cwd())

    def _component(
        self, params: dict[str, _Param], steps: dict[str, PipelineStep], outputs: dict[str, Any]
    ) -> PipelineComponent:
        inputs: dict[str, ComponentInput] = {}
        for param in params.values():
            assert param.type is not None
            declared = self.signature.parameters[param.name].default
            default = None
            if param.type in LITERAL_TYPES and isinstance(declared, LITERALS):
                spec = ComponentInput(type=param.type)
                try:
                    default = check_literal(spec, declared)
                except ValueError:
                    default = None  # a default that does not fit is refused when it is used
            inputs[param.name] = ComponentInput(
                type=param.type,
                default=default,
                # the interface follows the signature: a parameter defaulting to None is optional
                optional=declared is None,
            )
        opts = self.options
        data = {
            "type": "pipeline",
            "name": opts.name or _component_name(self.fn),
            "version": opts.version,
            "display_name": opts.display_name or opts.name or self.fn,
            "description": opts.description or inspect.getdoc(self.func),
            "tags": dict(opts.tags or {}),
            "inputs": inputs,
            "outputs": {k: ComponentOutput(type=v.type, mode=v.mode) for k, v in outputs.items()},
            "jobs": steps,
        }
        component = validate_spec(PipelineComponent, data)
        in_ports = {k: port_of_input(v) for k, v in component.inputs.items()}
        out_ports = {k: port_of_output(v) for k, v in component.outputs.items()}
        self._check_graph(component.jobs, in_ports, out_ports)
        return component.with_base_path(Path.cwd())

    def _check_graph(self, jobs: dict[str, PipelineStep], ins: Any, outs: Any) -> None:
        """The checks a YAML pipeline gets at submit, made now, at the function's call."""
        try:
            build_graph(jobs, ins, outs)
        except SpecError as exc:
            raise SpecError(
                f"in the @pipeline function '{self.fn}': {exc._bare}", field=exc.field
            ) from None


# --------------------------------------------------------------------------------- helpers


def _annotation(annotation: Any) -> tuple[str | None, bool | None, JobInput | None]:
    """(type, is data, declared Input) an annotation says; (None, None, None) when unknown."""
    if annotation is inspect.Parameter.empty or annotation is None:
        return None, None, None
    if isinstance(annotation, JobInput):
        return annotation.type, not annotation.is_literal, annotation
    if annotation is JobInput:
        return None, True, None
    if annotation in _PY_TYPES:
        return _PY_TYPES[annotation], False, None
    if isinstance(annotation, str):
        parts = [p.strip() for p in annotation.split("|") if p.strip() != "None"]
        text = parts[0] if len(parts) == 1 else ""
        inner = re.fullmatch(r"(?:typing\.)?Optional\[(.+)\]", text)
        text = inner.group(1).strip() if inner else text
        if text in _PY_NAMES:
            return _PY_NAMES[text], False, None
        if text.split(".")[-1] in _DATA_NAMES:
            return None, True, None
        return None, None, None
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        rest = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(rest) == 1:
            return _annotation(rest[0])
    return None, None, None


def _name_nodes(builder: Builder, local_vars: dict[str, Any]) -> dict[int, str]:
    """Step names: a name set on the node, else its variable's, else its component's (+ _N)."""
    names: dict[int, str] = {}
    taken: dict[str, int] = {}

    def claim(node: Node, name: str, origin: str) -> None:
        name = name.lower()
        if not _STEP.match(name):
            raise SpecError(
                f"the step name '{name}' ({origin}) in the {builder.label} is not allowed: use "
                f"{STEP_NAME_RULE}.",
                field=f"jobs.{name}",
            )
        if name in taken and taken[name] != id(node):
            raise SpecError(
                f"two steps of the {builder.label} are named '{name}' ({origin}); give one "
                "another name.",
                field=f"jobs.{name}",
            )
        taken[name] = id(node)
        names[id(node)] = name

    for node in builder.nodes:
        if node.name:
            claim(node, node.name, "set with node.name")
    for variable, value in local_vars.items():
        if isinstance(value, Node) and builder.owns(value) and id(value) not in names:
            claim(value, variable, f"the variable '{variable}'")
    for node in builder.nodes:
        if id(node) in names:
            continue
        base = _NOT_STEP_CHAR.sub("_", (node.component.name or "step").lower())
        candidate, count = base, 0
        while candidate in taken:
            count += 1
            candidate = f"{base}_{count}"
        claim(node, candidate, f"after its component '{node.component.name}'")
    return names


def _reference(value: Any, names: dict[int, str], builder: Builder, where: str) -> Any:
    """A step input as the step document holds it: a binding string, a literal or a dict."""
    if isinstance(value, PipelineInput):
        if value._builder is not builder:
            raise SpecError(
                f"{where} reads the input '{value.name}' of another @pipeline function; pass it "
                f"to the {builder.label} as an argument instead.",
                field=where,
            )
        return value.binding
    if isinstance(value, NodeOutput | NodeInput):
        if not builder.owns(value.node):
            raise SpecError(
                f"{where} reads {value!r}, a step made outside the {builder.label}; make that "
                "step inside the function, or pass its output in as an argument of a nested "
                "@pipeline function.",
                field=where,
            )
        group = "outputs" if isinstance(value, NodeOutput) else "inputs"
        return f"${{{{parent.jobs.{names[id(value.node)]}.{group}.{value.port}}}}}"
    return value


def _step(
    node: Node,
    names: dict[int, str],
    builder: Builder,
    promoted: dict[tuple[int, str], str],
) -> PipelineStep:
    name = names[id(node)]
    inputs = {
        k: _reference(v, names, builder, f"jobs.{name}.inputs.{k}") for k, v in node._given.items()
    }
    outputs: dict[str, Any] = {}
    for port, out in node.outputs.items():
        target = promoted.get((id(node), port))
        if target is not None:
            outputs[port] = f"${{{{parent.outputs.{target}}}}}"
            continue
        own = {"mode": out.mode, "name": out.name, "version": out.version}
        own = {k: v for k, v in own.items() if v is not None}
        if own:
            outputs[port] = own
    settings = node.settings()
    compute = settings.get("compute")
    if isinstance(compute, PipelineInput):
        # a compute named by a pipeline parameter is resolved when the step starts
        settings["compute"] = _reference(compute, names, builder, f"jobs.{name}.compute")
    data = {
        **settings,
        "type": node.kind,
        "component": node.component,
        "inputs": inputs,
        "outputs": outputs,
    }
    try:
        return validate_spec(PipelineStep, data)
    except SpecError as exc:
        field = f"jobs.{name}.{exc.field}" if exc.field else f"jobs.{name}"
        raise SpecError(f"in the {builder.label}: {exc._bare}", field=field) from None


def _job_output(out: NodeOutput) -> JobOutput:
    kind = "uri_folder" if out.type == "path" else out.type
    return JobOutput(
        type=kind,
        mode=out.mode,
        name=out.name,
        version=out.version,
    )


def _component_name(fn: str) -> str:
    name = _NOT_COMPONENT_CHAR.sub("_", fn.lower()).lstrip("_.-0123456789")
    return name or "pipeline"
