"""The studio's chart data: a run's summary, and metric series downsampled on the server so
that a chart of 100,000 points gets a bounded number of buckets that keep the extremes."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient


def _run(http: TestClient, name: str) -> str:
    made = http.post(
        "/api/2.0/mlflow/runs/create", json={"experiment_id": "0", "run_name": name}
    ).json()
    return str(made["run"]["info"]["run_id"])


def _log(http: TestClient, run: str, key: str, values: list[float], start: int = 0) -> None:
    for at in range(0, len(values), 1000):
        chunk = values[at : at + 1000]
        metrics: list[dict[str, Any]] = [
            {"key": key, "value": v, "timestamp": 1000 + start + at + i, "step": start + at + i}
            for i, v in enumerate(chunk)
        ]
        answer = http.post(
            "/api/2.0/mlflow/runs/log-batch", json={"run_id": run, "metrics": metrics}
        )
        assert answer.status_code == 200, answer.text


def test_a_run_summary_has_params_tags_and_the_latest_metrics(http: TestClient) -> None:
    run = _run(http, "summary")
    http.post(
        "/api/2.0/mlflow/runs/log-batch",
        json={
            "run_id": run,
            "params": [{"key": "lr", "value": "0.1"}],
            "tags": [{"key": "team", "value": "a"}],
        },
    )
    _log(http, run, "loss", [3.0, 2.0, 1.5])
    summary = http.get(f"/api/v1/jobs/{run}/run").json()
    assert summary["params"] == {"lr": "0.1"}
    assert summary["tags"]["team"] == "a"
    assert [(m["key"], m["value"], m["step"]) for m in summary["metrics"]] == [("loss", 1.5, 2)]
    missing = http.get("/api/v1/jobs/nope/run")
    assert missing.status_code == 404 and "nope" in missing.json()["message"]


def test_a_short_series_comes_back_as_logged(http: TestClient) -> None:
    a, b = _run(http, "a"), _run(http, "b")
    _log(http, a, "acc", [0.1, 0.5, 0.9])
    _log(http, b, "acc", [0.2, 0.4])
    got = http.get("/api/v1/metrics/series", params={"key": "acc", "job": [a, b]}).json()["items"]
    assert [s["job"] for s in got] == [a, b]
    assert [(p["step"], p["value"]) for p in got[0]["points"]] == [(0, 0.1), (1, 0.5), (2, 0.9)]
    assert got[1]["total"] == 2 and not got[1]["downsampled"]


def test_a_long_series_is_bucketed_keeping_its_extremes(http: TestClient) -> None:
    run = _run(http, "long")
    values = [float(i % 100) for i in range(20_000)]
    values[12_345] = 1e6  # a spike a chart must not lose
    _log(http, run, "loss", values)
    series = http.get(
        "/api/v1/metrics/series", params={"key": "loss", "job": run, "max_points": 500}
    ).json()["items"][0]
    assert series["total"] == 20_000 and series["downsampled"]
    assert 400 <= len(series["points"]) <= 500
    steps = [p["step"] for p in series["points"]]
    assert steps == sorted(steps) and steps[0] < 50 and steps[-1] > 19_950
    assert max(p["max"] for p in series["points"]) == 1e6
    assert min(p["min"] for p in series["points"]) == 0.0


def test_bad_series_requests_say_what_to_change(http: TestClient) -> None:
    run = _run(http, "bad")
    too_many = http.get(
        "/api/v1/metrics/series", params={"key": "x", "job": run, "max_points": 10**6}
    )
    assert too_many.status_code == 422 and "max_points" in too_many.json()["message"]
    none = http.get("/api/v1/metrics/series", params={"key": "x", "job": run}).json()["items"][0]
    assert none["total"] == 0 and none["points"] == []
