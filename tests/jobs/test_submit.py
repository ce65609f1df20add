"""Submitting jobs through the SDK against the in-process workspace, on SQLite and PostgreSQL.

No scheduler runs here, so jobs stay where the test puts them: these tests check what submit
accepts and refuses (nothing is queued on a refusal), what it pins and records, listing, cancel
of a queued job, the runner contract's state rules, and the queue's leases under concurrency.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

import forgeml
from forgeml import Data, MLClient
from forgeml.core.errors import ConflictError, NotFoundError, SpecError
from forgeml.core.specs.job import load_job
from forgeml.services import Context, Workspace, job_queue
from forgeml.services import jobs as job_service

ENV = {"image": "python:3.11"}


def job_yaml(root: Path, body: str, name: str = "job.yml") -> Path:
    (root / "src").mkdir(exist_ok=True)
    (root / "src" / "main.py").write_text("print('hi')\n")
    path = root / name
    path.write_text(body)
    return path


def names(client: MLClient) -> list[str]:
    return [str(j.name) for j in client.jobs.list()]


def test_submit_pins_references_uploads_local_files_and_records_lineage(
    client: MLClient, http: TestClient, tmp_path: Path
) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "a.csv").write_text("x\n1\n")
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "main.py").write_text("print(1)\n")
    (tmp_path / "src" / "big.bin").write_text("ignored")
    (tmp_path / "src" / ".amlignore").write_text("*.bin\n")
    registered = client.data.create_or_update(Data(name="iris", path=str(tmp_path / "data")))
    client.environments.create_or_update(forgeml.Environment(name="py", image="python:3.11"))
    job = client.jobs.create_or_update(
        load_job(
            job_yaml(
                tmp_path,
                """\
code: ./src
command: python main.py ${{inputs.iris}} ${{inputs.local}} ${{inputs.lr}} ${{outputs.out}}
environment: azureml:py@latest
experiment_name: iris-exp
display_name: first
tags: {team: vision}
inputs:
  iris: {type: uri_folder, path: azureml:iris@latest}
  local: {type: uri_folder, path: ./data}
  lr: {type: number, value: 0.5}
outputs:
  out: {name: cleaned}
""",
            )
        )
    )
    assert job.status == "queued" and job.queued_at is not None
    assert job.experiment_name == "iris-exp" and job.experiment_id
    assert job.display_name == "first" and job.compute == "local"
    assert job.environment == "azureml:py:1"
    iris = job.inputs["iris"]
    assert isinstance(iris, forgeml.Input) and iris.path == "azureml:iris:1"
    local = job.inputs["local"]
    assert isinstance(local, forgeml.Input)
    assert local.path == registered.path  # same bytes, same content URI: nothing uploaded twice
    assert job.code and job.code.startswith("forgeml://content/")
    files = http.get(f"/api/v1/content/{job.code.split('/')[-1]}").json()["files"]
    assert "main.py" in {f["path"] for f in files}
    assert "big.bin" not in {f["path"] for f in files}  # .amlignore honoured

    spec = http.get(f"/api/v1/jobs/{job.name}/runtime/spec").json()
    assert spec["inputs"]["iris"]["uri"] == registered.path
    assert spec["inputs"]["lr"] == {"type": "number", "mode": "ro_mount", "uri": None, "value": 0.5}
    assert spec["run_id"] == job.name and spec["experiment_name"] == "iris-exp"
    assert spec["environment"]["image"] == "python:3.11"
    lineage = client.jobs.outputs(str(job.name)).lineage
    assert [(e.direction, e.port, e.asset) for e in lineage] == [
        ("input", "iris", "azureml:iris:1")
    ]

    # the job is an MLflow run whose id is the job's name
    run = http.get("/api/2.0/mlflow/runs/get", params={"run_id": job.name}).json()["run"]
    assert run["info"]["status"] == "SCHEDULED"
    assert run["info"]["experiment_id"] == job.experiment_id


def test_the_experiment_defaults_to_the_submitting_folder(
    client: MLClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "fraud-detection"
    folder.mkdir()
    monkeypatch.chdir(folder)
    job = client.jobs.create_or_update(forgeml.command(command="echo hi", environment=ENV))
    assert job.experiment_name == "fraud-detection"
    assert job.display_name == job.name


SERVER_REFUSALS = [
    ({"environment": "azureml:nope:1"}, "environment", "no environment named 'nope'"),
    ({"environment": "azureml:nope@latest"}, "environment", "no environment named 'nope'"),
    ({"compute": "azureml:gpu-cluster"}, "compute", "no compute named 'gpu-cluster'"),
    (
        {"command": "echo ${{inputs.d}}", "inputs": {"d": {"path": "azureml:missing:1"}}},
        "inputs.d.path",
        "no data asset named 'missing'",
    ),
    (
        {"command": "echo ${{inputs.d}}", "inputs": {"d": {"path": "/etc/hosts"}}},
        "inputs.d.path",
        "local path",
    ),
    (
        {"command": "echo ${{inputs.lr}}", "inputs": {"lr": {"type": "number", "value": "abc"}}},
        "inputs.lr",
        "not a number",
    ),
    ({"command": "echo ${{inputs.typo}}", "inputs": {"x": 1}}, "command", "no input 'typo'"),
    (
        {"command": "echo ${{inputs.x}}", "inputs": {"x": {"type": "integer"}}},
        "inputs.x",
        "required but has no value",
    ),
    ({"code": "./src"}, "code", "local path"),
]


@pytest.mark.parametrize(("patch", "field", "message"), SERVER_REFUSALS)
def test_the_server_refuses_bad_jobs_naming_the_field_and_queues_nothing(
    client: MLClient, http: TestClient, patch: dict[str, Any], field: str, message: str
) -> None:
    body = {"command": "echo hi", "environment": ENV, **patch}
    reply = http.post("/api/v1/jobs", json=body)
    assert reply.status_code == 422, reply.text
    error = reply.json()
    assert error["details"]["field"] == field
    assert message in error["message"]
    assert names(client) == []
    # nor was an MLflow run left behind for it
    found = http.post("/api/2.0/mlflow/runs/search", json={"experiment_ids": ["0", "1"]}).json()
    assert found.get("runs", []) == []


def test_the_sdk_refuses_a_missing_code_folder_before_uploading_anything(
    client: MLClient, tmp_path: Path
) -> None:
    path = tmp_path / "job.yml"
    path.write_text("code: ./nowhere\ncommand: python main.py\nenvironment: {image: python:3.11}\n")
    with pytest.raises(SpecError) as err:
        client.jobs.create_or_update(load_job(path))
    assert err.value.field == "code" and "does not exist" in str(err.value)
    assert str(path) in str(err.value)
    assert names(client) == []


def test_job_names_are_unique(client: MLClient) -> None:
    client.jobs.create_or_update(forgeml.command(name="once", command="echo", environment=ENV))
    with pytest.raises(ConflictError, match="already exists"):
        client.jobs.create_or_update(forgeml.command(name="once", command="echo", environment=ENV))
    with pytest.raises(NotFoundError):
        client.jobs.get("never-submitted")


def test_list_filters_and_pages_newest_first(client: MLClient, http: TestClient) -> None:
    made = []
    for i in range(5):
        job = forgeml.command(
            name=f"job-{i}",
            command="echo",
            environment=ENV,
            experiment_name="even" if i % 2 == 0 else "odd",
            tags={"idx": str(i), **({"keep": ""} if i < 2 else {})},
        )
        made.append(client.jobs.create_or_update(job).name)
    client.jobs.cancel("job-3")
    assert names(client) == list(reversed(made))
    assert [j.name for j in client.jobs.list(experiment_name="odd")] == ["job-3", "job-1"]
    assert [j.name for j in client.jobs.list(tag="idx=2")] == ["job-2"]
    assert [j.name for j in client.jobs.list(tag="keep")] == ["job-1", "job-0"]
    assert [j.name for j in client.jobs.list(status="canceled")] == ["job-3"]
    assert [j.name for j in client.jobs.list(status=["queued"], max_results=2)] == [
        "job-4",
        "job-2",
    ]
    page = http.get("/api/v1/jobs", params={"limit": 2}).json()
    assert [j["name"] for j in page["items"]] == ["job-4", "job-3"]
    rest = http.get("/api/v1/jobs", params={"limit": 2, "page_token": page["next_token"]}).json()
    assert [j["name"] for j in rest["items"]] == ["job-2", "job-1"]
    bad = http.get("/api/v1/jobs", params={"status": "finished"})
    assert bad.status_code == 409 and "states are" in bad.json()["message"]


def test_cancelling_a_queued_job_ends_it_at_once(client: MLClient, http: TestClient) -> None:
    job = client.jobs.create_or_update(forgeml.command(command="sleep 60", environment=ENV))
    done = client.jobs.begin_cancel(str(job.name)).result(timeout=5)
    assert done.status == "canceled" and done.ended_at is not None
    assert client.jobs.cancel(str(job.name)).status == "canceled"  # again: nothing changes
    logs = client.jobs.logs(str(job.name))
    assert logs.done and "cancel requested by local" in "".join(c.text for c in logs.items)
    run = http.get("/api/2.0/mlflow/runs/get", params={"run_id": job.name}).json()["run"]
    assert run["info"]["status"] == "KILLED"


def test_the_runner_contract_follows_the_transition_table(
    client: MLClient, http: TestClient
) -> None:
    name = str(client.jobs.create_or_update(forgeml.command(command="x", environment=ENV)).name)
    base = f"/api/v1/jobs/{name}/runtime"

    def report(state: str, **extra: Any) -> Any:
        return http.post(f"{base}/state", json={"state": state, **extra})

    assert report("running").status_code == 409  # queued jobs must be prepared first
    assert report("preparing", pid=4242).json() == {"cancel_requested": False}
    assert report("preparing").status_code == 200  # a retried report changes nothing
    assert report("running", warnings=["ran on the host"]).status_code == 200
    logged = http.post(f"{base}/logs", json={"stream": "std_out", "text": "epoch 1\n"})
    assert logged.json() == {"cancel_requested": False}
    assert http.post(f"{base}/heartbeat").status_code == 200
    failed = report("failed", exit_code=3, error="Traceback...\nValueError: bad")
    assert failed.status_code == 200
    assert report("completed").status_code == 409  # an ended job stays ended
    job = client.jobs.get(name)
    assert job.status == "failed" and job.exit_code == 3
    assert job.error is not None and job.error.endswith("ValueError: bad")
    assert job.warnings == ["ran on the host"]
    assert job.queued_at and job.prepared_at and job.started_at and job.ended_at
    assert job.queued_at <= job.prepared_at <= job.started_at <= job.ended_at
    run = http.get("/api/2.0/mlflow/runs/get", params={"run_id": name}).json()["run"]
    assert run["info"]["status"] == "FAILED" and run["info"]["end_time"]
    text = [(c.stream, c.text) for c in client.jobs.logs(name).items]
    assert ("std_out", "epoch 1\n") in text
    assert [c.seq for c in client.jobs.logs(name).items] == list(range(1, len(text) + 1))


def test_a_cancel_reaches_the_runner_in_its_next_answer(client: MLClient, http: TestClient) -> None:
    name = str(client.jobs.create_or_update(forgeml.command(command="x", environment=ENV)).name)
    base = f"/api/v1/jobs/{name}/runtime"
    http.post(f"{base}/state", json={"state": "preparing"})
    assert client.jobs.cancel(name).status == "canceling"
    assert http.post(f"{base}/heartbeat").json() == {"cancel_requested": True}
    # the runner had not heard yet: its `running` report is answered with the cancel
    reply = http.post(f"{base}/state", json={"state": "running"})
    assert reply.json() == {"cancel_requested": True}
    assert client.jobs.get(name).status == "canceling"
    http.post(f"{base}/state", json={"state": "canceled"})
    assert client.jobs.get(name).status == "canceled"


def test_named_outputs_are_registered_as_asset_versions_of_the_job(
    client: MLClient, http: TestClient, tmp_path: Path
) -> None:
    job = client.jobs.create_or_update(
        forgeml.command(
            command="train ${{outputs.model}} ${{outputs.table}} ${{outputs.scratch}}",
            environment=ENV,
            outputs={
                "model": forgeml.Output(type="mlflow_model", name="iris-model"),
                "table": forgeml.Output(type="uri_file", name="scores", version="7"),
                "scratch": None,
            },
        )
    )
    name = str(job.name)
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    (model_dir / "MLmodel").write_text("flavors: {}\n")
    (tmp_path / "scores.csv").write_text("a\n1\n")
    uploader = forgeml.client.upload.Uploader(client._http)  # type: ignore[attr-defined]
    model_uri = uploader.upload_path(model_dir, field="model")
    file_uri = uploader.upload_path(tmp_path / "scores.csv", field="table")
    base = f"/api/v1/jobs/{name}/runtime/outputs"
    for output, uri in (("model", model_uri), ("table", file_uri), ("scratch", file_uri)):
        reply = http.post(base, json={"name": output, "uri": uri})
        assert reply.status_code == 200, reply.text
    # a retried report registers nothing new
    assert http.post(base, json={"name": "model", "uri": model_uri}).status_code == 200
    unknown = http.post(base, json={"name": "nope", "uri": file_uri})
    assert unknown.status_code == 422 and "declares no output 'nope'" in unknown.text

    model = client.models.get("iris-model", version="1")
    assert model.job_name == name and model.path == model_uri and model.type == "mlflow_model"
    scores = client.data.get("scores", version="7")
    assert scores.path == file_uri and scores.tags["job_name"] == name
    outputs = {o.name: o for o in client.jobs.outputs(name).items}
    assert outputs["model"].asset == "azureml:iris-model:1"
    assert outputs["table"].asset == "azureml:scores:7"
    assert outputs["scratch"].asset is None and outputs["scratch"].uri == file_uri
    edges = {(e.direction, e.asset) for e in client.jobs.outputs(name).lineage}
    assert edges == {("output", "azureml:iris-model:1"), ("output", "azureml:scores:7")}


def test_queued_jobs_are_leased_once_and_within_the_compute_slots(
    client: MLClient, workspace: Workspace
) -> None:
    client.compute.create_or_update(forgeml.LocalCompute(name="four", max_concurrent_jobs=4))
    for i in range(10):
        client.jobs.create_or_update(
            forgeml.command(name=f"q{i}", command="x", environment=ENV, compute="four")
        )
    ctx = Context(workspace=workspace)
    taken: list[list[str]] = []
    barrier = threading.Barrier(5)

    def scheduler(i: int) -> None:
        barrier.wait()
        taken.append(job_queue.take(ctx, owner=f"s{i}", host="h", lease_s=30))

    threads = [threading.Thread(target=scheduler, args=(i,)) for i in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    leased = [name for batch in taken for name in batch]
    assert len(leased) == len(set(leased)) == 4
    assert leased and set(leased) == {"q0", "q1", "q2", "q3"}  # oldest first
    assert sorted(j.name for j in client.jobs.list(status="preparing")) == sorted(leased)
    # a slot frees up when a job ends, and the next one in line takes it
    job_service.cancel(ctx, "q0")
    job_queue.fail(ctx, "q0", "test")
    assert job_queue.take(ctx, owner="s9", host="h", lease_s=30) == ["q4"]
