"""The serving runtime's use cases: what the controller reconciles, what a serving worker asks
for and reports, and the routing snapshot the traffic router serves from.

Workers speak only HTTP to the workspace (they may run on another machine); the controller and
the router run inside a server process and call these functions directly.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from forgeml.core.errors import ForgemlError, NotFoundError
from forgeml.core.specs import Environment
from forgeml.schemas.serving import InstanceAck, InstanceReport, WorkerSpec
from forgeml.services.authz import authorize
from forgeml.services.context import Context
from forgeml.services.endpoints import ONLINE
from forgeml.store.repositories import (
    DeploymentRecord,
    EndpointRecord,
    EndpointRepository,
    InstanceRecord,
)
from forgeml.store.repositories.common import utcnow

log = logging.getLogger("forgeml.serving")


@dataclass(frozen=True)
class ServingState:
    endpoints: dict[str, EndpointRecord]
    deployments: list[DeploymentRecord]
    instances: list[InstanceRecord]


def state(ctx: Context) -> ServingState:
    """Every online endpoint, deployment and instance, read in one transaction."""
    with ctx.db.read() as session:
        repo = EndpointRepository(session)
        return ServingState(
            endpoints={e.name: e for e in repo.endpoints(ONLINE)},
            deployments=repo.deployments(kind=ONLINE),
            instances=repo.instances(),
        )


def add_instance(
    ctx: Context, dep: DeploymentRecord, instance: str, handle: dict[str, Any], generation: int
) -> InstanceRecord:
    with ctx.db.write() as session:
        return EndpointRepository(session).add_instance(
            instance, dep.endpoint, dep.name, generation, handle
        )


def resolved_for(dep: DeploymentRecord, generation: int) -> dict[str, Any] | None:
    """What generation `generation` of the deployment serves: the current one's resolved
    spec, or (during an update, or after a failed one) the previous generation's."""
    if generation == dep.generation:
        return dep.resolved
    previous = dep.resolved.get("previous")
    if isinstance(previous, dict) and previous.get("generation") == generation:
        return previous
    return None


def set_instance(ctx: Context, instance: str, **fields: Any) -> None:
    with ctx.db.write() as session:
        EndpointRepository(session).update_instance(instance, **fields)


def remove_instance(ctx: Context, instance: str) -> None:
    with ctx.db.write() as session:
        EndpointRepository(session).delete_instance(instance)


def succeed(ctx: Context, dep: DeploymentRecord) -> None:
    """The deployment's generation serves from now on; with `--all-traffic`, all of the
    endpoint's traffic moves to it in the same transaction."""
    with ctx.db.write() as session:
        repo = EndpointRepository(session)
        current = repo.deployment(dep.endpoint, dep.name, lock=True)
        if current is None or current.generation != dep.generation:
            return  # updated meanwhile: the next pass looks at the new generation
        resolved = dict(current.resolved)
        if resolved.pop("all_traffic", False):
            ep = repo.get(dep.endpoint, lock=True)
            if ep is not None:
                mirror = {k: v for k, v in ep.mirror_traffic.items() if k != dep.name}
                repo.update(dep.endpoint, traffic={dep.name: 100}, mirror_traffic=mirror)
        repo.update_deployment(
            dep.endpoint,
            dep.name,
            state="Succeeded",
            message=None,
            serving_generation=dep.generation,
            resolved=resolved,
        )


def fail(ctx: Context, dep: DeploymentRecord, message: str) -> None:
    """The deployment's new generation will not serve (an update's previous one goes on)."""
    with ctx.db.write() as session:
        repo = EndpointRepository(session)
        current = repo.deployment(dep.endpoint, dep.name, lock=True)
        if current is None or current.generation != dep.generation:
            return
        resolved = {k: v for k, v in current.resolved.items() if k != "all_traffic"}
        repo.update_deployment(
            dep.endpoint, dep.name, state="Failed", message=message, resolved=resolved
        )


def forget_deployment(ctx: Context, endpoint: str, name: str) -> None:
    with ctx.db.write() as session:
        EndpointRepository(session).delete_deployment(endpoint, name)


def forget_endpoint(ctx: Context, endpoint: str) -> None:
    with ctx.db.write() as session:
        EndpointRepository(session).delete(endpoint)


def append_logs(ctx: Context, lines: Sequence[tuple[str, str, str | None, str]]) -> None:
    if lines:
        with ctx.db.write() as session:
            EndpointRepository(session).append_logs(lines)


# ------------------------------------------------------------------------------ workers


def _instance(ctx: Context, instance: str) -> InstanceRecord:
    with ctx.db.read() as session:
        found = EndpointRepository(session).instance(instance)
    if found is None:
        raise NotFoundError(f"no serving instance '{instance}' exists (it was stopped).")
    return found


def worker_spec(ctx: Context, instance: str) -> WorkerSpec:
    authorize(ctx, "serving.run", instance)
    inst = _instance(ctx, instance)
    with ctx.db.read() as session:
        dep = EndpointRepository(session).deployment(inst.endpoint, inst.deployment)
    if dep is None:
        raise NotFoundError(f"the deployment of serving instance '{instance}' was deleted.")
    r = resolved_for(dep, inst.generation)
    if r is None:
        raise NotFoundError(
            f"serving instance '{instance}' belongs to generation {inst.generation} of its "
            "deployment, which was replaced."
        )
    model = r.get("model") or {}
    return WorkerSpec(
        instance=instance,
        endpoint=dep.endpoint,
        deployment=dep.name,
        generation=inst.generation,
        model_uri=model.get("uri"),
        model_type=model.get("type"),
        code_uri=r.get("code"),
        scoring_script=r.get("scoring_script"),
        environment=Environment.model_validate(r["environment_resolved"]),
        environment_key=r["environment_key"],
        environment_variables=dict(r.get("environment_variables") or {}),
        max_concurrent_requests=int(
            (r.get("request_settings") or {}).get("max_concurrent_requests_per_instance", 1)
        ),
        max_queue_wait_ms=(r.get("request_settings") or {}).get("max_queue_wait_ms"),
        request_timeout_ms=int((r.get("request_settings") or {}).get("request_timeout_ms", 5000)),
        readiness_probe=dict(r.get("readiness_probe") or {}),
        liveness_probe=dict(r.get("liveness_probe") or {}),
    )


def report(ctx: Context, instance: str, body: InstanceReport) -> InstanceAck:
    """A worker's state (also its heartbeat); the answer says whether it is still wanted."""
    authorize(ctx, "serving.run", instance)
    with ctx.db.write() as session:
        repo = EndpointRepository(session)
        found = repo.instance(instance)
        if found is None or found.state in ("stopping", "stopped"):
            return InstanceAck(stop=True)
        fields: dict[str, Any] = {"heartbeat_at": utcnow()}
        if body.state != found.state:
            fields["state"] = body.state
        if body.address:
            fields["address"] = body.address
        if body.secret:
            fields["secret"] = ctx.workspace.secrets.encrypt(body.secret)
        if body.message:
            fields["message"] = body.message
        repo.update_instance(instance, **fields)
    if body.state != found.state:
        ctx.workspace.notify("serving")
    return InstanceAck(stop=False)


def worker_logs(ctx: Context, instance: str, text: str) -> None:
    authorize(ctx, "serving.run", instance)
    inst = _instance(ctx, instance)
    append_logs(ctx, [(inst.endpoint, inst.deployment, instance, text)])


# ------------------------------------------------------------------------------ routing


@dataclass
class RoutedDeployment:
    name: str
    addresses: list[str]
    request_timeout_ms: int
    data_collector: dict[str, Any] | None
    #: address -> the secret its scoring host wants to see
    secrets: dict[str, bytes] = field(default_factory=dict, repr=False)


@dataclass
class RoutedEndpoint:
    name: str
    #: the plain keys, as bytes (never in a repr, so never in a log or a traceback)
    keys: tuple[bytes, ...] = field(repr=False)
    traffic: dict[str, int]
    mirror_traffic: dict[str, int]
    deployments: dict[str, RoutedDeployment] = field(default_factory=dict)


def routing(ctx: Context) -> dict[str, RoutedEndpoint]:
    """What the router needs: each live endpoint's plain keys, its split, and the addresses of
    the ready instances of each deployment's serving generation."""
    current = state(ctx)
    box = ctx.workspace.secrets
    out: dict[str, RoutedEndpoint] = {}
    for ep in current.endpoints.values():
        if ep.state == "Deleting":
            continue
        try:
            keys = tuple(box.decrypt(v).encode() for v in ep.keys.values())
        except ForgemlError:
            # one endpoint whose keys this server cannot read does not take the others down
            log.exception("the keys of endpoint '%s' cannot be decrypted", ep.name)
            continue
        out[ep.name] = RoutedEndpoint(
            name=ep.name,
            keys=keys,
            traffic=dict(ep.traffic),
            mirror_traffic=dict(ep.mirror_traffic),
        )
    for dep in current.deployments:
        routed = out.get(dep.endpoint)
        if routed is None or dep.state == "Deleting":
            continue
        ready = [
            i
            for i in current.instances
            if i.endpoint == dep.endpoint
            and i.deployment == dep.name
            and i.generation == dep.serving_generation
            and i.state == "ready"
            and i.address
        ]
        spec = resolved_for(dep, dep.serving_generation or dep.generation) or dep.resolved
        settings = spec.get("request_settings") or {}
        secrets: dict[str, bytes] = {}
        for inst in ready:
            if inst.secret and inst.address:
                with contextlib.suppress(ForgemlError):
                    secrets[inst.address] = box.decrypt(inst.secret).encode()
        routed.deployments[dep.name] = RoutedDeployment(
            name=dep.name,
            addresses=[i.address for i in ready if i.address],
            request_timeout_ms=int(settings.get("request_timeout_ms", 5000)),
            data_collector=spec.get("data_collector"),
            secrets=secrets,
        )
    return out
