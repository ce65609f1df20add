"""YAML documents: errors that say file, field path, line and what was expected; overrides."""

from __future__ import annotations

from pathlib import Path

import pytest

from forgeml import load_component, load_compute, load_data, load_environment, load_model
from forgeml.core.errors import SpecError
from forgeml.core.specs.yamlio import apply_overrides

COMPONENT = """\
$schema: https://azuremlschemas.azureedge.net/latest/commandComponent.schema.json
type: command
name: train_model
version: 1
inputs:
  training_data: {type: uri_folder}
  max_epochs: {type: integer, optional: true}
  lr:
    type: number
    default: 0.01
    bogus: 1
outputs:
  model_output: {type: mlflow_model}
code: ./src
environment: azureml:AzureML-sklearn-1.5@latest
command: >-
  python train.py --data ${{inputs.training_data}}
  $[[--max_epochs ${{inputs.max_epochs}}]] --lr ${{inputs.lr}}
  --model_output ${{outputs.model_output}}
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_a_yaml_syntax_error_names_the_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, "data.yml", "name: iris\npath: ./x\ntype: [uri_file\nversion: 1\n")
    with pytest.raises(SpecError) as err:
        load_data(path)
    assert err.value.file == str(path)
    assert err.value.line in (3, 4)
    assert f"{path}:{err.value.line}" in str(err.value)
    assert "not valid YAML" in str(err.value)


def test_an_unknown_key_lists_the_valid_keys_with_path_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, "component.yml", COMPONENT)
    with pytest.raises(SpecError) as err:
        load_component(path)
    e = err.value
    assert e.field == "inputs.lr.bogus"
    assert e.line == 11
    assert "unknown key 'bogus'" in str(e)
    assert "Valid keys here are:" in str(e)
    for key in ("default", "description", "enum", "max", "min", "optional", "type"):
        assert key in str(e).split("Valid keys here are:")[1]
    assert f"{path}:11" in str(e)


def test_an_unknown_top_level_key_lists_the_documents_keys(tmp_path: Path) -> None:
    path = write(tmp_path, "model.yml", "name: m\npath: ./m\ncolour: blue\n")
    with pytest.raises(SpecError) as err:
        load_model(path)
    assert err.value.field == "colour"
    assert err.value.line == 3
    valid = str(err.value).split("Valid keys here are:")[1]
    assert "path" in valid and "type" in valid and "$schema" in valid
    assert "creation_context" not in valid  # read-only fields are not offered


def test_a_wrong_enum_value_says_what_is_allowed(tmp_path: Path) -> None:
    path = write(tmp_path, "data.yml", "name: iris\ntype: uri_fil\npath: ./x.csv\n")
    with pytest.raises(SpecError) as err:
        load_data(path)
    assert err.value.field == "type"
    assert err.value.line == 2
    assert "'uri_fil'" in str(err.value)
    assert "uri_file" in str(err.value) and "mltable" in str(err.value)


def test_a_missing_required_key_is_named(tmp_path: Path) -> None:
    path = write(tmp_path, "data.yml", "name: iris\ntype: uri_file\n")
    with pytest.raises(SpecError) as err:
        load_data(path)
    assert err.value.field == "path"
    assert "required" in str(err.value)


def test_a_nested_missing_key_gives_its_dotted_path(tmp_path: Path) -> None:
    text = COMPONENT.replace("    bogus: 1\n", "").replace("{type: uri_folder}", "{optional: true}")
    path = write(tmp_path, "component.yml", text)
    with pytest.raises(SpecError) as err:
        load_component(path)
    assert err.value.field == "inputs.training_data.type"
    assert err.value.line == 6


def test_the_schema_key_is_accepted_and_ignored(tmp_path: Path) -> None:
    text = COMPONENT.replace("    bogus: 1\n", "")
    comp = load_component(write(tmp_path, "component.yml", text))
    assert comp.name == "train_model"
    assert "$schema" not in comp.to_wire()
    assert comp.version == "1"


def test_read_only_fields_cannot_be_written(tmp_path: Path) -> None:
    path = write(tmp_path, "model.yml", "name: m\npath: ./m\narchived: true\n")
    with pytest.raises(SpecError, match="set by the workspace") as err:
        load_model(path)
    assert err.value.line == 3


def test_a_document_that_is_not_a_mapping_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="mapping"):
        load_data(write(tmp_path, "data.yml", "- a\n- b\n"))


def test_a_missing_file_says_so(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="does not exist"):
        load_data(tmp_path / "nope.yml")


def test_a_bare_conda_file_passed_as_an_environment_explains_itself(tmp_path: Path) -> None:
    path = write(tmp_path, "conda.yml", "name: x\ndependencies: [python=3.11]\n")
    with pytest.raises(SpecError, match="conda file, not an environment"):
        load_environment(path)


def test_a_command_using_an_undeclared_input_is_refused(tmp_path: Path) -> None:
    text = COMPONENT.replace("    bogus: 1\n", "").replace("inputs.lr}}", "inputs.rate}}")
    with pytest.raises(SpecError, match="rate"):
        load_component(write(tmp_path, "component.yml", text))


def test_overrides_apply_before_validation(tmp_path: Path) -> None:
    path = write(tmp_path, "component.yml", COMPONENT.replace("    bogus: 1\n", ""))
    comp = load_component(
        path,
        overrides=["version=7", "inputs.lr.default=0.5", "environment=azureml:skl@latest"],
    )
    assert comp.version == "7"
    assert comp.inputs["lr"].default == 0.5
    assert comp.environment == "azureml:skl@latest"


def test_an_override_can_fix_a_bad_key_value(tmp_path: Path) -> None:
    path = write(tmp_path, "data.yml", "name: iris\ntype: uri_fil\npath: ./x.csv\n")
    data = load_data(path, overrides=["type=uri_file", "tags.stage=raw"])
    assert data.type == "uri_file"
    assert data.tags == {"stage": "raw"}


def test_override_values_are_parsed_as_yaml_scalars() -> None:
    doc: dict[str, object] = {"a": {"b": 1}, "items": [1, 2]}
    apply_overrides(doc, ["a.b=0.25", "a.c=true", "a.d=text", "items.1=9", "new.key=x"])
    assert doc == {"a": {"b": 0.25, "c": True, "d": "text"}, "items": [1, 9], "new": {"key": "x"}}


@pytest.mark.parametrize("bad", ["novalue", "=3"])
def test_a_malformed_override_is_refused(bad: str) -> None:
    with pytest.raises(SpecError, match="--set"):
        apply_overrides({}, [bad])


def test_an_unknown_compute_type_lists_the_supported_ones(tmp_path: Path) -> None:
    path = write(tmp_path, "compute.yml", "name: big\ntype: amlcompute\n")
    with pytest.raises(SpecError) as err:
        load_compute(path)
    assert err.value.field == "type"
    assert "amlcompute" in str(err.value) and "local" in str(err.value)
