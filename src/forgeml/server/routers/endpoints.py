"""Online endpoints and their deployments: create, update, traffic, keys, logs, metrics; and
the serving workers' routes (`/api/v1/serving/instances/{id}/...`). Scoring itself is not here:
`/endpoints/<name>/score` is answered by the traffic router in front of the API."""

from __future__ import annotations

import json
import time
import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from forgeml.core.specs.endpoints import (
    AnyBatchDeployment,
    BatchEndpoint,
    ModelBatchDeployment,
    OnlineDeployment,
    OnlineEndpoint,
    PipelineComponentBatchDeployment,
)
from forgeml.schemas import Page
from forgeml.schemas.jobs import AnyJob
from forgeml.schemas.serving import (
    BatchInvoke,
    DeploymentLogs,
    DeploymentMetrics,
    EndpointKeys,
    InstanceAck,
    InstanceLogs,
    InstanceReport,
    InvokeRequest,
    InvokeResult,
    RegenerateKeys,
    TrafficUpdate,
    WorkerSpec,
)
from forgeml.server.deps import context
from forgeml.services import Context, deployments, serving
from forgeml.services import batch as batch_service
from forgeml.services import endpoints as service
from forgeml.services.endpoints import BATCH, ONLINE

router = APIRouter(prefix="/api/v1/online-endpoints", tags=["online endpoints"])
workers = APIRouter(prefix="/api/v1/serving", tags=["serving workers"])
Ctx = Annotated[Context, Depends(context)]


def _typed(*models: type[Any]) -> dict[str, Any]:
    # the service validates the body (authorization first); OpenAPI still shows its type
    refs = [{"$ref": f"#/components/schemas/{m.__name__}"} for m in models]
    schema = refs[0] if len(refs) == 1 else {"oneOf": refs}
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


@router.post("", response_model=OnlineEndpoint, openapi_extra=_typed(OnlineEndpoint))
def create_or_update(ctx: Ctx, body: Annotated[dict[str, Any], Body()]) -> Any:
    return service.create_or_update(ctx, ONLINE, body)


class Listing:
    """The query of an endpoint listing: a name filter, an order and a page."""

    def __init__(
        self,
        name_contains: Annotated[
            str | None, Query(description="only names with this in them")
        ] = None,
        order_by: Annotated[Literal["created_at", "name"], Query()] = "name",
        order: Annotated[Literal["asc", "desc"], Query()] = "asc",
        limit: Annotated[int | None, Query(ge=1, le=1000, description="all when not given")] = None,
        page_token: str | None = None,
    ) -> None:
        self.name = name_contains
        self.order_by = order_by
        self.descending = order == "desc"
        self.limit = limit
        self.page_token = page_token

    def page(self, ctx: Context, kind: str) -> dict[str, Any]:
        items, next_token = service.list_page(
            ctx,
            kind,
            name=self.name,
            order_by=self.order_by,
            descending=self.descending,
            limit=self.limit,
            page_token=self.page_token,
        )
        return {"items": items, "next_token": next_token}


@router.get("", response_model=Page[OnlineEndpoint])
def list_endpoints(ctx: Ctx, listing: Annotated[Listing, Depends()]) -> Any:
    return listing.page(ctx, ONLINE)


@router.get("/{name}", response_model=OnlineEndpoint)
def get(name: str, ctx: Ctx) -> Any:
    return service.get(ctx, ONLINE, name)


@router.patch("/{name}/traffic", response_model=OnlineEndpoint)
def update_traffic(name: str, ctx: Ctx, body: TrafficUpdate) -> Any:
    """Set the live split (`traffic`) and/or the mirrored share (`mirror_traffic`)."""
    return service.update_traffic(ctx, name, body)


@router.post("/{name}/invoke", response_model=InvokeResult)
async def invoke(name: str, ctx: Ctx, body: InvokeRequest, request: Request) -> InvokeResult:
    """Score `request` on the caller's behalf, through the same router as
    `/endpoints/<name>/score` (its split, figures and request log), so that the caller never
    holds a key. The scoring answer, errors included, is in the result."""
    key = await run_in_threadpool(service.invocation_key, ctx, name)
    headers = [
        (b"authorization", f"Bearer {key}".encode()),
        (b"content-type", b"application/json"),
        (b"x-request-id", uuid.uuid4().hex.encode()),
    ]
    if body.deployment_name:
        headers.append((b"azureml-model-deployment", body.deployment_name.encode()))
    payload = json.dumps(body.request).encode()
    scope = {
        "type": "http",
        "method": "POST",
        "path": f"/endpoints/{name}/score",
        "headers": headers,
        "query_string": b"",
    }
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        sent = True
        return {"type": "http.request", "body": payload, "more_body": False}

    answer: dict[str, Any] = {"status": 500, "headers": [], "body": b""}

    async def send(message: Any) -> None:
        if message["type"] == "http.response.start":
            answer["status"] = message["status"]
            answer["headers"] = message.get("headers", [])
        elif message["type"] == "http.response.body":
            answer["body"] += message.get("body", b"")

    started = time.perf_counter()
    await request.app.state.serving.handle(scope, receive, send)
    elapsed_ms = (time.perf_counter() - started) * 1000
    found = {k.decode("latin-1"): v.decode("latin-1") for k, v in answer["headers"]}
    text = answer["body"].decode("utf-8", errors="replace")
    try:
        parsed: Any = json.loads(text)
        text_out = None
    except ValueError:
        parsed, text_out = None, text
    return InvokeResult(
        status_code=answer["status"],
        deployment=found.get("azureml-model-deployment"),
        latency_ms=round(elapsed_ms, 3),
        request_id=found.get("x-request-id", ""),
        body=parsed,
        text=text_out,
    )


@router.delete("/{name}", status_code=202)
def delete(name: str, ctx: Ctx) -> Response:
    service.delete(ctx, ONLINE, name)
    return Response(status_code=202)


@router.post("/{name}/keys", response_model=EndpointKeys)
def keys(name: str, ctx: Ctx) -> EndpointKeys:
    """The endpoint's keys in plain text (a POST, so that no cache or access log keeps them)."""
    return service.keys(ctx, name)


@router.post("/{name}/regenerate-keys", status_code=204)
def regenerate_keys(name: str, ctx: Ctx, body: RegenerateKeys) -> Response:
    service.regenerate_keys(ctx, name, body)
    return Response(status_code=204)


@router.post(
    "/{name}/deployments", response_model=OnlineDeployment, openapi_extra=_typed(OnlineDeployment)
)
def create_or_update_deployment(
    name: str,
    ctx: Ctx,
    body: Annotated[dict[str, Any], Body()],
    all_traffic: bool = False,
) -> Any:
    """Start creating (or updating) a deployment; it is ready when `provisioning_state` is
    `Succeeded`."""
    return deployments.create_or_update(ctx, name, body, all_traffic=all_traffic)


@router.get("/{name}/deployments", response_model=Page[OnlineDeployment])
def list_deployments(name: str, ctx: Ctx) -> Any:
    return Page[OnlineDeployment](items=deployments.list_all(ctx, name))


@router.get("/{name}/deployments/{deployment}", response_model=OnlineDeployment)
def get_deployment(name: str, deployment: str, ctx: Ctx) -> Any:
    return deployments.get(ctx, name, deployment)


@router.delete("/{name}/deployments/{deployment}", status_code=202)
def delete_deployment(name: str, deployment: str, ctx: Ctx) -> Response:
    deployments.delete(ctx, name, deployment)
    return Response(status_code=202)


@router.get("/{name}/deployments/{deployment}/logs", response_model=DeploymentLogs)
def deployment_logs(
    name: str, deployment: str, ctx: Ctx, lines: Annotated[int, Query(ge=1, le=10_000)] = 100
) -> DeploymentLogs:
    return deployments.logs(ctx, name, deployment, lines=lines)


@router.get("/{name}/deployments/{deployment}/metrics", response_model=DeploymentMetrics)
def deployment_metrics(name: str, deployment: str, ctx: Ctx, request: Request) -> DeploymentMetrics:
    """Requests, errors and latency percentiles of the requests this server routed."""
    deployments.get(ctx, name, deployment)
    return request.app.state.serving.metrics.summary(name, deployment)  # type: ignore[no-any-return]


@workers.get("/instances/{instance}/spec", response_model=WorkerSpec)
def worker_spec(instance: str, ctx: Ctx) -> WorkerSpec:
    return serving.worker_spec(ctx, instance)


@workers.post("/instances/{instance}/state", response_model=InstanceAck)
def worker_state(instance: str, ctx: Ctx, body: InstanceReport) -> InstanceAck:
    return serving.report(ctx, instance, body)


@workers.post("/instances/{instance}/logs", status_code=204)
def worker_logs(instance: str, ctx: Ctx, body: InstanceLogs) -> Response:
    serving.worker_logs(ctx, instance, body.text)
    return Response(status_code=204)


batch = APIRouter(prefix="/api/v1/batch-endpoints", tags=["batch endpoints"])


@batch.post("", response_model=BatchEndpoint, openapi_extra=_typed(BatchEndpoint))
def create_or_update_batch(ctx: Ctx, body: Annotated[dict[str, Any], Body()]) -> Any:
    return service.create_or_update(ctx, BATCH, body)


@batch.get("", response_model=Page[BatchEndpoint])
def list_batch(ctx: Ctx, listing: Annotated[Listing, Depends()]) -> Any:
    return listing.page(ctx, BATCH)


@batch.get("/{name}", response_model=BatchEndpoint)
def get_batch(name: str, ctx: Ctx) -> Any:
    return service.get(ctx, BATCH, name)


@batch.delete("/{name}", status_code=204)
def delete_batch(name: str, ctx: Ctx) -> Response:
    service.delete(ctx, BATCH, name)
    return Response(status_code=204)


@batch.post(
    "/{name}/deployments",
    response_model=AnyBatchDeployment,
    openapi_extra=_typed(ModelBatchDeployment, PipelineComponentBatchDeployment),
)
def create_or_update_batch_deployment(
    name: str, ctx: Ctx, body: Annotated[dict[str, Any], Body()]
) -> Any:
    return batch_service.create_or_update(ctx, name, body)


@batch.get("/{name}/deployments", response_model=Page[AnyBatchDeployment])
def list_batch_deployments(name: str, ctx: Ctx) -> Any:
    return {"items": batch_service.list_all(ctx, name)}


@batch.get("/{name}/deployments/{deployment}", response_model=AnyBatchDeployment)
def get_batch_deployment(name: str, deployment: str, ctx: Ctx) -> Any:
    return batch_service.get(ctx, name, deployment)


@batch.delete("/{name}/deployments/{deployment}", status_code=204)
def delete_batch_deployment(name: str, deployment: str, ctx: Ctx) -> Response:
    batch_service.delete(ctx, name, deployment)
    return Response(status_code=204)


@batch.post("/{name}/jobs", response_model=AnyJob)
def invoke_batch(name: str, ctx: Ctx, body: BatchInvoke) -> Any:
    """Start a scoring job on the endpoint's default (or the named) deployment."""
    return batch_service.invoke(ctx, name, body)


@batch.get("/{name}/jobs", response_model=Page[AnyJob])
def list_batch_jobs(name: str, ctx: Ctx) -> Any:
    return batch_service.list_jobs(ctx, name)
