"""The Ray backend's own logic, without a cluster: what a job reserves, when a cluster can never
hold it, and how a cluster that does not answer is kept from stalling the scheduler."""

from __future__ import annotations

import pytest

from forgeml.compute.ray import (
    ClusterNode,
    RayBackend,
    RayCluster,
    RayTarget,
    RayUnreachable,
    shortfall,
)
from forgeml.core.errors import SpecError
from forgeml.core.specs import RayCompute
from forgeml.core.specs.base import validate_spec
from tests.cli.live import free_port


def node(cpus: float, gpus: float = 0.0, alive: bool = True) -> ClusterNode:
    total = {"CPU": cpus, **({"GPU": gpus} if gpus else {})}
    return ClusterNode("n", "10.0.0.1", alive, False, total, dict(total))


def backend(**spec: object) -> RayBackend:
    body = {"address": "http://127.0.0.1:9", **spec}
    return RayBackend(RayTarget.from_spec("c", body))


def test_a_job_reserves_the_compute_s_resources_per_node_unless_it_asks_otherwise() -> None:
    ray = backend(resources={"num_cpus": 2, "memory": "4g", "custom_resources": {"tpu": 1}})
    assert ray.bundle(None) == ({"CPU": 2.0, "memory": 4.0 * 1024**3, "tpu": 1.0}, 1)
    asked, nodes = ray.bundle({"instance_count": 3, "properties": {"num_gpus": 1}})
    assert nodes == 3 and asked["GPU"] == 1.0 and asked["CPU"] == 2.0
    # Azure ML's `type: ray` is one driver, whatever the node count
    assert ray.bundle({"instance_count": 3}, {"type": "ray"})[1] == 1


def test_a_cluster_too_small_for_a_job_says_what_it_has() -> None:
    assert shortfall([node(4), node(4)], {"CPU": 4.0}, 2) is None
    reason = shortfall([node(4), node(2)], {"CPU": 4.0}, 2)
    assert reason is not None and "2 node(s) x {CPU=4}" in reason and "{CPU=4}" in reason
    assert "no live node" in (shortfall([node(8, alive=False)], {"CPU": 1.0}, 1) or "")
    assert "GPU=1" in (shortfall([node(8)], {"CPU": 1.0, "GPU": 1.0}, 1) or "")


def test_memory_sizes_and_addresses_are_checked_naming_the_field() -> None:
    ok = validate_spec(RayCompute, {"name": "r", "address": "ray://head:10001"})
    assert ok.resources.num_cpus == 1.0 and ok.max_concurrent_jobs == 16
    with pytest.raises(SpecError, match="not a memory size") as err:
        validate_spec(RayCompute, {"name": "r", "address": "auto", "resources": {"memory": "4x"}})
    assert err.value.field == "resources.memory"
    with pytest.raises(SpecError, match="not a Ray address") as err:
        validate_spec(RayCompute, {"name": "r", "address": "head:6379"})
    assert err.value.field == "address"


def test_a_cluster_that_does_not_answer_fails_fast_afterwards() -> None:
    cluster = RayCluster(f"http://127.0.0.1:{free_port()}")
    with pytest.raises(RayUnreachable, match="cannot connect") as first:
        cluster.nodes()
    with pytest.raises(RayUnreachable) as again:
        cluster.job("anything")
    assert again.value is first.value  # no new attempt while the back-off lasts
    cluster.close()
