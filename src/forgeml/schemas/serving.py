"""Wire models of serving: endpoint keys, deployment logs and metrics, what a serving worker
asks the workspace for and reports to it, and a batch invocation."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from forgeml.core.specs import Environment

InstanceStateName = Literal["starting", "ready", "failed", "stopping", "stopped"]


class EndpointKeys(BaseModel):
    """An endpoint's two keys; either one authorizes `Authorization: Bearer <key>`."""

    primary_key: str
    secondary_key: str


class RegenerateKeys(BaseModel):
    key_type: Literal["primary", "secondary"] = "primary"
    key_value: str | None = Field(
        None, description="The new key; a random one when not given.", min_length=16
    )


class TrafficUpdate(BaseModel):
    traffic: dict[str, int] | None = None
    mirror_traffic: dict[str, int] | None = None


class LatencySummary(BaseModel):
    p50_ms: float | None = None
    p90_ms: float | None = None
    p99_ms: float | None = None
    mean_ms: float | None = None


class DeploymentMetrics(BaseModel):
    """Requests this workspace server routed to a deployment since it started."""

    endpoint: str
    deployment: str
    requests: int = 0
    errors: int = Field(0, description="answers with status 500 or more, and timeouts (408)")
    client_errors: int = Field(0, description="answers with status 400 to 499 but 408")
    mirrored: int = 0
    latency: LatencySummary = Field(default_factory=LatencySummary)
    window: int = Field(0, description="how many recent requests the latency figures cover")


class DeploymentLogs(BaseModel):
    endpoint: str
    deployment: str
    text: str


class WorkerSpec(BaseModel):
    """Everything a serving worker needs to start one instance of a deployment."""

    instance: str
    endpoint: str
    deployment: str
    generation: int
    model_uri: str | None = None
    model_type: str | None = None
    code_uri: str | None = None
    scoring_script: str | None = None
    environment: Environment
    environment_key: str
    environment_variables: dict[str, str] = Field(default_factory=dict)
    max_concurrent_requests: int = 1
    max_queue_wait_ms: int | None = None
    request_timeout_ms: int = 5000
    #: Azure ML's probes: readiness bounds the start (initial_delay + period * failures),
    #: liveness is checked every `period` while the host serves
    readiness_probe: dict[str, int] = Field(default_factory=dict)
    liveness_probe: dict[str, int] = Field(default_factory=dict)


class InstanceReport(BaseModel):
    state: InstanceStateName
    address: str | None = None
    #: what the router must show the scoring host (sent once, with the address)
    secret: str | None = Field(None, repr=False)
    message: str | None = None


class InstanceAck(BaseModel):
    """`stop`: the instance is no longer wanted (its deployment changed or went away)."""

    stop: bool = False


class InstanceLogs(BaseModel):
    text: str


class BatchInvoke(BaseModel):
    """`batch-endpoint invoke`: the data to score and, optionally, which deployment scores it."""

    input: dict[str, Any] | None = Field(
        None, description="The input to score: {type, path} (a folder, file or data asset)."
    )
    inputs: dict[str, Any] = Field(
        default_factory=dict, description="Named inputs (pipeline component deployments)."
    )
    deployment_name: str | None = None
    experiment_name: str | None = None
    job_name: str | None = None
    outputs: dict[str, Any] = Field(default_factory=dict)


class InvokeRequest(BaseModel):
    """A scoring request the workspace sends on the caller's behalf (the studio's test console),
    so the caller never holds the endpoint's key."""

    request: Any = Field(description="The JSON body to score, as a client would POST it.")
    deployment_name: str | None = Field(
        None, description="Pin a deployment (the azureml-model-deployment header); else the split."
    )


class InvokeResult(BaseModel):
    """What the scoring route answered: its status, the deployment that answered, the time it
    took and the body (JSON when it parses, else `text`)."""

    status_code: int
    deployment: str | None = None
    latency_ms: float
    request_id: str
    body: Any = None
    text: str | None = None
