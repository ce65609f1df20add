"""The command job document: Azure ML YAML accepted as is, mistakes refused naming the field."""

from __future__ import annotations

from pathlib import Path

import pytest

import forgeml
from forgeml.core.errors import SpecError
from forgeml.core.specs.job import CommandJob, JobInput, JobOutput, load_job


def write(tmp_path: Path, text: str, name: str = "job.yml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_an_azure_ml_command_job_loads_with_its_defaults(tmp_path: Path) -> None:
    job = load_job(
        write(
            tmp_path,
            """\
$schema: https://azuremlschemas.azureedge.net/latest/commandJob.schema.json
code: ./src
command: >-
  python train.py --data ${{inputs.data}} --lr ${{inputs.lr}}
  $[[--epochs ${{inputs.epochs}}]] --out ${{outputs.model}}
environment: azureml:AzureML-sklearn-1.5@latest
inputs:
  data: {path: ./data, mode: download}
  lr: 0.01
  steps: {value: 5}
  epochs: {type: integer, optional: true}
outputs:
  model:
  registered: {type: mlflow_model, name: iris, version: 3}
compute: azureml:cpu-cluster
limits: {timeout: 600}
environment_variables: {DEBUG: 1, FAST: true}
services: {my_jupyter: {type: jupyter_lab}}
""",
        )
    )
    assert job.type == "command"
    data = job.inputs["data"]
    assert isinstance(data, JobInput) and data.type == "uri_folder" and data.mode == "download"
    assert job.inputs["lr"] == 0.01 and job.inputs["steps"] == 5
    assert job.outputs["model"] == JobOutput()
    assert job.outputs["registered"].version == "3"
    assert job.outputs["registered"].asset_kind == "models"
    assert job.compute == "cpu-cluster"
    assert job.timeout_s == 600
    assert job.environment_variables == {"DEBUG": "1", "FAST": "true"}
    assert job.base_path == tmp_path


BAD = [
    (
        "command: echo ${{inputs.typo}}\ninputs: {lr: 1}\n",
        "command",
        "no input 'typo'",
    ),
    ("command: echo ${{outputs.out}}\n", "command", "no output 'out'"),
    (
        "command: echo ${{inputs.data}}\ninputs:\n  data: {type: uri_folder}\n",
        "inputs.data",
        "required but has no value",
    ),
    (
        "command: echo ${{inputs.lr}}\ninputs:\n  lr: {type: number, value: abc}\n",
        "inputs.lr",
        "'abc' is not a number",
    ),
    (
        "command: echo ${{inputs.n}}\ninputs:\n  n: {type: integer, value: 3, max: 2}\n",
        "inputs.n",
        "above the maximum",
    ),
    (
        "command: echo ${{inputs.e}}\ninputs:\n  e: {type: integer, optional: true}\n",
        "inputs.e",
        "outside $[[ ]]",
    ),
    ("name: has space\ncommand: echo\n", "name", "not allowed"),
    ("command: echo\ncomand: typo\n", "comand", "Valid keys here are"),
    ("type: parallel\ncommand: echo\n", "type", "not supported yet"),
    ("command: echo\ndistribution: {type: pytorh}\n", "distribution", "use one of pytorch"),
    (
        "command: echo\ndistribution: {type: mpi, process_count_per_instance: two}\n",
        "distribution",
        "`process_count_per_instance` must be a whole number",
    ),
    ("command: echo\nresources: {instance_count: 0}\n", "resources", "at least 1, not 0"),
    ("command: echo\nretry_settings: {max_retries: -1}\n", "retry_settings.max_retries", "0"),
]


@pytest.mark.parametrize(("body", "field", "message"), BAD)
def test_mistakes_are_refused_naming_the_field_and_line(
    tmp_path: Path, body: str, field: str, message: str
) -> None:
    path = write(tmp_path, "environment: {image: python:3.11}\n" + body)
    with pytest.raises(SpecError) as err:
        load_job(path)
    assert err.value.field == field
    assert message in str(err.value)
    assert str(path) in str(err.value)
    if field != "type":
        assert err.value.line is not None and err.value.line >= 2


def test_set_overrides_apply_before_validation(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "command: echo ${{inputs.lr}}\nenvironment: {image: python:3.11}\n"
        "inputs:\n  lr: {type: number, value: 0.1}\n",
    )
    job = load_job(path, ["inputs.lr.value=0.5", "display_name=tuned"])
    assert isinstance(job.inputs["lr"], JobInput) and job.inputs["lr"].value == 0.5
    assert job.display_name == "tuned"
    with pytest.raises(SpecError, match="not a number") as err:
        load_job(path, ["inputs.lr.value=fast"])
    assert err.value.field == "inputs.lr"


def test_the_sdk_builders_are_shaped_like_azure_ai_ml() -> None:
    job = forgeml.command(
        code="./src",
        command="python train.py --data ${{inputs.data}} --lr ${{inputs.lr}} --out ${{outputs.m}}",
        environment="azureml:AzureML-sklearn-1.5@latest",
        inputs={"data": forgeml.Input(type="uri_file", path="./iris.csv"), "lr": 0.1},
        outputs={"m": forgeml.Output(type="mlflow_model", name="iris")},
        display_name="train",
        experiment_name="iris",
        timeout=60,
        instance_count=1,
    )
    assert isinstance(job, CommandJob)
    assert job.limits is not None and job.limits.timeout == 60
    assert job.resources == {"instance_count": 1}
    assert job.base_path == Path.cwd()
    with pytest.raises(SpecError, match="no input 'lr'"):
        forgeml.command(command="echo ${{inputs.lr}}", environment="azureml:env:1")
