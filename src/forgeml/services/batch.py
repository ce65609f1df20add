"""Batch deployments and invocations.

A model deployment is stored resolved (model, code, environment, compute, settings) and runs
nothing until it is invoked: each invocation is a command job that runs the batch driver
(`python -m forgeml_scoring.batch`) in the deployment's environment on its compute, over the
input folder, with the model as an input and the predictions as the job's `score` output — so
it is followed, cancelled and downloaded like any job. A pipeline component deployment runs its
component as a pipeline job with the invocation's inputs.
"""

from __future__ import annotations

import shlex
from typing import Any

from forgeml.core.content import CONTENT_PREFIX, parse_content_uri
from forgeml.core.errors import ConflictError, NotFoundError, SpecError
from forgeml.core.refs import is_reference
from forgeml.core.specs import CreationContext, validate_spec
from forgeml.core.specs.endpoints import (
    ModelBatchDeployment,
    PipelineComponentBatchDeployment,
    batch_deployment_model,
)
from forgeml.core.specs.job import strip_azureml
from forgeml.core.specs.pipeline import PipelineComponent
from forgeml.schemas import Page
from forgeml.schemas.serving import BatchInvoke
from forgeml.services import assets, computes, jobs
from forgeml.services.authz import authorize
from forgeml.services.context import Context
from forgeml.services.deployments import mlflow_environment, model_of
from forgeml.services.endpoints import BATCH, record
from forgeml.services.jobs import AnyJobView
from forgeml.store.repositories import DeploymentRecord, EndpointRepository

BatchDeployment = ModelBatchDeployment | PipelineComponentBatchDeployment
BATCH_TAG = "azureml.batchrun"


def to_view(rec: DeploymentRecord) -> BatchDeployment:
    data = {**rec.spec, "name": rec.name, "endpoint_name": rec.endpoint}
    entity = batch_deployment_model(data).model_validate(data)
    entity.provisioning_state = rec.state
    entity.creation_context = CreationContext(
        created_at=rec.created_at, created_by=rec.created_by, last_modified_at=rec.updated_at
    )
    return entity


def _compute(ctx: Context, value: str | None) -> str:
    name = strip_azureml(value) or "local"
    try:
        computes.get(ctx, name)
    except NotFoundError as exc:
        raise SpecError(exc.message, field="compute") from None
    return str(name)


def _resolve_model(ctx: Context, dep: ModelBatchDeployment) -> dict[str, Any]:
    model = model_of(ctx, dep.model)
    assert model is not None
    code = script = None
    if dep.code_configuration is not None:
        code = jobs.code_for(ctx, dep.code_configuration.code, field="code_configuration.code")
        script = dep.code_configuration.scoring_script
    elif model["type"] != "mlflow_model":
        raise SpecError(
            "only an MLflow model (type: mlflow_model) scores without a scoring script; give the "
            "deployment a code_configuration with 'code' and 'scoring_script'.",
            field="code_configuration",
        )
    if dep.environment is not None:
        stored, _env = jobs.environment_for(ctx, dep.environment, field="environment")
    else:
        stored = mlflow_environment(ctx, model["uri"], f"{dep.endpoint_name}-{dep.name}").to_wire()
    return {
        "model": model,
        "code": code,
        "scoring_script": script,
        "environment": stored,
        "compute": _compute(ctx, dep.compute),
        "settings": dep.settings.model_dump(mode="json"),
        "environment_variables": {
            **dep.environment_variables,
            **dep.settings.environment_variables,
        },
    }


def _resolve_pipeline(ctx: Context, dep: PipelineComponentBatchDeployment) -> dict[str, Any]:
    if dep.component is not None:
        if isinstance(dep.component, str):
            if not is_reference(dep.component):
                raise SpecError(
                    f"'{dep.component}' is not a component reference; register the pipeline "
                    "component and write azureml:<name>:<version>, or write it inline.",
                    field="component",
                )
            try:
                found = assets.resolve(ctx, "components", dep.component)
            except NotFoundError as exc:
                raise SpecError(exc.message, field="component") from None
            if not isinstance(found, PipelineComponent):
                raise SpecError(
                    f"'{dep.component}' is a {getattr(found, 'type', 'command')} component; a "
                    "pipeline deployment needs a pipeline component (type: pipeline).",
                    field="component",
                )
            component: dict[str, Any] = found.to_wire()
        else:
            component = validate_spec(PipelineComponent, dep.component).to_wire()
        return {"component": component, "settings": dep.settings}
    assert dep.job_definition is not None
    ref = dep.job_definition
    if not isinstance(ref, str):
        return {"job_definition": ref, "settings": dep.settings}
    job = jobs.document(ctx, str(strip_azureml(ref)))
    if job.get("type") != "pipeline":
        raise SpecError(
            f"job '{ref}' is a {job.get('type')} job, not a pipeline job.", field="job_definition"
        )
    return {"job_definition": job, "settings": dep.settings}


def create_or_update(ctx: Context, endpoint: str, body: dict[str, Any]) -> BatchDeployment:
    body = {**body, "endpoint_name": body.get("endpoint_name") or endpoint}
    authorize(ctx, "endpoints.write", endpoint)
    dep = validate_spec(batch_deployment_model(body), body)
    if not dep.name:
        raise SpecError("a deployment needs a 'name'.", field="name")
    if dep.endpoint_name != endpoint:
        raise SpecError(
            f"the document names endpoint '{dep.endpoint_name}', but it was sent to endpoint "
            f"'{endpoint}'.",
            field="endpoint_name",
        )
    record(ctx, endpoint, BATCH)
    if isinstance(dep, ModelBatchDeployment):
        resolved = _resolve_model(ctx, dep)
    else:
        resolved = _resolve_pipeline(ctx, dep)
    spec = dep.to_wire()
    spec.pop("name", None)
    with ctx.db.write() as session:
        repo = EndpointRepository(session)
        saved = repo.put_deployment(
            endpoint,
            dep.name,
            kind=BATCH,
            spec=spec,
            resolved=resolved,
            state="Succeeded",
            created_by=ctx.principal.name,
        )
        ep = repo.get(endpoint, lock=True)
        assert ep is not None
        if not (ep.spec.get("defaults") or {}).get("deployment_name"):
            # the first deployment becomes the default, as Azure ML does
            defaults = {**(ep.spec.get("defaults") or {}), "deployment_name": dep.name}
            repo.update(endpoint, spec={**ep.spec, "defaults": defaults})
    return to_view(saved)


def get(ctx: Context, endpoint: str, name: str) -> BatchDeployment:
    authorize(ctx, "endpoints.read", endpoint)
    record(ctx, endpoint, BATCH)
    with ctx.db.read() as session:
        found = EndpointRepository(session).deployment(endpoint, name)
    if found is None:
        raise NotFoundError(
            f"batch endpoint '{endpoint}' has no deployment named '{name}'; "
            f"`forgeml batch-deployment list --endpoint-name {endpoint}` shows them."
        )
    return to_view(found)


def list_all(ctx: Context, endpoint: str) -> list[BatchDeployment]:
    authorize(ctx, "endpoints.read", endpoint)
    record(ctx, endpoint, BATCH)
    with ctx.db.read() as session:
        return [to_view(d) for d in EndpointRepository(session).deployments(endpoint)]


def delete(ctx: Context, endpoint: str, name: str) -> None:
    authorize(ctx, "endpoints.write", endpoint)
    with ctx.db.write() as session:
        repo = EndpointRepository(session)
        ep = repo.get(endpoint, lock=True)
        if ep is None or ep.kind != BATCH or repo.deployment(endpoint, name) is None:
            raise NotFoundError(f"batch endpoint '{endpoint}' has no deployment named '{name}'.")
        if (ep.spec.get("defaults") or {}).get("deployment_name") == name and len(
            repo.deployments(endpoint)
        ) > 1:
            raise ConflictError(
                f"'{name}' is the default deployment of batch endpoint '{endpoint}'; make another "
                "deployment the default first."
            )
        repo.delete_deployment(endpoint, name)
        if (ep.spec.get("defaults") or {}).get("deployment_name") == name:
            repo.update(endpoint, spec={**ep.spec, "defaults": {}})


# ------------------------------------------------------------------------------- invoke


def _model_input(model: dict[str, Any]) -> dict[str, Any]:
    uri = str(model["uri"])
    if uri.startswith(CONTENT_PREFIX):
        digest, sub = parse_content_uri(uri)
        if sub:
            # the model's own folder (or file) name stays under AZUREML_MODEL_DIR
            uri = f"{CONTENT_PREFIX}{digest}"
    return {"type": "uri_folder", "path": uri}


def _driver_command(resolved: dict[str, Any]) -> str:
    s = resolved["settings"]
    retry = s.get("retry_settings") or {}
    args = [
        "python",
        "-m",
        "forgeml_scoring.batch",
        "--mini-batch-size",
        str(s["mini_batch_size"]),
        "--output-action",
        str(s["output_action"]),
        "--output-file-name",
        str(s["output_file_name"]),
        "--max-retries",
        str(retry.get("max_retries", 3)),
        "--timeout",
        str(retry.get("timeout", 30)),
        "--error-threshold",
        str(s["error_threshold"]),
        "--max-concurrency",
        str(s["max_concurrency_per_instance"]),
        "--logging-level",
        str(s["logging_level"]),
    ]
    if resolved.get("scoring_script"):
        args += ["--entry-script", str(resolved["scoring_script"])]
    line = shlex.join(args)
    return (
        f"{line} --input ${{{{inputs.data}}}} --output ${{{{outputs.score}}}} "
        "--model-dir ${{inputs.model}}"
    )


def _default(ctx: Context, endpoint: str, wanted: str | None) -> DeploymentRecord:
    ep = record(ctx, endpoint, BATCH)
    name = wanted or (ep.spec.get("defaults") or {}).get("deployment_name")
    if not name:
        raise SpecError(
            f"batch endpoint '{endpoint}' has no default deployment; name one with "
            "--deployment-name, or create a deployment first.",
            field="deployment_name",
        )
    with ctx.db.read() as session:
        dep = EndpointRepository(session).deployment(endpoint, name)
    if dep is None:
        raise SpecError(
            f"batch endpoint '{endpoint}' has no deployment named '{name}'.",
            field="deployment_name",
        )
    return dep


def invoke(ctx: Context, endpoint: str, body: BatchInvoke) -> AnyJobView:
    authorize(ctx, "jobs.write", endpoint)
    dep = _default(ctx, endpoint, body.deployment_name)
    r = dep.resolved
    tags = {BATCH_TAG: "true", "endpoint": endpoint, "deployment": dep.name}
    doc: dict[str, Any]
    if "model" in r:
        if body.input is None:
            raise SpecError(
                "a model batch deployment scores one 'input' (a folder, file or data asset).",
                field="input",
            )
        doc = {
            "type": "command",
            "display_name": f"{endpoint}-{dep.name}",
            "command": _driver_command(r),
            "environment": r["environment"],
            "environment_variables": r.get("environment_variables") or {},
            "compute": r["compute"],
            "inputs": {"data": body.input, "model": _model_input(r["model"])},
            "outputs": {"score": body.outputs.get("score") or {"type": "uri_folder"}},
        }
        if r.get("code"):
            doc["code"] = r["code"]
    else:
        inputs = dict(body.inputs)
        if body.input is not None:
            inputs.setdefault("input_data", body.input)
        if "component" in r:
            component = r["component"]
            step: dict[str, Any] = {
                "type": "pipeline",
                "component": component,
                "inputs": {k: f"${{{{parent.inputs.{k}}}}}" for k in inputs},
                "outputs": {
                    k: f"${{{{parent.outputs.{k}}}}}" for k in component.get("outputs") or {}
                },
            }
            outputs = {
                k: body.outputs.get(k) or {"type": (port or {}).get("type", "uri_folder")}
                for k, port in (component.get("outputs") or {}).items()
            }
            doc = {
                "type": "pipeline",
                "display_name": f"{endpoint}-{dep.name}",
                "inputs": inputs,
                "outputs": {**body.outputs, **outputs},
                "settings": r.get("settings") or {},
                "jobs": {dep.name.replace("-", "_"): step},
            }
        else:
            doc = dict(r["job_definition"])
            for key in ("name", "creation_context", "status"):
                doc.pop(key, None)
            doc["inputs"] = {**(doc.get("inputs") or {}), **inputs}
            doc["settings"] = {**(doc.get("settings") or {}), **(r.get("settings") or {})}
    doc["experiment_name"] = body.experiment_name or endpoint
    doc["tags"] = tags
    if body.job_name:
        doc["name"] = body.job_name
    return jobs.submit(ctx, doc)


def list_jobs(ctx: Context, endpoint: str) -> Page[AnyJobView]:
    authorize(ctx, "endpoints.read", endpoint)
    record(ctx, endpoint, BATCH)
    return jobs.list_jobs(ctx, tags=[f"endpoint={endpoint}", BATCH_TAG])
