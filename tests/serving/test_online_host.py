"""The online scoring host as a deployment runs it: copied out as `forgeml_scoring`, started with
`python -m forgeml_scoring.online` on a loopback port or a unix socket, driven over HTTP.

forgeml's own virtualenv (mlflow, scikit-learn, pandas) stands in for a deployment environment.
A few hosts are started per module and shared: a custom entry script on TCP and an MLflow
no-code model on a unix socket; the init-failure and SIGTERM tests start their own.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from forgeml.serving.hostpkg import PACKAGE_NAME, host_path

PYTHON = Path(sys.executable)

SCORE_PY = """
import json, os, time

SCALE = None

def init():
    global SCALE
    with open(os.path.join(os.environ["AZUREML_MODEL_DIR"], "model", "weights.json")) as f:
        SCALE = json.load(f)["scale"]

def run(raw_data):
    data = json.loads(raw_data)
    if "text" in data:
        return "hello " + data["text"]
    if data.get("fail") == "value":
        raise ValueError("'values' must be numbers, got 'abc'")
    if data.get("fail") == "crash":
        raise RuntimeError("the model exploded")
    time.sleep(data.get("sleep", 0))
    return {"scaled": [v * SCALE for v in data["values"]]}
"""


@dataclass
class Response:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self.socket_path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self.socket_path)
        self.sock = sock


@dataclass
class Host:
    proc: subprocess.Popen[bytes]
    address: str
    stderr_path: Path

    def connect(self, timeout: float = 30) -> http.client.HTTPConnection:
        if self.address.startswith("unix:"):
            return UnixHTTPConnection(self.address[len("unix:") :], timeout)
        host, port = self.address.removeprefix("http://").rsplit(":", 1)
        return http.client.HTTPConnection(host, int(port), timeout=timeout)

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        headers: dict[str, str] | None = None,
        conn: http.client.HTTPConnection | None = None,
    ) -> Response:
        own = conn is None
        conn = conn or self.connect()
        data = body if body is None or isinstance(body, bytes) else json.dumps(body).encode()
        try:
            conn.request(method, path, body=data, headers=headers or {})
            response = conn.getresponse()
            return Response(response.status, response.headers, response.read())
        finally:
            if own:
                conn.close()

    def score(self, body: Any, **headers: str) -> Response:
        return self.request("POST", "/score", body, {"Content-Type": "application/json", **headers})

    def stderr(self) -> str:
        return self.stderr_path.read_text()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.communicate(timeout=10)


def launch(
    workdir: Path, pythonpath: Path, *args: str, env: dict[str, str] | None = None
) -> tuple[subprocess.Popen[bytes], Path, Path]:
    """Start a host as the workspace does; (process, ready file, stderr file)."""
    ready = workdir / "ready.json"
    stderr = workdir / "stderr.txt"
    full_env = {**os.environ, "PYTHONPATH": str(pythonpath), "PYTHONDONTWRITEBYTECODE": "1"}
    with stderr.open("wb") as err:
        proc = subprocess.Popen(
            [str(PYTHON), "-m", f"{PACKAGE_NAME}.online", "--ready-file", str(ready), *args],
            cwd=workdir,
            env={**full_env, **(env or {})},
            stdout=subprocess.PIPE,
            stderr=err,
        )
    return proc, ready, stderr


def start_host(workdir: Path, pythonpath: Path, *args: str, **env: str) -> Host:
    proc, ready, stderr = launch(workdir, pythonpath, *args, env=env)
    deadline = time.monotonic() + 90
    while not ready.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            proc.communicate(timeout=10)
            raise AssertionError(f"the host did not get ready:\n{stderr.read_text()}")
        time.sleep(0.05)
    info = json.loads(ready.read_text())
    assert info["pid"] == proc.pid
    assert proc.stdout is not None
    assert proc.stdout.readline().decode().strip() == f"scoring host ready on {info['address']}"
    return Host(proc, info["address"], stderr)


@pytest.fixture(scope="module")
def pythonpath(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return host_path(tmp_path_factory.mktemp("hostpkg"))


def _custom_script(workdir: Path) -> tuple[Path, Path]:
    code = workdir / "code"
    code.mkdir()
    (code / "score.py").write_text(SCORE_PY)
    model_dir = workdir / "azureml-models" / "scaler" / "1"
    (model_dir / "model").mkdir(parents=True)
    (model_dir / "model" / "weights.json").write_text('{"scale": 10}')
    return code / "score.py", model_dir


@pytest.fixture(scope="module")
def custom_host(tmp_path_factory: pytest.TempPathFactory, pythonpath: Path) -> Iterator[Host]:
    workdir = tmp_path_factory.mktemp("custom")
    script, model_dir = _custom_script(workdir)
    host = start_host(
        workdir,
        pythonpath,
        *("--bind", "127.0.0.1:0", "--entry-script", str(script), "--model-dir", str(model_dir)),
        *("--name", "scaler-blue", "--max-queue-wait", "0.5"),
        AZUREML_MODEL_DIR=str(model_dir),
    )
    yield host
    host.stop()


SAVE_MODEL_PY = """
import sys
import mlflow.sklearn
import pandas as pd
from mlflow.models import infer_signature
from sklearn.linear_model import LinearRegression

frame = pd.DataFrame({"a": [0.0, 1.0, 2.0, 3.0], "b": [1.0, 0.0, 2.0, 1.0]})
model = LinearRegression().fit(frame, frame.a + 2 * frame.b)
signature = infer_signature(frame, model.predict(frame))
mlflow.sklearn.save_model(
    model, sys.argv[1], signature=signature, pip_requirements=["scikit-learn"]
)
"""


@pytest.fixture(scope="module")
def mlflow_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A linear model y = a + 2b saved with a signature, as a job's mlflow_model output."""
    root = tmp_path_factory.mktemp("mlflow-model")
    # in its own process, as a training job would: mlflow's import-time warnings stay there
    subprocess.run(
        [str(PYTHON), "-c", SAVE_MODEL_PY, str(root / "model")],
        check=True,
        capture_output=True,
        timeout=120,
    )
    return root


@pytest.fixture(scope="module")
def mlflow_host(mlflow_model: Path, pythonpath: Path) -> Iterator[Host]:
    workdir = mlflow_model.parent / "host"
    workdir.mkdir()
    sock = workdir / "score.sock"
    host = start_host(
        workdir,
        pythonpath,
        *("--bind", f"unix:{sock}", "--model-dir", str(mlflow_model), "--name", "lin-green"),
    )
    assert host.address == f"unix:{sock}"
    yield host
    host.stop()


# ------------------------------------------------------------------------------ custom scripts


def test_host_package_is_copied_once_when_callers_race(tmp_path: Path) -> None:
    with ThreadPoolExecutor(4) as pool:
        paths = set(pool.map(lambda _: host_path(tmp_path), range(4)))
    assert len(paths) == 1
    (path,) = paths
    assert {p.name for p in (path / PACKAGE_NAME).iterdir()} >= {
        "__init__.py",
        "online.py",
        "scoring.py",
    }
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary folders left


def test_custom_script_scores_with_its_model_dir(custom_host: Host) -> None:
    response = custom_host.score({"values": [1, 2.5]}, **{"x-request-id": "req-1"})
    assert response.status == 200
    assert response.headers["Content-Type"] == "application/json"
    assert response.headers["x-request-id"] == "req-1"
    assert response.json() == {"scaled": [10, 25.0]}


def test_a_string_from_run_is_sent_as_a_json_string(custom_host: Host) -> None:
    response = custom_host.score({"text": "world"})
    assert (response.status, response.body) == (200, b'"hello world"')


def test_value_errors_and_bad_json_are_400_with_the_message(custom_host: Host) -> None:
    response = custom_host.score({"fail": "value"})
    assert response.status == 400
    assert response.json() == {
        "error": {"code": "BadRequest", "message": "'values' must be numbers, got 'abc'"}
    }
    response = custom_host.score(b"{not json")
    assert response.status == 400
    assert "Expecting property name" in response.json()["error"]["message"]


def test_a_crash_in_run_is_500_with_an_error_id_and_the_host_keeps_serving(
    custom_host: Host,
) -> None:
    response = custom_host.score({"fail": "crash"}, **{"x-request-id": "req-crash"})
    assert response.status == 500
    error = response.json()["error"]
    assert error["code"] == "ScoringError"
    assert error["message"] == f"run() raised RuntimeError; error id {error['error_id']}"
    assert "exploded" not in response.body.decode()  # the traceback stays in the host's log
    assert custom_host.score({"values": [1]}).json() == {"scaled": [10]}
    deadline = time.monotonic() + 10
    while "the model exploded" not in custom_host.stderr() and time.monotonic() < deadline:
        time.sleep(0.05)
    logged = [line for line in custom_host.stderr().splitlines() if error["error_id"] in line]
    assert "req-crash" in logged[0]
    assert any("Traceback" in line for line in logged)
    assert any("RuntimeError: the model exploded" in line for line in logged)


def test_probes_routes_and_swagger(custom_host: Host) -> None:
    for path in ("/", "/liveness"):
        response = custom_host.request("GET", path)
        assert (response.status, response.body) == (200, b"Healthy")
    assert custom_host.request("GET", "/readiness").status == 200
    missing = custom_host.request("GET", "/nope")
    assert missing.status == 404
    assert "POST /score" in missing.json()["error"]["message"]
    swagger = custom_host.request("GET", "/swagger.json").json()
    assert swagger["openapi"].startswith("3.")
    assert "scaler-blue" in swagger["info"]["title"]
    assert "post" in swagger["paths"]["/score"]


def test_keep_alive_serves_many_requests_on_one_connection(custom_host: Host) -> None:
    conn = custom_host.connect()
    try:
        first = custom_host.request("POST", "/score", {"values": [1]}, conn=conn)
        sock = conn.sock
        assert first.headers.get("Connection") != "close"
        for i in range(5):
            response = custom_host.request("POST", "/score", {"values": [i]}, conn=conn)
            assert response.json() == {"scaled": [10 * i]}
            assert response.headers["Content-Length"] == str(len(response.body))
        assert custom_host.request("GET", "/readiness", conn=conn).status == 200
        assert conn.sock is sock is not None
    finally:
        conn.close()


def test_a_request_that_finds_no_free_slot_gets_429(custom_host: Host) -> None:
    with ThreadPoolExecutor(1) as pool:
        slow = pool.submit(custom_host.score, {"values": [1], "sleep": 1.2})
        time.sleep(0.4)
        response = custom_host.score({"values": [2]})
        assert response.status == 429
        error = response.json()["error"]
        assert error["code"] == "TooManyRequests"
        assert "1 scoring slot(s) stayed busy for 0.5 s" in error["message"]
        assert slow.result().json() == {"scaled": [10]}


def test_init_failure_exits_3_without_binding(tmp_path: Path, pythonpath: Path) -> None:
    script = tmp_path / "score.py"
    script.write_text("def init():\n    raise FileNotFoundError('no model.pkl in /models')\n")
    script.write_text(script.read_text() + "def run(raw_data):\n    return raw_data\n")
    proc, ready, stderr = launch(
        tmp_path, pythonpath, "--bind", "127.0.0.1:0", "--entry-script", str(script)
    )
    out, _ = proc.communicate(timeout=60)
    assert (proc.returncode, out) == (3, b"")
    lines = stderr.read_text().splitlines()
    assert lines[0] == "init() failed: FileNotFoundError: no model.pkl in /models"
    assert lines[1].startswith("Traceback")
    assert not ready.exists()


def test_a_model_dir_without_mlmodel_fails_to_start(tmp_path: Path, pythonpath: Path) -> None:
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "model.pkl").write_bytes(b"")
    proc, ready, stderr = launch(
        tmp_path, pythonpath, "--bind", "127.0.0.1:0", "--model-dir", str(tmp_path / "model")
    )
    out, _ = proc.communicate(timeout=60)
    assert (proc.returncode, out) == (3, b"")
    first = stderr.read_text().splitlines()[0]
    assert first.startswith("init() failed: LoadError: no MLmodel file in")
    assert not ready.exists()


def test_sigterm_drains_in_flight_requests_then_exits_0(tmp_path: Path, pythonpath: Path) -> None:
    script, model_dir = _custom_script(tmp_path)
    host = start_host(
        tmp_path,
        pythonpath,
        *("--bind", "127.0.0.1:0", "--entry-script", str(script)),
        AZUREML_MODEL_DIR=str(model_dir),
    )
    try:
        idle = host.connect()
        assert host.request("GET", "/readiness", conn=idle).status == 200
        with ThreadPoolExecutor(1) as pool:
            slow = pool.submit(host.score, {"values": [3], "sleep": 1.5})
            time.sleep(0.4)
            host.proc.send_signal(signal.SIGTERM)
            deadline = time.monotonic() + 5
            while host.request("GET", "/readiness", conn=idle).status != 503:
                assert time.monotonic() < deadline, "readiness never turned 503"
                time.sleep(0.05)
            response = slow.result()
        assert response.status == 200 and response.json() == {"scaled": [30]}
        assert response.headers["Connection"] == "close"
        host.proc.communicate(timeout=10)
        assert host.proc.returncode == 0
        with pytest.raises(OSError):
            host.request("GET", "/liveness")
    finally:
        host.stop()


# ------------------------------------------------------------------------------ MLflow no-code


PAYLOADS = {
    "input_data split": (
        {"input_data": {"columns": ["a", "b"], "index": [7, 8], "data": [[1, 2], [3, 4]]}},
        [5.0, 11.0],
    ),
    "input_data list": ({"input_data": [[1, 2], [0, 0]]}, [5.0, 0.0]),
    "input_data dict of lists": ({"input_data": {"a": [1.0], "b": [2.0]}}, [5.0]),
    "dataframe_split": (
        {"dataframe_split": {"columns": ["a", "b"], "data": [[1, 2]]}},
        {"predictions": [5.0]},
    ),
    "dataframe_records": (
        {"dataframe_records": [{"a": 1, "b": 2}, {"a": 2, "b": 0}]},
        {"predictions": [5.0, 2.0]},
    ),
    "instances": ({"instances": [{"a": 1, "b": 2}]}, {"predictions": [5.0]}),
    "inputs": ({"inputs": {"a": [1, 0], "b": [2, 1]}}, {"predictions": [5.0, 2.0]}),
}


@pytest.mark.parametrize("name", list(PAYLOADS))
def test_mlflow_model_scores_every_payload_style(mlflow_host: Host, name: str) -> None:
    payload, expected = PAYLOADS[name]
    response = mlflow_host.score(payload)
    assert response.status == 200, response.body
    if isinstance(expected, dict):  # MLflow's own payloads get MLflow's own answer
        assert list(response.json()) == ["predictions"]
        assert response.json()["predictions"] == pytest.approx(expected["predictions"])
    else:  # Azure ML's input_data gets a bare list
        assert response.json() == pytest.approx(expected)


@pytest.mark.parametrize(
    ("payload", "named"),
    [
        ({"data": [[1, 2]]}, "'input_data'"),
        ([[1, 2]], "a JSON array"),
        ({"dataframe_split": [[1, 2]]}, "'dataframe_split' must be an object"),
        ({"dataframe_split": {"columns": ["a"], "data": [[1]]}}, "missing inputs ['b']"),
    ],
)
def test_malformed_mlflow_payloads_are_400(mlflow_host: Host, payload: Any, named: str) -> None:
    response = mlflow_host.score(payload)
    assert response.status == 400
    error = response.json()["error"]
    assert error["code"] == "BadRequest"
    assert named in error["message"]


def test_mlflow_swagger_follows_the_signature(mlflow_host: Host) -> None:
    assert mlflow_host.request("GET", "/liveness").body == b"Healthy"
    doc = mlflow_host.request("GET", "/swagger.json").json()
    assert doc["info"]["title"].startswith("lin-green")
    request = doc["paths"]["/score"]["post"]["requestBody"]["content"]["application/json"]
    forms = {next(iter(form["required"])): form for form in request["schema"]["oneOf"]}
    assert set(forms) == {
        "input_data",
        "dataframe_split",
        "dataframe_records",
        "instances",
        "inputs",
    }
    split = forms["dataframe_split"]["properties"]["dataframe_split"]
    assert split["properties"]["columns"]["example"] == ["a", "b"]
    records = forms["dataframe_records"]["properties"]["dataframe_records"]["items"]
    assert records["properties"] == {"a": {"type": "number"}, "b": {"type": "number"}}
