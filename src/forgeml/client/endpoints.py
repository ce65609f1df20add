"""`client.online_endpoints`, `client.online_deployments`, `client.batch_endpoints` and
`client.batch_deployments`, shaped like azure-ai-ml's operations of the same names.

`begin_*` calls return a poller whose `result()` waits until the workspace has finished (a
deployment's instances are ready, or it failed and the poller raises with the reason). Local
files a document names (an inline model's path, the scoring code, an inline environment's conda
file) are uploaded first; a model keeps its folder name, so `AZUREML_MODEL_DIR/<folder>/...`
paths in scoring scripts work as on Azure ML.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Generic, TypeVar

import httpx

from forgeml.client.assets import AssetOperations
from forgeml.client.http import Http
from forgeml.client.upload import Uploader
from forgeml.core.content import is_local_path
from forgeml.core.errors import (
    NotFoundError,
    SpecError,
    UnavailableError,
    UserError,
    error_from_payload,
)
from forgeml.core.specs import Environment, Model
from forgeml.core.specs.endpoints import (
    BatchEndpoint,
    ModelBatchDeployment,
    OnlineDeployment,
    OnlineEndpoint,
    PipelineComponentBatchDeployment,
    batch_deployment_model,
)
from forgeml.schemas.serving import DeploymentMetrics, EndpointKeys

T = TypeVar("T")


class DeploymentFailedError(UserError):
    """A deployment's instances could not start; the message says why (`get_logs` says more)."""

    code = "DeploymentFailed"


class Poller(Generic[T]):
    """What azure-ai-ml's LROPoller offers: `result()`, `wait()`, `done()`."""

    def __init__(self, check: Callable[[], tuple[bool, T]]) -> None:
        self._check = check
        self._done, self._value = check()

    def done(self) -> bool:
        if not self._done:
            self._done, self._value = self._check()
        return self._done

    def result(self, timeout: float | None = None) -> T:
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self.done():
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f"not finished after {timeout} s")
            time.sleep(0.2)
        return self._value

    def wait(self, timeout: float | None = None) -> None:
        self.result(timeout)


def _prepare_model(uploader: Uploader, model: Any, base: Path, field: str) -> Any:
    if isinstance(model, Model) and is_local_path(model.path):
        body = model.to_wire()
        local = (base / model.path).resolve()
        if not local.exists():
            raise SpecError(
                f"the model path {local} does not exist (paths are relative to the YAML file's "
                "folder).",
                field=f"{field}.path",
            )
        body["path"] = uploader.upload_named(local, field=f"{field}.path")
        return body
    return model.to_wire() if isinstance(model, Model) else model


class _Prepare:
    def __init__(self, http: Http) -> None:
        self.uploader = Uploader(http)
        self.environments: AssetOperations[Environment] = AssetOperations(
            http, "environments", Environment
        )

    def deployment(self, dep: Any) -> dict[str, Any]:
        base = dep.base_path
        body: dict[str, Any] = dep.to_wire()
        if getattr(dep, "model", None) is not None:
            body["model"] = _prepare_model(self.uploader, dep.model, base, "model")
        code_config = getattr(dep, "code_configuration", None)
        if code_config is not None and is_local_path(code_config.code):
            folder = (base / code_config.code).resolve()
            if not folder.is_dir():
                raise SpecError(
                    f"the code folder {folder} does not exist (paths are relative to the YAML "
                    "file's folder).",
                    field="code_configuration.code",
                )
            body["code_configuration"]["code"] = self.uploader.upload_path(
                folder, field="code_configuration.code", honour_ignore=True
            )
        env = getattr(dep, "environment", None)
        if isinstance(env, Environment):
            body["environment"] = self.environments._inline_environment(env, base, "environment.")
        return body


class OnlineEndpointOperations:
    def __init__(self, http: Http) -> None:
        self._http = http
        self._keys: dict[str, str] = {}

    def begin_create_or_update(self, endpoint: OnlineEndpoint) -> Poller[OnlineEndpoint]:
        body = endpoint.to_wire()
        # traffic set to nothing in a document means "leave it"; Azure ML sets it by update
        for key in ("traffic", "mirror_traffic"):
            if not body.get(key):
                body.pop(key, None)
        made = OnlineEndpoint.model_validate(
            self._http.json("POST", "/online-endpoints", json=body)
        )
        return Poller(lambda: (True, made))

    def create_or_update(self, endpoint: OnlineEndpoint) -> OnlineEndpoint:
        return self.begin_create_or_update(endpoint).result()

    def get(self, name: str) -> OnlineEndpoint:
        return OnlineEndpoint.model_validate(self._http.json("GET", f"/online-endpoints/{name}"))

    def list(self) -> Iterator[OnlineEndpoint]:
        for item in self._http.json("GET", "/online-endpoints")["items"]:
            yield OnlineEndpoint.model_validate(item)

    def update_traffic(
        self,
        name: str,
        traffic: dict[str, int] | None = None,
        mirror_traffic: dict[str, int] | None = None,
    ) -> OnlineEndpoint:
        body: dict[str, Any] = {}
        if traffic is not None:
            body["traffic"] = traffic
        if mirror_traffic is not None:
            body["mirror_traffic"] = mirror_traffic
        return OnlineEndpoint.model_validate(
            self._http.json("PATCH", f"/online-endpoints/{name}/traffic", json=body)
        )

    def get_keys(self, name: str) -> EndpointKeys:
        keys = EndpointKeys.model_validate(
            self._http.json("POST", f"/online-endpoints/{name}/keys")
        )
        self._keys[name] = keys.primary_key
        return keys

    def begin_regenerate_keys(
        self, name: str, *, key_type: str = "primary", key_value: str | None = None
    ) -> Poller[None]:
        body: dict[str, Any] = {"key_type": key_type}
        if key_value:
            body["key_value"] = key_value
        self._http.json("POST", f"/online-endpoints/{name}/regenerate-keys", json=body)
        self._keys.pop(name, None)
        return Poller(lambda: (True, None))

    def begin_delete(self, name: str) -> Poller[None]:
        self._http.json("DELETE", f"/online-endpoints/{name}")

        def gone() -> tuple[bool, None]:
            try:
                self.get(name)
            except NotFoundError:
                return True, None
            return False, None

        return Poller(gone)

    def _score(
        self, endpoint_name: str, body: bytes, key: str, deployment_name: str | None
    ) -> httpx.Response:
        headers = {"authorization": f"Bearer {key}", "content-type": "application/json"}
        if deployment_name:
            headers["azureml-model-deployment"] = deployment_name
        url = f"{self._http.url}/endpoints/{endpoint_name}/score"
        try:
            # the deployment's own request_timeout_ms (up to 180 s) bounds the wait
            return self._http.client.post(
                url, content=body, headers=headers, timeout=httpx.Timeout(200.0, connect=10.0)
            )
        except httpx.TransportError as exc:
            raise UnavailableError(
                f"no forgeml workspace answers at {self._http.url} ({exc}); is it running?"
            ) from None

    def invoke(
        self,
        endpoint_name: str,
        request_file: str | Path | None = None,
        deployment_name: str | None = None,
        *,
        request: Any = None,
    ) -> str:
        """Score `request_file` (or the JSON-able `request`); the answer's text. A status of 400
        or more raises, with the deployment's error message."""
        if request_file is not None:
            body = Path(request_file).read_bytes()
        elif request is not None:
            body = request if isinstance(request, bytes) else json.dumps(request).encode()
        else:
            raise SpecError("invoke needs a request_file (or a request).", field="request_file")
        cached = self._keys.get(endpoint_name)
        key = cached or self.get_keys(endpoint_name).primary_key
        response = self._score(endpoint_name, body, key, deployment_name)
        if response.status_code == 401 and cached:
            # the keys were regenerated since they were read: once more with fresh ones
            response = self._score(
                endpoint_name, body, self.get_keys(endpoint_name).primary_key, deployment_name
            )
        if response.status_code >= 400:
            try:
                payload = response.json()
                error = payload.get("error", payload) if isinstance(payload, dict) else {}
            except ValueError:
                error = {}
            message = (error.get("message") if isinstance(error, dict) else None) or response.text
            raise error_from_payload(
                response.status_code,
                {"code": (error or {}).get("code", "ScoringError"), "message": message},
            )
        return response.text


class OnlineDeploymentOperations:
    def __init__(self, http: Http) -> None:
        self._http = http
        self._prepare = _Prepare(http)

    def _path(self, endpoint: str, name: str | None = None) -> str:
        tail = f"/{name}" if name else ""
        return f"/online-endpoints/{endpoint}/deployments{tail}"

    def begin_create_or_update(
        self, deployment: OnlineDeployment, *, all_traffic: bool = False
    ) -> Poller[OnlineDeployment]:
        body = self._prepare.deployment(deployment)
        endpoint = deployment.endpoint_name
        made = OnlineDeployment.model_validate(
            self._http.json(
                "POST",
                self._path(endpoint),
                json=body,
                params={"all_traffic": "true"} if all_traffic else None,
            )
        )
        assert made.name is not None
        name = made.name

        def check() -> tuple[bool, OnlineDeployment]:
            current = self.get(name, endpoint_name=endpoint)
            if current.provisioning_state == "Failed":
                raise DeploymentFailedError(
                    f"deployment '{name}' of endpoint '{endpoint}' failed: "
                    f"{current.status_message or 'see its logs'} (`forgeml online-deployment "
                    f"get-logs --name {name} --endpoint-name {endpoint}`)."
                )
            return current.provisioning_state == "Succeeded", current

        return Poller(check)

    def get(self, name: str, endpoint_name: str) -> OnlineDeployment:
        return OnlineDeployment.model_validate(
            self._http.json("GET", self._path(endpoint_name, name))
        )

    def list(self, endpoint_name: str) -> Iterator[OnlineDeployment]:
        for item in self._http.json("GET", self._path(endpoint_name))["items"]:
            yield OnlineDeployment.model_validate(item)

    def begin_delete(self, name: str, endpoint_name: str) -> Poller[None]:
        self._http.json("DELETE", self._path(endpoint_name, name))

        def gone() -> tuple[bool, None]:
            try:
                self.get(name, endpoint_name)
            except NotFoundError:
                return True, None
            return False, None

        return Poller(gone)

    def get_logs(self, name: str, endpoint_name: str, lines: int = 100) -> str:
        reply = self._http.json(
            "GET", f"{self._path(endpoint_name, name)}/logs", params={"lines": lines}
        )
        return str(reply["text"])

    def metrics(self, name: str, endpoint_name: str) -> DeploymentMetrics:
        return DeploymentMetrics.model_validate(
            self._http.json("GET", f"{self._path(endpoint_name, name)}/metrics")
        )


class BatchEndpointOperations:
    def __init__(self, http: Http) -> None:
        self._http = http
        self._uploader = Uploader(http)

    def begin_create_or_update(self, endpoint: BatchEndpoint) -> Poller[BatchEndpoint]:
        made = BatchEndpoint.model_validate(
            self._http.json("POST", "/batch-endpoints", json=endpoint.to_wire())
        )
        return Poller(lambda: (True, made))

    def get(self, name: str) -> BatchEndpoint:
        return BatchEndpoint.model_validate(self._http.json("GET", f"/batch-endpoints/{name}"))

    def list(self) -> Iterator[BatchEndpoint]:
        for item in self._http.json("GET", "/batch-endpoints")["items"]:
            yield BatchEndpoint.model_validate(item)

    def begin_delete(self, name: str) -> Poller[None]:
        self._http.json("DELETE", f"/batch-endpoints/{name}")
        return Poller(lambda: (True, None))

    def _input(self, value: Any, field: str) -> dict[str, Any]:
        if isinstance(value, str | Path):
            value = {"type": "uri_folder", "path": str(value)}
        elif hasattr(value, "model_dump"):
            value = value.model_dump(mode="json", exclude_none=True)
        port = dict(value)
        path = port.get("path")
        if isinstance(path, str) and is_local_path(path):
            local = Path(path).expanduser().resolve()
            if not local.exists():
                raise SpecError(f"the input {local} does not exist.", field=field)
            port["path"] = self._uploader.upload_path(local, field=field)
            if local.is_file() and port.get("type", "uri_folder") == "uri_folder":
                port["type"] = "uri_file"
        return port

    def invoke(
        self,
        endpoint_name: str,
        *,
        input: Any = None,
        inputs: dict[str, Any] | None = None,
        deployment_name: str | None = None,
        experiment_name: str | None = None,
        job_name: str | None = None,
        outputs: dict[str, Any] | None = None,
    ) -> Any:
        """Start a scoring job over `input` (a folder, file, `azureml:` data asset or URI); the
        job, which `client.jobs` follows like any other."""
        from forgeml.schemas.jobs import parse_job

        body: dict[str, Any] = {
            "inputs": {k: self._input(v, f"inputs.{k}") for k, v in (inputs or {}).items()},
            "outputs": outputs or {},
        }
        if input is not None:
            body["input"] = self._input(input, "input")
        for key, value in (
            ("deployment_name", deployment_name),
            ("experiment_name", experiment_name),
            ("job_name", job_name),
        ):
            if value:
                body[key] = value
        return parse_job(
            self._http.json("POST", f"/batch-endpoints/{endpoint_name}/jobs", json=body)
        )

    def list_jobs(self, endpoint_name: str) -> Iterator[Any]:
        from forgeml.schemas.jobs import parse_job

        for item in self._http.json("GET", f"/batch-endpoints/{endpoint_name}/jobs")["items"]:
            yield parse_job(item)


def _batch_entity(data: dict[str, Any]) -> ModelBatchDeployment | PipelineComponentBatchDeployment:
    return batch_deployment_model(data).model_validate(data)


class BatchDeploymentOperations:
    def __init__(self, http: Http) -> None:
        self._http = http
        self._prepare = _Prepare(http)

    def _path(self, endpoint: str, name: str | None = None) -> str:
        tail = f"/{name}" if name else ""
        return f"/batch-endpoints/{endpoint}/deployments{tail}"

    def begin_create_or_update(
        self, deployment: ModelBatchDeployment | PipelineComponentBatchDeployment
    ) -> Poller[ModelBatchDeployment | PipelineComponentBatchDeployment]:
        body = self._prepare.deployment(deployment)
        if (
            isinstance(deployment, PipelineComponentBatchDeployment)
            and isinstance(deployment.component, str)
            and is_local_path(deployment.component)
        ):
            raise SpecError(
                "a pipeline deployment's component must be registered first (`forgeml component "
                "create`) and named as azureml:<name>:<version>, or written inline.",
                field="component",
            )
        made = _batch_entity(
            self._http.json("POST", self._path(deployment.endpoint_name), json=body)
        )
        return Poller(lambda: (True, made))

    def get(
        self, name: str, endpoint_name: str
    ) -> ModelBatchDeployment | PipelineComponentBatchDeployment:
        return _batch_entity(self._http.json("GET", self._path(endpoint_name, name)))

    def list(
        self, endpoint_name: str
    ) -> Iterator[ModelBatchDeployment | PipelineComponentBatchDeployment]:
        for item in self._http.json("GET", self._path(endpoint_name))["items"]:
            yield _batch_entity(item)

    def begin_delete(self, name: str, endpoint_name: str) -> Poller[None]:
        self._http.json("DELETE", self._path(endpoint_name, name))
        return Poller(lambda: (True, None))
