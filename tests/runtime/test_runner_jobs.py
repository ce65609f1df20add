"""The runner end to end: jobs submitted to a served workspace, run by real runner processes."""

from __future__ import annotations

import fcntl
import json
import os
import time
from pathlib import Path

import pytest

from forgeml.compute.environments import environment_key
from forgeml.core.specs import Environment
from tests.runtime.conftest import Workspace

HOST_ENV = {"image": "python:3.11"}  # image only: the workspace's Python, with a warning

TRAIN = """\
import json, os, pathlib, sys
data = pathlib.Path(sys.argv[1])
out = pathlib.Path(sys.argv[2])
print("rows", sum(1 for _ in open(data / "train.csv")) - 1)
print("lr", sys.argv[3])
print("to stderr", file=sys.stderr)
(out / "model.txt").write_text("weights")
pathlib.Path("outputs").mkdir(exist_ok=True)
pathlib.Path("outputs/metrics.json").write_text('{"acc": 1.0}')
keys = ["MLFLOW_TRACKING_URI", "MLFLOW_RUN_ID", "MLFLOW_EXPERIMENT_ID",
        "MLFLOW_EXPERIMENT_NAME", "AZUREML_RUN_ID", "AZURE_ML_INPUT_data",
        "AZURE_ML_OUTPUT_model", "GREETING", "FORGEML_HOME", "FORGEML_URL"]
print("ENV " + json.dumps({k: os.environ.get(k) for k in keys}))
print("CWD " + os.getcwd())
"""


@pytest.fixture
def code(tmp_path: Path) -> Path:
    root = tmp_path / "src"
    root.mkdir()
    (root / "train.py").write_text(TRAIN)
    return root


@pytest.fixture
def data(tmp_path: Path) -> Path:
    root = tmp_path / "data"
    root.mkdir()
    (root / "train.csv").write_text("a,b\n1,2\n3,4\n")
    return root


def test_a_command_job_runs_with_its_code_inputs_outputs_and_variables(
    served: Workspace, code: Path, data: Path
) -> None:
    code_uri = served.uploader.upload_path(code, field="code")
    data_uri = served.uploader.upload_path(data, field="inputs.data")
    name = served.submit(
        {
            "command": "python train.py ${{inputs.data}} ${{outputs.model}} ${{inputs.lr}}"
            " $[[--seed ${{inputs.seed}}]]",
            "code": code_uri,
            "environment": HOST_ENV,
            "environment_variables": {"GREETING": "hi", "MLFLOW_RUN_ID": "overwritten"},
            "experiment_name": "runner-e2e",
            "inputs": {
                "data": {"type": "uri_folder", "path": data_uri},
                "lr": 0.5,
                "seed": {"type": "integer", "optional": True},
            },
            "outputs": {"model": {"type": "uri_folder", "name": "runner-e2e-model"}},
        }
    )
    job = served.wait(name)
    assert job["status"] == "completed", served.logs(name)
    assert job["exit_code"] == 0
    assert job["warnings"] == [
        "environment has only an image (python:3.11); no container runtime here, so the job "
        "ran on the workspace's Python"
    ]

    out = served.logs(name, "std_out")
    assert "rows 2\nlr 0.5\n" in out
    assert served.logs(name, "std_err") == "to stderr\n"
    env = json.loads(next(line[4:] for line in out.splitlines() if line.startswith("ENV ")))
    cwd = next(line[4:] for line in out.splitlines() if line.startswith("CWD "))
    assert cwd == str(served.home / "jobs" / name / "code")
    assert env["MLFLOW_TRACKING_URI"] == served.url
    assert env["MLFLOW_RUN_ID"] == env["AZUREML_RUN_ID"] == name
    assert env["MLFLOW_EXPERIMENT_NAME"] == "runner-e2e"
    assert env["MLFLOW_EXPERIMENT_ID"] == str(job["experiment_id"])
    assert env["GREETING"] == "hi"
    assert env["FORGEML_HOME"] is None  # the workspace's own settings stay out of the job
    assert env["FORGEML_URL"] == served.url
    assert env["AZURE_ML_INPUT_data"].startswith(str(served.home / "cache" / "trees"))
    assert env["AZURE_ML_OUTPUT_model"] == str(served.home / "jobs" / name / "outputs_model")

    system = served.logs(name, "system")
    assert "environment has only an image" in system
    assert "running: python train.py" in system and "--seed" not in system

    outputs = served.outputs(name)
    (model,) = outputs["items"]
    assert model["name"] == "model" and model["asset"] == "azureml:runner-e2e-model:1"
    assert model["uri"].startswith("forgeml://content/")
    # the job's local copy of its std log holds both streams
    std_log = served.home / "jobs" / name / "user_logs" / "std_log.txt"
    text = std_log.read_text()
    assert "rows 2" in text and "to stderr" in text, text


def test_a_job_in_a_built_environment_sees_its_packages_and_build_logs(
    served: Workspace,
) -> None:
    env = {
        "image": "python:3.11",
        "conda_file": {"dependencies": ["python=3.11", {"pip": ["six==1.16.0"]}]},
    }
    command = "python -c 'import six, sys; print(six.__version__, sys.prefix)'"
    first = served.submit({"command": command, "environment": env})
    job = served.wait(first)
    assert job["status"] == "completed", served.logs(first)
    version, prefix = served.logs(first, "std_out").split()
    assert version == "1.16.0"
    assert prefix.startswith(str(served.home / "envs"))
    system = served.logs(first, "system")
    assert "building environment" in system and "six==1.16.0" in system
    assert job["warnings"] == []

    second = served.submit({"command": command, "environment": env})
    assert served.wait(second)["status"] == "completed"
    assert served.logs(second, "std_out").split()[1] == prefix
    assert "is cached at" in served.logs(second, "system")
    assert "building environment" not in served.logs(second, "system")


def test_a_failing_command_shows_its_exit_code_and_the_end_of_stderr(
    served: Workspace,
) -> None:
    name = served.submit(
        {
            "command": "for i in $(seq 1 30); do echo problem $i >&2; done; exit 7",
            "environment": HOST_ENV,
        }
    )
    job = served.wait(name)
    assert job["status"] == "failed"
    assert job["exit_code"] == 7
    lines = job["error"].splitlines()
    assert lines[0] == "the command exited with code 7:"
    assert lines[1:] == [f"problem {i}" for i in range(11, 31)]


def test_an_environment_that_cannot_be_built_fails_the_job_with_the_pip_error(
    served: Workspace,
) -> None:
    env = {"image": "python:3.11", "conda_file": {"dependencies": [{"pip": ["forgeml-nope-zz"]}]}}
    name = served.submit({"command": "echo never", "environment": env})
    job = served.wait(name)
    assert job["status"] == "failed"
    assert "the environment could not be built" in job["error"]
    assert "forgeml-nope-zz" in job["error"]
    assert served.logs(name, "std_out") == ""


def test_cancel_stops_the_whole_process_tree_within_seconds(
    served: Workspace, tmp_path: Path
) -> None:
    pids = tmp_path / "pids"
    name = served.submit(
        {
            "command": f"sleep 300 & echo $! > {pids}; echo started; trap '' TERM; "
            "while true; do sleep 0.2; done",
            "environment": HOST_ENV,
        }
    )
    served.wait(name, ("running",))
    deadline = time.monotonic() + 30
    while "started" not in served.logs(name, "std_out"):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    asked = time.monotonic()
    served.http.post(f"/jobs/{name}/cancel").raise_for_status()
    job = served.wait(name, timeout=30)
    assert job["status"] == "canceled"
    assert time.monotonic() - asked < 10
    pid = int(pids.read_text())
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_a_job_that_runs_past_its_timeout_fails_saying_so(served: Workspace) -> None:
    name = served.submit({"command": "sleep 60", "environment": HOST_ENV, "limits": {"timeout": 1}})
    job = served.wait(name, timeout=60)
    assert job["status"] == "failed"
    assert job["error"] == "the job ran past its limits.timeout of 1 s."


MLFLOW_SCRIPT = """\
import pathlib
import mlflow

mlflow.log_param("alpha", 0.5)
for step in range(3):
    mlflow.log_metric("loss", 1.0 / (step + 1), step=step)
pathlib.Path("notes.txt").write_text("logged by mlflow")
mlflow.log_artifact("notes.txt")
pathlib.Path("outputs").mkdir(exist_ok=True)
pathlib.Path("outputs/report.txt").write_text("kept as a run artifact")
pathlib.Path("logs").mkdir(exist_ok=True)
pathlib.Path("logs/train.log").write_text("epoch 1")
print("done")
"""


@pytest.mark.slow
def test_an_mlflow_script_logs_into_the_job_run_with_its_artifacts(
    served: Workspace, tmp_path: Path
) -> None:
    from mlflow.tracking import MlflowClient

    src = tmp_path / "mlflow_src"
    src.mkdir()
    (src / "train.py").write_text(MLFLOW_SCRIPT)
    name = served.submit(
        {
            "command": "python train.py",
            "code": served.uploader.upload_path(src, field="code"),
            "environment": HOST_ENV,
            "experiment_name": "runner-mlflow",
        }
    )
    job = served.wait(name)
    assert job["status"] == "completed", served.logs(name)

    client = MlflowClient(tracking_uri=served.url)
    run = client.get_run(name)  # the job's run: its id is the job's name
    assert run.info.status == "FINISHED"
    assert run.data.params == {"alpha": "0.5"}
    history = client.get_metric_history(name, "loss")
    assert [(m.step, m.value) for m in history] == [(0, 1.0), (1, 0.5), (2, 1.0 / 3)]
    assert client.get_experiment(run.info.experiment_id).name == "runner-mlflow"

    def listing(path: str | None = None) -> set[str]:
        return {a.path for a in client.list_artifacts(name, path)}

    assert {"notes.txt", "outputs", "logs", "user_logs"} <= listing()
    assert listing("outputs") == {"outputs/report.txt"}
    assert listing("logs") == {"logs/train.log"}
    local = client.download_artifacts(name, "user_logs/std_log.txt", str(tmp_path / "dl"))
    assert Path(local).read_text().startswith("done\n")  # then mlflow's own closing lines


def test_a_build_context_requirements_file_and_file_outputs(
    served: Workspace, tmp_path: Path
) -> None:
    context = tmp_path / "context"
    context.mkdir()
    (context / "Dockerfile").write_text("FROM python:3.11\nRUN pip install -r requirements.txt\n")
    (context / "requirements.txt").write_text("six==1.16.0\n")
    name = served.submit(
        {
            "command": "python -c 'import six; print(six.__version__)' > ${{outputs.version}}",
            "environment": {"build": {"path": served.uploader.upload_path(context, field="b")}},
            "outputs": {"version": {"type": "uri_file", "name": "runner-six-version"}},
        }
    )
    job = served.wait(name)
    assert job["status"] == "completed", served.logs(name)
    (output,) = served.outputs(name)["items"]
    assert output["asset"] == "azureml:runner-six-version:1"
    digest, _, file = output["uri"].removeprefix("forgeml://content/").partition("/")
    assert file == "version"
    body = served.http.get(f"/content/{digest}/files/{file}")
    assert body.text == "1.16.0\n"


def test_http_inputs_are_downloaded_and_a_bad_one_fails_the_job_by_name(
    served: Workspace, data: Path
) -> None:
    uri = served.uploader.upload_path(data / "train.csv", field="inputs.f")
    digest = uri.removeprefix("forgeml://content/").split("/")[0]
    url = f"{served.url}/api/v1/content/{digest}/files/train.csv"
    good = served.submit(
        {
            "command": "cat ${{inputs.f}}; echo ${{inputs.d}}",
            "environment": HOST_ENV,
            "inputs": {
                "f": {"type": "uri_file", "path": url, "mode": "download"},
                "d": {"type": "uri_file", "path": url, "mode": "direct"},
            },
        }
    )
    assert served.wait(good)["status"] == "completed", served.logs(good)
    assert served.logs(good, "std_out") == f"a,b\n1,2\n3,4\n{url}\n"

    missing = f"{served.url}/api/v1/content/{digest}/files/nope.csv"
    bad = served.submit(
        {
            "command": "cat ${{inputs.f}}",
            "environment": HOST_ENV,
            "inputs": {"f": {"type": "uri_file", "path": missing, "mode": "download"}},
        }
    )
    job = served.wait(bad)
    assert job["status"] == "failed"
    assert job["error"] == f"input 'f': downloading {missing} answered HTTP 404."
    assert job["exit_code"] is None


def test_cancel_while_the_environment_is_being_prepared(served: Workspace) -> None:
    env = {"image": "python:3.11", "conda_file": {"dependencies": [{"pip": ["six==1.15.0"]}]}}
    key = environment_key(Environment.model_validate(env))
    envs = served.home / "envs"
    envs.mkdir(parents=True, exist_ok=True)
    # another build of the same environment holds the lock: the job waits in `preparing`
    with (envs / f"{key}.lock").open("a+") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        name = served.submit({"command": "echo never", "environment": env})
        deadline = time.monotonic() + 30
        while "another job is building environment" not in served.logs(name, "system"):
            assert time.monotonic() < deadline, served.logs(name)
            time.sleep(0.1)
        assert served.job(name)["status"] == "preparing"
        asked = time.monotonic()
        served.http.post(f"/jobs/{name}/cancel").raise_for_status()
        job = served.wait(name, timeout=30)
        assert job["status"] == "canceled"
        assert time.monotonic() - asked < 10
    assert served.logs(name, "std_out") == ""
    assert "canceled while preparing" in served.logs(name, "system")
