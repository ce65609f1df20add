"""The mlflow client against a `forgeml up` whose metadata store is PostgreSQL."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import mlflow
import pytest
from mlflow import MlflowClient
from mlflow.entities import Metric, Param
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

from tests.cli.live import Server
from tests.tracking.conftest import start_tracking_server


@pytest.fixture
def pg_server(pg_url: str, tmp_path: Path) -> Iterator[Server]:
    running = start_tracking_server(tmp_path, "--store", pg_url)
    try:
        yield running
    finally:
        running.stop()


@pytest.mark.postgres
@pytest.mark.slow
def test_tracking_and_registry_on_postgres(
    pg_server: Server, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", pg_server.url)
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    mlflow.set_tracking_uri(pg_server.url)
    mlflow.set_registry_uri(pg_server.url)
    c = MlflowClient()
    mlflow.set_experiment("pg")
    X, y = load_iris(return_X_y=True)
    with mlflow.start_run() as run:
        mlflow.log_params({"C": 0.5})
        for step in range(3):
            mlflow.log_metric("loss", 1.0 / (step + 1), step=step)
        mlflow.log_text("notes", "notes.txt")
        mlflow.sklearn.log_model(
            LogisticRegression(C=0.5, max_iter=300).fit(X, y),
            name="model",
            registered_model_name="pg-iris",
            pip_requirements=["scikit-learn"],
        )
    ts = int(time.time() * 1000)
    c.log_batch(run.info.run_id, metrics=[Metric("acc", 0.9, ts, 0)], params=[Param("p", "1")])

    assert [m.value for m in c.get_metric_history(run.info.run_id, "loss")] == [1.0, 0.5, 1 / 3]
    found = c.search_runs(
        [run.info.experiment_id], "metrics.acc > 0.5 and params.C = '0.5'", order_by=["start_time"]
    )
    assert [r.info.run_id for r in found] == [run.info.run_id]
    assert mlflow.artifacts.load_text(f"runs:/{run.info.run_id}/notes.txt") == "notes"
    c.set_registered_model_alias("pg-iris", "prod", "1")
    assert mlflow.sklearn.load_model("models:/pg-iris@prod").C == 0.5
