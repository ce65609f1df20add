"""Creating each asset kind through the SDK in the Azure ML CLI v2 formats (sqlite and postgres)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from forgeml import (
    CommandComponent,
    Data,
    Environment,
    MLClient,
    Model,
    load_component,
    load_data,
    load_environment,
    load_model,
)
from forgeml.core.errors import NotFoundError, SpecError


def tree(root: Path, files: dict[str, str | bytes]) -> Path:
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
    return root


def manifest_files(http: TestClient, uri: str) -> set[str]:
    digest = uri.removeprefix("forgeml://content/").split("/", 1)[0]
    reply = http.get(f"/api/v1/content/{digest}")
    assert reply.status_code == 200, reply.text
    return {f["path"] for f in reply.json()["files"]}


def read_file(http: TestClient, uri: str, name: str) -> bytes:
    digest = uri.removeprefix("forgeml://content/").split("/", 1)[0]
    reply = http.get(f"/api/v1/content/{digest}/files/{name}")
    assert reply.status_code == 200, reply.text
    return reply.content


# ------------------------------------------------------------------------------------- data


def test_uri_file_data_uploads_the_file(client: MLClient, http: TestClient, tmp_path: Path) -> None:
    tree(tmp_path, {"iris.csv": "a,b\n1,2\n"})
    data = client.data.create_or_update(
        Data(name="iris", type="uri_file", path=str(tmp_path / "iris.csv"), description="flowers")
    )
    assert data.version == "1"
    assert data.type == "uri_file"
    assert data.path.startswith("forgeml://content/") and data.path.endswith("/iris.csv")
    assert data.description == "flowers"
    assert data.creation_context is not None and data.creation_context.created_by == "local"
    assert read_file(http, data.path, "iris.csv") == b"a,b\n1,2\n"


def test_uri_folder_data_uploads_every_file(
    client: MLClient, http: TestClient, tmp_path: Path
) -> None:
    folder = tree(tmp_path / "images", {"a.png": b"\x89PNG", "sub/b.png": b"\x89PNG2"})
    data = client.data.create_or_update(Data(name="imgs", type="uri_folder", path=str(folder)))
    assert manifest_files(http, data.path) == {"a.png", "sub/b.png"}
    assert read_file(http, data.path, "sub/b.png") == b"\x89PNG2"


def test_a_uri_file_asset_cannot_point_at_a_folder(client: MLClient, tmp_path: Path) -> None:
    folder = tree(tmp_path / "two", {"a.csv": "1", "b.csv": "2"})
    with pytest.raises(SpecError, match="folder") as err:
        client.data.create_or_update(Data(name="f", type="uri_file", path=str(folder)))
    assert err.value.field == "path"


def test_mltable_data_needs_an_mltable_file(client: MLClient, tmp_path: Path) -> None:
    good = tree(tmp_path / "good", {"MLTable": "paths:\n  - file: ./x.csv\n", "x.csv": "a\n1\n"})
    table = client.data.create_or_update(Data(name="tbl", type="mltable", path=str(good)))
    assert table.type == "mltable"

    bad = tree(tmp_path / "bad", {"x.csv": "a\n1\n"})
    with pytest.raises(SpecError, match="MLTable"):
        client.data.create_or_update(Data(name="tbl2", type="mltable", path=str(bad)))
    with pytest.raises(NotFoundError):
        client.data.get("tbl2")


def test_a_missing_local_path_is_named(client: MLClient, tmp_path: Path) -> None:
    yml = tmp_path / "data.yml"
    yml.write_text("name: ghost\ntype: uri_folder\npath: ./nowhere\n")
    with pytest.raises(SpecError) as err:
        client.data.create_or_update(load_data(yml))
    assert "nowhere" in str(err.value) and "does not exist" in str(err.value)
    assert err.value.file == str(yml)
    assert err.value.field == "path"


def test_remote_uris_are_kept_as_given(client: MLClient) -> None:
    data = client.data.create_or_update(
        Data(name="web", type="uri_file", path="https://example.com/iris.csv")
    )
    assert data.path == "https://example.com/iris.csv"


# ------------------------------------------------------------------------------------ models


def test_a_custom_model_folder(client: MLClient, http: TestClient, tmp_path: Path) -> None:
    folder = tree(tmp_path / "model", {"model.pkl": b"\x80\x04pickle", "score.py": "def run(): 1"})
    model = client.models.create_or_update(Model(name="clf", path=str(folder)))
    assert model.type == "custom_model"
    # the folder keeps its name, as under Azure ML's AZUREML_MODEL_DIR
    assert model.path.endswith("/model")
    assert manifest_files(http, model.path) == {"model/model.pkl", "model/score.py"}


def test_an_mlflow_model_needs_an_mlmodel_file(client: MLClient, tmp_path: Path) -> None:
    good = tree(tmp_path / "mlflow", {"MLmodel": "flavors: {}\n", "model.pkl": b"x"})
    assert (
        client.models.create_or_update(
            Model(name="mm", type="mlflow_model", path=str(good))
        ).version
        == "1"
    )

    bad = tree(tmp_path / "plain", {"model.pkl": b"x"})
    with pytest.raises(SpecError) as err:
        client.models.create_or_update(Model(name="mm", type="mlflow_model", path=str(bad)))
    assert "MLmodel" in str(err.value)
    assert err.value.field == "path"
    assert [m.version for m in client.models.list("mm")] == ["1"]


def test_a_triton_model_is_accepted(client: MLClient, tmp_path: Path) -> None:
    folder = tree(tmp_path / "repo", {"m/config.pbtxt": "name: 'm'\n", "m/1/model.onnx": b"onnx"})
    model = client.models.create_or_update(Model(name="t", type="triton_model", path=str(folder)))
    assert model.type == "triton_model"


def test_model_yaml_with_tags_and_properties(client: MLClient, tmp_path: Path) -> None:
    tree(tmp_path, {"model/model.pkl": b"x"})
    yml = tmp_path / "model.yml"
    yml.write_text(
        "$schema: https://azuremlschemas.azureedge.net/latest/model.schema.json\n"
        "name: tagged\nversion: 4\npath: ./model\ntype: custom_model\n"
        "tags: {stage: dev, score: 0.9}\nproperties: {framework: sklearn}\n"
    )
    model = client.models.create_or_update(load_model(yml))
    assert model.version == "4"
    assert model.tags == {"stage": "dev", "score": "0.9"}
    assert client.models.get("tagged", version="4").properties == {"framework": "sklearn"}


# ------------------------------------------------------------------------------ environments


def test_an_environment_conda_file_is_read_relative_to_the_yaml_and_inlined(
    client: MLClient, tmp_path: Path
) -> None:
    tree(
        tmp_path,
        {
            "envs/conda.yml": "name: skl\nchannels: [conda-forge]\n"
            "dependencies:\n  - python=3.11\n  - pip:\n    - scikit-learn==1.5.2\n",
            "envs/env.yml": "name: skl\nimage: python:3.11-slim\nconda_file: ./conda.yml\n",
        },
    )
    env = client.environments.create_or_update(load_environment(tmp_path / "envs/env.yml"))
    assert env.version == "1"
    assert env.image == "python:3.11-slim"
    assert env.conda_file == {
        "name": "skl",
        "channels": ["conda-forge"],
        "dependencies": ["python=3.11", {"pip": ["scikit-learn==1.5.2"]}],
    }


def test_an_environment_with_a_missing_conda_file_names_it(
    client: MLClient, tmp_path: Path
) -> None:
    yml = tmp_path / "env.yml"
    yml.write_text("name: e\nimage: python:3.11\nconda_file: ./conda.yaml\n")
    with pytest.raises(SpecError) as err:
        client.environments.create_or_update(load_environment(yml))
    assert err.value.field == "conda_file"
    assert "conda.yaml" in str(err.value)


def test_an_environment_build_context_is_uploaded(
    client: MLClient, http: TestClient, tmp_path: Path
) -> None:
    tree(
        tmp_path,
        {
            "ctx/Dockerfile": "FROM python:3.11\nCOPY requirements.txt .\n",
            "ctx/requirements.txt": "numpy\n",
            "env.yml": "name: built\nbuild:\n  path: ./ctx\n",
        },
    )
    env = client.environments.create_or_update(load_environment(tmp_path / "env.yml"))
    assert env.build is not None
    assert manifest_files(http, env.build.path) == {"Dockerfile", "requirements.txt"}
    assert env.build.dockerfile_path == "Dockerfile"


def test_an_environment_needs_an_image_or_a_build(client: MLClient) -> None:
    with pytest.raises(SpecError, match="'image' or 'build'"):
        client.environments.create_or_update(
            Environment(name="e", image="python:3.11").model_copy(update={"image": None})
        )


def test_the_server_refuses_a_conda_file_path_it_cannot_read(http: TestClient) -> None:
    reply = http.post(
        "/api/v1/environments",
        json={"name": "e", "image": "python:3.11", "conda_file": "./conda.yml"},
    )
    assert reply.status_code == 422
    assert reply.json()["details"]["field"] == "conda_file"


# -------------------------------------------------------------------------------- components

COMPONENT = """\
$schema: https://azuremlschemas.azureedge.net/latest/commandComponent.schema.json
type: command
name: train_model
display_name: Train
inputs:
  training_data: {type: uri_folder}
  lr: {type: number, default: 0.01}
outputs:
  model_output: {type: mlflow_model}
code: ./src
environment: ENV
command: >-
  python train.py --data ${{inputs.training_data}} --lr ${{inputs.lr}}
  --out ${{outputs.model_output}}
"""


def component_dir(root: Path, env: str, ignore: dict[str, str] | None = None) -> Path:
    files: dict[str, str | bytes] = {
        "src/train.py": "print('train')\n",
        "src/utils/helpers.py": "X = 1\n",
        "src/data/big.csv": "a\n" * 10,
        "src/notes.log": "debug\n",
        "src/__pycache__/train.cpython-311.pyc": b"\x00",
        "component.yml": COMPONENT.replace("ENV", env),
    }
    for name, text in (ignore or {}).items():
        files[f"src/{name}"] = text
    tree(root, files)
    return root / "component.yml"


def test_a_component_code_folder_honours_amlignore_over_gitignore(
    client: MLClient, http: TestClient, tmp_path: Path
) -> None:
    yml = component_dir(
        tmp_path,
        "azureml:AzureML-sklearn-1.5@latest",
        {".amlignore": "data/\n*.log\n", ".gitignore": "utils/\n"},
    )
    comp = client.components.create_or_update(load_component(yml))
    assert comp.code is not None
    files = manifest_files(http, comp.code)
    assert "train.py" in files and "utils/helpers.py" in files  # .gitignore is not consulted
    assert "data/big.csv" not in files and "notes.log" not in files
    assert not any(f.startswith("__pycache__") for f in files)


def test_a_component_code_folder_honours_gitignore_without_amlignore(
    client: MLClient, http: TestClient, tmp_path: Path
) -> None:
    yml = component_dir(tmp_path, "azureml:AzureML-sklearn-1.5@latest", {".gitignore": "*.csv\n"})
    comp = client.components.create_or_update(load_component(yml))
    assert comp.code is not None
    files = manifest_files(http, comp.code)
    assert "data/big.csv" not in files
    assert {"train.py", "utils/helpers.py", "notes.log"} <= files


@pytest.mark.parametrize(
    "ref",
    [
        "azureml://registries/azureml/environments/sklearn-1.5/labels/latest",
        "azureml:AzureML-sklearn-1.5@latest",
    ],
)
def test_a_component_may_name_a_curated_environment(
    client: MLClient, tmp_path: Path, ref: str
) -> None:
    comp = client.components.create_or_update(load_component(component_dir(tmp_path, ref)))
    assert isinstance(comp, CommandComponent)
    assert comp.version == "1"
    # a curated alias has no versions to pin: it is kept as written, and it resolves
    assert comp.environment == ref
    assert client.environments.resolve(ref).name == "sklearn-1.5"


def test_a_component_environment_reference_is_pinned_to_a_version(
    client: MLClient, tmp_path: Path
) -> None:
    client.environments.create_or_update(Environment(name="skl", image="python:3.11"))
    yml = component_dir(tmp_path, "azureml:skl@latest")
    first = client.components.create_or_update(load_component(yml))
    assert first.environment == "azureml:skl:1"

    client.environments.create_or_update(Environment(name="skl", image="python:3.12"))
    # the stored component still runs where it was registered to run
    assert client.components.get("train_model", version="1").environment == "azureml:skl:1"
    second = client.components.create_or_update(load_component(yml, overrides=["version=2"]))
    assert second.environment == "azureml:skl:2"


def test_a_component_naming_an_unknown_environment_is_refused(
    client: MLClient, tmp_path: Path
) -> None:
    client.environments.create_or_update(Environment(name="skl", image="python:3.11"))
    yml = component_dir(tmp_path, "azureml:skl:7")
    with pytest.raises(NotFoundError) as err:
        client.components.create_or_update(load_component(yml))
    assert "'skl'" in str(err.value) and "'7'" in str(err.value)
    assert "Existing versions (newest first): 1" in str(err.value)
    with pytest.raises(NotFoundError):
        client.components.get("train_model")


def test_a_component_with_an_inline_environment(client: MLClient, tmp_path: Path) -> None:
    tree(tmp_path, {"conda.yml": "dependencies:\n  - pip: [numpy]\n"})
    yml = (
        component_dir(tmp_path, "ENV")
        .read_text()
        .replace(
            "environment: ENV", "environment:\n  image: python:3.11\n  conda_file: ./conda.yml"
        )
    )
    (tmp_path / "component.yml").write_text(yml)
    comp = client.components.create_or_update(load_component(tmp_path / "component.yml"))
    assert isinstance(comp.environment, Environment)
    assert comp.environment.conda_file == {"dependencies": [{"pip": ["numpy"]}]}


def test_a_component_read_back_keeps_its_interface(client: MLClient, tmp_path: Path) -> None:
    yml = component_dir(tmp_path, "azureml:AzureML-sklearn-1.5@latest")
    client.components.create_or_update(load_component(yml))
    comp = client.components.get("train_model", label="latest")
    assert comp.display_name == "Train"
    assert set(comp.inputs) == {"training_data", "lr"}
    assert comp.inputs["lr"].default == 0.01
    assert comp.outputs["model_output"].type == "mlflow_model"
    assert "${{inputs.lr}}" in comp.command
