"""The command job document (Azure ML `commandJob` YAML), its interface rules and its builders.

A command job names a shell `command` with `${{inputs.x}}`/`${{outputs.y}}` placeholders and
optional `$[[ ... ]]` fragments, the `code` folder it runs in, an `environment`, literal and data
`inputs` and `outputs`. The checks here are the ones a user can fix before anything is queued: a
placeholder naming no declared port, a required input with no value, a literal that does not fit
its declared type. They raise `SpecError` naming the field. `command`, `Input` and `Output` build
the same document from Python, shaped like azure-ai-ml's functions of those names.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, field_validator, model_validator

from forgeml.core.errors import SpecError
from forgeml.core.specs.assets import Environment
from forgeml.core.specs.base import Resource, SpecModel, load_resource
from forgeml.core.specs.component import (
    _EXPR,
    _OPTIONAL_BLOCK,
    _PORT_NAME,
    LITERAL_TYPES,
    RESERVED_PORT_NAMES,
    ComponentInput,
    InputType,
    check_literal,
    empty_ports,
)
from forgeml.core.specs.distribution import Distribution, Resources
from forgeml.core.specs.yamlio import load_yaml_file

if TYPE_CHECKING:
    from forgeml.core.specs.pipeline import PipelineJob, SweepJob

#: job names double as MLflow run ids, so they follow MLflow's rule for those
JOB_NAME = re.compile(r"^[a-zA-Z0-9][\w\-]{0,254}$")
OutputType = Literal[
    "uri_file", "uri_folder", "mltable", "mlflow_model", "custom_model", "triton_model"
]
MODEL_TYPES = ("mlflow_model", "custom_model", "triton_model")
InputMode = Literal["ro_mount", "download", "direct", "eval_mount", "eval_download"]
OutputMode = Literal["rw_mount", "upload", "direct", "mount"]


class JobInput(SpecModel):
    """One input: data at `path` (uploaded, an asset reference or a URI) or a typed literal."""

    type: InputType = "uri_folder"
    path: str | None = None
    mode: InputMode | None = None
    value: Any = None
    default: Any = None
    optional: bool = False
    description: str | None = None
    min: float | None = None
    max: float | None = None
    enum: list[Any] | None = None
    path_on_compute: str | None = None
    datastore: str | None = None

    @property
    def is_literal(self) -> bool:
        return self.type in LITERAL_TYPES

    @property
    def given(self) -> Any:
        """The value this input carries: the path, else the literal (`value`, then `default`)."""
        if not self.is_literal:
            return self.path
        return self.value if self.value is not None else self.default


class JobOutput(SpecModel):
    """One output; `name` (and `version`) register it as an asset when the job completes."""

    type: OutputType = "uri_folder"
    mode: OutputMode | None = None
    path: str | None = None
    name: str | None = None
    version: str | None = None
    description: str | None = None

    @field_validator("version", mode="before")
    @classmethod
    def _version_text(cls, value: Any) -> str | None:
        return None if value is None else str(value)

    @property
    def asset_kind(self) -> str:
        return "models" if self.type in MODEL_TYPES else "data"


class JobLimits(SpecModel):
    timeout: int | None = Field(default=None, ge=1, description="Seconds; the job is canceled.")


class RetrySettings(SpecModel):
    """Start the job again when its runner is lost (a worker or node that died) before it
    reported a result; a command that fails on its own is never retried. The name and shape
    are Azure ML's `retry_settings` of parallel jobs and batch deployments."""

    max_retries: int = Field(default=0, ge=0, le=100)


Literal_ = bool | int | float | str


def literal_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    return "string"


class CommandJob(Resource):
    """A command job: run `command` in the `code` folder inside `environment` on `compute`."""

    type: Literal["command"] = "command"
    name: str | None = None
    display_name: str | None = None
    experiment_name: str | None = None
    properties: dict[str, str] = Field(default_factory=dict)
    command: str
    code: str | None = None
    environment: str | Environment
    environment_variables: dict[str, str] = Field(default_factory=dict)
    compute: str | None = None
    resources: Resources = None
    distribution: Distribution = None
    limits: JobLimits | None = None
    retry_settings: RetrySettings | None = None
    inputs: dict[str, JobInput | Literal_ | None] = Field(default_factory=dict)
    outputs: dict[str, JobOutput] = Field(default_factory=dict)
    services: dict[str, Any] | None = None
    identity: dict[str, Any] | None = None
    queue_settings: dict[str, Any] | None = None

    @field_validator("name")
    @classmethod
    def _job_name(cls, value: str | None) -> str | None:
        return check_job_name(value)

    @field_validator("environment_variables", "properties", mode="before")
    @classmethod
    def _text_values(cls, value: Any) -> Any:
        return text_values(value)

    @field_validator("inputs", mode="before")
    @classmethod
    def _unwrap_values(cls, value: Any) -> Any:
        return unwrap_literals(value)

    @field_validator("outputs", mode="before")
    @classmethod
    def _null_outputs(cls, value: Any) -> Any:
        return empty_ports(value)

    @field_validator("compute", mode="before")
    @classmethod
    def _compute_name(cls, value: Any) -> Any:
        return strip_azureml(value)

    @model_validator(mode="after")
    def _interface(self) -> CommandJob:
        check_interface(self)
        return self

    def input_port(self, name: str) -> JobInput | None:
        return input_port(self.inputs, name)

    @property
    def timeout_s(self) -> int | None:
        return self.limits.timeout if self.limits else None


def input_port(inputs: dict[str, Any], name: str) -> JobInput | None:
    """An input as a `JobInput` (literals get their type from their value)."""
    if name not in inputs:
        return None
    value = inputs[name]
    if isinstance(value, JobInput):
        return value
    if value is None:
        return JobInput(type="string", optional=False)
    return JobInput(type=literal_type(value), value=value)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# the rules every job kind's fields share (command, pipeline, sweep, and pipeline steps)


def check_job_name(value: str | None) -> str | None:
    if value is not None and not JOB_NAME.match(value):
        raise ValueError(
            f"the job name '{value}' is not allowed: use letters, digits, '_' and '-', "
            "starting with a letter or digit, at most 255 characters."
        )
    return value


def text_values(value: Any) -> Any:
    """A map of text (`environment_variables`, `properties`): YAML numbers and booleans as text."""
    if isinstance(value, dict):
        return {str(k): "" if v is None else _text(v) for k, v in value.items()}
    return value


def unwrap_literals(value: Any) -> Any:
    """`inputs`: `{value: x}` alone is the long form of the literal `x`."""
    if isinstance(value, dict):
        return {
            k: (v["value"] if isinstance(v, dict) and set(v) == {"value"} else v)
            for k, v in value.items()
        }
    return value


def strip_azureml(value: Any) -> Any:
    """`azureml:cpu-cluster` names the compute `cpu-cluster` (a URI stays as it is)."""
    if isinstance(value, str) and value.startswith("azureml:") and "://" not in value:
        return value[len("azureml:") :]
    return value


def _port(name: str, field: str) -> None:
    if not _PORT_NAME.match(name) or name.lower() in RESERVED_PORT_NAMES:
        raise SpecError(
            f"the name '{name}' is not allowed: use letters, digits and '_', and none of "
            f"{', '.join(sorted(RESERVED_PORT_NAMES))}.",
            field=field,
        )


def _check_input(job: CommandJob, name: str, port: JobInput, optional_only: set[str]) -> None:
    field = f"inputs.{name}"
    if port.is_literal:
        if port.path is not None:
            raise SpecError(
                f"a {port.type} input takes a 'value', not a 'path'; write value: ... instead.",
                field=field,
            )
        spec = ComponentInput(
            type=port.type, min=port.min, max=port.max, enum=port.enum, optional=port.optional
        )
        for key in ("value", "default"):
            given = getattr(port, key)
            if given is not None:
                try:
                    check_literal(spec, given)
                except ValueError as exc:
                    raise SpecError(
                        f"{exc} The input is declared as type '{port.type}'; give a value of "
                        "that type.",
                        field=field if key == "value" else f"{field}.{key}",
                    ) from None
    elif port.value is not None:
        raise SpecError(
            f"a {port.type} input points at data with 'path', not 'value'.", field=f"{field}.value"
        )
    if port.given is None and not port.optional:
        what = "a 'value'" if port.is_literal else "a 'path'"
        used = f"${{{{inputs.{name}}}}}"
        raise SpecError(
            f"the input '{name}' is required but has no value; give it {what}, or declare it "
            f"'optional: true' and use {used} only inside $[[ ... ]].",
            field=field,
        )
    if port.given is None and name not in optional_only and _uses(job.command, "inputs", name):
        raise SpecError(
            f"the optional input '{name}' has no value but the command uses it outside $[[ ]]; "
            "wrap that part of the command in $[[ ... ]] so it is dropped when no value is given.",
            field=field,
        )


def _uses(text: str, group: str, name: str) -> bool:
    return any(g == group and p == name for g, p in _EXPR.findall(text))


def check_interface(job: CommandJob) -> None:
    """The rules of the job's ports and command placeholders; `SpecError` names the field."""
    for name in job.inputs:
        _port(name, f"inputs.{name}")
    for name in job.outputs:
        _port(name, f"outputs.{name}")
    both = set(job.inputs) & set(job.outputs)
    if both:
        name = sorted(both)[0]
        raise SpecError(f"'{name}' is both an input and an output; rename one.", field="outputs")
    for group, port in _EXPR.findall(job.command):
        declared: dict[str, Any] = job.inputs if group == "inputs" else job.outputs
        if port not in declared:
            names = ", ".join(sorted(declared)) or "none"
            raise SpecError(
                f"the command uses ${{{{{group}.{port}}}}} but the job declares no {group[:-1]} "
                f"'{port}' (declared {group}: {names}). Fix the name or declare it under {group}.",
                field="command",
            )
    outside = _OPTIONAL_BLOCK.sub("", job.command)
    inside_only = {
        p for g, p in _EXPR.findall(job.command) if g == "inputs" and not _uses(outside, g, p)
    }
    for name in job.inputs:
        port = job.input_port(name)
        assert port is not None
        _check_input(job, name, port, inside_only)


def generate_job_name() -> str:
    """An Azure-ML-like name: two words and a random suffix (`gentle_river_k3x9q2m7`)."""
    adjective = secrets.choice(_ADJECTIVES.split())
    noun = secrets.choice(_NOUNS.split())
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
    suffix = "".join(secrets.choice(alphabet) for _ in range(10))
    return f"{adjective}_{noun}_{suffix}"


_ADJECTIVES = (
    "amber brave calm clever cool crisp dreamy eager fair gentle happy jolly keen kind lively "
    "loyal lucid mellow merry neat nifty placid polite proud quick quiet sharp shy silly sleepy "
    "sunny swift tender tidy upbeat vivid warm witty zealous"
)
_NOUNS = (
    "apple bird boat brook cloud coast comet dune fern fig forest garden grape harbor heron "
    "island kettle lake leaf lemon lion maple meadow moon night oak ocean orchid owl pear "
    "pepper pine plum rain river rock sail snow star stone tiger tree wave wind"
)


def environment_key(env: Environment) -> str:
    """The sha256 of what an environment builds from (name, version and tags do not count): the
    venv cache key. The same formula as `forgeml.compute.environments.environment_key`."""
    spec = {
        "image": env.image,
        "conda_file": env.conda_file,
        "build": env.build.model_dump() if env.build else None,
        "os_type": env.os_type,
    }
    return hashlib.sha256(json.dumps(spec, sort_keys=True, default=str).encode()).hexdigest()


def load_job(
    source: str | Path, overrides: list[str] | None = None
) -> CommandJob | PipelineJob | SweepJob:
    """Load a job YAML (`type` omitted means `command`), with `--set` overrides applied.

    A pipeline's local component files (and a sweep's local trial file) are loaded too, each
    re-based to its own folder, so their code can be uploaded before the job is submitted.
    """
    from forgeml.core.specs.pipeline import (
        PipelineJob,
        SweepJob,
        is_local_ref,
        load_component_file,
        load_step_components,
    )

    path = Path(source)
    try:
        job = load_resource(job_model, path, overrides)
    except SpecError as exc:
        if exc.file or exc.field is None:
            raise
        # raised by the interface rules, which do not see the file: name it and the line
        _, locator = load_yaml_file(path)
        parts = tuple(exc.field.split("."))
        raise SpecError(
            exc._bare, file=str(path), field=exc.field, line=locator.line(parts)
        ) from None
    base = path.resolve().parent
    try:
        if isinstance(job, PipelineJob):
            load_step_components(job.jobs, base, (path.resolve(),), source=str(path))
            if is_local_ref(job.component):
                job.component = load_component_file(job.component, base, field="component")
        elif isinstance(job, SweepJob) and is_local_ref(job.trial):
            job.trial = load_component_file(job.trial, base, field="trial")
    except SpecError as exc:
        if exc.line is not None or exc.field is None or exc.file not in (None, str(path)):
            raise
        # a step's component file: name the line of the step that names it
        _, locator = load_yaml_file(path)
        line = locator.line(tuple(exc.field.split(".")))
        raise SpecError(exc._bare, file=str(path), field=exc.field, line=line) from None
    assert isinstance(job, CommandJob | PipelineJob | SweepJob)
    return job


def job_model(data: dict[str, Any], *, file: str | None = None) -> type[Any]:
    from forgeml.core.specs.pipeline import PipelineJob, SweepJob

    kind = data.get("type") or "command"
    models: dict[str, type[Any]] = {
        "command": CommandJob,
        "pipeline": PipelineJob,
        "sweep": SweepJob,
    }
    model = models.get(str(kind))
    if model is None:
        raise SpecError(
            f"the job type '{kind}' is not supported yet; supported: {', '.join(models)}.",
            file=file,
            field="type",
        )
    return model


# ------------------------------------------------------------------- the azure-ai-ml builders

Input = JobInput
Output = JobOutput


def command(
    *,
    command: str,
    environment: str | Environment,
    code: str | os.PathLike[str] | None = None,
    inputs: dict[str, Any] | None = None,
    outputs: dict[str, JobOutput | None] | None = None,
    compute: str | None = None,
    name: str | None = None,
    display_name: str | None = None,
    description: str | None = None,
    experiment_name: str | None = None,
    tags: dict[str, str] | None = None,
    properties: dict[str, str] | None = None,
    environment_variables: dict[str, str] | None = None,
    distribution: dict[str, Any] | None = None,
    resources: dict[str, Any] | None = None,
    instance_count: int | None = None,
    instance_type: str | None = None,
    shm_size: str | None = None,
    timeout: int | None = None,
    identity: dict[str, Any] | None = None,
    services: dict[str, Any] | None = None,
    is_deterministic: bool | None = None,
) -> CommandJob:
    """A command job, as `azure.ai.ml.command(...)` builds one; submit it with
    `client.jobs.create_or_update(job)`. Relative paths resolve against the current folder."""
    del is_deterministic  # a job runs every time; the flag matters to components in pipelines
    res = dict(resources or {})
    for key, given in (
        ("instance_count", instance_count),
        ("instance_type", instance_type),
        ("shm_size", shm_size),
    ):
        if given is not None:
            res[key] = given
    data: dict[str, Any] = {
        "command": command,
        "environment": environment,
        "code": os.fspath(code) if code is not None else None,
        "inputs": inputs or {},
        "outputs": {k: (v if v is not None else JobOutput()) for k, v in (outputs or {}).items()},
        "compute": compute,
        "name": name,
        "display_name": display_name,
        "description": description,
        "experiment_name": experiment_name,
        "tags": tags or {},
        "properties": properties or {},
        "environment_variables": environment_variables or {},
        "distribution": distribution,
        "resources": res or None,
        "limits": {"timeout": timeout} if timeout else None,
        "identity": identity,
        "services": services,
    }
    return CommandJob.model_validate(data).with_base_path(Path.cwd())
