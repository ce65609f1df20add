"""Reference forms resolve to the same version, and paths in a YAML resolve from its folder."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from forgeml import Environment, MLClient, Model, load_data, load_environment, load_model
from forgeml.core.errors import NotFoundError, SpecError

ARM = (
    "azureml:/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/"
    "Microsoft.MachineLearningServices/workspaces/ws/models/clf/versions/{v}"
)


@pytest.fixture
def two_models(client: MLClient, tmp_path: Path) -> None:
    for i in (1, 2):
        folder = tmp_path / f"m{i}"
        folder.mkdir()
        (folder / "model.pkl").write_bytes(b"weights %d" % i)
        client.models.create_or_update(Model(name="clf", path=str(folder)))


REFERENCE_FORMS = [
    ("azureml:clf:1", "1"),
    ("azureml:clf:2", "2"),
    ("clf:1", "1"),
    ("azureml:clf@latest", "2"),
    ("clf@latest", "2"),
    ("azureml:clf", "2"),
    ("azureml://registries/azureml/models/clf/versions/1", "1"),
    ("azureml://registries/my-team/models/clf/labels/latest", "2"),
    (ARM.format(v=1), "1"),
    (ARM.format(v=2).removesuffix("/versions/2"), "2"),
]


@pytest.mark.usefixtures("two_models")
def test_every_reference_form_resolves(client: MLClient) -> None:
    # one workspace for all forms: a fresh database per form would cost more than the test
    for ref, version in REFERENCE_FORMS:
        model = client.models.resolve(ref)
        assert (model.name, model.version) == ("clf", version), ref


@pytest.mark.usefixtures("two_models")
def test_latest_skips_archived_versions(client: MLClient) -> None:
    client.models.archive("clf", version="2")
    assert client.models.resolve("clf@latest").version == "1"


@pytest.mark.usefixtures("two_models")
def test_an_unknown_version_names_it_and_lists_what_exists(client: MLClient) -> None:
    with pytest.raises(NotFoundError) as err:
        client.models.resolve("azureml:clf:7")
    message = str(err.value)
    assert "'clf'" in message and "'7'" in message
    assert "Existing versions (newest first): 2, 1" in message


def test_an_unknown_name_is_named(client: MLClient) -> None:
    with pytest.raises(NotFoundError) as err:
        client.models.resolve("azureml:ghost@latest")
    assert "no model named 'ghost'" in str(err.value)


@pytest.mark.usefixtures("two_models")
def test_a_reference_to_another_kind_is_refused(client: MLClient) -> None:
    with pytest.raises(SpecError, match="points at data"):
        client.models.resolve("azureml://registries/azureml/data/clf/versions/1")


def test_a_malformed_reference_is_refused(client: MLClient) -> None:
    with pytest.raises(SpecError, match="not a reference"):
        client.models.resolve("azureml:a:b:c")


def test_curated_environments_resolve_to_their_requirements(client: MLClient) -> None:
    for ref in (
        "azureml://registries/azureml/environments/sklearn-1.5/labels/latest",
        "azureml:AzureML-sklearn-1.5@latest",
        "sklearn-1.5@latest",
    ):
        env = client.environments.resolve(ref)
        assert env.name == "sklearn-1.5", ref
        assert isinstance(env.conda_file, dict)
        pip = next(d["pip"] for d in env.conda_file["dependencies"] if isinstance(d, dict))
        assert any(p.startswith("scikit-learn~=1.5") for p in pip), ref


def test_a_workspace_environment_shadows_nothing_curated(client: MLClient) -> None:
    client.environments.create_or_update(Environment(name="mine", image="python:3.12"))
    assert client.environments.resolve("azureml:mine@latest").image == "python:3.12"
    with pytest.raises(NotFoundError) as err:
        client.environments.resolve("azureml:not-curated@latest")
    assert "Curated environments:" in str(err.value) and "sklearn-1.5" in str(err.value)


# ------------------------------------------------------------------------ paths in a YAML


def test_paths_resolve_against_the_yaml_folder_not_the_cwd(
    client: MLClient, http: TestClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = tmp_path / "project"
    (project / "data").mkdir(parents=True)
    (project / "data" / "train.csv").write_text("x\n1\n")
    (project / "data.yml").write_text("name: train\ntype: uri_file\npath: ./data/train.csv\n")
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "data").mkdir(parents=True)
    (elsewhere / "data" / "train.csv").write_text("wrong file\n")
    monkeypatch.chdir(elsewhere)

    data = client.data.create_or_update(load_data(project / "data.yml"))
    digest = data.path.removeprefix("forgeml://content/").split("/")[0]
    assert http.get(f"/api/v1/content/{digest}/files/train.csv").content == b"x\n1\n"


def test_paths_may_reach_outside_the_yaml_folder(
    client: MLClient, http: TestClient, tmp_path: Path
) -> None:
    shared = tmp_path / "shared" / "weights"
    shared.mkdir(parents=True)
    (shared / "model.bin").write_bytes(b"\x01\x02")
    (shared / "MLmodel").write_text("flavors: {}\n")
    specs = tmp_path / "repo" / "specs"
    specs.mkdir(parents=True)
    (specs / "model.yml").write_text(
        "name: outside\ntype: mlflow_model\npath: ../../shared/weights\n"
    )
    (specs / "env.yml").write_text(
        "name: outside\nimage: python:3.11\nconda_file: ../../shared/conda.yml\n"
    )
    (tmp_path / "shared" / "conda.yml").write_text("dependencies:\n  - pip: [torch]\n")

    model = client.models.create_or_update(load_model(specs / "model.yml"))
    digest, _, name = model.path.removeprefix("forgeml://content/").partition("/")
    assert name == "weights"
    files = {f["path"] for f in http.get(f"/api/v1/content/{digest}").json()["files"]}
    assert files == {"weights/MLmodel", "weights/model.bin"}
    env = client.environments.create_or_update(load_environment(specs / "env.yml"))
    assert env.conda_file == {"dependencies": [{"pip": ["torch"]}]}


def test_an_entity_built_in_code_resolves_against_the_cwd(
    client: MLClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "weights").mkdir()
    (tmp_path / "weights" / "w.bin").write_bytes(b"w")
    monkeypatch.chdir(tmp_path)
    model = client.models.create_or_update(Model(name="cwd", path="./weights"))
    assert model.path.startswith("forgeml://content/")


def test_a_local_path_sent_straight_to_the_server_is_refused(http: TestClient) -> None:
    reply = http.post("/api/v1/models", json={"name": "m", "path": "./model"})
    assert reply.status_code == 422
    body = reply.json()
    assert body["code"] == "invalid_spec"
    assert body["details"]["field"] == "path"
    assert "local path" in body["message"]
