"""Every sample under samples/ is created by the real CLI against a real workspace."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.cli.live import SAMPLES, Cli, Server

# (command group, sample file, name, version it pins or None, what `type` it shows)
ASSET_SAMPLES = [
    ("data", "assets/data/iris-file.yml", "iris-csv", "1", "uri_file"),
    ("data", "assets/data/iris-folder.yml", "iris-parts", None, "uri_folder"),
    ("data", "assets/data/iris-mltable.yml", "iris-table", "1", "mltable"),
    ("model", "assets/model/iris-mlflow.yml", "iris-rules", "1", "mlflow_model"),
    ("model", "assets/model/custom-model.yml", "linear-weights", None, "custom_model"),
    ("environment", "assets/environment/conda-env.yml", "sklearn-conda", "1", None),
    ("environment", "assets/environment/docker-context.yml", "pandas-build", None, None),
    ("environment", "assets/environment/python-image.yml", "python-slim", "3.11", None),
    ("component", "components/train/train.yml", "train_iris", "1", "command"),
]
COMPUTE_SAMPLES = [("compute", "compute/local.yml", "cpu-local", None, "local")]
# YAML files in samples/ that are not documents of their own: what the documents point at
SUPPORTING = {"assets/environment/conda.yml", "assets/model/iris-mlflow/python_env.yaml"}
# job documents: submitted and run by the docs tests (docs/jobs.md shows and runs each one)
JOB_SAMPLES = {"jobs/hello.yml", "jobs/train.yml", "jobs/pip-env.yml", "jobs/distributed.yml"}
# pipeline and sweep documents: run by the docs tests (docs/pipelines.md), with the components
# they load from their own folder
PIPELINE_SAMPLES = {"pipelines/pipeline.yml", "pipelines/sweep.yml"}
PIPELINE_COMPONENTS = {
    f"pipelines/components/{c}.yml" for c in ("prep", "train", "evaluate", "register")
}
# endpoint and deployment documents: created, invoked and deleted by docs/endpoints.md
ENDPOINT_SAMPLES = {
    f"endpoints/{d}.yml"
    for d in (
        "online/endpoint",
        "online/blue-deployment",
        "online/green-deployment",
        "batch/endpoint",
        "batch/deployment",
    )
}


def _create(cli: Cli, group: str, sample: str) -> dict[str, Any]:
    return json.loads(cli.ok(group, "create", "-f", str(SAMPLES / sample), "-o", "json"))


def _manifest(server: Server, uri: str) -> dict[str, str]:
    """The files (path -> sha256) behind a forgeml://content/ URI."""
    digest = uri.removeprefix("forgeml://content/").split("/", 1)[0]
    reply = httpx.get(f"{server.url}/api/v1/content/{digest}", timeout=10)
    reply.raise_for_status()
    return {f["path"]: f["sha256"] for f in reply.json()["files"]}


def test_every_sample_file_is_covered_by_a_test() -> None:
    documents = {s[1] for s in ASSET_SAMPLES + COMPUTE_SAMPLES}
    found = {
        p.relative_to(SAMPLES).as_posix()
        for p in SAMPLES.rglob("*")
        if p.suffix in (".yml", ".yaml") and p.is_file()
    }
    pipelines = PIPELINE_SAMPLES | PIPELINE_COMPONENTS
    assert found - documents - SUPPORTING - JOB_SAMPLES - pipelines - ENDPOINT_SAMPLES == set(), (
        "a new sample needs a line in this test"
    )
    assert documents | JOB_SAMPLES | pipelines | ENDPOINT_SAMPLES <= found
    endpoints_doc = (SAMPLES.parent / "docs" / "endpoints.md").read_text(encoding="utf-8")
    for sample in sorted(ENDPOINT_SAMPLES):
        assert f"-f samples/{sample}" in endpoints_doc, f"docs/endpoints.md never uses {sample}"
    jobs_doc = (SAMPLES.parent / "docs" / "jobs.md").read_text(encoding="utf-8")
    for sample in sorted(JOB_SAMPLES):
        assert f"job create -f samples/{sample}" in jobs_doc, f"docs/jobs.md never runs {sample}"
    pipelines_doc = (SAMPLES.parent / "docs" / "pipelines.md").read_text(encoding="utf-8")
    for sample in sorted(PIPELINE_SAMPLES):
        assert f"job create -f samples/{sample}" in pipelines_doc, (
            f"docs/pipelines.md never runs {sample}"
        )
    for component in sorted(PIPELINE_COMPONENTS):
        name = component.removeprefix("pipelines/")
        assert f"component: ./{name}" in (SAMPLES / "pipelines" / "pipeline.yml").read_text()


@pytest.mark.parametrize(
    ("group", "sample", "name", "version", "type_"),
    ASSET_SAMPLES + COMPUTE_SAMPLES,
    ids=[s[1] for s in ASSET_SAMPLES + COMPUTE_SAMPLES],
)
def test_sample_is_created(
    cli: Cli, group: str, sample: str, name: str, version: str | None, type_: str | None
) -> None:
    created = _create(cli, group, sample)
    assert created["name"] == name
    if version is not None:
        assert created["version"] == version
    if type_ is not None:
        assert created["type"] == type_
    if group != "compute":
        shown = json.loads(cli.ok(group, "show", "--name", name, "--label", "latest"))
        assert shown["version"] == created["version"]


def test_local_paths_are_uploaded_as_content(cli: Cli, server: Server) -> None:
    folder = _create(cli, "data", "assets/data/iris-folder.yml")
    assert set(_manifest(server, folder["path"])) == {"part-0.csv", "part-1.csv"}
    # no version in the file, same content again: the same version, not a new one
    again = _create(cli, "data", "assets/data/iris-folder.yml")
    assert (again["version"], again["creation_context"]) == (
        folder["version"],
        folder["creation_context"],
    )
    table = _create(cli, "data", "assets/data/iris-mltable.yml")
    assert set(_manifest(server, table["path"])) == {"MLTable", "iris.csv"}
    model = _create(cli, "model", "assets/model/iris-mlflow.yml")
    # a model keeps its folder's name, as under Azure ML's AZUREML_MODEL_DIR
    assert model["path"].endswith("/iris-mlflow")
    assert "iris-mlflow/MLmodel" in _manifest(server, model["path"])
    env = _create(cli, "environment", "assets/environment/docker-context.yml")
    assert set(_manifest(server, env["build"]["path"])) == {"Dockerfile", "requirements.txt"}
    conda = _create(cli, "environment", "assets/environment/conda-env.yml")
    pip = next(d["pip"] for d in conda["conda_file"]["dependencies"] if isinstance(d, dict))
    assert "scikit-learn~=1.5.0" in pip


def test_path_outside_the_yaml_folder_is_read_and_stored_once(cli: Cli, server: Server) -> None:
    created = _create(cli, "data", "assets/data/iris-file.yml")  # path: ../../shared/iris.csv
    assert created["path"].endswith("/iris.csv")
    digest = created["path"].removeprefix("forgeml://content/").split("/", 1)[0]
    reply = httpx.get(f"{server.url}/api/v1/content/{digest}/files/iris.csv", timeout=10)
    assert reply.content == (SAMPLES / "shared/iris.csv").read_bytes()
    # the MLTable sample holds a byte-identical copy: one blob on disk for both
    _create(cli, "data", "assets/data/iris-mltable.yml")
    sha = hashlib.sha256(reply.content).hexdigest()
    assert len(list(server.home.rglob(sha))) == 1


def test_component_keeps_the_curated_environment_and_honours_amlignore(
    cli: Cli, server: Server, tmp_path: Path
) -> None:
    created = _create(cli, "component", "components/train/train.yml")
    assert created["environment"] == (
        "azureml://registries/azureml/environments/sklearn-1.5/labels/latest"
    )
    assert created["inputs"]["max_epochs"]["optional"] is True
    assert created["inputs"]["learning_rate"]["default"] == 0.1
    assert set(_manifest(server, created["code"])) == {".amlignore", "train.py"}
    # files that .amlignore names stay behind: the same version again is a no-op, not a 409
    copy = tmp_path / "train"
    shutil.copytree(SAMPLES / "components/train", copy)
    (copy / "src/scratch.tmp").write_text("not part of the snapshot")
    (copy / "src/outputs").mkdir()
    (copy / "src/outputs/model.json").write_text("{}")
    again = json.loads(cli.ok("component", "create", "-f", str(copy / "train.yml")))
    assert again["code"] == created["code"]


def test_curated_environment_resolves_to_its_requirements(server: Server) -> None:
    ref = "azureml://registries/azureml/environments/sklearn-1.5/labels/latest"
    reply = httpx.get(f"{server.url}/api/v1/environments/resolve", params={"ref": ref})
    assert reply.status_code == 200, reply.text
    pip = reply.json()["conda_file"]["dependencies"][-1]["pip"]
    assert any(req.startswith("scikit-learn") for req in pip)


def test_training_script_of_the_sample_component_runs(tmp_path: Path) -> None:
    out = tmp_path / "model"
    done = subprocess.run(
        [
            sys.executable,
            str(SAMPLES / "components/train/src/train.py"),
            "--data",
            str(SAMPLES / "assets/data/iris"),
            "--model-output",
            str(out),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    rules = json.loads((out / "rules.json").read_text())
    assert [name for _, name in rules["thresholds"]] == ["setosa", "versicolor"]


def test_sample_mlflow_model_predicts(tmp_path: Path) -> None:
    """The MLmodel's python_function loader works as MLflow would call it."""
    model_dir = tmp_path / "iris-mlflow"
    shutil.copytree(SAMPLES / "assets/model/iris-mlflow", model_dir)
    code = model_dir / "code"  # as MLflow does: the flavor's `code` folder goes on sys.path
    sys.path.insert(0, str(code))
    try:
        import iris_rules  # type: ignore[import-not-found]

        model = iris_rules._load_pyfunc(str(model_dir / "rules.json"))
    finally:
        sys.path.remove(str(code))
        sys.modules.pop("iris_rules", None)
    rows = [{"petal_length": 1.4}, {"petal_length": 4.5}, {"petal_length": 6.0}]
    assert model.predict(rows) == ["setosa", "versicolor", "virginica"]


def test_compute_sample_is_listed_shown_and_deleted(cli: Cli) -> None:
    cli.ok("compute", "create", "-f", str(SAMPLES / "compute/local.yml"))
    listed = cli.ok("compute", "list")
    assert "cpu-local" in listed
    assert "local" in listed
    shown = json.loads(cli.ok("compute", "show", "--name", "cpu-local"))
    assert shown["max_concurrent_jobs"] == 2
    cli.ok("compute", "delete", "--name", "cpu-local")
    assert "cpu-local" not in cli.ok("compute", "list")
    assert "cpu-local" in cli.fails("compute", "show", "--name", "cpu-local")
