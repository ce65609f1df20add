"""`client.compute`: compute targets."""

from __future__ import annotations

from collections.abc import Iterator

from forgeml.client.http import Http
from forgeml.core.specs import LocalCompute, Resource, compute_model


class ComputeOperations:
    def __init__(self, http: Http) -> None:
        self._http = http

    @staticmethod
    def _entity(data: dict[str, object]) -> Resource:
        return compute_model(data).model_validate(data)

    def create_or_update(self, compute: LocalCompute) -> Resource:
        return self._entity(self._http.json("POST", "/computes", json=compute.to_wire()))

    def begin_create_or_update(self, compute: LocalCompute) -> Resource:
        """azure-ai-ml's name for the same call; local computes are ready at once."""
        return self.create_or_update(compute)

    def get(self, name: str) -> Resource:
        return self._entity(self._http.json("GET", f"/computes/{name}"))

    def list(self) -> Iterator[Resource]:
        for item in self._http.json("GET", "/computes")["items"]:
            yield self._entity(item)

    def delete(self, name: str) -> None:
        self._http.json("DELETE", f"/computes/{name}")
