"""`client.compute`: compute targets."""

from __future__ import annotations

from collections.abc import Iterator

from forgeml.client.http import Http
from forgeml.core.specs import Resource, compute_model
from forgeml.schemas.computes import ComputeStatus


class ComputeOperations:
    def __init__(self, http: Http) -> None:
        self._http = http

    @staticmethod
    def _entity(data: dict[str, object]) -> Resource:
        return compute_model(data).model_validate(data)

    def create_or_update(self, compute: Resource) -> Resource:
        return self._entity(self._http.json("POST", "/computes", json=compute.to_wire()))

    def begin_create_or_update(self, compute: Resource) -> Resource:
        """azure-ai-ml's name for the same call; computes are ready when it returns."""
        return self.create_or_update(compute)

    def get(self, name: str) -> Resource:
        return self._entity(self._http.json("GET", f"/computes/{name}"))

    def status(self, name: str) -> ComputeStatus:
        """The compute's nodes with their total and free resources, and its jobs."""
        return ComputeStatus.model_validate(self._http.json("GET", f"/computes/{name}/status"))

    def list(self) -> Iterator[Resource]:
        for item in self._http.json("GET", "/computes")["items"]:
            yield self._entity(item)

    def delete(self, name: str) -> None:
        self._http.json("DELETE", f"/computes/{name}")
