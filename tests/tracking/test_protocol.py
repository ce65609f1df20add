"""MLflow's wire rules, checked with raw HTTP on SQLite and PostgreSQL workspaces."""

from __future__ import annotations

import json
from typing import Any

from fastapi.testclient import TestClient
from packaging.version import Version

from forgeml.services import Context, Workspace, tracking

API = "/api/2.0/mlflow"


def ok(reply: Any) -> dict[str, Any]:
    assert reply.status_code == 200, reply.text
    return dict(reply.json())


def error(reply: Any, status: int, code: str) -> str:
    assert reply.status_code == status, reply.text
    body = reply.json()
    assert body["error_code"] == code, body
    return str(body["message"])


def new_run(http: TestClient) -> str:
    return str(
        ok(http.post(f"{API}/runs/create", json={"experiment_id": "0"}))["run"]["info"]["run_id"]
    )


def test_utility_routes(http: TestClient) -> None:
    # below 3.4: the client then skips its OTLP trace exporter, which forgeml does not serve
    assert Version(http.get("/version").text) < Version("3.4")
    assert http.get("/health").text == "OK"
    info = ok(http.get("/api/3.0/mlflow/server-info"))
    assert info["multipart_uploads_enabled"] is False


def test_unknown_routes_answer_endpoint_not_found(http: TestClient) -> None:
    # the client falls back to older endpoints on exactly this code
    error(http.post(f"{API}/no-such-thing", json={}), 404, "ENDPOINT_NOT_FOUND")
    error(http.get("/api/3.0/mlflow/traces/x"), 404, "ENDPOINT_NOT_FOUND")


def test_numbers_as_strings_nan_and_both_run_id_spellings(http: TestClient) -> None:
    run_id = new_run(http)
    ok(
        http.post(
            f"{API}/runs/log-metric",
            json={
                "run_uuid": run_id,
                "key": "m",
                "value": "NaN",
                "timestamp": "5",
                "step": "2",
            },
        )
    )
    got = ok(http.get(f"{API}/runs/get", params={"run_uuid": run_id}))["run"]
    assert got["info"]["run_uuid"] == got["info"]["run_id"] == run_id
    assert got["data"]["metrics"] == [{"key": "m", "value": "NaN", "timestamp": 5, "step": 2}]


def test_old_clients_double_encoded_bodies_are_read(http: TestClient) -> None:
    body = json.dumps(json.dumps({"name": "double-encoded"}))
    reply = http.post(
        f"{API}/experiments/create", content=body, headers={"content-type": "application/json"}
    )
    assert ok(reply)["experiment_id"]


def test_only_json_bodies_are_accepted(http: TestClient) -> None:
    reply = http.post(f"{API}/experiments/create", data={"name": "form"})
    assert "Content-Type must be one of ['application/json']" in error(
        reply, 400, "INVALID_PARAMETER_VALUE"
    )


def test_missing_required_fields_are_named(http: TestClient) -> None:
    message = error(http.post(f"{API}/experiments/create", json={}), 400, "INVALID_PARAMETER_VALUE")
    assert "'name'" in message
    run_id = new_run(http)
    message = error(
        http.post(f"{API}/runs/log-metric", json={"run_id": run_id, "key": "k", "value": 1}),
        400,
        "INVALID_PARAMETER_VALUE",
    )
    assert "'timestamp'" in message
    message = error(http.post(f"{API}/experiments/search", json={}), 400, "INVALID_PARAMETER_VALUE")
    assert "max_results" in message


def test_batch_limits(http: TestClient) -> None:
    run_id = new_run(http)
    metrics = [{"key": "m", "value": 1, "timestamp": i} for i in range(1001)]
    message = error(
        http.post(f"{API}/runs/log-batch", json={"run_id": run_id, "metrics": metrics}),
        400,
        "INVALID_PARAMETER_VALUE",
    )
    assert "at most 1000 metrics" in message
    params = [{"key": "dupe", "value": "1"}, {"key": "dupe", "value": "2"}]
    message = error(
        http.post(f"{API}/runs/log-batch", json={"run_id": run_id, "params": params}),
        400,
        "INVALID_PARAMETER_VALUE",
    )
    assert "Duplicate parameter keys" in message
    huge = [{"key": f"k{i}", "value": "x" * 6000} for i in range(100)]
    oversized = {"run_id": run_id, "tags": huge * 2}
    error(http.post(f"{API}/runs/log-batch", json=oversized), 400, "INVALID_PARAMETER_VALUE")
    # long values are truncated as MLflow's server does, not refused
    ok(
        http.post(
            f"{API}/runs/log-parameter", json={"run_id": run_id, "key": "p", "value": "v" * 7000}
        )
    )
    got = ok(http.get(f"{API}/runs/get", params={"run_id": run_id}))["run"]["data"]["params"]
    assert len(got[0]["value"]) == 6000


def test_delete_carries_a_json_body_and_get_repeats_keys(http: TestClient) -> None:
    ok(http.post(f"{API}/registered-models/create", json={"name": "wire-a"}))
    ok(http.post(f"{API}/registered-models/create", json={"name": "wire-b"}))
    ok(
        http.post(
            f"{API}/registered-models/set-tag", json={"name": "wire-a", "key": "k", "value": "v"}
        )
    )
    reply = http.request(
        "DELETE", f"{API}/registered-models/delete-tag", json={"name": "wire-a", "key": "k"}
    )
    ok(reply)
    got = ok(http.get(f"{API}/registered-models/get", params={"name": "wire-a"}))
    assert got["registered_model"]["tags"] == []
    found = ok(
        http.get(
            f"{API}/registered-models/search",
            params=[("filter", "name LIKE 'wire-%'"), ("order_by", "name DESC")],
        )
    )
    assert [m["name"] for m in found["registered_models"]] == ["wire-b", "wire-a"]
    ok(http.request("DELETE", f"{API}/registered-models/delete", json={"name": "wire-b"}))
    error(
        http.get(f"{API}/registered-models/get", params={"name": "wire-b"}),
        404,
        "RESOURCE_DOES_NOT_EXIST",
    )


def test_a_refusal_is_mlflows_permission_denied(workspace: Workspace, http: TestClient) -> None:
    workspace.policy = lambda _p, _a, _r: False
    message = error(
        http.get(f"{API}/experiments/get", params={"experiment_id": "0"}), 403, "PERMISSION_DENIED"
    )
    assert "experiments read" in message
    error(
        http.put("/api/2.0/mlflow-artifacts/artifacts/0/x.txt", content=b"x"),
        403,
        "PERMISSION_DENIED",
    )


def test_every_job_is_a_run(workspace: Workspace, http: TestClient) -> None:
    ctx = Context(workspace=workspace)
    experiment_id = tracking.start_job_run(
        ctx, run_id="job-abc_1", experiment_name="jobs-exp", run_name="train", tags={"k": "v"}
    )
    # submitting twice (a retried submission) changes nothing
    again = tracking.start_job_run(
        ctx, run_id="job-abc_1", experiment_name="jobs-exp", run_name="train", tags={}
    )
    assert again == experiment_id
    run = ok(http.get(f"{API}/runs/get", params={"run_id": "job-abc_1"}))["run"]
    assert run["info"]["status"] == "SCHEDULED"
    assert run["info"]["experiment_id"] == experiment_id
    assert run["info"]["artifact_uri"] == f"mlflow-artifacts:/{experiment_id}/job-abc_1/artifacts"
    tags = {t["key"]: t["value"] for t in run["data"]["tags"]}
    assert tags["k"] == "v"
    assert tags["mlflow.runName"] == "train"

    tracking.set_job_run_status(ctx, "job-abc_1", "RUNNING")
    running = ok(http.get(f"{API}/runs/get", params={"run_id": "job-abc_1"}))["run"]["info"]
    assert running["status"] == "RUNNING" and "end_time" not in running
    tracking.set_job_run_status(ctx, "job-abc_1", "FAILED")
    done = ok(http.get(f"{API}/runs/get", params={"run_id": "job-abc_1"}))["run"]["info"]
    assert done["status"] == "FAILED" and done["end_time"] >= done["start_time"]


def test_logged_models_lifecycle(http: TestClient) -> None:
    run_id = new_run(http)
    created = ok(
        http.post(
            f"{API}/logged-models",
            json={
                "experiment_id": "0",
                "name": "net",
                "source_run_id": run_id,
                "params": [{"key": "lr", "value": "0.1"}],
                "tags": [{"key": "k", "value": "v"}],
            },
        )
    )["model"]["info"]
    model_id = created["model_id"]
    assert model_id.startswith("m-")
    assert created["status"] == "LOGGED_MODEL_PENDING"
    assert created["artifact_uri"] == f"mlflow-artifacts:/0/models/{model_id}/artifacts"
    http.put(
        f"/api/2.0/mlflow-artifacts/artifacts/0/models/{model_id}/artifacts/MLmodel", content=b"x"
    )
    ok(
        http.patch(
            f"{API}/logged-models/{model_id}",
            json={"model_id": model_id, "status": "LOGGED_MODEL_READY"},
        )
    )
    ok(
        http.patch(
            f"{API}/logged-models/{model_id}/tags", json={"tags": [{"key": "t2", "value": "2"}]}
        )
    )
    ok(
        http.post(
            f"{API}/logged-models/{model_id}/params", json={"params": [{"key": "p2", "value": "x"}]}
        )
    )
    ok(http.delete(f"{API}/logged-models/{model_id}/tags/k"))
    ok(
        http.post(
            f"{API}/runs/log-batch",
            json={
                "run_id": run_id,
                "metrics": [{"key": "acc", "value": 0.7, "timestamp": 1, "model_id": model_id}],
            },
        )
    )
    got = ok(http.get(f"{API}/logged-models/{model_id}"))["model"]
    assert got["info"]["status"] == "LOGGED_MODEL_READY"
    assert {t["key"] for t in got["info"]["tags"]} == {"t2"}
    assert {p["key"] for p in got["data"]["params"]} == {"lr", "p2"}
    assert [m["key"] for m in got["data"]["metrics"]] == ["acc"]

    found = ok(
        http.post(
            f"{API}/logged-models/search",
            json={
                "experiment_ids": ["0"],
                "filter": "name = 'net' AND metrics.acc > 0.5",
            },
        )
    )
    assert [m["info"]["model_id"] for m in found["models"]] == [model_id]
    assert (
        ok(
            http.post(
                f"{API}/logged-models/search",
                json={
                    "experiment_ids": ["0"],
                    "filter": "name = 'other'",
                },
            )
        )
        == {}
    )
    listing = ok(http.get(f"{API}/logged-models/{model_id}/artifacts/directories"))
    assert listing["files"] == [{"path": "MLmodel", "is_dir": False, "file_size": 1}]

    ok(http.delete(f"{API}/logged-models/{model_id}"))
    error(http.get(f"{API}/logged-models/{model_id}"), 404, "RESOURCE_DOES_NOT_EXIST")


def test_what_older_clients_call(http: TestClient) -> None:
    run_id = new_run(http)
    http.put(f"/api/2.0/mlflow-artifacts/artifacts/0/{run_id}/artifacts/d/f.txt", content=b"abc")
    listing = ok(http.get(f"{API}/artifacts/list", params={"run_id": run_id, "path": "d"}))
    assert listing["files"] == [{"path": "d/f.txt", "is_dir": False, "file_size": 3}]
    model = {
        "artifact_path": "m",
        "flavors": {"spark": {}},
        "utc_time_created": "x",
        "run_id": run_id,
    }
    ok(http.post(f"{API}/runs/log-model", json={"run_id": run_id, "model_json": json.dumps(model)}))
    tags = ok(http.get(f"{API}/runs/get", params={"run_id": run_id}))["run"]["data"]["tags"]
    history = next(t["value"] for t in tags if t["key"] == "mlflow.log-model.history")
    assert json.loads(history)[0]["artifact_path"] == "m"
    # the web UI's copy of the API
    assert ok(http.get("/ajax-api/2.0/mlflow/runs/get", params={"run_id": run_id}))["run"]
