"""The Python SDK: `MLClient` and one operations object per resource, over the REST API."""

from __future__ import annotations

from typing import Any

import httpx

from forgeml.client.assets import AssetOperations
from forgeml.client.computes import ComputeOperations
from forgeml.client.endpoints import (
    BatchDeploymentOperations,
    BatchEndpointOperations,
    OnlineDeploymentOperations,
    OnlineEndpointOperations,
)
from forgeml.client.http import Http, default_url
from forgeml.client.jobs import JobOperations
from forgeml.core.specs import CommandComponent, Data, Environment, Model


class MLClient:
    """A handle on one workspace.

    `MLClient()` talks to `FORGEML_URL` (default http://127.0.0.1:8080); `MLClient(url=...)` to
    another; `MLClient(http_client=...)` over any httpx client (tests pass one bound to the app).
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        http_client: httpx.Client | None = None,
        timeout: float = 60.0,
        **_ignored: Any,
    ) -> None:
        # azure-ai-ml takes credential/subscription_id/...; accepted and ignored so code ports as is
        self._http = Http(url or default_url(), client=http_client, timeout=timeout)
        self.data: AssetOperations[Data] = AssetOperations(self._http, "data", Data)
        self.models: AssetOperations[Model] = AssetOperations(self._http, "models", Model)
        self.environments: AssetOperations[Environment] = AssetOperations(
            self._http, "environments", Environment
        )
        self.components: AssetOperations[CommandComponent] = AssetOperations(
            self._http, "components", CommandComponent
        )
        self.compute = ComputeOperations(self._http)
        self.jobs = JobOperations(self._http)
        self.online_endpoints = OnlineEndpointOperations(self._http)
        self.online_deployments = OnlineDeploymentOperations(self._http)
        self.batch_endpoints = BatchEndpointOperations(self._http)
        self.batch_deployments = BatchDeploymentOperations(self._http)

    @property
    def url(self) -> str:
        return self._http.url

    def health(self) -> dict[str, Any]:
        result: dict[str, Any] = self._http.json("GET", "/health")
        return result

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> MLClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


__all__ = ["MLClient", "default_url"]
