"""The model registry, one with forgeml's model assets, through the real mlflow client."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import mlflow
import numpy as np
import pytest
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

from forgeml import Model
from forgeml.client import MLClient

SCRIPTS = Path(__file__).parent / "scripts"
# explicit requirements spare each log_model mlflow's slow requirement inference
REQS = ["scikit-learn"]


def iris() -> tuple[np.ndarray, np.ndarray]:
    X, y = load_iris(return_X_y=True)
    return X, y


@pytest.mark.slow
def test_an_autologged_script_registers_a_model_that_loads_back(
    tracking_uri: str, unique: str, tmp_path: Path
) -> None:
    # a short inference budget: how mlflow guesses pip requirements is not under test here
    env = {
        **os.environ,
        "MLFLOW_TRACKING_URI": tracking_uri,
        "MLFLOW_REQUIREMENTS_INFERENCE_TIMEOUT": "2",
    }
    done = subprocess.run(
        [
            sys.executable,
            str(SCRIPTS / "train_iris.py"),
            "--experiment",
            f"autolog-{unique}",
            "--register",
            f"iris-{unique}",
        ],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    run_id = done.stdout.strip().splitlines()[-1]

    run = MlflowClient().get_run(run_id)
    assert run.data.params["C"] == "1.0"
    assert run.data.params["max_iter"] == "500"
    assert "training_accuracy_score" in run.data.metrics
    assert "test_accuracy" in run.data.metrics
    assert run.data.tags["estimator_name"] == "LogisticRegression"
    assert run.inputs.dataset_inputs, "autolog records the training dataset"
    assert run.outputs.model_outputs, "autolog records the logged model"

    version = MlflowClient().get_model_version(f"iris-{unique}", "1")
    assert version.run_id == run_id
    assert version.status == "READY"

    model = mlflow.pyfunc.load_model(f"models:/iris-{unique}/1")
    X, _ = iris()
    assert list(model.predict(X[:3])) == [0, 0, 0]

    # the same version is a forgeml model asset that names the run that made it
    asset = MLClient(url=tracking_uri).models.get(f"iris-{unique}", version="1")
    assert asset.type == "mlflow_model"
    assert asset.job_name == run_id
    assert asset.flavors is not None and "sklearn" in asset.flavors


def test_log_model_with_a_registered_name_aliases_and_tags(tracking_uri: str, unique: str) -> None:
    name = f"clf-{unique}"
    X, y = iris()
    c = MlflowClient()
    mlflow.set_experiment(f"reg-{unique}")
    with mlflow.start_run():
        first = mlflow.sklearn.log_model(
            LogisticRegression(max_iter=300).fit(X, y),
            name="model",
            registered_model_name=name,
            pip_requirements=REQS,
        )
    with mlflow.start_run() as second_run:
        second = mlflow.sklearn.log_model(
            LogisticRegression(C=0.01, max_iter=300).fit(X, y),
            name="model",
            registered_model_name=name,
            pip_requirements=REQS,
        )
    assert (first.registered_model_version, second.registered_model_version) == ("1", "2")

    c.set_registered_model_alias(name, "champion", "1")
    c.set_registered_model_alias(name, "challenger", "2")
    c.set_registered_model_tag(name, "task", "classification")
    c.set_model_version_tag(name, "2", "validated", "yes")
    c.update_registered_model(name, description="iris classifier")
    c.update_model_version(name, "2", description="low C")

    model = c.get_registered_model(name)
    assert model.aliases == {"champion": "1", "challenger": "2"}
    assert model.tags == {"task": "classification"}
    assert model.description == "iris classifier"
    assert c.get_model_version_by_alias(name, "challenger").run_id == second_run.info.run_id
    v2 = c.get_model_version(name, "2")
    assert v2.tags == {"validated": "yes"}
    assert v2.description == "low C"
    assert v2.aliases == ["challenger"]

    champion = mlflow.pyfunc.load_model(f"models:/{name}@champion")
    assert list(champion.predict(X[:2])) == [0, 0]
    assert mlflow.sklearn.load_model(f"models:/{name}/2").C == 0.01
    assert mlflow.sklearn.load_model(second.model_uri).C == 0.01  # models:/m-<id>
    # an MLflow-2 style runs:/ URI finds the run's logged model
    assert mlflow.sklearn.load_model(f"runs:/{second_run.info.run_id}/model").C == 0.01

    # moving an alias; deleting one
    c.set_registered_model_alias(name, "champion", "2")
    c.delete_registered_model_alias(name, "challenger")
    assert c.get_registered_model(name).aliases == {"champion": "2"}

    found = c.search_model_versions(f"name = '{name}'")
    assert sorted(v.version for v in found) == ["1", "2"]
    assert [m.name for m in c.search_registered_models(f"name = '{name}'")] == [name]
    assert [m.name for m in c.search_registered_models("tags.task = 'classification'")] == [name]


def test_stages_and_latest_versions(tracking_uri: str, unique: str, tmp_path: Path) -> None:
    name = f"staged-{unique}"
    X, y = iris()
    c = MlflowClient()
    c.create_registered_model(name)
    for C in (1.0, 0.5):
        with mlflow.start_run():
            mlflow.sklearn.log_model(
                LogisticRegression(C=C, max_iter=300).fit(X, y),
                name="model",
                registered_model_name=name,
                pip_requirements=REQS,
            )
    c.transition_model_version_stage(name, "1", "production")
    assert c.get_model_version(name, "1").current_stage == "Production"
    c.transition_model_version_stage(name, "2", "Production", archive_existing_versions=True)
    assert c.get_model_version(name, "1").current_stage == "Archived"
    latest = {v.current_stage: v.version for v in c.get_latest_versions(name)}
    assert latest == {"Archived": "1", "Production": "2"}
    assert [v.version for v in c.get_latest_versions(name, stages=["Production"])] == ["2"]


def test_deleting_through_mlflow_archives_the_assets(tracking_uri: str, unique: str) -> None:
    name = f"gone-{unique}"
    X, y = iris()
    c = MlflowClient()
    with mlflow.start_run():
        mlflow.sklearn.log_model(
            LogisticRegression(max_iter=300).fit(X, y),
            name="m",
            registered_model_name=name,
            pip_requirements=REQS,
        )
    c.delete_model_version(name, "1")
    with pytest.raises(MlflowException) as err:
        c.get_model_version(name, "1")
    assert err.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    c.delete_registered_model(name)
    with pytest.raises(MlflowException) as err:
        c.get_registered_model(name)
    assert err.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    # the files stay, archived, for lineage
    sdk = MLClient(url=tracking_uri)
    assert sdk.models.get(name, version="1").archived
    # the name can be registered again; the new version does not reuse the old number
    c.create_registered_model(name)
    assert c.get_registered_model(name).latest_versions == []


def test_a_forgeml_model_asset_loads_with_mlflow(
    tracking_uri: str, unique: str, tmp_path: Path
) -> None:
    X, y = iris()
    folder = tmp_path / "model"
    mlflow.sklearn.save_model(
        LogisticRegression(C=0.3, max_iter=300).fit(X, y), str(folder), pip_requirements=REQS
    )
    sdk = MLClient(url=tracking_uri)

    created = sdk.models.create_or_update(
        Model(name=f"made-{unique}", type="mlflow_model", path=str(folder))
    )
    assert created.version == "1"
    loaded = mlflow.sklearn.load_model(f"models:/made-{unique}/1")
    assert loaded.C == 0.3
    MlflowClient().set_registered_model_alias(f"made-{unique}", "prod", "1")
    assert list(mlflow.pyfunc.load_model(f"models:/made-{unique}@prod").predict(X[:1])) == [0]


def test_registry_errors(tracking_uri: str, unique: str) -> None:
    c = MlflowClient()
    with pytest.raises(MlflowException) as missing:
        c.get_registered_model(f"nope-{unique}")
    assert missing.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    c.create_registered_model(f"dup-{unique}")
    with pytest.raises(MlflowException) as dup:
        c.create_registered_model(f"dup-{unique}")
    assert dup.value.error_code == "RESOURCE_ALREADY_EXISTS"
    with pytest.raises(MlflowException) as bad_alias:
        c.set_registered_model_alias(f"dup-{unique}", "latest", "1")
    assert bad_alias.value.error_code == "INVALID_PARAMETER_VALUE"
    with pytest.raises(MlflowException) as no_version:
        c.get_model_version(f"dup-{unique}", "7")
    assert no_version.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    with pytest.raises(MlflowException) as bad_source:
        c.create_model_version(f"dup-{unique}", "/tmp/some/local/folder")
    assert bad_source.value.error_code == "INVALID_PARAMETER_VALUE"
    with pytest.raises(MlflowException) as rename:
        c.rename_registered_model(f"dup-{unique}", f"other-{unique}")
    assert rename.value.error_code == "INVALID_PARAMETER_VALUE"
