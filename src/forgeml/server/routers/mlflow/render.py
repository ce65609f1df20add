"""forgeml's tracking entities as MLflow's JSON (protobuf JSON mapping, snake_case names).

Unset optional fields are left out, doubles that JSON cannot hold travel as "NaN" / "Infinity",
and run info carries both `run_id` and the legacy `run_uuid`.
"""

from __future__ import annotations

import math
from typing import Any

from forgeml.core.tracking import (
    DatasetInput,
    Experiment,
    LoggedModel,
    Metric,
    ModelVersion,
    RegisteredModel,
    Run,
    RunInfo,
)


def double(value: float) -> float | str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return value


def pairs(items: dict[str, str]) -> list[dict[str, str]]:
    return [{"key": k, "value": v} for k, v in items.items()]


def experiment(e: Experiment) -> dict[str, Any]:
    return {
        "experiment_id": e.experiment_id,
        "name": e.name,
        "artifact_location": e.artifact_location,
        "lifecycle_stage": e.lifecycle_stage,
        "last_update_time": e.last_update_time,
        "creation_time": e.creation_time,
        "tags": pairs(e.tags),
    }


def metric(m: Metric) -> dict[str, Any]:
    out: dict[str, Any] = {
        "key": m.key,
        "value": double(m.value),
        "timestamp": m.timestamp,
        "step": m.step,
    }
    if m.dataset_name:
        out["dataset_name"] = m.dataset_name
    if m.dataset_digest:
        out["dataset_digest"] = m.dataset_digest
    if m.model_id:
        out["model_id"] = m.model_id
    if m.run_id:
        out["run_id"] = m.run_id
    return out


def run_info(i: RunInfo) -> dict[str, Any]:
    out: dict[str, Any] = {
        "run_id": i.run_id,
        "run_uuid": i.run_id,
        "run_name": i.run_name,
        "experiment_id": i.experiment_id,
        "user_id": i.user_id,
        "status": i.status,
        "start_time": i.start_time,
        "artifact_uri": i.artifact_uri,
        "lifecycle_stage": i.lifecycle_stage,
    }
    if i.end_time is not None:
        out["end_time"] = i.end_time
    return out


def dataset_input(d: DatasetInput) -> dict[str, Any]:
    ds = d.dataset
    dataset: dict[str, Any] = {
        "name": ds.name,
        "digest": ds.digest,
        "source_type": ds.source_type,
        "source": ds.source,
    }
    if ds.schema is not None:
        dataset["schema"] = ds.schema
    if ds.profile is not None:
        dataset["profile"] = ds.profile
    return {"tags": [{"key": k, "value": v} for k, v in d.tags], "dataset": dataset}


def run(r: Run) -> dict[str, Any]:
    # empty collections are left out, as protobuf's JSON does: a search answer holds up to
    # 50,000 runs and the client parses every field it is sent
    data: dict[str, Any] = {}
    if r.metrics:
        data["metrics"] = [metric(m) for m in r.metrics]
    if r.params:
        data["params"] = pairs(r.params)
    if r.tags:
        data["tags"] = pairs(r.tags)
    out: dict[str, Any] = {"info": run_info(r.info), "data": data}
    inputs: dict[str, Any] = {}
    if r.inputs:
        inputs["dataset_inputs"] = [dataset_input(d) for d in r.inputs]
    if r.model_inputs:
        inputs["model_inputs"] = [{"model_id": m} for m in r.model_inputs]
    if inputs:
        out["inputs"] = inputs
    if r.model_outputs:
        out["outputs"] = {"model_outputs": [{"model_id": m, "step": s} for m, s in r.model_outputs]}
    return out


def logged_model(m: LoggedModel) -> dict[str, Any]:
    info: dict[str, Any] = {
        "model_id": m.model_id,
        "experiment_id": m.experiment_id,
        "name": m.name,
        "creation_timestamp_ms": m.creation_time,
        "last_updated_timestamp_ms": m.last_updated_time,
        "artifact_uri": m.artifact_uri,
        "status": m.status,
        "model_type": m.model_type or "",
        "tags": pairs(m.tags),
    }
    # creator_id is an int64 user id in MLflow's schema; forgeml's users are names
    for key, value in (("source_run_id", m.source_run_id), ("status_message", m.status_message)):
        if value:
            info[key] = value
    return {
        "info": info,
        "data": {"params": pairs(m.params), "metrics": [metric(x) for x in m.metrics]},
    }


def model_version(v: ModelVersion) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": v.name,
        "version": v.version,
        "creation_timestamp": v.creation_timestamp,
        "last_updated_timestamp": v.last_updated_timestamp,
        "current_stage": v.current_stage,
        "description": v.description or "",
        "source": v.source,
        "status": v.status,
        "tags": pairs(v.tags),
        "aliases": list(v.aliases),
    }
    for key, value in (
        ("user_id", v.user_id),
        ("run_id", v.run_id),
        ("run_link", v.run_link),
        ("model_id", v.model_id),
    ):
        if value:
            out[key] = value
    return out


def registered_model(m: RegisteredModel) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": m.name,
        "creation_timestamp": m.creation_timestamp,
        "last_updated_timestamp": m.last_updated_timestamp,
        "description": m.description or "",
        "tags": pairs(m.tags),
        "aliases": [{"alias": a, "version": v} for a, v in m.aliases],
        "latest_versions": [model_version(v) for v in m.latest_versions],
    }
    if m.user_id:
        out["user_id"] = m.user_id
    return out
