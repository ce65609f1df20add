"""Proxied artifacts: upload, list, download (large files streamed), delete, path safety."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import mlflow
import requests
from mlflow import MlflowClient

ARTIFACTS = "/api/2.0/mlflow-artifacts/artifacts"


def test_log_list_and_download_artifacts(tracking_uri: str, unique: str, tmp_path: Path) -> None:
    mlflow.set_experiment(f"art-{unique}")
    folder = tmp_path / "report"
    (folder / "plots").mkdir(parents=True)
    (folder / "summary.txt").write_text("accuracy 0.9\n")
    (folder / "plots" / "roc.csv").write_text("fpr,tpr\n0,0\n1,1\n")
    single = tmp_path / "data.csv"
    single.write_text("a,b\n1,2\n")
    with mlflow.start_run() as run:
        mlflow.log_artifact(str(single), "raw")
        mlflow.log_artifacts(str(folder), "report")
        mlflow.log_text("hello", "notes/hello.txt")
        mlflow.log_dict({"k": 1}, "config.json")

    c = MlflowClient()
    top = {f.path: f.is_dir for f in c.list_artifacts(run.info.run_id)}
    assert top == {"raw": True, "report": True, "notes": True, "config.json": False}
    nested = c.list_artifacts(run.info.run_id, "report/plots")
    assert [(f.path, f.file_size) for f in nested] == [("report/plots/roc.csv", 16)]

    local = mlflow.artifacts.download_artifacts(run_id=run.info.run_id, artifact_path="report")
    assert (Path(local) / "plots" / "roc.csv").read_text() == "fpr,tpr\n0,0\n1,1\n"
    assert mlflow.artifacts.load_text(f"runs:/{run.info.run_id}/notes/hello.txt") == "hello"
    assert mlflow.artifacts.load_dict(f"runs:/{run.info.run_id}/config.json") == {"k": 1}


def test_a_large_file_round_trips(tracking_uri: str, tmp_path: Path) -> None:
    big = tmp_path / "weights.bin"
    with big.open("wb") as fh:
        for _ in range(12):
            fh.write(os.urandom(1 << 20))  # 12 MiB: more than the 8 MiB held in memory
    digest = hashlib.sha256(big.read_bytes()).hexdigest()
    c = MlflowClient()
    run = c.create_run("0")
    c.log_artifact(run.info.run_id, str(big))
    [entry] = c.list_artifacts(run.info.run_id)
    assert (entry.path, entry.file_size) == ("weights.bin", 12 << 20)
    out = c.download_artifacts(run.info.run_id, "weights.bin", str(tmp_path / "out"))
    assert hashlib.sha256(Path(out).read_bytes()).hexdigest() == digest


def test_the_artifact_service_speaks_mlflows_wire_format(tracking_uri: str) -> None:
    url = f"{tracking_uri}{ARTIFACTS}"
    put = requests.put(f"{url}/0/manual/a/b.txt", data=b"bytes", timeout=30)
    assert put.status_code == 200
    listing = requests.get(url, params={"path": "0/manual/a"}, timeout=30).json()
    assert listing == {"files": [{"path": "b.txt", "is_dir": False, "file_size": 5}]}
    # a file or a missing folder lists as {}
    assert requests.get(url, params={"path": "0/manual/a/b.txt"}, timeout=30).json() == {}
    assert requests.get(url, params={"path": "0/nothing"}, timeout=30).json() == {}
    got = requests.get(f"{url}/0/manual/a/b.txt", timeout=30)
    assert got.content == b"bytes"
    assert "b.txt" in got.headers["content-disposition"]

    missing = requests.get(f"{url}/0/manual/none.txt", timeout=30)
    assert missing.status_code == 404
    assert missing.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"

    assert requests.delete(f"{url}/0/manual", timeout=30).status_code == 200
    assert requests.get(f"{url}/0/manual/a/b.txt", timeout=30).status_code == 404

    mpu = requests.post(
        f"{tracking_uri}/api/2.0/mlflow-artifacts/mpu/create/0/x.bin",
        json={"path": "x.bin", "num_parts": 2},
        timeout=30,
    )
    assert mpu.status_code == 501
    assert mpu.json()["message"].startswith("Multipart upload is not supported")


def test_paths_cannot_escape_the_artifact_root(tracking_uri: str) -> None:
    url = f"{tracking_uri}{ARTIFACTS}"
    for path in ("0/../../etc/passwd", "0/a/%2e%2e/%2e%2e/x", "0/a\\..\\b"):
        reply = requests.put(f"{url}/{path}", data=b"x", timeout=30)
        assert reply.status_code in (400, 404), (path, reply.status_code)
        if reply.status_code == 400:
            assert reply.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    escaped = requests.get(url, params={"path": "../.."}, timeout=30)
    assert escaped.status_code == 400
    # registered model versions are immutable content, served read-only
    frozen = requests.put(f"{url}/forgeml-content/{'0' * 64}/MLmodel", data=b"x", timeout=30)
    assert frozen.status_code == 403
    assert frozen.json()["error_code"] == "PERMISSION_DENIED"
