"""The studio benchmark's seeding (benchmarks/studio.py) writes a store the app serves: a small
seed goes through the real API, so the benchmark's bulk rows cannot drift from the app's own."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import httpx
import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "studio.py"


def _bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_studio", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_studio"] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_a_small_seed_is_served_by_the_api(tmp_path: Path) -> None:
    bench = _bench()
    plan = bench.Plan(n_jobs=40, n_metrics=6, history_runs=2, history_steps=10, chart_points=300)
    info = bench.seed_store(tmp_path / "home", plan, lambda _msg: None)
    assert info["jobs_top_level"] == 40
    with bench.running(tmp_path / "home", tmp_path / "server.log") as server:
        assert bench.verify_api(server, info) == []
        page = httpx.get(f"{server.url}/api/v1/jobs", params={"limit": 100, "total": "true"})
        page.raise_for_status()
        # the 40 clones and the four template jobs they were copied from
        assert page.json()["total"] == 44
        series = httpx.get(
            f"{server.url}/api/v1/metrics/series",
            params={"job": info["chart_run"], "key": info["chart_key"], "max_points": 100},
        ).json()["items"][0]
        assert series["total"] == 300 and series["downsampled"]
