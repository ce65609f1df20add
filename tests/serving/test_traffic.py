"""Traffic between an endpoint's deployments on a live `forgeml up`, as a user notices it: the
split the weights ask for, the `azureml-model-deployment` header pinning a deployment, mirrored
traffic that never answers a caller, Azure ML's traffic rules, and no failed request while the
split changes, a deployment is updated or scaled, or one of its scoring hosts is killed.

One endpoint, `ep-traffic`, with `blue` and `green` (each answers with its own name and model
version); each test sets the split it needs first.
"""

from __future__ import annotations

import os
import signal
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from forgeml import MLClient
from forgeml.core.errors import SpecError
from tests.jobs.conftest import alive
from tests.serving.conftest import (
    Load,
    Scorer,
    create_endpoint,
    custom_deployment,
    deploy,
    deployments_of,
    host_pids,
    ready_instances,
    versions_of,
    wait_until,
    worker_pids,
    write_custom_model,
)

EP = "ep-traffic"


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("traffic-models")


@pytest.fixture(scope="module")
def endpoint(sdk: MLClient, models: Path) -> str:
    create_endpoint(sdk, EP)
    for name in ("blue", "green"):
        deploy(sdk, custom_deployment(EP, name, write_custom_model(models, name)))
    return EP


@pytest.fixture
def scorer(sdk: MLClient, endpoint: str) -> Iterator[Scorer]:
    made = Scorer.of(sdk, endpoint)
    yield made
    made.close()


def _answered_by(scorer: Scorer, count: int, deployment: str | None = None) -> Counter[str]:
    seen: Counter[str] = Counter()
    for _ in range(count):
        response = scorer.post({"values": [1]}, deployment=deployment)
        assert response.status_code == 200, response.text
        assert response.json()["deployment"] == response.headers["azureml-model-deployment"]
        seen[response.headers["azureml-model-deployment"]] += 1
    return seen


# ------------------------------------------------------------------------------ the split


def test_the_traffic_weights_split_unpinned_requests(sdk: MLClient, scorer: Scorer) -> None:
    # as with azure-ai-ml: set the endpoint's traffic and create_or_update it
    endpoint = sdk.online_endpoints.get(EP)
    endpoint.traffic = {"blue": 80, "green": 20}
    sdk.online_endpoints.begin_create_or_update(endpoint).result()
    assert sdk.online_endpoints.get(EP).traffic == {"blue": 80, "green": 20}
    seen = _answered_by(scorer, 300)
    assert set(seen) == {"blue", "green"}
    share = seen["green"] / 300
    assert 0.10 <= share <= 0.32, seen


def test_the_deployment_header_pins_a_deployment_even_at_zero_percent(
    sdk: MLClient, scorer: Scorer
) -> None:
    sdk.online_endpoints.update_traffic(EP, traffic={"blue": 100})
    assert sdk.online_endpoints.get(EP).traffic == {"blue": 100}
    assert _answered_by(scorer, 10, deployment="green") == {"green": 10}
    assert _answered_by(scorer, 10) == {"blue": 10}


def test_no_traffic_at_all_answers_503_unless_pinned(sdk: MLClient, scorer: Scorer) -> None:
    sdk.online_endpoints.update_traffic(EP, traffic={"blue": 0, "green": 0})
    try:
        response = scorer.post({"values": [1]})
        assert response.status_code == 503
        assert "traffic" in response.json()["error"]["message"]
        assert _answered_by(scorer, 3, deployment="blue") == {"blue": 3}
    finally:
        sdk.online_endpoints.update_traffic(EP, traffic={"blue": 100})


def test_mirrored_traffic_reaches_the_shadow_but_never_answers(
    sdk: MLClient, scorer: Scorer
) -> None:
    sdk.online_endpoints.update_traffic(EP, traffic={"blue": 100}, mirror_traffic={"green": 50})
    try:
        assert sdk.online_endpoints.get(EP).mirror_traffic == {"green": 50}
        before = sdk.online_deployments.metrics("green", endpoint_name=EP)

        def mirrored() -> int:
            return sdk.online_deployments.metrics("green", endpoint_name=EP).mirrored

        # pinned requests are never mirrored (copies go out within milliseconds)
        assert _answered_by(scorer, 30, deployment="blue") == {"blue": 30}
        time.sleep(0.5)
        assert mirrored() == before.mirrored
        assert _answered_by(scorer, 200) == {"blue": 200}

        # the copies are sent without waiting for them: count once no more come in
        seen = [mirrored()]

        def settled() -> int | None:
            seen.append(mirrored())
            return seen[-1] if seen[-1] == seen[-2] and seen[-1] > before.mirrored else None

        copies = wait_until(settled, interval=0.5, what="mirroring to settle") - before.mirrored
        assert 60 <= copies <= 140, copies  # about half of the 200 unpinned requests
        after = sdk.online_deployments.metrics("green", endpoint_name=EP)
        assert after.requests == before.requests  # mirrored copies are not live requests
        assert after.errors == before.errors
    finally:
        sdk.online_endpoints.update_traffic(EP, mirror_traffic={"green": 0})
    assert sdk.online_endpoints.get(EP).mirror_traffic == {}


def test_the_traffic_rules_are_enforced_with_a_message_naming_the_rule(sdk: MLClient) -> None:
    sdk.online_endpoints.update_traffic(EP, traffic={"blue": 100}, mirror_traffic={"green": 0})
    with pytest.raises(SpecError, match=r"add up to 90.*must add up to 100"):
        sdk.online_endpoints.update_traffic(EP, traffic={"blue": 60, "green": 30})
    with pytest.raises(SpecError, match="cannot also receive mirrored traffic"):
        sdk.online_endpoints.update_traffic(
            EP, traffic={"blue": 50, "green": 50}, mirror_traffic={"green": 10}
        )
    with pytest.raises(SpecError, match="cannot also receive mirrored traffic"):
        sdk.online_endpoints.update_traffic(EP, mirror_traffic={"blue": 10})
    with pytest.raises(SpecError, match="at most 50 percent"):
        sdk.online_endpoints.update_traffic(EP, mirror_traffic={"green": 60})
    with pytest.raises(SpecError, match="no deployment named 'purple'"):
        sdk.online_endpoints.update_traffic(EP, traffic={"purple": 100})
    # nothing changed
    endpoint = sdk.online_endpoints.get(EP)
    assert (endpoint.traffic, endpoint.mirror_traffic) == ({"blue": 100}, {})


# ------------------------------------------------------------------------------ zero downtime


def _stable_generation(sdk: MLClient, name: str, count: int) -> list[dict[str, Any]]:
    """`count` ready instances of one generation (an update's old ones stop after draining)."""
    return wait_until(
        lambda: (
            found
            if len(found := ready_instances(sdk, EP, name)) == count
            and len({i["generation"] for i in found}) == 1
            else None
        ),
        what=f"{count} ready instance(s) of {name}, all of one generation",
    )


@pytest.mark.timeout(120)
def test_switching_the_split_under_load_fails_no_request(sdk: MLClient, scorer: Scorer) -> None:
    sdk.online_endpoints.update_traffic(EP, traffic={"blue": 100})
    with Load(scorer, threads=8) as load:
        assert deployments_of(load.next(40)) == {"blue"}
        sdk.online_endpoints.update_traffic(EP, traffic={"green": 100})
        # a request sent once the update has returned goes by the new split
        assert deployments_of(load.next(60)) == {"green"}
        sdk.online_endpoints.update_traffic(EP, traffic={"blue": 50, "green": 50})
        assert deployments_of(load.next(80)) == {"blue", "green"}
        result = load.stop()
    assert result.errors == 0, (result.statuses, result.failures)
    sdk.online_endpoints.update_traffic(EP, traffic={"blue": 100})


@pytest.mark.timeout(120)
def test_updating_the_model_under_load_fails_no_request(
    sdk: MLClient, scorer: Scorer, models: Path
) -> None:
    sdk.online_endpoints.update_traffic(EP, traffic={"blue": 100})
    old = {i["id"] for i in _stable_generation(sdk, "blue", 1)}
    with Load(scorer, threads=8) as load:
        assert versions_of(load.next(40)) == {"v1"}
        files = write_custom_model(models, "blue", version="v2", scale=3.0)
        updated = deploy(sdk, custom_deployment(EP, "blue", files))
        assert updated.provisioning_state == "Succeeded"
        # once the update has finished, the new version answers and the old one is stopped
        assert versions_of(load.next(60)) == {"v2"}
        wait_until(
            lambda: not any(host_pids(i) for i in old), what="the old instance to be stopped"
        )
        load.next(20)
        result = load.stop()
    assert result.errors == 0, (result.statuses, result.failures)
    assert scorer.post({"values": [2]}).json()["scaled"] == [6.0]


@pytest.mark.timeout(120)
def test_scaling_out_under_load_fails_no_request(
    sdk: MLClient, scorer: Scorer, models: Path
) -> None:
    sdk.online_endpoints.update_traffic(EP, traffic={"blue": 100})
    _stable_generation(sdk, "blue", 1)
    files = write_custom_model(models, "blue", version="v3")
    with Load(scorer, threads=8) as load:
        load.next(20)
        deploy(sdk, custom_deployment(EP, "blue", files, instance_count=2))
        assert versions_of(load.next(60)) == {"v3"}
        _stable_generation(sdk, "blue", 2)
        load.next(20)
        result = load.stop()
    assert result.errors == 0, (result.statuses, result.failures)


@pytest.mark.timeout(120)
def test_a_killed_scoring_host_is_routed_around_and_replaced(
    sdk: MLClient, scorer: Scorer, models: Path
) -> None:
    sdk.online_endpoints.update_traffic(EP, traffic={"blue": 100})
    if len(ready_instances(sdk, EP, "blue")) != 2:
        files = write_custom_model(models, "blue", version="v3")
        deploy(sdk, custom_deployment(EP, "blue", files, instance_count=2))
    instances = _stable_generation(sdk, "blue", 2)
    victim = instances[0]["id"]
    pids = host_pids(victim)
    assert len(pids) == 1, pids
    with Load(scorer, threads=8) as load:
        load.next(20)
        os.kill(pids[0], signal.SIGKILL)
        load.next(100)
        replaced = wait_until(
            lambda: (
                found
                if len(found := ready_instances(sdk, EP, "blue")) == 2
                and victim not in {i["id"] for i in found}
                else None
            ),
            timeout=25,
            what="a replacement instance",
        )
        load.next(40)
        result = load.stop()
    assert result.errors == 0, (result.statuses, result.failures)
    (replacement,) = {i["id"] for i in replaced} - {i["id"] for i in instances}
    assert host_pids(replacement)
    assert sdk.online_deployments.get("blue", endpoint_name=EP).provisioning_state == "Succeeded"


@pytest.mark.timeout(120)
def test_a_killed_worker_is_replaced_and_its_scoring_host_stops(
    sdk: MLClient, scorer: Scorer
) -> None:
    sdk.online_endpoints.update_traffic(EP, traffic={"blue": 100})
    (instance,) = [i["id"] for i in _stable_generation(sdk, "green", 1)]
    (worker,) = worker_pids(instance)
    hosts = host_pids(instance)
    assert len(hosts) == 1
    os.kill(worker, signal.SIGKILL)
    wait_until(
        lambda: {i["id"] for i in ready_instances(sdk, EP, "green")} - {instance},
        timeout=25,
        what="a replacement instance",
    )
    assert _answered_by(scorer, 3, deployment="green") == {"green": 3}
    # the killed worker's scoring host must not live on, unreachable, holding its model
    wait_until(
        lambda: not any(alive(pid) for pid in hosts),
        timeout=8,
        what="the killed worker's scoring host to stop",
    )


@pytest.mark.timeout(120)
def test_creating_a_deployment_with_all_traffic_under_load_fails_no_request(
    sdk: MLClient, scorer: Scorer, models: Path
) -> None:
    sdk.online_endpoints.update_traffic(EP, traffic={"blue": 100})
    files = write_custom_model(models, "canary")
    try:
        with Load(scorer, threads=8) as load:
            load.next(20)
            deploy(sdk, custom_deployment(EP, "canary", files), all_traffic=True)
            assert deployments_of(load.next(40)) == {"canary"}
            result = load.stop()
        assert sdk.online_endpoints.get(EP).traffic == {"canary": 100}
        assert result.errors == 0, (result.statuses, result.failures)
    finally:
        sdk.online_endpoints.update_traffic(EP, traffic={"blue": 100})
        sdk.online_deployments.begin_delete("canary", endpoint_name=EP).result(timeout=30)
