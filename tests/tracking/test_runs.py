"""Runs through the real mlflow client: logging, metric history, inputs, search, lifecycle."""

from __future__ import annotations

import math
import time

import mlflow
import pandas as pd
import pytest
from mlflow import MlflowClient
from mlflow.entities import Metric, Param, RunTag, ViewType
from mlflow.exceptions import MlflowException


def test_a_run_records_params_metrics_and_tags(tracking_uri: str, unique: str) -> None:
    mlflow.set_experiment(f"runs-{unique}")
    with mlflow.start_run(run_name="first") as run:
        mlflow.log_param("alpha", 0.5)
        mlflow.log_params({"layers": 3, "optimizer": "adam"})
        for step in range(5):
            mlflow.log_metric("loss", 1.0 / (step + 1), step=step)
        mlflow.log_metrics({"acc": 0.9, "f1": 0.8})
        mlflow.set_tag("team", "vision")
        mlflow.set_tags({"stage": "dev"})

    got = MlflowClient().get_run(run.info.run_id)
    assert got.info.status == "FINISHED"
    assert got.info.end_time is not None and got.info.end_time >= got.info.start_time
    assert got.info.run_name == "first"
    assert got.info.artifact_uri == (
        f"mlflow-artifacts:/{run.info.experiment_id}/{run.info.run_id}/artifacts"
    )
    assert got.data.params == {"alpha": "0.5", "layers": "3", "optimizer": "adam"}
    # the run shows the latest value of each metric
    assert got.data.metrics == {"loss": pytest.approx(0.2), "acc": 0.9, "f1": 0.8}
    assert got.data.tags["team"] == "vision"
    assert got.data.tags["stage"] == "dev"
    assert got.data.tags["mlflow.runName"] == "first"
    assert "mlflow.user" in got.data.tags


def test_metric_history_keeps_every_step_and_timestamp(tracking_uri: str) -> None:
    c = MlflowClient()
    run = c.create_run("0")
    now = int(time.time() * 1000)
    c.log_batch(
        run.info.run_id,
        metrics=[Metric("loss", 1.0 / (i + 1), now + i, i) for i in range(1000)],
    )
    # an older step logged later does not become the latest value
    c.log_metric(run.info.run_id, "loss", 5.0, timestamp=now + 5000, step=3)
    c.log_metric(run.info.run_id, "loss", float("nan"), timestamp=now + 6000, step=2)
    history = c.get_metric_history(run.info.run_id, "loss")
    assert len(history) == 1002
    assert [m.step for m in history[:3]] == [0, 1, 2]
    assert history[0].timestamp == now
    assert any(math.isnan(m.value) for m in history)
    assert c.get_run(run.info.run_id).data.metrics["loss"] == pytest.approx(1 / 1000)


def test_metric_history_pages(tracking_uri: str) -> None:
    import requests

    c = MlflowClient()
    run = c.create_run("0")
    c.log_batch(run.info.run_id, metrics=[Metric("m", float(i), i, i) for i in range(25)])
    url = f"{tracking_uri}/api/2.0/mlflow/metrics/get-history"
    seen, token = [], None
    while True:
        params = {"run_id": run.info.run_id, "metric_key": "m", "max_results": 10}
        if token:
            params["page_token"] = token
        page = requests.get(url, params=params, timeout=30).json()
        seen += [m["value"] for m in page["metrics"]]
        token = page.get("next_page_token")
        if not token:
            break
    assert seen == [float(i) for i in range(25)]


def test_params_are_write_once(tracking_uri: str) -> None:
    c = MlflowClient()
    run = c.create_run("0")
    c.log_param(run.info.run_id, "lr", "0.1")
    c.log_param(run.info.run_id, "lr", "0.1")  # the same value again is fine
    with pytest.raises(MlflowException) as err:
        c.log_param(run.info.run_id, "lr", "0.2")
    assert err.value.error_code == "INVALID_PARAMETER_VALUE"
    assert "Changing param values is not allowed" in err.value.message
    assert c.get_run(run.info.run_id).data.params == {"lr": "0.1"}


def test_log_batch_writes_all_three_kinds(tracking_uri: str) -> None:
    c = MlflowClient()
    run = c.create_run("0")
    ts = int(time.time() * 1000)
    c.log_batch(
        run.info.run_id,
        metrics=[Metric("a", 1.0, ts, 0), Metric("b", 2.0, ts, 0)],
        params=[Param(f"p{i}", str(i)) for i in range(100)],
        tags=[RunTag("t", "v")],
    )
    got = c.get_run(run.info.run_id).data
    assert got.metrics == {"a": 1.0, "b": 2.0}
    assert len(got.params) == 100
    assert got.tags["t"] == "v"


def test_log_inputs_records_datasets(tracking_uri: str, unique: str) -> None:
    mlflow.set_experiment(f"inputs-{unique}")
    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0], "y": [0, 1, 0]})
    dataset = mlflow.data.from_pandas(frame, name="train-set", targets="y")
    with mlflow.start_run() as run:
        mlflow.log_input(dataset, context="training")
    got = MlflowClient().get_run(run.info.run_id)
    [item] = got.inputs.dataset_inputs
    assert item.dataset.name == "train-set"
    assert item.dataset.digest == dataset.digest
    assert {t.key: t.value for t in item.tags}["mlflow.data.context"] == "training"
    found = mlflow.search_runs(
        [run.info.experiment_id], filter_string="datasets.context = 'training'"
    )
    assert list(found["run_id"]) == [run.info.run_id]


def test_search_runs_filters_orders_and_pages(tracking_uri: str, unique: str) -> None:
    c = MlflowClient()
    eid = c.create_experiment(f"search-{unique}")
    ts = int(time.time() * 1000)
    ids = []
    for i in range(12):
        run = c.create_run(eid, run_name=f"r{i}", start_time=ts + i)
        c.log_batch(
            run.info.run_id,
            metrics=[Metric("acc", i / 10, ts, 0)],
            params=[Param("model", "lr" if i % 2 else "rf")],
            tags=[RunTag("team", "a" if i % 3 else "b")],
        )
        if i < 6:
            c.set_terminated(run.info.run_id)
        ids.append(run.info.run_id)

    high = c.search_runs([eid], "metrics.acc > 0.5", order_by=["metrics.acc DESC"])
    assert [r.info.run_id for r in high] == [ids[i] for i in (11, 10, 9, 8, 7, 6)]
    lr_done = c.search_runs([eid], "params.model = 'lr' and attributes.status = 'FINISHED'")
    assert {r.info.run_id for r in lr_done} == {ids[1], ids[3], ids[5]}
    b_team = c.search_runs([eid], "tags.team = 'b'", order_by=["attributes.run_name ASC"])
    assert [r.info.run_name for r in b_team] == ["r0", "r3", "r6", "r9"]
    assert [r.info.run_id for r in c.search_runs([eid], "params.model LIKE 'L%'")] == []
    assert len(c.search_runs([eid], "params.model ILIKE 'L%'")) == 6
    with pytest.raises(MlflowException, match="Invalid comparator 'IN'"):
        c.search_runs([eid], "run_name IN ('r1', 'r2')")  # as in MLflow: IN is for run_id only
    picked = c.search_runs([eid], f"attributes.run_id IN ('{ids[0]}', '{ids[4]}')")
    assert {r.info.run_id for r in picked} == {ids[0], ids[4]}
    # default order: newest first
    assert c.search_runs([eid])[0].info.run_id == ids[-1]

    pages, token = [], None
    while True:
        page = c.search_runs([eid], max_results=5, order_by=["metrics.acc ASC"], page_token=token)
        pages.append([r.info.run_id for r in page])
        token = page.token
        if not token:
            break
    assert [len(p) for p in pages] == [5, 5, 2]
    assert [rid for page in pages for rid in page] == ids

    frame = mlflow.search_runs([eid], filter_string="metrics.acc >= 0.9")
    assert sorted(frame["metrics.acc"]) == [0.9, 1.0, 1.1]


def test_delete_and_restore_a_run(tracking_uri: str, unique: str) -> None:
    c = MlflowClient()
    eid = c.create_experiment(f"lifecycle-{unique}")
    run = c.create_run(eid)
    c.delete_run(run.info.run_id)
    assert c.get_run(run.info.run_id).info.lifecycle_stage == "deleted"
    assert c.search_runs([eid]) == []
    assert len(c.search_runs([eid], run_view_type=ViewType.DELETED_ONLY)) == 1
    with pytest.raises(MlflowException) as err:
        c.log_metric(run.info.run_id, "x", 1.0)
    assert err.value.error_code == "INVALID_PARAMETER_VALUE"
    c.restore_run(run.info.run_id)
    c.log_metric(run.info.run_id, "x", 1.0)
    assert c.get_run(run.info.run_id).data.metrics == {"x": 1.0}


def test_tags_can_be_deleted_and_runs_renamed(tracking_uri: str) -> None:
    c = MlflowClient()
    run = c.create_run("0", tags={"keep": "1", "drop": "2"})
    c.delete_tag(run.info.run_id, "drop")
    c.update_run(run.info.run_id, name="renamed")
    got = c.get_run(run.info.run_id)
    assert "drop" not in got.data.tags
    assert got.info.run_name == "renamed"
    assert got.data.tags["mlflow.runName"] == "renamed"
    with pytest.raises(MlflowException) as err:
        c.delete_tag(run.info.run_id, "drop")
    assert err.value.error_code == "RESOURCE_DOES_NOT_EXIST"


def test_missing_runs_and_bad_input_get_4xx_codes(tracking_uri: str) -> None:
    c = MlflowClient()
    with pytest.raises(MlflowException) as missing:
        c.get_run("0" * 32)
    assert missing.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    with pytest.raises(MlflowException) as no_experiment:
        c.create_run("999999")
    assert no_experiment.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    run = c.create_run("0")
    with pytest.raises(MlflowException) as bad_key:
        c.log_metric(run.info.run_id, "bad key!", 1.0)
    assert bad_key.value.error_code == "INVALID_PARAMETER_VALUE"
    with pytest.raises(MlflowException) as bad_filter:
        c.search_runs(["0"], "metrics.acc > 1 OR metrics.acc < 0")
    assert bad_filter.value.error_code == "INVALID_PARAMETER_VALUE"
    assert "'OR'" in bad_filter.value.message
