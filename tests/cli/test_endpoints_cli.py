"""Online and batch endpoints driven with `forgeml online-endpoint|online-deployment|
batch-endpoint|batch-deployment`, as a user types them, against a real workspace.

The scoring scripts and model folders are written per test; their environment is only an image,
which the workspace runs on its own Python, so a deployment is up in seconds.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

from forgeml import MLClient
from tests.cli.live import Cli
from tests.jobs.conftest import cli, sdk, server  # noqa: F401

SCORE_PY = """
import json, os

SCALE = None

def init():
    global SCALE
    with open(os.path.join(os.environ["AZUREML_MODEL_DIR"], "model", "weights.json")) as f:
        SCALE = json.load(f)["scale"]
    print(f"init: loaded scale {SCALE}", flush=True)

def run(raw_data):
    return {"scaled": [v * SCALE for v in json.loads(raw_data)["values"]]}
"""

FAILING_PY = """
def init():
    raise RuntimeError("weights.bin is missing")

def run(raw_data):
    return raw_data
"""

BATCH_PY = """
import os

def init():
    print("batch init", flush=True)

def run(mini_batch):
    out = []
    for path in mini_batch:
        with open(path) as f:
            out.append(f"{os.path.basename(path)},{len(f.read().split())}")
    return out
"""


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip())
    return path


def leading_json(stdout: str) -> Any:
    """The JSON document a command printed first (`--stream` prints the logs after it)."""
    value, _ = json.JSONDecoder().raw_decode(stdout.lstrip())
    return value


def online_project(root: Path) -> Path:
    write(root / "model" / "weights.json", '{"scale": 3}')
    write(root / "src" / "score.py", SCORE_PY)
    write(root / "bad" / "score.py", FAILING_PY)
    write(
        root / "endpoint.yml",
        """
        $schema: https://azuremlschemas.azureedge.net/latest/managedOnlineEndpoint.schema.json
        name: scaler
        auth_mode: key
        """,
    )
    write(
        root / "blue.yml",
        """
        $schema: https://azuremlschemas.azureedge.net/latest/managedOnlineDeployment.schema.json
        name: blue
        endpoint_name: scaler
        model:
          path: model
        code_configuration:
          code: src
          scoring_script: score.py
        environment:
          image: python:3.11
        instance_type: Standard_DS3_v2
        instance_count: 1
        """,
    )
    write(root / "request.json", '{"values": [1, 2]}')
    return root


def test_online_endpoint_lifecycle(cli: Cli, sdk: MLClient, tmp_path: Path) -> None:  # noqa: F811
    project = online_project(tmp_path)
    endpoint_yml, blue_yml = str(project / "endpoint.yml"), str(project / "blue.yml")

    created = json.loads(cli.ok("online-endpoint", "create", "-f", endpoint_yml, "-n", "scorer"))
    assert (created["name"], created["auth_mode"]) == ("scorer", "key")
    assert created["scoring_uri"].endswith("/endpoints/scorer/score")

    deployed = json.loads(
        cli.ok("online-deployment", "create", "-f", blue_yml, "-e", "scorer", "--all-traffic")
    )
    assert (deployed["name"], deployed["provisioning_state"]) == ("blue", "Succeeded")
    assert sdk.online_endpoints.get("scorer").traffic == {"blue": 100}

    request = str(project / "request.json")
    answer = cli.ok("online-endpoint", "invoke", "-n", "scorer", "--request-file", request)
    assert json.loads(answer) == {"scaled": [3, 6]}

    keys = json.loads(cli.ok("online-endpoint", "get-credentials", "--name", "scorer"))
    assert set(keys) == {"primaryKey", "secondaryKey"}
    assert keys["primaryKey"] and keys["secondaryKey"]
    assert keys["primaryKey"] != keys["secondaryKey"]
    shown = cli.ok("online-endpoint", "show", "-n", "scorer", "-o", "yaml")
    assert "blue: 100" in shown
    assert keys["primaryKey"] not in shown and keys["secondaryKey"] not in shown

    cli.ok("online-endpoint", "regenerate-keys", "-n", "scorer", "--key-type", "primary")
    renewed = json.loads(cli.ok("online-endpoint", "get-credentials", "--name", "scorer"))
    assert renewed["primaryKey"] != keys["primaryKey"]
    assert renewed["secondaryKey"] == keys["secondaryKey"]
    # invoke fetches the current key, so it still gets through
    again = cli.ok("online-endpoint", "invoke", "-n", "scorer", "-r", request, "-d", "blue")
    assert json.loads(again) == {"scaled": [3, 6]}

    error = cli.fails("online-endpoint", "update", "-n", "scorer", "--traffic", "blue=90 green=10")
    assert "no deployment named 'green'" in error and "blue" in error
    assert len(error.strip().splitlines()) == 1
    bad_share = cli.fails("online-endpoint", "update", "-n", "scorer", "--traffic", "blue=ninety")
    assert '--traffic "blue=90 green=10"' in bad_share

    logs = cli.ok("online-deployment", "get-logs", "-n", "blue", "-e", "scorer", "--lines", "50")
    assert "init: loaded scale 3" in logs

    metrics = cli.ok("online-deployment", "metrics", "-n", "blue", "-e", "scorer")
    rows = {line.split()[0]: line.split()[-1] for line in metrics.splitlines() if line.strip()}
    assert (rows["requests"], rows["errors"], rows["client_errors"]) == ("2", "0", "0")
    assert float(rows["latency_p50_ms"]) > 0 and float(rows["latency_p99_ms"]) > 0

    # a deployment whose init() fails: the command exits non-zero with the reason
    failed = cli.fails(
        "online-deployment",
        "create",
        "-f",
        blue_yml,
        "--endpoint-name",
        "scorer",
        "--name",
        "broken",
        "--set",
        "code_configuration.code=bad",
    )
    assert "weights.bin is missing" in failed
    assert "online-deployment get-logs --name broken --endpoint-name scorer" in failed
    assert sdk.online_deployments.get("broken", "scorer").provisioning_state == "Failed"

    refused = cli.fails("online-deployment", "delete", "-n", "blue", "-e", "scorer", "--yes")
    assert "still takes traffic" in refused

    cli.ok("online-endpoint", "delete", "-n", "scorer", "--yes")
    assert "scorer" not in [e.name for e in sdk.online_endpoints.list()]


def test_batch_endpoint_scores_a_folder(cli: Cli, sdk: MLClient, tmp_path: Path) -> None:  # noqa: F811
    write(tmp_path / "model" / "weights.json", '{"scale": 3}')
    write(tmp_path / "src" / "batch_score.py", BATCH_PY)
    for i, text in enumerate(["one", "one two", "one two three"], start=1):
        write(tmp_path / "data" / f"f{i}.txt", text)
    endpoint_yml = write(
        tmp_path / "endpoint.yml",
        """
        $schema: https://azuremlschemas.azureedge.net/latest/batchEndpoint.schema.json
        name: counter
        """,
    )
    deployment_yml = write(
        tmp_path / "deployment.yml",
        """
        $schema: https://azuremlschemas.azureedge.net/latest/modelBatchDeployment.schema.json
        name: words
        endpoint_name: counter
        type: model
        model:
          path: model
        code_configuration:
          code: src
          scoring_script: batch_score.py
        environment:
          image: python:3.11
        compute: azureml:local
        settings:
          mini_batch_size: 2
          output_file_name: predictions.csv
        """,
    )
    cli.ok("batch-endpoint", "create", "-f", str(endpoint_yml))
    made = json.loads(cli.ok("batch-deployment", "create", "-f", str(deployment_yml)))
    assert (made["name"], made["type"]) == ("words", "model")

    out = cli.ok(
        "batch-endpoint", "invoke", "-n", "counter", "--input", str(tmp_path / "data"), "--stream"
    )
    job = leading_json(out)
    assert job["tags"]["endpoint"] == "counter"
    assert "batch init" in out and "Status: completed" in out
    assert job["name"] in cli.ok("batch-endpoint", "list-jobs", "-n", "counter")

    cli.ok(
        "job", "download", "-n", job["name"], "--output-name", "score", "-p", str(tmp_path / "dl")
    )
    (predictions,) = (tmp_path / "dl").rglob("predictions.csv")
    assert sorted(predictions.read_text().split()) == ["f1.txt,1", "f2.txt,2", "f3.txt,3"]

    cli.ok("batch-deployment", "create", "-f", str(deployment_yml), "-n", "words2", "--set-default")
    assert sdk.batch_endpoints.get("counter").defaults == {"deployment_name": "words2"}
    assert "words2" in cli.ok("batch-deployment", "list", "-e", "counter")

    missing = cli.fails("batch-endpoint", "invoke", "-n", "counter", "--input", "azureml:nope:1")
    assert "no data asset named 'nope'" in missing
    cli.ok("batch-endpoint", "delete", "-n", "counter", "--yes")
    assert "counter" not in [e.name for e in sdk.batch_endpoints.list()]
