"""The HTTP transport of the SDK: one httpx client, errors mapped back to forgeml's classes."""

from __future__ import annotations

import contextlib
import os
from typing import Any

import httpx

from forgeml.core.errors import UnavailableError, error_from_payload

DEFAULT_URL = "http://127.0.0.1:8080"


def default_url() -> str:
    return os.environ.get("FORGEML_URL", DEFAULT_URL).rstrip("/")


class Http:
    """JSON over HTTP against `<url>/api/v1`."""

    def __init__(
        self, url: str | None = None, *, client: httpx.Client | None = None, timeout: float = 60.0
    ) -> None:
        self.url = (url or default_url()).rstrip("/")
        self._owns_client = client is None
        self.client = client or httpx.Client(timeout=timeout)
        self.api = f"{self.url}/api/v1"

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        target = path if path.startswith("http") else f"{self.api}{path}"
        try:
            response = self.client.request(method, target, **kwargs)
        except httpx.ConnectError as exc:
            raise UnavailableError(
                f"no forgeml workspace answers at {self.url} ({exc}). Start one with `forgeml up` "
                "(or `make run`), or point FORGEML_URL at a running workspace."
            ) from None
        except httpx.TimeoutException as exc:
            raise UnavailableError(
                f"the workspace at {self.url} did not answer in time ({exc})."
            ) from None
        if response.status_code >= 400:
            try:
                payload = response.json()
            except ValueError:
                payload = {"message": response.text or f"HTTP {response.status_code}"}
            if not isinstance(payload, dict):
                payload = {"message": str(payload)}
            raise error_from_payload(response.status_code, payload)
        return response

    def json(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.request(method, path, **kwargs)
        if response.status_code == 204 or not response.content:
            return None
        return response.json()

    def close(self) -> None:
        self.client.close()

    def __del__(self) -> None:
        # a client dropped without close() still closes the connections it opened itself
        if getattr(self, "_owns_client", False):
            with contextlib.suppress(Exception):
                self.client.close()
