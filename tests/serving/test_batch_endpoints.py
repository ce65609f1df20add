"""Batch endpoints: an invocation is a job that scores a folder of files with the deployment's
script (or an MLflow model with no script) and keeps the predictions as its `score` output."""

from __future__ import annotations

import csv
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

import forgeml
from forgeml import MLClient
from forgeml.core.errors import NotFoundError, SpecError
from forgeml.core.specs.endpoints import BatchEndpoint
from tests.cli.live import REPO
from tests.jobs.conftest import log_text, wait_for

# the `server` and `sdk` fixtures come from tests/serving/conftest.py (the jobs suite's)

SAMPLES = REPO / "samples" / "endpoints" / "batch"


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def predictions(sdk: MLClient, job: str, dest: Path, name: str = "predictions.csv") -> list[str]:
    sdk.jobs.download(job, download_path=dest, output_name="score")
    return (dest / "named-outputs" / "score" / name).read_text().splitlines()


def endpoint(sdk: MLClient) -> str:
    name = unique("batch")
    sdk.batch_endpoints.begin_create_or_update(BatchEndpoint(name=name)).result()
    return name


def sample_deployment(endpoint: str, tmp_path: Path, **settings: object) -> Path:
    """The sample batch deployment, copied beside its model, for endpoint `endpoint`."""
    root = tmp_path / "samples"
    shutil.copytree(SAMPLES.parent, root)
    doc = root / "batch" / "deployment.yml"
    text = doc.read_text().replace("my-batch-endpoint", endpoint)
    for key, value in settings.items():
        text = text.replace(f"  {key}: ", f"  {key}: {value}  # was: ", 1)
    doc.write_text(text)
    return doc


def test_a_folder_is_scored_in_mini_batches_into_predictions(sdk: MLClient, tmp_path: Path) -> None:
    ep = endpoint(sdk)
    doc = sample_deployment(ep, tmp_path)
    dep = sdk.batch_deployments.begin_create_or_update(forgeml.load_batch_deployment(doc)).result()
    assert dep.provisioning_state == "Succeeded"
    # the first deployment becomes the endpoint's default
    assert sdk.batch_endpoints.get(ep).defaults == {"deployment_name": "linear"}

    job = sdk.batch_endpoints.invoke(ep, input=str(SAMPLES / "data"))
    done = wait_for(sdk, job.name)
    assert done.status == "completed", log_text(sdk, job.name)
    assert done.tags["endpoint"] == ep and done.experiment_name == ep
    rows = predictions(sdk, job.name, tmp_path / "out")
    assert len(rows) == 20  # 5 files of 4 rows, in file order whatever the concurrency
    assert [r.split(",")[0] for r in rows[::4]] == [f"part-{i}.csv" for i in range(5)]
    # the sample's first row: id 1 scored with model-1's weights
    with (SAMPLES / "data" / "part-0.csv").open() as fh:
        first = next(csv.DictReader(fh))
    x = [float(first[f"x{i}"]) for i in range(4)]
    want = round(0.5 * x[0] - x[1] + 2 * x[2] + 0.25 * x[3] + 1.0, 4)
    assert rows[0] == f"part-0.csv,1,{want}"
    log = log_text(sdk, job.name)
    assert "mini-batch 3/3 done (5 files)" in log
    assert [j.name for j in sdk.batch_endpoints.list_jobs(ep)] == [job.name]


def test_failed_mini_batches_are_retried_then_count_against_the_error_threshold(
    sdk: MLClient, tmp_path: Path
) -> None:
    ep = endpoint(sdk)
    doc = sample_deployment(ep, tmp_path, error_threshold=0, max_retries=1)
    sdk.batch_deployments.begin_create_or_update(forgeml.load_batch_deployment(doc)).result()
    data = tmp_path / "data"
    shutil.copytree(SAMPLES / "data", data)
    (data / "part-2.csv").write_text("id,x0\n99,not-a-number\n")

    job = sdk.batch_endpoints.invoke(ep, input=str(data), deployment_name="linear")
    done = wait_for(sdk, job.name)
    assert done.status == "failed"
    log = log_text(sdk, job.name)
    assert "attempt 2/2 failed" in log
    assert "error_threshold 0 exceeded" in log


def test_an_mlflow_model_scores_csv_files_with_no_script(sdk: MLClient, tmp_path: Path) -> None:
    model = tmp_path / "sk-model"
    subprocess.run(
        [
            sys.executable,
            "-W",
            "ignore",
            "-c",
            "import mlflow.sklearn, pandas as pd, sys\n"
            "from mlflow.models import infer_signature\n"
            "from sklearn.linear_model import LinearRegression\n"
            "X = pd.DataFrame({'a': [0.0, 1.0, 2.0, 3.0], 'b': [1.0, 1.0, 0.0, 0.0]})\n"
            "m = LinearRegression().fit(X, 2 * X.a + 3 * X.b)\n"
            "sig = infer_signature(X, m.predict(X))\n"
            "mlflow.sklearn.save_model(m, sys.argv[1], signature=sig)\n",
            str(model),
        ],
        check=True,
        capture_output=True,
    )
    data = tmp_path / "rows"
    data.mkdir()
    (data / "one.csv").write_text("a,b\n1,0\n0,1\n")
    (data / "two.csv").write_text("a,b\n2,2\n")
    ep = endpoint(sdk)
    dep = forgeml.ModelBatchDeployment(
        name="sk",
        endpoint_name=ep,
        model=forgeml.Model(path=str(model), type="mlflow_model"),
        environment=forgeml.Environment(image="python:3.11"),
    )
    sdk.batch_deployments.begin_create_or_update(dep).result()
    job = sdk.batch_endpoints.invoke(ep, input=str(data))
    assert wait_for(sdk, job.name).status == "completed", log_text(sdk, job.name)
    lines = predictions(sdk, job.name, tmp_path / "out")
    rows = list(csv.DictReader(lines))
    assert len(rows) == 3, log_text(sdk, job.name)
    assert [(r["file"], r["row"]) for r in rows] == [
        ("one.csv", "0"),
        ("one.csv", "1"),
        ("two.csv", "0"),
    ]
    assert [round(float(r["prediction"]), 3) for r in rows] == [2.0, 3.0, 10.0]


PIPELINE_DEPLOYMENT = """\
name: count
endpoint_name: ENDPOINT
type: pipeline
component:
  type: pipeline
  inputs:
    input_data: {type: uri_folder}
  outputs:
    counted: {type: uri_folder}
  jobs:
    count:
      type: command
      command: ls ${{inputs.data}} | wc -l > ${{outputs.out}}/count.txt
      environment: {image: python:3.11}
      inputs:
        data: ${{parent.inputs.input_data}}
      outputs:
        out: ${{parent.outputs.counted}}
settings:
  default_compute: local
"""


def test_a_pipeline_component_deployment_runs_its_component_as_a_pipeline_job(
    sdk: MLClient, tmp_path: Path
) -> None:
    ep = endpoint(sdk)
    doc = tmp_path / "count.yml"
    doc.write_text(PIPELINE_DEPLOYMENT.replace("ENDPOINT", ep))
    sdk.batch_deployments.begin_create_or_update(forgeml.load_batch_deployment(doc)).result()
    job = sdk.batch_endpoints.invoke(ep, input=str(SAMPLES / "data"))
    assert job.type == "pipeline"
    assert wait_for(sdk, job.name, timeout=120).status == "completed", log_text(sdk, job.name)
    sdk.jobs.download(job.name, download_path=tmp_path / "out", output_name="counted")
    assert (tmp_path / "out" / "named-outputs" / "counted" / "count.txt").read_text().strip() == "5"


def test_bad_invocations_say_what_to_do(sdk: MLClient, tmp_path: Path) -> None:
    ep = endpoint(sdk)
    with pytest.raises(SpecError, match="no default deployment"):
        sdk.batch_endpoints.invoke(ep, input=str(SAMPLES / "data"))
    with pytest.raises(NotFoundError, match="no batch endpoint named"):
        sdk.batch_endpoints.invoke("no-such-endpoint", input=str(SAMPLES / "data"))
    doc = sample_deployment(ep, tmp_path)
    sdk.batch_deployments.begin_create_or_update(forgeml.load_batch_deployment(doc)).result()
    with pytest.raises(SpecError, match="has no deployment named 'nope'"):
        sdk.batch_endpoints.invoke(ep, input=str(SAMPLES / "data"), deployment_name="nope")
    with pytest.raises(SpecError, match="does not exist"):
        sdk.batch_endpoints.invoke(ep, input=str(tmp_path / "missing"))
    sdk.batch_deployments.begin_delete("linear", endpoint_name=ep).result()
    sdk.batch_endpoints.begin_delete(ep).result()
    with pytest.raises(NotFoundError):
        sdk.batch_endpoints.get(ep)
