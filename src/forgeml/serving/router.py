"""The traffic router: `/endpoints/<name>/score` on the workspace's own port.

A plain ASGI layer in front of the API (no FastAPI routing, validation or JSON models on this
path): it checks the Bearer key against the endpoint's two keys, picks a deployment — the one an
`azureml-model-deployment` header names, else one drawn by the traffic weights — copies the
mirrored share of unpinned requests to the shadow deployment without waiting for it, and
forwards the body over kept-alive connections to one of the deployment's ready instances
(least busy first). A request whose connection fails before it was sent is retried on another
instance, which is what keeps a blue/green switch free of errors. Keys are never logged.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import random
import threading
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from forgeml.services import serving
from forgeml.services.context import Context, Workspace
from forgeml.services.endpoints import SERVING_TOPIC
from forgeml.services.serving import RoutedDeployment, RoutedEndpoint
from forgeml.serving.collector import DataCollector
from forgeml.serving.forward import ConnectionPool, UpstreamError
from forgeml.serving.metrics import ServingMetrics

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

log = logging.getLogger("forgeml.serving.router")

PREFIX = "/endpoints/"
#: the largest request body the router takes (the scoring host takes as much)
MAX_BODY_BYTES = 256 << 20
#: the header that shows a scoring host the router's secret for it
SECRET_HEADER = b"x-forgeml-instance-key"
REFRESH_S = 1.0
_JSON = [(b"content-type", b"application/json")]


def _error(status: int, code: str, message: str) -> tuple[int, bytes]:
    return status, json.dumps({"error": {"code": code, "message": message}}).encode()


class RoutingTable:
    """The routing snapshot, reloaded every second and at once after a change in this process."""

    def __init__(self, workspace: Workspace) -> None:
        self.ctx = Context(workspace)
        self.endpoints: dict[str, RoutedEndpoint] = {}
        self.loaded_at = 0.0
        #: whether a snapshot was ever read (before that, an unknown name is not a 404)
        self.loaded = False
        #: called with each fresh snapshot (the router closes connections to gone addresses)
        self.on_reload: Callable[[dict[str, RoutedEndpoint]], None] | None = None
        self.stale = True
        self.failed_at: float | None = None
        self.lock = asyncio.Lock()
        self.background: asyncio.Task[None] | None = None
        workspace.listeners.append(self._heard)

    def _heard(self, topic: str) -> None:
        if topic == SERVING_TOPIC:
            self.stale = True

    async def current(self) -> dict[str, RoutedEndpoint]:
        """The snapshot; after a change in this process, the fresh one (so a caller who just
        moved traffic sees it on the next request). Otherwise an old snapshot is reloaded in
        the background while requests go on with it."""
        if self.stale or not self.loaded:
            # before the first snapshot, every request waits for it (not only the first one);
            # but when reading it has just failed, the waiters answer at once (503) rather than
            # each trying again in turn behind the lock
            async with self.lock:
                if self.stale or (not self.loaded and not self._failed_lately()):
                    await self._reload()
        elif time.monotonic() - self.loaded_at > REFRESH_S and not self.lock.locked():
            self.loaded_at = time.monotonic()
            self.background = asyncio.get_running_loop().create_task(self._locked_reload())
        return self.endpoints

    def _failed_lately(self) -> bool:
        return self.failed_at is not None and time.monotonic() - self.failed_at < REFRESH_S

    async def _locked_reload(self) -> None:
        async with self.lock:
            await self._reload()

    async def _reload(self) -> None:
        self.stale = False
        try:
            self.endpoints = await asyncio.to_thread(serving.routing, self.ctx)
            self.loaded = True
            self.failed_at = None
            if self.on_reload is not None:
                self.on_reload(self.endpoints)
        except Exception:  # keep serving from the last snapshot
            self.failed_at = time.monotonic()
            log.exception("could not reload the routing table")
        self.loaded_at = time.monotonic()


class RequestLog:
    """Request lines per deployment: the hot path queues a tuple; once a second a thread
    formats them and stores one log chunk per deployment."""

    def __init__(self, workspace: Workspace) -> None:
        self.ctx = Context(workspace)
        self.queue: deque[tuple[str, str, float, str, str, str, int, float]] = deque(maxlen=200_000)
        self.halt = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True, name="request-log")
        self.thread.start()

    def add(
        self,
        endpoint: str,
        deployment: str,
        request_id: str,
        method: str,
        route: str,
        status: int,
        elapsed_ms: float,
    ) -> None:
        self.queue.append(
            (endpoint, deployment, time.time(), request_id, method, route, status, elapsed_ms)
        )

    def _run(self) -> None:
        while not self.halt.wait(1.0):
            self.flush()

    def flush(self) -> None:
        chunks: dict[tuple[str, str], list[str]] = {}
        while self.queue:
            endpoint, deployment, when, rid, method, route, status, ms = self.queue.popleft()
            stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(when))
            chunks.setdefault((endpoint, deployment), []).append(
                f"{stamp} request {rid} {method} /{route} -> {status} in {ms:.1f} ms"
            )
        if chunks:
            batch = [(e, d, None, "\n".join(lines)) for (e, d), lines in chunks.items()]
            try:
                serving.append_logs(self.ctx, batch)
            except Exception:
                log.exception("could not store the request log lines of %d deployments", len(batch))

    def close(self) -> None:
        self.halt.set()
        self.thread.join(timeout=5)
        self.flush()


class ServingMiddleware:
    """ASGI middleware: scoring paths are answered by the router, the rest go to `app`."""

    def __init__(self, app: ASGIApp, router: ServingRouter) -> None:
        self.app = app
        self.router = router

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(PREFIX):
            await self.router.handle(scope, receive, send)
        else:
            await self.app(scope, receive, send)


class ServingRouter:
    """Routes scoring requests; keeps the routing snapshot, connections and figures."""

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace
        self.table = RoutingTable(workspace)
        self.pool = ConnectionPool()
        self.table.on_reload = self._reloaded
        self.metrics = ServingMetrics()
        self.requests: RequestLog | None = None
        self.shadow_tasks: set[asyncio.Task[None]] = set()
        self.collector: DataCollector | None = None

    def _reloaded(self, endpoints: dict[str, RoutedEndpoint]) -> None:
        live = {a for e in endpoints.values() for d in e.deployments.values() for a in d.addresses}
        self.pool.forget(live)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.requests is None:
            self.requests = RequestLog(self.workspace)
        await self._handle(scope, receive, send)

    def close(self) -> None:
        if self.requests is not None:
            self.requests.close()
        if self.collector is not None:
            self.collector.close()

    async def _body(self, receive: Receive) -> bytes | None:
        """The request body; None past MAX_BODY_BYTES."""
        chunks, size = [], 0
        while True:
            message = await receive()
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                return None
            chunks.append(chunk)
            if not message.get("more_body"):
                return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    async def _handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        auth = pinned_raw = rid_raw = b""
        content_type = b"application/json"
        for key, value in scope["headers"]:
            if key == b"authorization":
                auth = value
            elif key == b"azureml-model-deployment":
                pinned_raw = value
            elif key == b"x-request-id":
                rid_raw = value
            elif key == b"content-type":
                content_type = value
        request_id = rid_raw.decode("latin-1") if rid_raw else uuid.uuid4().hex
        name, _, route = scope["path"][len(PREFIX) :].partition("/")
        method = scope["method"]
        deployment: str | None = None
        out_headers = _JSON
        try:
            if route not in ("score", "swagger.json") or (route == "score") != (method == "POST"):
                status, payload = _error(
                    404,
                    "NotFound",
                    f"no such scoring route: {method} {scope['path']}; send POST "
                    f"/endpoints/{name}/score (or GET /endpoints/{name}/swagger.json).",
                )
            else:
                endpoints = await self.table.current()
                endpoint = endpoints.get(name)
                if endpoint is None:
                    status, payload = (
                        _error(404, "EndpointNotFound", f"no online endpoint named '{name}'.")
                        if self.table.loaded
                        else _error(
                            503,
                            "RoutingUnavailable",
                            "the workspace cannot read its endpoints right now; its log says why.",
                        )
                    )
                elif not _authorized(endpoint, auth):
                    status, payload = _error(
                        401,
                        "Unauthorized",
                        "a valid key is required: send 'Authorization: Bearer <key>' "
                        "(`forgeml online-endpoint get-credentials` shows the keys).",
                    )
                else:
                    # the key first: nobody without one makes the workspace read a body
                    body = await self._body(receive) if method == "POST" else b""
                    if body is None:
                        status, payload = _error(
                            413,
                            "PayloadTooLarge",
                            f"the request body is over {MAX_BODY_BYTES >> 20} MiB; score it in "
                            "parts, or use a batch endpoint.",
                        )
                    else:
                        pinned = pinned_raw.decode("latin-1") if pinned_raw else None
                        deployment, status, payload, upstream = await self._route(
                            endpoint, pinned, route, body, content_type, request_id
                        )
                        out_headers = upstream or _JSON
        except Exception:
            error_id = uuid.uuid4().hex[:12]
            log.exception(
                "scoring request %s failed in the router (error id %s)", request_id, error_id
            )
            status, payload = _error(
                500,
                "RouterError",
                f"the workspace could not route the request; error id {error_id} (its log has "
                "the details).",
            )
        elapsed_ms = (time.perf_counter() - started) * 1000
        headers = [
            *out_headers,
            (b"content-length", str(len(payload)).encode()),
            (b"x-request-id", request_id.encode("latin-1")),
        ]
        if deployment is not None:
            headers.append((b"azureml-model-deployment", deployment.encode()))
            self.metrics.record(name, deployment, status, elapsed_ms)
            if self.requests is not None:
                self.requests.add(name, deployment, request_id, method, route, status, elapsed_ms)
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": payload})

    async def _route(
        self,
        endpoint: RoutedEndpoint,
        pinned: str | None,
        route: str,
        body: bytes,
        content_type: bytes,
        request_id: str,
    ) -> tuple[str | None, int, bytes, list[tuple[bytes, bytes]] | None]:
        if pinned is not None:
            target = endpoint.deployments.get(pinned)
            if target is None:
                known = ", ".join(sorted(endpoint.deployments)) or "none"
                return (
                    None,
                    *_error(
                        404,
                        "DeploymentNotFound",
                        f"endpoint '{endpoint.name}' has no deployment named '{pinned}' "
                        f"(its deployments: {known}).",
                    ),
                    None,
                )
        else:
            choice = _weighted(endpoint.traffic)
            if choice is None or choice not in endpoint.deployments:
                return (
                    None,
                    *_error(
                        503,
                        "NoTraffic",
                        f"endpoint '{endpoint.name}' sends no traffic to any deployment; set it "
                        f"with `forgeml online-endpoint update --name {endpoint.name} --traffic "
                        '"<deployment>=100"`, or name a deployment in the azureml-model-deployment '
                        "header.",
                    ),
                    None,
                )
            target = endpoint.deployments[choice]
            if endpoint.mirror_traffic and route == "score":
                self._mirror(endpoint, body, content_type, request_id)
        method, path = ("POST", "/score") if route == "score" else ("GET", "/swagger.json")
        status, payload, upstream = await self._forward(
            endpoint.name, target, method, path, body, content_type, request_id
        )
        if self.collector is not None and route == "score" and target.data_collector:
            self.collector.add(endpoint.name, target, body, payload, status, request_id)
        return target.name, status, payload, upstream

    def _mirror(
        self, endpoint: RoutedEndpoint, body: bytes, content_type: bytes, request_id: str
    ) -> None:
        for name, percent in endpoint.mirror_traffic.items():
            shadow = endpoint.deployments.get(name)
            if shadow is None or random.uniform(0, 100) >= percent:
                continue

            async def copy(target: RoutedDeployment = shadow) -> None:
                status, _, _ = await self._forward(
                    endpoint.name, target, "POST", "/score", body, content_type, request_id
                )
                self.metrics.record(endpoint.name, target.name, status, 0.0, mirrored=True)

            task = asyncio.get_running_loop().create_task(copy())
            self.shadow_tasks.add(task)
            task.add_done_callback(self.shadow_tasks.discard)

    async def _forward(
        self,
        endpoint_name: str,
        target: RoutedDeployment,
        method: str,
        path: str,
        body: bytes,
        content_type: bytes,
        request_id: str,
    ) -> tuple[int, bytes, list[tuple[bytes, bytes]] | None]:
        timeout = target.request_timeout_ms / 1000
        deadline = time.monotonic() + timeout
        tried: set[str] = set()
        refreshed = False
        while True:
            addresses = [a for a in target.addresses if a not in tried]
            if not addresses and tried and not refreshed:
                # a blue/green switch may have just happened: look once at a fresh snapshot
                refreshed = True
                self.table.stale = True
                endpoint = (await self.table.current()).get(endpoint_name)
                newer = endpoint.deployments.get(target.name) if endpoint else None
                if newer is not None:
                    target = newer
                    continue
            if not addresses:
                return *_error(
                    503,
                    "NoReadyInstance",
                    f"deployment '{target.name}' has no ready instance"
                    + (" that answered" if tried else " yet")
                    + "; `forgeml online-deployment get-logs` and `show` tell why.",
                ), None
            address = self.pool.pick(addresses)
            tried.add(address)
            try:
                async with asyncio.timeout(max(0.001, deadline - time.monotonic())):
                    response = await self.pool.request(
                        address,
                        method,
                        path,
                        body,
                        [
                            (b"content-type", content_type),
                            (b"x-request-id", request_id.encode()),
                            (SECRET_HEADER, target.secrets.get(address, b"")),
                        ],
                    )
            except TimeoutError:
                return *_error(
                    408,
                    "RequestTimeout",
                    f"deployment '{target.name}' did not answer within its request_timeout_ms "
                    f"({target.request_timeout_ms} ms); raise request_settings.request_timeout_ms "
                    "or make scoring faster.",
                ), None
            except UpstreamError as exc:
                if exc.sent:
                    return *_error(
                        502,
                        "UpstreamError",
                        f"deployment '{target.name}' dropped the request: {exc}",
                    ), None
                continue
            status, resp_headers, payload = response
            return status, payload, resp_headers


def _authorized(endpoint: RoutedEndpoint, header: bytes) -> bool:
    scheme, _, token = header.partition(b" ")
    if scheme.lower() != b"bearer" or not token:
        return False
    given = token.strip()
    ok = False
    for key in endpoint.keys:  # every key compared, in constant time
        ok |= hmac.compare_digest(given, key)
    return ok


def _weighted(traffic: dict[str, int]) -> str | None:
    total = sum(traffic.values())
    if total <= 0:
        return None
    draw = random.uniform(0, total)
    for name, weight in traffic.items():
        draw -= weight
        if draw < 0:
            return name
    return next(iter(traffic))
