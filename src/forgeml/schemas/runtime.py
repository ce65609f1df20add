"""The contract between the workspace and the job runner that executes inside a compute.

The runner (`python -m forgeml.runtime.runner --url <workspace> --job <name>`) may run on another
machine, so it speaks only HTTP: it fetches a `RunnerJob`, reports state changes, log text and
produced outputs, and reads/writes content and run artifacts through the same REST API.

Routes (all under `/api/v1/jobs/{name}/runtime`):

| method and path | body | answer |
|---|---|---|
| `GET  /spec` | - | `RunnerJob` |
| `POST /state` | `RunnerState` | `RunnerAck` (`cancel_requested` tells the runner to stop) |
| `POST /logs` | `RunnerLogs` | `RunnerAck` |
| `POST /outputs` | `RunnerOutputDone` | `RunnerAck` |
| `POST /heartbeat` | - | `RunnerAck` |

Run artifacts (`./outputs`, `./logs`, `user_logs/std_log.txt`) go through the MLflow artifact
route `PUT /api/2.0/mlflow-artifacts/artifacts/<experiment_id>/<run_id>/artifacts/<path>`.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from forgeml.core.specs import Environment

RunnerStateName = Literal["preparing", "running", "completed", "failed", "canceled"]
LogStream = Literal["std_out", "std_err", "system"]


class RunnerInput(BaseModel):
    """A resolved input: a literal `value`, or data at `uri` (a `forgeml://content/...` URI for
    workspace content, or any remote URI) to materialize per `mode`."""

    type: str
    mode: Literal["ro_mount", "download", "direct", "eval_mount", "eval_download"] = "ro_mount"
    uri: str | None = None
    value: Any = None


class RunnerOutput(BaseModel):
    type: str = "uri_folder"
    mode: Literal["rw_mount", "upload", "direct", "mount"] = "rw_mount"


class RunnerJob(BaseModel):
    """Everything the runner needs to execute one command job."""

    name: str
    command: str
    code: str | None = Field(None, description="Content URI of the code snapshot, if any.")
    environment: Environment
    environment_key: str = Field(description="Hash of the environment spec; the venv cache key.")
    inputs: dict[str, RunnerInput] = Field(default_factory=dict)
    outputs: dict[str, RunnerOutput] = Field(default_factory=dict)
    environment_variables: dict[str, str] = Field(default_factory=dict)
    timeout_s: int | None = None
    experiment_id: str
    experiment_name: str
    run_id: str
    distribution: dict[str, Any] | None = None
    resources: dict[str, Any] | None = None
    max_retries: int = Field(0, description="Starts again after a lost runner (not a failure).")
    keep_artifacts: bool = Field(
        False, description="Also store ./outputs as the output 'artifacts' (a step reads it)."
    )


class RunnerLogs(BaseModel):
    stream: LogStream
    text: str


class RunnerState(BaseModel):
    state: RunnerStateName
    exit_code: int | None = None
    error: str | None = Field(None, description="A summary for the user; the tail of stderr.")
    warnings: list[str] = Field(default_factory=list)
    pid: int | None = Field(None, description="The runner's process id, for cancel and restarts.")
    logs: list[RunnerLogs] = Field(
        default_factory=list,
        description="Log text not sent yet, stored before the state changes (one round trip).",
    )


class RunnerOutputDone(BaseModel):
    """An output the command wrote, uploaded as content; the server registers it if named."""

    name: str
    uri: str


class RunnerAck(BaseModel):
    cancel_requested: bool = False
