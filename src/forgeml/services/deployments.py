"""Online deployments: what serves behind an endpoint.

Creating or updating a deployment resolves its model, code and environment once, stores them
with a new `generation`, and leaves the rest to the serving controller: it starts the
generation's instances and, once all of them are ready, switches the router over to them
(`serving_generation`) and stops the previous ones, so an update never drops a request. An MLflow
model with no scoring script gets an environment made from the model's own `conda.yaml`.
"""

from __future__ import annotations

from typing import Any

from ruamel.yaml import YAML

from forgeml.core.content import CONTENT_PREFIX, parse_content_uri
from forgeml.core.errors import ConflictError, NotFoundError, SpecError
from forgeml.core.refs import is_reference
from forgeml.core.specs import CreationContext, Environment, Model, validate_spec
from forgeml.core.specs.endpoints import OnlineDeployment
from forgeml.core.specs.job import environment_key, strip_azureml
from forgeml.schemas.serving import DeploymentLogs
from forgeml.services import assets, computes
from forgeml.services.authz import authorize
from forgeml.services.content import check_content_uri, get_manifest, open_file
from forgeml.services.context import Context
from forgeml.services.endpoints import ONLINE, SERVING_TOPIC, record
from forgeml.services.jobs import code_for, environment_for
from forgeml.store.repositories import DeploymentRecord, EndpointRepository

ACTIVE = ("starting", "ready")


def to_view(
    rec: DeploymentRecord, instances: list[dict[str, Any]] | None = None
) -> OnlineDeployment:
    entity = OnlineDeployment.model_validate(
        {**rec.spec, "name": rec.name, "endpoint_name": rec.endpoint}
    )
    entity.provisioning_state = rec.state
    entity.status_message = rec.message
    entity.instances = instances
    entity.creation_context = CreationContext(
        created_at=rec.created_at, created_by=rec.created_by, last_modified_at=rec.updated_at
    )
    return entity


def model_of(ctx: Context, value: str | Model | None) -> dict[str, Any] | None:
    """The model to serve: its URI, type and (for an asset) name and version."""
    if value is None:
        return None
    if isinstance(value, str):
        if not is_reference(value):
            raise SpecError(
                f"'{value}' is not a model reference; write azureml:<name>:<version>, "
                "azureml:<name>@latest, or an inline model with 'path' and 'type'.",
                field="model",
            )
        try:
            found = assets.resolve(ctx, "models", value)
        except NotFoundError as exc:
            raise SpecError(exc.message, field="model") from None
        assert isinstance(found, Model)
        return {"uri": found.path, "type": found.type, "name": found.name, "version": found.version}
    if not value.path.startswith(CONTENT_PREFIX) and "://" not in value.path:
        raise SpecError(
            f"'{value.path}' is a local path, which the server cannot read; create the deployment "
            "with the forgeml CLI or SDK, which upload local files first.",
            field="model.path",
        )
    if value.path.startswith(CONTENT_PREFIX):
        check_content_uri(ctx, value.path, kind="any", field="model.path")
    return {"uri": value.path, "type": value.type, "name": value.name, "version": value.version}


def mlflow_environment(ctx: Context, model_uri: str, name: str) -> Environment:
    """The environment an MLflow model asks for in its `conda.yaml` (Azure ML's no-code path)."""
    if not model_uri.startswith(CONTENT_PREFIX):
        raise SpecError(
            "an MLflow model outside the workspace needs an 'environment' to deploy.",
            field="environment",
        )
    digest, sub = parse_content_uri(model_uri)
    prefix = f"{sub.rstrip('/')}/" if sub else ""
    paths = {e.path for e in get_manifest(ctx, digest).entries}
    found = sorted(
        p
        for p in paths
        if p.startswith(prefix) and p.endswith("MLmodel") and p[len(prefix) :].count("/") <= 1
    )
    if not found:
        raise SpecError(
            f"the model at {model_uri} has no MLmodel file, so it is not an MLflow model; give "
            "the deployment a code_configuration (scoring script) and an environment.",
            field="model",
        )
    folder = found[0][: -len("MLmodel")]
    conda_path = f"{folder}conda.yaml"
    if conda_path not in paths:
        raise SpecError(
            f"the MLflow model at {model_uri} has no conda.yaml to build its environment from; "
            "give the deployment an 'environment'.",
            field="environment",
        )
    stream, _size = open_file(ctx, digest, conda_path)
    with stream:
        conda = YAML(typ="safe").load(stream.read().decode())
    if not isinstance(conda, dict):
        raise SpecError(
            f"{conda_path} in the model is not a conda environment file.", field="model"
        )
    return Environment(name=f"{name}-mlflow", image="python:3.11", conda_file=conda)


def _resolve(ctx: Context, dep: OnlineDeployment, endpoint_spec: dict[str, Any]) -> dict[str, Any]:
    model = model_of(ctx, dep.model)
    code = scoring_script = None
    if dep.code_configuration is not None:
        code = code_for(ctx, dep.code_configuration.code, field="code_configuration.code")
        scoring_script = dep.code_configuration.scoring_script
    elif model is None or model["type"] != "mlflow_model":
        raise SpecError(
            "only an MLflow model (type: mlflow_model) deploys without a scoring script; give "
            "the deployment a code_configuration with 'code' and 'scoring_script'.",
            field="code_configuration",
        )
    if dep.environment is not None:
        stored, env = environment_for(ctx, dep.environment, field="environment")
    else:
        assert model is not None
        env = mlflow_environment(ctx, model["uri"], f"{dep.endpoint_name}-{dep.name}")
        stored = env.to_wire()
    compute = strip_azureml(endpoint_spec.get("compute")) or "local"
    try:
        computes.get(ctx, compute)
    except NotFoundError as exc:
        raise SpecError(exc.message, field="compute") from None
    return {
        "model": model,
        "code": code,
        "scoring_script": scoring_script,
        "environment": stored,
        "environment_resolved": env.to_wire(),
        "environment_key": environment_key(env),
        "environment_variables": dict(dep.environment_variables),
        "instance_count": dep.instance_count,
        "compute": compute,
        "request_settings": dep.request_settings.model_dump(mode="json"),
        "readiness_probe": dep.readiness_probe.model_dump(mode="json"),
        "liveness_probe": dep.liveness_probe.model_dump(mode="json"),
        "data_collector": (
            dep.data_collector.model_dump(mode="json") if dep.data_collector else None
        ),
    }


def create_or_update(
    ctx: Context, endpoint: str, body: dict[str, Any], *, all_traffic: bool = False
) -> OnlineDeployment:
    body = {**body, "endpoint_name": body.get("endpoint_name") or endpoint}
    authorize(ctx, "endpoints.write", endpoint)
    dep = validate_spec(OnlineDeployment, body)
    if not dep.name:
        raise SpecError("a deployment needs a 'name'.", field="name")
    if dep.endpoint_name != endpoint:
        raise SpecError(
            f"the document names endpoint '{dep.endpoint_name}', but it was sent to endpoint "
            f"'{endpoint}'.",
            field="endpoint_name",
        )
    ep = record(ctx, endpoint, ONLINE)
    if ep.state == "Deleting":
        raise ConflictError(f"endpoint '{endpoint}' is being deleted.")
    resolved = _resolve(ctx, dep, ep.spec)
    # as Azure ML does: all traffic moves once the deployment is ready, never to one that is not
    resolved["all_traffic"] = all_traffic
    spec = dep.to_wire()
    spec.pop("name", None)
    with ctx.db.write() as session:
        repo = EndpointRepository(session)
        current = repo.deployment(endpoint, dep.name, lock=True)
        if current is not None and current.state == "Deleting":
            raise ConflictError(f"deployment '{dep.name}' is being deleted; wait, then create it.")
        if current is not None and current.serving_generation is not None:
            # the generation that serves now keeps serving (and restarting) until the new one
            # is ready: its spec stays beside the new one
            serving_spec = (
                current.resolved
                if current.serving_generation == current.generation
                else (current.resolved.get("previous") or {})
            )
            if serving_spec:
                resolved["previous"] = {
                    **{
                        k: v
                        for k, v in serving_spec.items()
                        if k not in ("previous", "all_traffic")
                    },
                    "generation": current.serving_generation,
                }
        saved = repo.put_deployment(
            endpoint,
            dep.name,
            kind=ONLINE,
            spec=spec,
            resolved=resolved,
            state="Creating" if current is None else "Updating",
            created_by=ctx.principal.name,
        )
    ctx.workspace.notify(SERVING_TOPIC)
    return to_view(saved)


def _instances(repo: EndpointRepository, endpoint: str, name: str) -> list[dict[str, Any]]:
    return [
        {"id": i.id, "state": i.state, "generation": i.generation, "message": i.message}
        for i in repo.instances(endpoint, name)
    ]


def get(ctx: Context, endpoint: str, name: str) -> OnlineDeployment:
    authorize(ctx, "endpoints.read", endpoint)
    record(ctx, endpoint, ONLINE)
    with ctx.db.read() as session:
        repo = EndpointRepository(session)
        found = repo.deployment(endpoint, name)
        if found is None:
            raise NotFoundError(
                f"endpoint '{endpoint}' has no deployment named '{name}'; "
                f"`forgeml online-deployment list --endpoint-name {endpoint}` shows them."
            )
        return to_view(found, _instances(repo, endpoint, name))


def list_all(ctx: Context, endpoint: str) -> list[OnlineDeployment]:
    authorize(ctx, "endpoints.read", endpoint)
    record(ctx, endpoint, ONLINE)
    with ctx.db.read() as session:
        repo = EndpointRepository(session)
        return [to_view(d, _instances(repo, endpoint, d.name)) for d in repo.deployments(endpoint)]


def delete(ctx: Context, endpoint: str, name: str) -> None:
    authorize(ctx, "endpoints.write", endpoint)
    with ctx.db.write() as session:
        repo = EndpointRepository(session)
        ep = repo.get(endpoint, lock=True)
        found = repo.deployment(endpoint, name)
        if ep is None or found is None:
            raise NotFoundError(f"endpoint '{endpoint}' has no deployment named '{name}'.")
        if ep.traffic.get(name) or ep.mirror_traffic.get(name):
            raise ConflictError(
                f"deployment '{name}' still takes traffic on endpoint '{endpoint}'; set its "
                f"traffic to 0 first (`forgeml online-endpoint update --name {endpoint} "
                '--traffic "..."`).'
            )
        repo.update_deployment(endpoint, name, state="Deleting")
    ctx.workspace.notify(SERVING_TOPIC)


def logs(ctx: Context, endpoint: str, name: str, *, lines: int = 100) -> DeploymentLogs:
    authorize(ctx, "endpoints.read", endpoint)
    with ctx.db.read() as session:
        repo = EndpointRepository(session)
        if repo.deployment(endpoint, name) is None:
            raise NotFoundError(f"endpoint '{endpoint}' has no deployment named '{name}'.")
        chunks = repo.logs(endpoint, name, limit=max(1, min(lines, 10_000)))
    text = "".join(t if t.endswith("\n") else t + "\n" for _, t in chunks)
    return DeploymentLogs(endpoint=endpoint, deployment=name, text=text)
