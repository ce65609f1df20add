"""Pipeline jobs, pipeline components and sweep jobs (Azure ML `pipelineJob`, `pipelineComponent`
and `sweepJob` YAML).

A pipeline names its steps under `jobs:`; each step is an inline command, a reference to a
component (`component: ./train.yml`, `file:`, `azureml:name:version`, `azureml:name@latest`, an
inline component object), a `type: pipeline` step over a pipeline component, or a `type: sweep`
step. As in Azure ML, unknown keys in `settings` and in step nodes pass through; everything else
is strict. The documents here only check their own shape: the graph (bindings, types, cycles,
required inputs) is checked by `forgeml.pipelines.graph`, which names the step and port at fault.

Local component files are read when the pipeline file is loaded (`load_pipeline_components`),
each re-based to its own folder, so the CLI and SDK can upload their code before submitting; the
workspace then sees only inline components and `azureml:` references.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

from pydantic import ConfigDict, Field, field_validator

from forgeml.core.errors import SpecError
from forgeml.core.specs.assets import VersionedAsset
from forgeml.core.specs.base import Resource, SpecModel, validate_spec
from forgeml.core.specs.component import (
    CommandComponent,
    ComponentInput,
    ComponentOutput,
    check_component_name,
    empty_ports,
)
from forgeml.core.specs.job import (
    JobInput,
    JobOutput,
    Literal_,
    check_job_name,
    input_port,
    strip_azureml,
    text_values,
    unwrap_literals,
)
from forgeml.core.specs.yamlio import load_yaml_file

#: step (node) names: lowercase identifiers, as Azure ML requires
STEP_NAME_RULE = "lowercase letters, digits and '_', starting with a letter or '_'"
_STEP = re.compile(r"^[a-z_][a-z0-9_]*$")


class PipelineSettings(SpecModel):
    """`settings:` of a pipeline; unknown keys are kept (Azure ML tolerates them)."""

    model_config = ConfigDict(extra="allow", populate_by_name=True, protected_namespaces=())

    default_compute: str | None = None
    default_datastore: str | None = None
    continue_on_step_failure: bool | None = None
    force_rerun: bool | None = None

    @field_validator("default_compute", mode="before")
    @classmethod
    def _compute_name(cls, value: Any) -> Any:
        return strip_azureml(value)


class PipelineStep(SpecModel):
    """One node of `jobs:`. Keys a step kind does not use are kept and ignored, as in Azure ML."""

    model_config = ConfigDict(extra="allow", populate_by_name=True, protected_namespaces=())

    type: str = "command"
    component: Any = None
    display_name: str | None = None
    description: str | None = None
    tags: dict[str, str] = Field(default_factory=dict)
    properties: dict[str, str] = Field(default_factory=dict)
    compute: str | None = None
    inputs: dict[str, Any] = Field(default_factory=dict)
    outputs: dict[str, Any] = Field(default_factory=dict)
    environment_variables: dict[str, str] = Field(default_factory=dict)
    resources: dict[str, Any] | None = None
    distribution: dict[str, Any] | None = None
    limits: dict[str, Any] | None = None
    force_rerun: bool | None = None
    # an inline command step
    command: str | None = None
    code: str | None = None
    environment: Any = None
    is_deterministic: bool | None = None
    # a sweep step
    trial: Any = None
    search_space: dict[str, Any] | None = None
    sampling_algorithm: Any = None
    objective: dict[str, Any] | None = None
    early_termination: dict[str, Any] | None = None

    @field_validator("compute", mode="before")
    @classmethod
    def _compute_name(cls, value: Any) -> Any:
        return strip_azureml(value)

    @field_validator("outputs", mode="before")
    @classmethod
    def _null_outputs(cls, value: Any) -> Any:
        return value if value is not None else {}

    @field_validator("environment_variables", "properties", "tags", mode="before")
    @classmethod
    def _text_values(cls, value: Any) -> Any:
        return text_values(value)


class PipelineComponent(VersionedAsset):
    """A reusable pipeline: an interface and the steps that implement it."""

    type: Literal["pipeline"] = "pipeline"
    display_name: str | None = None
    is_deterministic: bool = True
    inputs: dict[str, ComponentInput] = Field(default_factory=dict)
    outputs: dict[str, ComponentOutput] = Field(default_factory=dict)
    jobs: dict[str, PipelineStep]

    @field_validator("name")
    @classmethod
    def _component_name(cls, value: str | None) -> str | None:
        return check_component_name(value, "train_pipeline")

    @field_validator("inputs", "outputs", mode="before")
    @classmethod
    def _null_ports(cls, value: Any) -> Any:
        return empty_ports(value)

    def __call__(self, **inputs: Any) -> Any:
        """A nested pipeline step running this component (see `forgeml.dsl.pipeline`)."""
        from forgeml.dsl import component_node

        return component_node(self, inputs)


class _JobDocument(Resource):
    """What every job kind shares: name, experiment, compute, ports."""

    name: str | None = None
    display_name: str | None = None
    experiment_name: str | None = None
    properties: dict[str, str] = Field(default_factory=dict)
    compute: str | None = None
    inputs: dict[str, JobInput | Literal_ | None] = Field(default_factory=dict)
    outputs: dict[str, JobOutput] = Field(default_factory=dict)
    identity: dict[str, Any] | None = None
    services: dict[str, Any] | None = None

    @field_validator("name")
    @classmethod
    def _job_name(cls, value: str | None) -> str | None:
        return check_job_name(value)

    @field_validator("compute", mode="before")
    @classmethod
    def _compute_name(cls, value: Any) -> Any:
        return strip_azureml(value)

    @field_validator("inputs", mode="before")
    @classmethod
    def _unwrap_values(cls, value: Any) -> Any:
        return unwrap_literals(value)

    @field_validator("outputs", mode="before")
    @classmethod
    def _null_outputs(cls, value: Any) -> Any:
        return empty_ports(value)

    @field_validator("properties", mode="before")
    @classmethod
    def _text_values(cls, value: Any) -> Any:
        return text_values(value)

    def input_port(self, name: str) -> JobInput | None:
        return input_port(self.inputs, name)


class PipelineJob(_JobDocument):
    """A pipeline job: steps under `jobs:` (or a pipeline `component:`), settings, ports."""

    type: Literal["pipeline"] = "pipeline"
    settings: PipelineSettings = Field(default_factory=PipelineSettings)
    jobs: dict[str, PipelineStep] = Field(default_factory=dict)
    component: Any = None

    @field_validator("settings", mode="before")
    @classmethod
    def _null_settings(cls, value: Any) -> Any:
        return {} if value is None else value


class SweepLimits(SpecModel):
    max_total_trials: int = Field(default=1000, ge=1, le=1000)
    max_concurrent_trials: int | None = Field(default=None, ge=1)
    timeout: int | None = Field(default=None, ge=1, description="Seconds for the whole sweep.")
    trial_timeout: int | None = Field(default=None, ge=1)


class SweepTrial(SpecModel):
    """A standalone sweep's `trial`: what each trial runs (`${{search_space.x}}` allowed)."""

    command: str
    environment: Any
    code: str | None = None
    environment_variables: dict[str, str] = Field(default_factory=dict)
    distribution: dict[str, Any] | None = None
    resources: dict[str, Any] | None = None

    @field_validator("environment_variables", mode="before")
    @classmethod
    def _text_values(cls, value: Any) -> Any:
        return text_values(value)


class SweepJob(_JobDocument):
    """A hyperparameter sweep: trials of `trial`, sampled from `search_space`."""

    type: Literal["sweep"] = "sweep"
    trial: Any
    search_space: dict[str, Any]
    sampling_algorithm: str | dict[str, Any] = "random"
    objective: dict[str, Any]
    limits: SweepLimits = Field(default_factory=SweepLimits)
    early_termination: dict[str, Any] | None = None
    resources: dict[str, Any] | None = None
    queue_settings: dict[str, Any] | None = None

    @field_validator("limits", mode="before")
    @classmethod
    def _null_limits(cls, value: Any) -> Any:
        return {} if value is None else value


def check_step_name(name: str, field: str) -> None:
    if not _STEP.match(name):
        raise SpecError(
            f"the step name '{name}' is not allowed: use {STEP_NAME_RULE}.", field=field
        )


# --------------------------------------------------------------------------- local components


def is_local_ref(value: Any) -> bool:
    """`./train.yml`, `file:train.yml`, `components/train.yaml`: a component file on disk."""
    if not isinstance(value, str):
        return False
    if value.startswith("file:"):
        return True
    if value.startswith("azureml:") or "://" in value:
        return False
    return value.endswith((".yml", ".yaml")) or value.startswith(("./", "../", "/"))


def component_from_dict(
    data: dict[str, Any], *, file: str | None = None, field: str = "component"
) -> CommandComponent | PipelineComponent:
    """An inline component object (or a loaded file) as its document class."""
    kind = data.get("type") or "command"
    if kind == "pipeline":
        return validate_spec(PipelineComponent, data, file=file)
    if kind != "command":
        raise SpecError(
            f"the component type '{kind}' is not supported in pipelines yet; supported: "
            "command, pipeline.",
            file=file,
            field=f"{field}.type",
        )
    body = dict(data)
    if "name" not in body or body.get("name") is None:
        body.pop("name", None)
    return validate_spec(CommandComponent, body, file=file)


def load_component_file(
    value: str, base: Path, *, field: str, seen: tuple[Path, ...] = ()
) -> CommandComponent | PipelineComponent:
    """Read a component file named by a step, relative to `base`, with its own components."""
    rel = value[len("file:") :] if value.startswith("file:") else value
    path = (base / rel).resolve()
    if not path.is_file():
        raise SpecError(
            f"the component file {path} does not exist (paths are relative to the folder of the "
            "YAML file that names them).",
            field=field,
        )
    if path in seen:
        raise SpecError(f"the component file {path} includes itself.", field=field)
    data, locator = load_yaml_file(path)
    kind = data.get("type") or "command"
    model: type[CommandComponent] | type[PipelineComponent]
    model = PipelineComponent if kind == "pipeline" else CommandComponent
    if kind not in ("command", "pipeline"):
        raise SpecError(
            f"the component type '{kind}' is not supported in pipelines yet; supported: "
            "command, pipeline.",
            file=str(path),
            field="type",
        )
    component = validate_spec(model, data, file=str(path), locator=locator).with_base_path(
        path.parent, str(path)
    )
    if isinstance(component, PipelineComponent):
        load_step_components(component.jobs, path.parent, (*seen, path), source=str(path))
    return component


def load_step_components(
    steps: dict[str, PipelineStep],
    base: Path,
    seen: tuple[Path, ...] = (),
    *,
    source: str | None = None,
) -> None:
    """Replace every local component file a step names by the loaded component (in place)."""
    for name, step in steps.items():
        for key in ("component", "trial"):
            value = getattr(step, key)
            field = f"jobs.{name}.{key}"
            try:
                if is_local_ref(value):
                    setattr(step, key, load_component_file(value, base, field=field, seen=seen))
                elif isinstance(value, dict) and key == "component":
                    comp = component_from_dict(value, file=source, field=field)
                    comp.with_base_path(base, source)
                    if isinstance(comp, PipelineComponent):
                        load_step_components(comp.jobs, base, seen, source=source)
                    setattr(step, key, comp)
            except SpecError as exc:
                if exc.file is None and source is not None:
                    raise SpecError(exc._bare, file=source, field=exc.field or field) from None
                raise
