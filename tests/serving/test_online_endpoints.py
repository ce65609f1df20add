"""Online endpoints as a user sees them on a live `forgeml up`: a custom `init()`/`run()` model
and an MLflow model served with no code, invoked through the SDK and over plain HTTP with the
endpoint's keys; what a user gets back when a request or `init()` fails; request figures and
logs; deleting deployments and endpoints. One server per module; one endpoint (`blue`, all the
traffic) serves the tests that do not need their own.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from forgeml import MLClient
from forgeml.client.endpoints import DeploymentFailedError
from forgeml.core.errors import ConflictError, ForgemlError, NotFoundError
from forgeml.core.specs import Environment, Model
from forgeml.core.specs.endpoints import CodeConfiguration, OnlineDeployment, RequestSettings
from tests.serving.conftest import (
    FAST_ENV,
    Scorer,
    create_endpoint,
    custom_deployment,
    deploy,
    host_pids,
    unique,
    wait_until,
    worker_pids,
    write_custom_model,
)

MAIN = "ep-main"


@pytest.fixture(scope="module")
def main_endpoint(sdk: MLClient, tmp_path_factory: pytest.TempPathFactory) -> str:
    """`ep-main` with one custom deployment, `blue`, taking all the traffic."""
    create_endpoint(sdk, MAIN)
    files = write_custom_model(tmp_path_factory.mktemp("main"), "blue", scale=2.0)
    blue = custom_deployment(MAIN, "blue", files, environment_variables={"GREETING": "hello"})
    deploy(sdk, blue, all_traffic=True)
    return MAIN


@pytest.fixture
def scorer(sdk: MLClient, main_endpoint: str) -> Iterator[Scorer]:
    made = Scorer.of(sdk, main_endpoint)
    yield made
    made.close()


def _error(response: httpx.Response) -> dict[str, Any]:
    error: dict[str, Any] = response.json()["error"]
    return error


def _logs(sdk: MLClient, name: str, endpoint: str = MAIN) -> str:
    return sdk.online_deployments.get_logs(name, endpoint_name=endpoint, lines=5000)


def _logs_with(sdk: MLClient, name: str, needle: str, endpoint: str = MAIN) -> str:
    """The deployment's logs once they hold `needle` (lines are shipped every second or so)."""
    return wait_until(
        lambda: text if needle in (text := _logs(sdk, name, endpoint)) else None,
        what=f"{needle!r} in the logs of {endpoint}/{name}",
    )


# ------------------------------------------------------------------------------ custom model


def test_a_custom_model_answers_through_the_sdk_and_over_http(
    sdk: MLClient, scorer: Scorer, tmp_path: Path
) -> None:
    answer = json.loads(sdk.online_endpoints.invoke(MAIN, request={"values": [1, 2.5]}))
    assert answer["deployment"] == "blue"
    assert answer["scaled"] == [2, 5.0]
    # the scoring script runs in its code folder, with Azure ML's variables set
    assert answer["entry_script"] == "score.py"
    assert answer["app_root"] == answer["cwd"]
    assert answer["greeting"] == "hello"  # the deployment's environment_variables

    request = tmp_path / "request.json"
    request.write_text(json.dumps({"values": [3]}))
    from_file = sdk.online_endpoints.invoke(
        endpoint_name=MAIN, request_file=str(request), deployment_name="blue"
    )
    assert json.loads(from_file)["scaled"] == [6]

    response = scorer.post({"values": [4]})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.headers["azureml-model-deployment"] == "blue"
    assert response.json()["scaled"] == [8]
    # a request id is echoed (or made) so the answer can be found in the logs
    response = scorer.post({"values": [4]}, headers={"x-request-id": "my-request-7"})
    assert response.headers["x-request-id"] == "my-request-7"

    endpoint = sdk.online_endpoints.get(MAIN)
    assert endpoint.traffic == {"blue": 100}
    assert endpoint.provisioning_state == "Succeeded"
    assert endpoint.openapi_uri == scorer.uri.replace("/score", "/swagger.json")
    dep = sdk.online_deployments.get("blue", endpoint_name=MAIN)
    assert dep.provisioning_state == "Succeeded"
    assert [i["state"] for i in dep.instances or []] == ["ready"]

    swagger = httpx.get(
        endpoint.openapi_uri, headers={"authorization": f"Bearer {scorer.key}"}, timeout=30
    )
    assert swagger.status_code == 200
    assert "/score" in swagger.json()["paths"]


def test_a_model_file_keeps_its_name_under_the_model_dir(
    sdk: MLClient, scorer: Scorer, tmp_path: Path
) -> None:
    weights = tmp_path / "weights.json"
    weights.write_text('{"scale": 5}')
    code = tmp_path / "code"
    code.mkdir()
    (code / "score.py").write_text(
        "import json, os\n"
        "def init():\n"
        "    global SCALE\n"
        "    path = os.path.join(os.environ['AZUREML_MODEL_DIR'], 'weights.json')\n"
        "    SCALE = json.load(open(path))['scale']\n"
        "def run(raw_data):\n"
        "    return [v * SCALE for v in json.loads(raw_data)['values']]\n"
    )
    deploy(
        sdk,
        OnlineDeployment(
            name="single-file",
            endpoint_name=MAIN,
            model=Model(path=str(weights)),
            code_configuration=CodeConfiguration(code=str(code), scoring_script="score.py"),
            environment=FAST_ENV,
        ),
    )
    try:
        response = scorer.post({"values": [1, 2]}, deployment="single-file")
        assert response.status_code == 200, response.text
        assert response.json() == [5, 10]
    finally:
        sdk.online_deployments.begin_delete("single-file", endpoint_name=MAIN).result(timeout=30)


# ------------------------------------------------------------------------------ keys


def test_scoring_needs_a_valid_key_and_keys_never_reach_the_logs(
    sdk: MLClient, scorer: Scorer
) -> None:
    keys = sdk.online_endpoints.get_keys(MAIN)
    assert keys.primary_key != keys.secondary_key
    no_key = httpx.post(scorer.uri, json={"values": [1]}, timeout=30)
    assert no_key.status_code == 401
    assert "Bearer" in _error(no_key)["message"]
    assert scorer.post({"values": [1]}, key="not-the-key").status_code == 401
    basic = scorer.post({"values": [1]}, headers={"authorization": f"Basic {keys.primary_key}"})
    assert basic.status_code == 401
    assert scorer.post({"values": [1]}, key=keys.secondary_key).status_code == 200
    assert scorer.post({"values": [1]}).status_code == 200

    logs = _logs_with(sdk, "blue", "-> 200")
    for secret in (keys.primary_key, keys.secondary_key, "not-the-key"):
        assert secret not in logs


def test_a_regenerated_primary_key_replaces_the_old_one_only(sdk: MLClient, scorer: Scorer) -> None:
    before = sdk.online_endpoints.get_keys(MAIN)
    sdk.online_endpoints.begin_regenerate_keys(MAIN, key_type="primary").result()
    after = sdk.online_endpoints.get_keys(MAIN)
    assert after.primary_key != before.primary_key
    assert after.secondary_key == before.secondary_key

    assert scorer.post({"values": [1]}, key=before.primary_key).status_code == 401
    assert scorer.post({"values": [1]}, key=after.primary_key).status_code == 200
    assert scorer.post({"values": [1]}, key=after.secondary_key).status_code == 200
    # the SDK forgets the key it had and invokes with the new one
    assert json.loads(sdk.online_endpoints.invoke(MAIN, request={"values": [1]}))["scaled"] == [2]

    # a key of the user's choosing
    chosen = "my-own-secondary-key-0123456789"
    sdk.online_endpoints.begin_regenerate_keys(
        MAIN, key_type="secondary", key_value=chosen
    ).result()
    assert sdk.online_endpoints.get_keys(MAIN).secondary_key == chosen
    assert scorer.post({"values": [1]}, key=chosen).status_code == 200
    assert scorer.post({"values": [1]}, key=after.secondary_key).status_code == 401
    assert scorer.post({"values": [1]}, key=after.primary_key).status_code == 200


# ------------------------------------------------------------------------------ errors


def test_a_value_error_in_run_is_a_400_with_the_scripts_message(
    sdk: MLClient, scorer: Scorer
) -> None:
    response = scorer.post({"fail": "value"})
    assert response.status_code == 400
    assert response.headers["azureml-model-deployment"] == "blue"
    assert "'values' must be numbers, got 'abc'" in _error(response)["message"]
    with pytest.raises(ForgemlError, match="'values' must be numbers"):
        sdk.online_endpoints.invoke(MAIN, request={"fail": "value"})
    # a body the script's json.loads cannot read is the caller's mistake too
    assert scorer.post(b"{not json").status_code == 400


def test_a_crash_in_run_is_a_500_with_an_error_id_and_the_next_request_succeeds(
    sdk: MLClient, scorer: Scorer
) -> None:
    response = scorer.post({"fail": "crash"})
    assert response.status_code == 500
    error = _error(response)
    error_id = error["error_id"]
    assert error_id and error_id in error["message"]
    assert "RuntimeError" in error["message"]
    # the user's exception text stays in the logs, not in the answer
    assert "the model exploded" not in response.text
    assert scorer.post({"values": [1]}).status_code == 200

    logs = _logs_with(sdk, "blue", error_id)
    assert "the model exploded" in logs
    assert "Traceback" in logs


def test_malformed_routes_and_unknown_names_are_404(scorer: Scorer) -> None:
    base = scorer.uri.rsplit("/", 1)[0]
    auth = {"authorization": f"Bearer {scorer.key}"}
    with httpx.Client(timeout=30, headers=auth) as client:
        assert client.get(scorer.uri).status_code == 404
        assert client.post(f"{base}/predict", json={}).status_code == 404
        assert client.post(f"{base}/score/extra", json={}).status_code == 404
        assert client.post(f"{base}", json={}).status_code == 404
        missing = client.post(base.replace(MAIN, "no-such-endpoint") + "/score", json={})
        assert missing.status_code == 404
        assert "no-such-endpoint" in _error(missing)["message"]
    pinned = scorer.post({"values": [1]}, deployment="nobody")
    assert pinned.status_code == 404
    assert "blue" in _error(pinned)["message"]  # it lists the deployments there are


def test_a_request_over_the_deployments_timeout_is_a_408(
    sdk: MLClient, scorer: Scorer, tmp_path: Path
) -> None:
    files = write_custom_model(tmp_path, "slow")
    slow = custom_deployment(
        MAIN, "slow", files, request_settings=RequestSettings(request_timeout_ms=300)
    )
    deploy(sdk, slow)
    try:
        started = time.monotonic()
        response = scorer.post({"values": [1], "sleep": 1.5}, deployment="slow")
        assert response.status_code == 408
        assert time.monotonic() - started < 1.2
        assert "request_timeout_ms" in _error(response)["message"]
        # the instance serves again once the slow request is over
        wait_until(
            lambda: scorer.post({"values": [1]}, deployment="slow").status_code == 200,
            timeout=10,
            interval=0.3,
            what="the slow deployment to answer again",
        )
    finally:
        sdk.online_deployments.begin_delete("slow", endpoint_name=MAIN).result(timeout=30)


# ------------------------------------------------------------------------------ init failure


def test_an_init_failure_fails_the_deployment_and_never_takes_requests(
    sdk: MLClient, scorer: Scorer, tmp_path: Path
) -> None:
    files = write_custom_model(tmp_path, "broken", fail_init="weights file is corrupt")
    with pytest.raises(DeploymentFailedError, match="weights file is corrupt"):
        deploy(sdk, custom_deployment(MAIN, "broken", files))
    dep = sdk.online_deployments.get("broken", endpoint_name=MAIN)
    assert dep.provisioning_state == "Failed"
    assert "weights file is corrupt" in (dep.status_message or "")
    logs = _logs_with(sdk, "broken", "Traceback")
    assert "RuntimeError: weights file is corrupt" in logs
    assert "init()" in logs

    pinned = scorer.post({"values": [1]}, deployment="broken")
    assert pinned.status_code == 503
    assert "broken" in _error(pinned)["message"]
    # the endpoint's traffic still goes to blue
    for _ in range(5):
        response = scorer.post({"values": [1]})
        assert response.status_code == 200
        assert response.headers["azureml-model-deployment"] == "blue"
    sdk.online_deployments.begin_delete("broken", endpoint_name=MAIN).result(timeout=30)


def test_a_failed_update_leaves_the_previous_version_serving(
    sdk: MLClient, scorer: Scorer, tmp_path: Path
) -> None:
    files = write_custom_model(tmp_path, "blue", version="bad", fail_init="no GPU here")
    with pytest.raises(DeploymentFailedError, match="no GPU here"):
        deploy(sdk, custom_deployment(MAIN, "blue", files))
    for _ in range(5):
        response = scorer.post({"values": [1]})
        assert response.status_code == 200, response.text
        assert response.json()["version"] == "v1"
    # and a good update afterwards serves again (the user fixes the model and redeploys)
    fixed = write_custom_model(tmp_path, "blue", version="v1")
    deploy(sdk, custom_deployment(MAIN, "blue", fixed))
    assert scorer.post({"values": [1]}).json()["version"] == "v1"


# ------------------------------------------------------------------------------ metrics, logs


def test_metrics_count_requests_errors_and_latency(sdk: MLClient, scorer: Scorer) -> None:
    before = sdk.online_deployments.metrics("blue", endpoint_name=MAIN)
    for _ in range(6):
        assert scorer.post({"values": [1]}).status_code == 200
    assert scorer.post({"fail": "value"}).status_code == 400
    assert scorer.post({"fail": "crash"}).status_code == 500
    after = sdk.online_deployments.metrics("blue", endpoint_name=MAIN)
    assert (after.endpoint, after.deployment) == (MAIN, "blue")
    assert after.requests - before.requests == 8
    assert after.client_errors - before.client_errors == 1
    assert after.errors - before.errors == 1
    latency = after.latency
    assert latency.p50_ms is not None and latency.p90_ms is not None
    assert latency.p99_ms is not None and latency.mean_ms is not None
    assert 0 < latency.p50_ms <= latency.p90_ms <= latency.p99_ms
    assert after.window >= 8

    logs = _logs_with(sdk, "blue", "-> 500")
    assert "POST /score -> 200" in logs
    assert "POST /score -> 400" in logs


# ------------------------------------------------------------------------------ MLflow no-code


SAVE_MODEL_PY = """
import sys
import mlflow.sklearn
import pandas as pd
from mlflow.models import infer_signature
from sklearn.linear_model import LinearRegression

frame = pd.DataFrame({"a": [0.0, 1.0, 2.0, 3.0], "b": [1.0, 0.0, 2.0, 1.0]})
model = LinearRegression().fit(frame, frame.a + 2 * frame.b)
mlflow.sklearn.save_model(
    model, sys.argv[1], signature=infer_signature(frame, model.predict(frame)),
    pip_requirements=["scikit-learn", "pandas"],
)
"""


@pytest.fixture(scope="module")
def mlflow_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A linear model y = a + 2b saved with a signature, in a folder named `linear`."""
    root = tmp_path_factory.mktemp("mlflow-model")
    # in its own process, as a training job would: mlflow's import-time warnings stay there
    subprocess.run(
        [sys.executable, "-c", SAVE_MODEL_PY, str(root / "linear")],
        check=True,
        capture_output=True,
        timeout=120,
    )
    return root / "linear"


def _mlflow_deployment(endpoint: str, model: Path, env: Environment | None) -> OnlineDeployment:
    return OnlineDeployment(
        name="linear",
        endpoint_name=endpoint,
        model=Model(path=str(model), type="mlflow_model"),
        environment=env,
    )


@pytest.fixture(scope="module")
def mlflow_endpoint(sdk: MLClient, mlflow_model: Path) -> str:
    name = "ep-mlflow"
    create_endpoint(sdk, name)
    deploy(sdk, _mlflow_deployment(name, mlflow_model, FAST_ENV), all_traffic=True)
    return name


def _predictions(values: Any) -> list[float]:
    return [round(float(v), 6) for v in values]


def test_an_mlflow_model_deploys_without_code_and_reads_azure_and_mlflow_payloads(
    sdk: MLClient, mlflow_endpoint: str
) -> None:
    scorer = Scorer.of(sdk, mlflow_endpoint)
    try:
        split = {"columns": ["a", "b"], "index": [0, 1], "data": [[1, 1], [2, 0.5]]}
        azure = scorer.post({"input_data": split})
        assert azure.status_code == 200, azure.text
        assert _predictions(azure.json()) == [3.0, 3.0]
        assert azure.headers["azureml-model-deployment"] == "linear"
        through_sdk = sdk.online_endpoints.invoke(mlflow_endpoint, request={"input_data": split})
        assert _predictions(json.loads(through_sdk)) == [3.0, 3.0]

        mlflow_payloads = [
            {"dataframe_split": {"columns": ["a", "b"], "data": [[1, 1], [0, 2]]}},
            {"dataframe_records": [{"a": 1, "b": 1}, {"a": 0, "b": 2}]},
            {"instances": [{"a": 1, "b": 1}, {"a": 0, "b": 2}]},
            {"inputs": {"a": [1, 0], "b": [1, 2]}},
        ]
        for payload in mlflow_payloads:
            response = scorer.post(payload)
            assert response.status_code == 200, (payload, response.text)
            assert _predictions(response.json()["predictions"]) == [3.0, 4.0], payload

        for bad in (
            {"data": [[1, 2]]},
            {"input_data": "a,b"},
            [1, 2],
            {"dataframe_split": {"columns": ["a", "b"], "data": [["x", "y"]]}},
        ):
            response = scorer.post(bad)
            assert response.status_code == 400, (bad, response.text)
            assert _error(response)["message"]
        assert scorer.post(b"not json").status_code == 400
    finally:
        scorer.close()


def test_the_swagger_document_describes_the_model(sdk: MLClient, mlflow_endpoint: str) -> None:
    endpoint = sdk.online_endpoints.get(mlflow_endpoint)
    assert endpoint.openapi_uri is not None
    key = sdk.online_endpoints.get_keys(mlflow_endpoint).primary_key
    assert httpx.get(endpoint.openapi_uri, timeout=30).status_code == 401
    response = httpx.get(
        endpoint.openapi_uri, headers={"authorization": f"Bearer {key}"}, timeout=30
    )
    assert response.status_code == 200, response.text
    doc = response.json()
    assert doc["openapi"].startswith("3.")
    post = doc["paths"]["/score"]["post"]
    columns = json.dumps(post["requestBody"])
    assert '"a"' in columns and '"b"' in columns  # the signature's column names
    assert {"200", "400", "500"} <= set(post["responses"])


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_an_mlflow_model_without_an_environment_gets_one_from_its_conda_file(
    sdk: MLClient, mlflow_model: Path
) -> None:
    name = "ep-mlflow-env"
    create_endpoint(sdk, name)
    deploy(sdk, _mlflow_deployment(name, mlflow_model, None), all_traffic=True, timeout=180)
    scorer = Scorer.of(sdk, name)
    try:
        response = scorer.post({"dataframe_records": [{"a": 1, "b": 1}]})
        assert response.status_code == 200, response.text
        assert _predictions(response.json()["predictions"]) == [3.0]
    finally:
        scorer.close()
    logs = sdk.online_deployments.get_logs("linear", endpoint_name=name, lines=2000)
    assert "workspace's Python" not in logs  # it ran in an environment of its own
    sdk.online_endpoints.begin_delete(name).result(timeout=60)


# ------------------------------------------------------------------------------ deleting


def test_a_deployment_with_traffic_cannot_be_deleted_and_deleting_stops_its_workers(
    sdk: MLClient, tmp_path: Path
) -> None:
    name = unique("ep-del")
    create_endpoint(sdk, name)
    for dep_name in ("blue", "green"):
        files = write_custom_model(tmp_path, dep_name)
        deploy(sdk, custom_deployment(name, dep_name, files))
    sdk.online_endpoints.update_traffic(name, traffic={"blue": 100}, mirror_traffic={"green": 10})
    scorer = Scorer.of(sdk, name)
    try:
        instances = {
            d: [i["id"] for i in sdk.online_deployments.get(d, endpoint_name=name).instances or []]
            for d in ("blue", "green")
        }
        for ids in instances.values():
            assert len(ids) == 1
            assert host_pids(ids[0]) and worker_pids(ids[0])

        with pytest.raises(ConflictError, match="traffic"):
            sdk.online_deployments.begin_delete("blue", endpoint_name=name)
        with pytest.raises(ConflictError, match="traffic"):
            sdk.online_deployments.begin_delete("green", endpoint_name=name)
        sdk.online_endpoints.update_traffic(name, mirror_traffic={"green": 0})
        sdk.online_deployments.begin_delete("green", endpoint_name=name).result(timeout=30)
        with pytest.raises(NotFoundError):
            sdk.online_deployments.get("green", endpoint_name=name)
        assert [d.name for d in sdk.online_deployments.list(endpoint_name=name)] == ["blue"]
        (green,) = instances["green"]
        wait_until(
            lambda: not host_pids(green) and not worker_pids(green),
            what="green's processes to stop",
        )
        assert scorer.post({"values": [1]}, deployment="green").status_code == 404
        assert scorer.post({"values": [1]}).status_code == 200

        sdk.online_endpoints.begin_delete(name).result(timeout=30)
        with pytest.raises(NotFoundError):
            sdk.online_endpoints.get(name)
        assert name not in [e.name for e in sdk.online_endpoints.list()]
        assert scorer.post({"values": [1]}).status_code == 404
        (blue,) = instances["blue"]
        wait_until(
            lambda: not host_pids(blue) and not worker_pids(blue),
            what="blue's processes to stop",
        )

        # the name can be used again, with new keys
        create_endpoint(sdk, name)
        fresh = Scorer.of(sdk, name)
        try:
            assert fresh.key != scorer.key
            assert scorer.post({"values": [1]}).status_code == 401
            assert fresh.post({"values": [1]}).status_code == 503  # no deployment yet
        finally:
            fresh.close()
        sdk.online_endpoints.begin_delete(name).result(timeout=30)
    finally:
        scorer.close()
