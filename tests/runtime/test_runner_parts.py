"""The runner's pure parts: the command's environment variables, the home, scale warnings."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from forgeml.compute.environments import RealizedEnvironment
from forgeml.core.specs import Environment
from forgeml.runtime.runner import command_environment, resolve_home, scale_warnings
from forgeml.schemas.runtime import RunnerJob


def job(**extra: object) -> RunnerJob:
    return RunnerJob.model_validate(
        {
            "name": "job-1",
            "command": "true",
            "environment": Environment(image="python:3.11"),
            "environment_key": "k",
            "experiment_id": "7",
            "experiment_name": "exp",
            "run_id": "job-1",
            **extra,
        }
    )


def test_the_command_environment_sets_what_azure_ml_sets(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("FORGEML_STORE", "postgresql://secret@db/forgeml")
    monkeypatch.setenv("KEEP_ME", "yes")
    venv = tmp_path / "venv"
    realized = RealizedEnvironment("k", venv / "bin" / "python", venv)
    env = command_environment(
        job(
            environment_variables={"MLFLOW_RUN_ID": "mine", "A": "1"},
            distribution={"type": "pytorch"},
        ),
        "http://127.0.0.1:9",
        realized,
        {"data": "/cache/trees/x", "unset": None, "lr": "0.1"},
        {"model": tmp_path / "outputs_model"},
    )
    assert "FORGEML_STORE" not in env and env["KEEP_ME"] == "yes" and env["A"] == "1"
    assert env["MLFLOW_TRACKING_URI"] == env["FORGEML_URL"] == "http://127.0.0.1:9"
    assert env["MLFLOW_RUN_ID"] == env["AZUREML_RUN_ID"] == "job-1"  # the job's value loses
    assert (env["MLFLOW_EXPERIMENT_ID"], env["MLFLOW_EXPERIMENT_NAME"]) == ("7", "exp")
    assert env["AZURE_ML_INPUT_data"] == "/cache/trees/x" and env["AZURE_ML_INPUT_lr"] == "0.1"
    assert "AZURE_ML_INPUT_unset" not in env
    assert env["AZURE_ML_OUTPUT_model"] == str(tmp_path / "outputs_model")
    assert env["PATH"].split(":")[0] == str(venv / "bin")
    assert env["VIRTUAL_ENV"] == str(venv)
    assert (env["RANK"], env["WORLD_SIZE"], env["MASTER_ADDR"]) == ("0", "1", "127.0.0.1")
    assert env["PYTHONUNBUFFERED"] == "1"


def test_the_host_environment_puts_the_workspace_python_first(tmp_path: Path) -> None:
    host = RealizedEnvironment("k", Path(sys.executable), None)
    env = command_environment(job(), "http://x", host, {}, {})
    assert env["PATH"].split(":")[0] == str(Path(sys.executable).parent)


def test_the_home_comes_from_the_flag_then_the_job_folder(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("FORGEML_HOME", str(tmp_path / "env-home"))
    assert resolve_home(str(tmp_path / "flag"), tmp_path / "h" / "jobs" / "j") == tmp_path / "flag"
    assert resolve_home(None, tmp_path / "h" / "jobs" / "j") == tmp_path / "h"
    assert resolve_home(None, tmp_path / "elsewhere") == tmp_path / "env-home"


def test_distribution_options_this_runner_ignores_are_reported_as_warnings() -> None:
    assert scale_warnings(job()) == []
    honoured = job(
        distribution={"type": "pytorch", "process_count_per_instance": 2},
        resources={"instance_count": 2},
    )
    assert scale_warnings(honoured) == []  # launched now, not warned about
    (warning,) = scale_warnings(
        job(
            distribution={"type": "ray", "address": "auto", "include_dashboard": True, "port": 6380}
        )
    )
    assert warning.startswith("distribution: include_dashboard, port ignored")
