"""What keeps an endpoint safe and honest: scoring hosts answer only the router, a host that
never gets ready fails its deployment within the readiness probe's allowance, and collected
scoring data lands in data assets."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from forgeml import MLClient
from forgeml.client.endpoints import DeploymentFailedError
from forgeml.core.specs.endpoints import DataCollector, ProbeSettings
from tests.cli.live import Server, clean_env, free_port, start_server
from tests.jobs.conftest import kill_leftovers
from tests.serving.conftest import (
    Scorer,
    create_endpoint,
    custom_deployment,
    deploy,
    unique,
    wait_until,
    write_custom_model,
)


@pytest.fixture(scope="module")
def collecting(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A workspace that stores collected data every half second."""
    root = tmp_path_factory.mktemp("collecting")
    port = free_port()
    srv = start_server(
        ["--port", str(port), "--home", str(root / "home")],
        port=port,
        log=root / "server.log",
        home=root / "home",
        env=clean_env(FORGEML_COLLECTOR_FLUSH_S="0.5"),
    )
    try:
        yield srv
    finally:
        srv.stop()
        kill_leftovers(srv.home)


def test_a_scoring_host_answers_only_the_router(sdk: MLClient, tmp_path: Path) -> None:
    ep = create_endpoint(sdk, unique("guard")).name
    assert ep is not None
    files = write_custom_model(tmp_path, "blue")
    deploy(sdk, custom_deployment(ep, "blue", files), all_traffic=True)
    scorer = Scorer.of(sdk, ep)
    try:
        assert scorer.post({"values": [1]}).status_code == 200
    finally:
        scorer.close()
    found = wait_until(
        lambda: re.findall(
            r"serves at (http://\S+)", sdk.online_deployments.get_logs("blue", endpoint_name=ep)
        ),
        what="the instance's address in its log",
    )
    (address,) = found
    # straight to the host, around the router and its key check: refused
    direct = httpx.post(f"{address}/score", json={"values": [1]})
    assert direct.status_code == 403
    assert httpx.get(f"{address}/swagger.json").status_code == 403
    assert httpx.get(f"{address}/liveness").status_code == 200  # probes need no secret


def test_a_host_that_is_never_ready_fails_within_the_readiness_allowance(
    sdk: MLClient, tmp_path: Path
) -> None:
    ep = create_endpoint(sdk, unique("slow")).name
    assert ep is not None
    files = write_custom_model(tmp_path, "slow")
    script = files.code / "score.py"
    script.write_text(script.read_text().replace("def init():", "def init():\n    time.sleep(60)"))
    dep = custom_deployment(
        ep,
        "slow",
        files,
        readiness_probe=ProbeSettings(initial_delay=1, period=1, failure_threshold=2),
    )
    started = time.monotonic()
    with pytest.raises(DeploymentFailedError, match="not ready within 3 s"):
        deploy(sdk, dep, timeout=60)
    assert time.monotonic() - started < 30


def test_collected_inputs_and_outputs_become_data_asset_versions(
    collecting: Server, tmp_path: Path
) -> None:
    with MLClient(url=collecting.url) as sdk:
        ep = create_endpoint(sdk, unique("collect")).name
        assert ep is not None
        files = write_custom_model(tmp_path, "blue")
        collector = DataCollector.model_validate(
            {
                "collections": {
                    "model_inputs": {"enabled": "True"},
                    "model_outputs": {"enabled": "True"},
                }
            }
        )
        deploy(
            sdk, custom_deployment(ep, "blue", files, data_collector=collector), all_traffic=True
        )
        scorer = Scorer.of(sdk, ep)
        try:
            for value in (1, 2, 3):
                assert scorer.post({"values": [value]}).status_code == 200
        finally:
            scorer.close()
        name = f"{ep}-blue-model_inputs"
        latest = wait_until(
            lambda: next(iter(sdk.data.list(name)), None) if _exists(sdk, name) else None,
            timeout=20,
            what="the collected inputs",
        )
        records = _records(collecting.url, sdk.data.get(name, version=latest.version).path)
        assert sorted(r["data"]["values"][0] for r in records) == [1, 2, 3]
        assert {r["type"] for r in records} == {"azureml.inference.model_inputs"}
        assert all(r["correlationid"] for r in records)
        outputs = wait_until(
            lambda: _exists(sdk, f"{ep}-blue-model_outputs"), timeout=20, what="the outputs"
        )
        assert outputs


def _records(url: str, uri: str) -> list[dict[str, object]]:
    """Every JSON line in the content at `uri`, through the content API."""
    digest = uri.removeprefix("forgeml://content/").split("/", 1)[0]
    files = httpx.get(f"{url}/api/v1/content/{digest}").json()["files"]
    assert all(re.fullmatch(r"\d{4}/\d{2}/\d{2}/\d{2}/.+\.jsonl", f["path"]) for f in files)
    return [
        json.loads(line)
        for f in files
        for line in httpx.get(f"{url}/api/v1/content/{digest}/files/{f['path']}").text.splitlines()
    ]


def _exists(sdk: MLClient, name: str) -> bool:
    try:
        return bool(list(sdk.data.list(name)))
    except Exception:  # not created yet
        return False
