"""Online and batch endpoints and their deployments, in Azure ML's CLI v2 YAML.

`managedOnlineEndpoint`, `managedOnlineDeployment` (also `kubernetesOnline*`, the same keys),
`batchEndpoint`, `modelBatchDeployment` and `pipelineComponentBatchDeployment` documents load
unchanged. The rules Azure ML enforces are checked here, naming the field: endpoint names of 3 to
32 characters starting with a letter; live traffic totalling 0 or 100; mirrored traffic on one
deployment, at most 50 percent, never on a deployment that also takes live traffic; request
timeouts up to 180 s. A batch model deployment in the legacy form (its settings at the root,
without `type`) is read as the current one, with the settings moved under `settings`.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from forgeml.core.errors import SpecError
from forgeml.core.specs.assets import Environment, Model
from forgeml.core.specs.base import Resource, SpecModel, load_resource

ENDPOINT_NAME = re.compile(r"^[a-zA-Z]([-a-zA-Z0-9]*[a-zA-Z0-9])?$")
DEPLOYMENT_NAME = re.compile(r"^[a-zA-Z0-9]([-_a-zA-Z0-9]*[a-zA-Z0-9])?$")


def check_endpoint_name(value: str | None) -> str | None:
    if value is None:
        return value
    if not 3 <= len(value) <= 32 or not ENDPOINT_NAME.match(value):
        raise ValueError(
            f"the endpoint name '{value}' is not allowed: use 3 to 32 letters, digits or '-', "
            "starting with a letter and not ending with '-' (it is part of the scoring URL)."
        )
    return value


def check_deployment_name(value: str | None) -> str | None:
    if value is None:
        return value
    if len(value) > 32 or not DEPLOYMENT_NAME.match(value):
        raise ValueError(
            f"the deployment name '{value}' is not allowed: use up to 32 letters, digits, '-' "
            "or '_', starting and ending with a letter or digit."
        )
    return value


def check_traffic(traffic: dict[str, int], mirror: dict[str, int]) -> None:
    """Azure ML's traffic rules; raises ValueError saying which one is broken."""
    for name, share in {**traffic, **mirror}.items():
        if not 0 <= share <= 100:
            raise ValueError(f"the share of '{name}' is {share}; shares are 0 to 100 percent.")
    total = sum(traffic.values())
    if traffic and total not in (0, 100):
        raise ValueError(
            f"the traffic shares add up to {total}; they must add up to 100 (or all be 0)."
        )
    mirror = {name: share for name, share in mirror.items() if share}  # 0 mirrors nothing
    if len(mirror) > 1:
        raise ValueError("mirror_traffic may name one deployment only.")
    for name, share in mirror.items():
        if share > 50:
            raise ValueError(f"at most 50 percent can be mirrored, not {share} (to '{name}').")
        if traffic.get(name):
            raise ValueError(
                f"'{name}' takes live traffic and cannot also receive mirrored traffic."
            )


def parse_traffic(text: str, *, option: str = "--traffic") -> dict[str, int]:
    """`"blue=90 green=10"` (the CLI's form) as a mapping."""
    out: dict[str, int] = {}
    for part in text.replace(",", " ").split():
        name, sep, share = part.partition("=")
        if not sep or not name or not share.strip().isdigit():
            raise SpecError(
                f"'{part}' is not a traffic share: write {option} \"blue=90 green=10\".",
                field=option.lstrip("-").replace("-", "_"),
            )
        out[name] = int(share)
    return out


class _Endpoint(Resource):
    SERVER_SET: ClassVar[frozenset[str]] = frozenset(
        {"scoring_uri", "openapi_uri", "provisioning_state"}
    )

    name: str | None = None
    #: set by the workspace: where to send requests, and whether the endpoint is ready
    scoring_uri: str | None = None
    openapi_uri: str | None = None
    provisioning_state: str | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, value: str | None) -> str | None:
        return check_endpoint_name(value)


class OnlineEndpoint(_Endpoint):
    """A scoring URL, with deployments behind it and the traffic split between them."""

    auth_mode: Literal["key", "aml_token", "aad_token"] = "key"
    traffic: dict[str, int] = Field(default_factory=dict)
    mirror_traffic: dict[str, int] = Field(default_factory=dict)
    identity: dict[str, Any] | None = None
    public_network_access: Literal["enabled", "disabled"] | None = None
    compute: str | None = None
    kind: str | None = None

    @model_validator(mode="after")
    def _traffic(self) -> OnlineEndpoint:
        check_traffic(self.traffic, self.mirror_traffic)
        return self


class CodeConfiguration(SpecModel):
    code: str
    scoring_script: str


class RequestSettings(SpecModel):
    request_timeout_ms: int = Field(default=5000, ge=1, le=180_000)
    max_concurrent_requests_per_instance: int = Field(default=1, ge=1)
    max_queue_wait_ms: int | None = Field(default=None, ge=0)


class ProbeSettings(SpecModel):
    initial_delay: int = Field(default=10, ge=0)
    period: int = Field(default=10, ge=1)
    timeout: int = Field(default=2, ge=1)
    success_threshold: int = Field(default=1, ge=1)
    failure_threshold: int = Field(default=30, ge=1)


class ScaleSettings(SpecModel):
    type: Literal["default", "target_utilization"] = "default"
    min_instances: int | None = Field(default=None, ge=0)
    max_instances: int | None = Field(default=None, ge=1)
    polling_interval: int | None = None
    target_utilization_percentage: int | None = None


class Collection(SpecModel):
    enabled: bool | str = True
    data: dict[str, Any] | None = None
    client_id: str | None = None


class DataCollector(SpecModel):
    collections: dict[str, Collection] = Field(default_factory=dict)
    sampling_rate: float = Field(default=1.0, gt=0, le=1)
    rolling_rate: Literal["Minute", "Hour", "Day", "minute", "hour", "day"] = "Hour"
    destination: dict[str, Any] | None = None


class OnlineDeployment(Resource):
    """One model (and scoring code) behind an online endpoint, on `instance_count` workers."""

    SERVER_SET: ClassVar[frozenset[str]] = frozenset(
        {"provisioning_state", "status_message", "instances"}
    )

    name: str | None = None
    #: set by the workspace: Creating, Updating, Succeeded, Failed or Deleting, and why
    provisioning_state: str | None = None
    status_message: str | None = None
    instances: list[dict[str, Any]] | None = None
    endpoint_name: str
    type: Literal["managed", "kubernetes"] | None = None
    model: str | Model | None = None
    code_configuration: CodeConfiguration | None = None
    environment: str | Environment | None = None
    environment_variables: dict[str, str] = Field(default_factory=dict)
    instance_type: str | None = None
    instance_count: int = Field(default=1, ge=1, le=1000)
    app_insights_enabled: bool = False
    scale_settings: ScaleSettings | None = None
    request_settings: RequestSettings = Field(default_factory=RequestSettings)
    liveness_probe: ProbeSettings = Field(default_factory=ProbeSettings)
    readiness_probe: ProbeSettings = Field(default_factory=ProbeSettings)
    data_collector: DataCollector | None = None
    model_mount_path: str | None = None
    egress_public_network_access: Literal["enabled", "disabled"] | None = None
    resources: dict[str, Any] | None = None
    properties: dict[str, str] = Field(default_factory=dict)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str | None) -> str | None:
        return check_deployment_name(value)

    @field_validator("endpoint_name")
    @classmethod
    def _endpoint(cls, value: str) -> str:
        return check_endpoint_name(value) or value

    @field_validator("environment_variables", mode="before")
    @classmethod
    def _text(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: v if isinstance(v, str) else str(v) for k, v in value.items()}
        return value

    @model_validator(mode="after")
    def _runnable(self) -> OnlineDeployment:
        if self.code_configuration is not None and self.environment is None:
            raise ValueError(
                "a deployment with a scoring script (code_configuration) needs an 'environment' "
                "to run it in; only an MLflow model without a script ('no-code') can omit it."
            )
        if self.model is None and self.code_configuration is None:
            raise ValueError(
                "a deployment needs a 'model' (an MLflow model deploys without code) or a "
                "'code_configuration' with a scoring script."
            )
        return self


class BatchEndpoint(_Endpoint):
    """A batch scoring URL: an invocation starts a job on its default deployment."""

    auth_mode: Literal["aad_token", "key"] = "aad_token"
    defaults: dict[str, str] = Field(default_factory=dict)

    @property
    def default_deployment(self) -> str | None:
        return self.defaults.get("deployment_name")


class BatchRetrySettings(SpecModel):
    max_retries: int = Field(default=3, ge=0)
    timeout: int = Field(default=30, ge=1, description="seconds per mini-batch")


class BatchSettings(SpecModel):
    max_concurrency_per_instance: int = Field(default=1, ge=1)
    mini_batch_size: int = Field(default=10, ge=1)
    output_action: Literal["append_row", "summary_only"] = "append_row"
    output_file_name: str = "predictions.csv"
    retry_settings: BatchRetrySettings = Field(default_factory=BatchRetrySettings)
    error_threshold: int = Field(default=-1, ge=-1)
    logging_level: Literal["warning", "info", "debug"] = "info"
    environment_variables: dict[str, str] = Field(default_factory=dict)


_LEGACY_SETTINGS = set(BatchSettings.model_fields) - {"environment_variables"}


class ModelBatchDeployment(Resource):
    """A model that scores folders of files, `mini_batch_size` files per `run()` call."""

    SERVER_SET: ClassVar[frozenset[str]] = frozenset({"provisioning_state"})
    provisioning_state: str | None = None

    name: str | None = None
    endpoint_name: str
    type: Literal["model"] = "model"
    model: str | Model
    code_configuration: CodeConfiguration | None = None
    environment: str | Environment | None = None
    environment_variables: dict[str, str] = Field(default_factory=dict)
    compute: str | None = None
    resources: dict[str, Any] = Field(default_factory=lambda: {"instance_count": 1})
    settings: BatchSettings = Field(default_factory=BatchSettings)

    @model_validator(mode="before")
    @classmethod
    def _legacy(cls, data: Any) -> Any:
        # the legacy form (no `type`) keeps the settings at the root
        if isinstance(data, dict) and "type" not in data and _LEGACY_SETTINGS & data.keys():
            data = dict(data)
            settings = dict(data.get("settings") or {})
            for key in _LEGACY_SETTINGS & data.keys():
                settings[key] = data.pop(key)
            data["settings"] = settings
        return data

    @field_validator("name")
    @classmethod
    def _name(cls, value: str | None) -> str | None:
        return check_deployment_name(value)

    @model_validator(mode="after")
    def _runnable(self) -> ModelBatchDeployment:
        if self.code_configuration is not None and self.environment is None:
            raise ValueError(
                "a batch deployment with a scoring script (code_configuration) needs an "
                "'environment'; only an MLflow model without a script can omit it."
            )
        return self


class PipelineComponentBatchDeployment(Resource):
    """A pipeline component (or a pipeline job's definition) run per invocation."""

    SERVER_SET: ClassVar[frozenset[str]] = frozenset({"provisioning_state"})
    provisioning_state: str | None = None

    name: str | None = None
    endpoint_name: str
    type: Literal["pipeline"] = "pipeline"
    component: str | dict[str, Any] | None = None
    job_definition: str | dict[str, Any] | None = None
    settings: dict[str, Any] = Field(default_factory=dict)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str | None) -> str | None:
        return check_deployment_name(value)

    @model_validator(mode="after")
    def _one_source(self) -> PipelineComponentBatchDeployment:
        if (self.component is None) == (self.job_definition is None):
            raise ValueError(
                "a pipeline deployment needs exactly one of 'component' (a pipeline component) "
                "or 'job_definition' (azureml:<pipeline job>)."
            )
        return self


AnyBatchDeployment = Annotated[
    ModelBatchDeployment | PipelineComponentBatchDeployment, Field(discriminator="type")
]


def batch_deployment_model(
    data: dict[str, Any], *, file: str | None = None
) -> type[ModelBatchDeployment] | type[PipelineComponentBatchDeployment]:
    """The batch deployment class a document's `type` names (none: a legacy model one)."""
    kind = data.get("type", "model")
    if kind == "model":
        return ModelBatchDeployment
    if kind == "pipeline":
        return PipelineComponentBatchDeployment
    raise SpecError(
        f"the batch deployment type '{kind}' is not supported; use 'model' or 'pipeline'.",
        file=file,
        field="type",
    )


def load_online_endpoint(source: str | Path, overrides: list[str] | None = None) -> OnlineEndpoint:
    return load_resource(OnlineEndpoint, source, overrides)


def load_online_deployment(
    source: str | Path, overrides: list[str] | None = None
) -> OnlineDeployment:
    return load_resource(OnlineDeployment, source, overrides)


def load_batch_endpoint(source: str | Path, overrides: list[str] | None = None) -> BatchEndpoint:
    return load_resource(BatchEndpoint, source, overrides)


def load_batch_deployment(
    source: str | Path, overrides: list[str] | None = None
) -> ModelBatchDeployment | PipelineComponentBatchDeployment:
    found = load_resource(batch_deployment_model, source, overrides)
    assert isinstance(found, ModelBatchDeployment | PipelineComponentBatchDeployment)
    return found
