"""How MLflow routes are declared, how their requests are read and their errors rendered.

MLflow's wire rules differ from forgeml's own API, so these routes bypass FastAPI's body models:
GET fields come from the query string (repeated keys for lists), other methods carry a JSON
body (DELETE too), int64s may arrive as strings, unknown fields are ignored, and every error is
`{"error_code", "message"}` with MLflow's status (already-exists is 400, never a 5xx for a
caller's mistake, since the client retries 5xx for minutes). Each route names the action it
needs, checked by the one authorization point before the request is even parsed.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from forgeml.core.errors import (
    ConflictError,
    ForbiddenError,
    ForgemlError,
    NotFoundError,
    SystemError,
    UnavailableError,
)
from forgeml.core.tracking import invalid, missing
from forgeml.server.deps import context
from forgeml.services import Context
from forgeml.services.authz import authorize

log = logging.getLogger("forgeml.server.mlflow")

Handler = Callable[[Context, "Params"], dict[str, Any]]
PREFIXES = ("/api/2.0/mlflow",)


def error_response(status: int, code: str, message: str) -> Response:
    body = {"error_code": code, "message": message}
    return Response(json.dumps(body), status_code=status, media_type="application/json")


def render_error(exc: ForgemlError) -> Response:
    if isinstance(exc, NotFoundError):
        return error_response(404, "RESOURCE_DOES_NOT_EXIST", exc.message)
    if isinstance(exc, ForbiddenError):
        return error_response(403, "PERMISSION_DENIED", exc.message)
    if isinstance(exc, ConflictError):
        return error_response(400, "RESOURCE_ALREADY_EXISTS", exc.message)
    if isinstance(exc, UnavailableError):
        return error_response(503, "TEMPORARILY_UNAVAILABLE", exc.message)
    if isinstance(exc, SystemError):
        log.error("%s", exc.message)
        return error_response(500, "INTERNAL_ERROR", exc.message)
    return error_response(400, "INVALID_PARAMETER_VALUE", exc.message)


def json_response(payload: dict[str, Any]) -> Response:
    return Response(
        json.dumps(payload, separators=(",", ":"), allow_nan=False),
        media_type="application/json",
    )


class Params:
    """One request's fields, from a JSON body or a query string, read leniently."""

    __slots__ = ("data",)

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data

    def raw(self, name: str) -> Any:
        return self.data.get(name)

    def text(self, name: str, *, required: bool = False) -> str | None:
        value = self.data.get(name)
        if isinstance(value, list):
            value = value[0] if value else None
        if value is None:
            if required:
                raise missing(name)
            return None
        return value if isinstance(value, str) else str(value)

    def need(self, name: str) -> str:
        value = self.text(name, required=True)
        assert value is not None
        return value

    def integer(self, name: str, *, required: bool = False) -> int | None:
        value = self.text(name, required=required)
        if value is None or value == "":
            if required:
                raise missing(name)
            return None
        try:
            return int(value)
        except ValueError:
            try:
                number = float(value)
            except ValueError:
                number = math.nan
            if not number.is_integer():
                raise invalid(
                    f"Invalid value {value!r} for parameter '{name}': expected an integer.", name
                ) from None
            return int(number)

    def number(self, name: str, *, required: bool = False) -> float | None:
        value = self.data.get(name)
        if value is None:
            if required:
                raise missing(name)
            return None
        try:
            return float(value)
        except (TypeError, ValueError):
            raise invalid(
                f"Invalid value {value!r} for parameter '{name}': expected a number.", name
            ) from None

    def flag(self, name: str) -> bool:
        value = self.data.get(name)
        if isinstance(value, list):
            value = value[0] if value else None
        if isinstance(value, str):
            return value.lower() == "true"
        return bool(value)

    def items(self, name: str) -> list[Any]:
        value = self.data.get(name)
        if value is None:
            return []
        return value if isinstance(value, list) else [value]

    def texts(self, name: str) -> list[str]:
        return [str(v) for v in self.items(name)]

    def run_id(self) -> str | None:
        return self.text("run_id") or self.text("run_uuid")

    def key_values(self, name: str) -> list[tuple[str, str]]:
        """A repeated `{key, value}` message; the value defaults to ''."""
        out = []
        for item in self.items(name):
            if not isinstance(item, dict) or item.get("key") in (None, ""):
                raise invalid(f"Each entry of '{name}' needs a 'key'.", name)
            value = item.get("value")
            out.append((str(item["key"]), "" if value is None else str(value)))
        return out


async def read_params(request: Request, *, max_bytes: int | None = None) -> Params:
    if request.method == "GET":
        data: dict[str, Any] = {}
        for key, value in request.query_params.multi_items():
            if key in data:
                existing = data[key]
                data[key] = [*existing, value] if isinstance(existing, list) else [existing, value]
            else:
                data[key] = value
        return Params(data)
    body = await request.body()
    if max_bytes is not None and len(body) > max_bytes:
        raise invalid(
            f"The request body is {len(body)} bytes; the limit for this call is {max_bytes} "
            "bytes. Split it into several requests."
        )
    if not body.strip():
        return Params({})
    kind = request.headers.get("content-type", "")
    if kind and not kind.split(";")[0].strip().lower().endswith("json"):
        raise invalid("Bad Request. Content-Type must be one of ['application/json'].")
    try:
        parsed = json.loads(body)
        if isinstance(parsed, str):  # old clients double-encode the body
            parsed = json.loads(parsed)
    except ValueError as exc:
        raise invalid(f"The request body is not valid JSON: {exc}.") from None
    if not isinstance(parsed, dict):
        raise invalid("The request body must be a JSON object.")
    return Params(parsed)


class MlflowApi:
    """A router whose routes speak MLflow's conventions."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.router = APIRouter(tags=[f"mlflow {name}"])

    def route(
        self,
        methods: str | list[str],
        path: str,
        action: str,
        *,
        prefixes: tuple[str, ...] = PREFIXES,
        max_bytes: int | None = None,
    ) -> Callable[[Handler], Handler]:
        verbs = [methods] if isinstance(methods, str) else methods

        def register(handler: Handler) -> Handler:
            endpoint = make_endpoint(handler, action, max_bytes=max_bytes)
            summary = (handler.__doc__ or "").strip().split("\n")[0] or None
            # one route per method: a shared route would give two operations one OpenAPI id
            for verb in verbs:
                for i, prefix in enumerate(prefixes):
                    self.router.add_api_route(
                        f"{prefix}{path}",
                        endpoint,
                        methods=[verb],
                        name=f"mlflow_{self.name}_{handler.__name__}_{verb.lower()}_{i}",
                        summary=summary,
                        include_in_schema=i == 0,
                        response_class=Response,
                    )
            return handler

        return register


def make_endpoint(
    handler: Handler, action: str, *, max_bytes: int | None = None
) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        try:
            ctx = context(request)
            resource = request.path_params.get("model_id", "*")
            authorize(ctx, action, str(resource))
            params = await read_params(request, max_bytes=max_bytes)
            params.data.update(request.path_params)
            payload = await run_in_threadpool(handler, ctx, params)
            return json_response(payload)
        except ForgemlError as exc:
            return render_error(exc)
        except Exception:
            log.exception("%s %s failed", request.method, request.url.path)
            return error_response(500, "INTERNAL_ERROR", "internal error; see the server log")

    return endpoint
