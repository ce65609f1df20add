"""From a graph node and the values its bindings resolved to, the job document of the step.

When a step's inputs are ready, the orchestrator resolves its bindings (a pipeline input, an
upstream step's output, a literal) and asks `step_document` for the child job: a command job for
a command step, a sweep job for a sweep step, a pipeline job for a nested pipeline step. The
child then goes through the same submit path as a job a user sends, so it is checked, pinned
and tracked the same way. Pure logic: values in, documents out.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from forgeml.core.errors import SpecError
from forgeml.core.specs.base import SpecModel
from forgeml.core.specs.component import CommandComponent
from forgeml.core.specs.pipeline import (
    PipelineComponent,
    PipelineStep,
    component_from_dict,
)
from forgeml.pipelines.graph import ARTIFACTS, Binding, Node, parse_binding

#: a resolved value: a literal, a data document (`type`, `path`, `mode`), or None (unset)
Value = Any


@dataclass
class Context:
    """What a pipeline gives each of its steps."""

    experiment_name: str
    default_compute: str | None = None
    compute: str | None = None
    continue_on_step_failure: bool = False
    force_rerun: bool = False
    #: pipeline input -> its resolved value
    inputs: dict[str, Value] = field(default_factory=dict)
    #: pipeline output -> its settings (`type`, `mode`, `name`, `version`, ...)
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Produced:
    """An output of a finished step, as a downstream input reads it."""

    type: str
    uri: str


def resolve_binding(
    binding: Binding, ctx: Context, produced: dict[tuple[str, str], Produced]
) -> Value:
    """The value a binding stands for now; None when it is unset (or its source is)."""
    if binding.kind == "literal":
        return binding.value
    if binding.kind == "data":
        return dict(binding.value)
    if binding.kind == "parent_input":
        assert binding.port is not None
        value = ctx.inputs.get(binding.port)
        return dict(value) if isinstance(value, dict) else value
    if binding.kind == "step_output":
        assert binding.step is not None and binding.port is not None
        out = produced.get((binding.step, binding.port))
        if out is None:
            return None
        return {"type": out.type, "path": out.uri}
    return None


def step_inputs(
    node: Node, ctx: Context, produced: dict[tuple[str, str], Produced]
) -> dict[str, Any]:
    """The `inputs:` of the child job: typed values, data documents with their paths."""
    out: dict[str, Any] = {}
    for key, port in node.inputs.items():
        binding = node.bindings.get(key, Binding("unset"))
        value = resolve_binding(binding, ctx, produced)
        declared = _declared(node, key)
        if value is None:
            if port.default is not None:
                value = port.default
            else:
                doc = {"type": port.type, "optional": True}
                out[key] = {**declared, **doc}
                continue
        if port.is_literal:
            if isinstance(value, dict):  # a typed literal given as a document
                value = value.get("value", value.get("default"))
            out[key] = {**declared, "type": port.type, "value": value}
        else:
            doc = dict(value) if isinstance(value, dict) else {"path": str(value)}
            doc["type"] = port.type
            if port.mode and "mode" not in doc:
                doc["mode"] = port.mode
            out[key] = {k: v for k, v in doc.items() if k in ("type", "path", "mode")}
    return out


def _declared(node: Node, key: str) -> dict[str, Any]:
    """Bounds and choices a component declares for a literal input (checked on submit)."""
    comp = node.trial or node.component
    spec = getattr(comp, "inputs", {}).get(key) if comp is not None else None
    if spec is None:
        return {}
    doc = spec.model_dump(mode="json", exclude_none=True, include={"min", "max", "enum"})
    return {k: v for k, v in doc.items() if v is not None}


def step_outputs(node: Node, ctx: Context) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for key, port in node.outputs.items():
        doc: dict[str, Any] = {"type": port.type}
        if port.mode:
            doc["mode"] = port.mode
        doc.update(node.output_settings.get(key, {}))
        target = node.promoted.get(key)
        if target is not None:
            # a promoted output: the pipeline-level output governs type, mode and registration
            doc.update({k: v for k, v in ctx.outputs.get(target, {}).items() if v is not None})
            doc.pop("path", None)
        out[key] = {k: v for k, v in doc.items() if k in ("type", "mode", "name", "version")}
    return out


def _compute(node: Node, ctx: Context) -> str | None:
    given = node.step.compute
    parsed = parse_binding(given) if given else None
    if parsed is not None and parsed[0] == "parent" and parsed[2] == "inputs":
        value = ctx.inputs.get(parsed[3])
        given = str(value) if value is not None else None
        if given and given.startswith("azureml:"):
            given = given[len("azureml:") :]
    return given or ctx.default_compute or ctx.compute


def _wire(value: Any) -> Any:
    if isinstance(value, SpecModel):
        return value.model_dump(
            mode="json", exclude_none=True, by_alias=False, exclude={"creation_context", "archived"}
        )
    return value


def _common(node: Node, ctx: Context) -> dict[str, Any]:
    step = node.step
    doc: dict[str, Any] = {
        "display_name": step.display_name or node.name,
        "experiment_name": ctx.experiment_name,
        "tags": {**ctx.tags, **step.tags},
        "properties": dict(step.properties),
    }
    if step.description:
        doc["description"] = step.description
    compute = _compute(node, ctx)
    if compute:
        doc["compute"] = compute
    return doc


def step_document(
    node: Node, ctx: Context, produced: dict[tuple[str, str], Produced]
) -> dict[str, Any]:
    """The job document of one step, with its inputs resolved."""
    doc = _common(node, ctx)
    inputs = step_inputs(node, ctx, produced)
    outputs = step_outputs(node, ctx)
    step = node.step
    if node.kind == "command":
        comp = node.component
        assert comp is None or isinstance(comp, CommandComponent)
        doc.update(
            type="command",
            command=comp.command if comp else step.command,
            environment=_wire(step.environment or (comp.environment if comp else None)),
            environment_variables=dict(step.environment_variables),
            inputs=inputs,
            outputs=outputs,
        )
        code = comp.code if comp else step.code
        if code:
            doc["code"] = code
        for key in ("resources", "distribution"):
            value = getattr(step, key) or (getattr(comp, key) if comp else None)
            if value:
                doc[key] = value
        timeout = (step.limits or {}).get("timeout")
        if timeout:
            doc["limits"] = {"timeout": timeout}
        return doc
    if node.kind == "sweep":
        assert node.trial is not None
        doc.update(
            type="sweep",
            trial=_wire(node.trial),
            inputs=inputs,
            outputs=outputs,
            search_space=step.search_space or {},
            objective=step.objective or {},
        )
        for key in ("sampling_algorithm", "early_termination", "limits"):
            value = getattr(step, key)
            if value is not None:
                doc[key] = value
        return doc
    comp = node.component
    assert isinstance(comp, PipelineComponent)
    doc.update(
        type="pipeline",
        jobs={k: steps_to_wire(v) for k, v in comp.jobs.items()},
        inputs=inputs,
        outputs=outputs,
        settings={
            "default_compute": ctx.default_compute,
            "continue_on_step_failure": ctx.continue_on_step_failure,
            "force_rerun": ctx.force_rerun or bool(step.force_rerun),
        },
    )
    return doc


def steps_to_wire(step: PipelineStep) -> dict[str, Any]:
    """A step as JSON, its component (and trial) inline."""
    data = step.model_dump(mode="json", exclude_none=True)
    for key in ("component", "trial"):
        value = getattr(step, key)
        if isinstance(value, SpecModel):
            data[key] = _wire(value)
    return {k: v for k, v in data.items() if v not in ({}, [])}


def steps_from_wire(jobs: dict[str, Any], prefix: str = "jobs") -> dict[str, PipelineStep]:
    """The inverse of `steps_to_wire`: inline component documents become models again."""
    out: dict[str, PipelineStep] = {}
    for name, raw in jobs.items():
        if not isinstance(raw, dict):
            raise SpecError(f"step '{name}' must be a mapping.", field=f"{prefix}.{name}")
        step = PipelineStep.model_validate(raw)
        if isinstance(step.component, dict):
            step.component = component_from_dict(step.component, field=f"{prefix}.{name}.component")
        if isinstance(step.trial, dict):
            trial = component_from_dict(step.trial, field=f"{prefix}.{name}.trial")
            step.trial = trial
        out[name] = step
    return out


def reuse_key(runner: dict[str, Any], spec_outputs: dict[str, Any]) -> str:
    """The identity of a deterministic step: what it runs, in what, on which inputs.

    Inputs count by content (uploaded and produced data are content-addressed URIs), literals
    by value; the job's name, run and experiment do not count.
    """
    inputs = {
        key: {k: port.get(k) for k in ("type", "mode", "uri", "value")}
        for key, port in sorted((runner.get("inputs") or {}).items())
    }
    outputs = {
        key: {k: (port or {}).get(k) for k in ("type", "mode", "name", "version")}
        for key, port in sorted(spec_outputs.items())
    }
    identity = {
        "command": runner.get("command"),
        "code": runner.get("code"),
        "environment": runner.get("environment_key"),
        "environment_variables": runner.get("environment_variables"),
        "distribution": runner.get("distribution"),
        "resources": runner.get("resources"),
        "timeout_s": runner.get("timeout_s"),
        "keep_artifacts": bool(runner.get("keep_artifacts")),
        "inputs": inputs,
        "outputs": outputs,
    }
    blob = json.dumps(identity, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()


__all__ = [
    "ARTIFACTS",
    "Context",
    "Produced",
    "resolve_binding",
    "reuse_key",
    "step_document",
    "step_inputs",
    "step_outputs",
    "steps_from_wire",
    "steps_to_wire",
]
