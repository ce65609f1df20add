"""Online deployments on a real Ray cluster: an endpoint whose `compute` is a `ray` compute runs
each instance of its deployments as a long-running Ray job. The workspace router reaches the
scoring hosts at the address the workers report; the instances serve, are replaced when their
Ray job dies, are swapped for a new generation without a failed request, and their Ray jobs end
when a deployment or the endpoint is deleted. The tests run in order on one endpoint.
"""

from __future__ import annotations

import re
import textwrap
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

import forgeml
from forgeml import MLClient
from forgeml.client.endpoints import DeploymentFailedError
from forgeml.compute.ray import RayTarget
from forgeml.core.specs import Environment
from forgeml.core.specs.endpoints import CodeConfiguration, OnlineDeployment, OnlineEndpoint
from forgeml.serving.launch import RayLauncher
from forgeml.serving.worker import _node_address
from tests.ray.conftest import RayHead, create_ray_compute
from tests.serving.conftest import Scorer, unique, wait_until

pytestmark = [pytest.mark.ray, pytest.mark.slow]

#: answers with the scoring host's process id, so a test can tell the instances apart
SCORE_PY = textwrap.dedent(
    """
    import os

    def init():
        if os.environ.get("FAIL_INIT"):
            raise RuntimeError(os.environ["FAIL_INIT"])
        print("init done on pid", os.getpid(), flush=True)

    def run(raw_data):
        return {"pid": os.getpid(), "version": os.environ.get("VERSION", "v1")}
    """
)


@dataclass(frozen=True)
class Site:
    endpoint: str
    compute: str
    code: Path
    head: RayHead


@pytest.fixture(scope="module")
def site(
    sdk: MLClient, ray_head: RayHead, ray_workdir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Site]:
    """An endpoint on a `ray` compute of its own (every Ray job of the compute is its own)."""
    compute = create_ray_compute(
        sdk, unique("ray-serving"), ray_head.address, ray_workdir, num_cpus=0.25
    )
    code = tmp_path_factory.mktemp("score")
    (code / "score.py").write_text(SCORE_PY, encoding="utf-8")
    name = unique("ep-ray")
    sdk.online_endpoints.begin_create_or_update(
        OnlineEndpoint(name=name, compute=f"azureml:{compute}")
    ).result()
    yield Site(endpoint=name, compute=compute, code=code, head=ray_head)
    # a failed test must not leave the cluster's CPUs held for the next modules
    for job in running_jobs(ray_head, compute):
        httpx.post(f"{ray_head.address}/api/jobs/{job['submission_id']}/stop", timeout=10)


@pytest.fixture
def scorer(sdk: MLClient, site: Site) -> Iterator[Scorer]:
    made = Scorer.of(sdk, site.endpoint)
    yield made
    made.close()


def deployment(site: Site, name: str, instance_count: int, **env: str) -> OnlineDeployment:
    return OnlineDeployment(
        name=name,
        endpoint_name=site.endpoint,
        code_configuration=CodeConfiguration(code=str(site.code), scoring_script="score.py"),
        # image-only: the node's Python, which is this virtualenv
        environment=Environment(image="python:3.11"),
        environment_variables=env,
        instance_count=instance_count,
    )


def running_jobs(head: RayHead, compute: str) -> list[dict[str, Any]]:
    """The compute's Ray jobs that have not ended, as the cluster's Jobs API lists them."""
    jobs = httpx.get(f"{head.address}/api/jobs/", timeout=10).json()
    return [
        j
        for j in jobs
        if (j.get("metadata") or {}).get("forgeml_compute") == compute
        and j.get("status") in ("PENDING", "RUNNING")
    ]


def job_instances(site: Site) -> set[str]:
    return {j["metadata"]["forgeml_instance"] for j in running_jobs(site.head, site.compute)}


def instances(sdk: MLClient, site: Site, name: str, state: str = "ready") -> set[str]:
    dep = sdk.online_deployments.get(name, endpoint_name=site.endpoint)
    return {str(i["id"]) for i in dep.instances or [] if i["state"] == state}


def pids(scorer: Scorer, count: int) -> set[int]:
    seen = set()
    for _ in range(count):
        response = scorer.post({})
        assert response.status_code == 200, response.text
        seen.add(int(response.json()["pid"]))
    return seen


class Traffic:
    """`threads` clients posting to the endpoint back to back until stopped; what came back."""

    def __init__(self, scorer: Scorer, threads: int) -> None:
        self.scorer = scorer
        self.halt = threading.Event()
        self.lock = threading.Lock()
        self.statuses: Counter[int] = Counter()
        self.versions: Counter[str] = Counter()
        self.failures: list[str] = []
        self.threads = [threading.Thread(target=self._loop, daemon=True) for _ in range(threads)]
        for thread in self.threads:
            thread.start()

    def _loop(self) -> None:
        headers = {"authorization": f"Bearer {self.scorer.key}"}
        with httpx.Client(timeout=30) as client:
            while not self.halt.is_set():
                failure: str | None = None
                version: str | None = None
                try:
                    response = client.post(self.scorer.uri, json={}, headers=headers)
                except httpx.HTTPError as exc:
                    status, failure = -1, f"{type(exc).__name__}: {exc}"
                else:
                    status = response.status_code
                    if status == 200:
                        version = str(response.json()["version"])
                    else:
                        failure = response.text[:300]
                with self.lock:
                    self.statuses[status] += 1
                    if version:
                        self.versions[version] += 1
                    if failure and len(self.failures) < 10:
                        self.failures.append(f"{status}: {failure}")

    def total(self) -> int:
        with self.lock:
            return sum(self.statuses.values())

    def wait(self, count: int) -> None:
        """Until `count` more answers have come back."""
        target = self.total() + count
        wait_until(lambda: self.total() >= target, timeout=30, what=f"{count} more answers")

    def stop(self) -> Traffic:
        self.halt.set()
        for thread in self.threads:
            thread.join(timeout=35)
        return self

    @property
    def errors(self) -> int:
        return sum(n for status, n in self.statuses.items() if status != 200)


def logs(sdk: MLClient, site: Site, name: str) -> str:
    return sdk.online_deployments.get_logs(name, endpoint_name=site.endpoint, lines=2000)


def test_each_instance_is_a_ray_job_and_both_serve(
    sdk: MLClient, site: Site, scorer: Scorer
) -> None:
    poller = sdk.online_deployments.begin_create_or_update(
        deployment(site, "blue", 2), all_traffic=True
    )
    dep = poller.result(timeout=90)
    assert dep.provisioning_state == "Succeeded"
    ready = instances(sdk, site, "blue")
    assert len(ready) == 2
    # one Ray job per instance, which its metadata names
    jobs = running_jobs(site.head, site.compute)
    assert {j["metadata"]["forgeml_instance"] for j in jobs} == ready, jobs
    assert all(j["status"] == "RUNNING" for j in jobs), jobs
    assert {j["submission_id"] for j in jobs} == {f"forgeml-serving-{i}" for i in ready}

    # the router reaches both hosts at the addresses the workers on the node reported
    assert len(pids(scorer, 40)) == 2

    # the workers ship their output in batches: wait for it rather than read it once
    def started() -> bool:
        text = logs(sdk, site, "blue")
        return "serves at http://" in text and "init done on pid" in text

    wait_until(started, timeout=30, what="the instances' start lines in the deployment log")


def served_at(sdk: MLClient, site: Site, name: str) -> dict[str, str]:
    """Each instance's address as its worker reported it (`instance <id> serves at <url>`)."""
    found = re.findall(r"instance ([0-9a-f]+) serves at (\S+)", logs(sdk, site, name))
    return dict(found)


def test_the_hosts_answer_at_the_nodes_address(sdk: MLClient, site: Site) -> None:
    """A worker on a node binds 0.0.0.0; the router on another machine needs the node's IP."""
    node = _node_address()
    if node.startswith("127."):
        pytest.skip("this machine has no route off loopback, so no node address to check")
    ready = instances(sdk, site, "blue")
    # the logs arrive a moment after the ready report
    addresses = wait_until(
        lambda: found if ready <= set(found := served_at(sdk, site, "blue")) else None,
        what="each instance's address in the logs",
    )
    for instance in ready:
        port = urlsplit(addresses[instance]).port
        # the host listens on every interface, so the router here reaches it by the node's IP
        assert httpx.get(f"http://{node}:{port}/liveness", timeout=10).status_code == 200
    reported = {str(urlsplit(addresses[i]).hostname) for i in ready}
    if reported != {node}:
        pytest.xfail(
            f"the workers reported {sorted(reported)}, not the node's {node}: a router on "
            "another machine could not reach them (worker.py rewrites only '0.0.0.0', but "
            "the scoring host reports a 0.0.0.0 bind as 127.0.0.1)"
        )


def test_a_killed_ray_job_is_replaced_and_the_endpoint_keeps_answering(
    sdk: MLClient, site: Site, scorer: Scorer
) -> None:
    before = instances(sdk, site, "blue")
    victim = sorted(before)[0]
    load = Traffic(scorer, threads=2)
    try:
        load.wait(10)
        stopped = httpx.post(
            f"{site.head.address}/api/jobs/forgeml-serving-{victim}/stop", timeout=10
        )
        assert stopped.status_code == 200, stopped.text

        def replacement() -> set[str] | None:
            now = instances(sdk, site, "blue")
            return now if len(now) == 2 and now != before else None

        replaced = wait_until(replacement, timeout=60, what="a ready replacement instance")
        assert victim not in replaced
        load.wait(20)
    finally:
        load.stop()
    # the router retries a request the stopped host never took on the other instance
    assert load.errors == 0, load.failures
    assert job_instances(site) == replaced
    assert len(pids(scorer, 30)) == 2


def test_scaling_down_swaps_generations_without_a_failed_request(
    sdk: MLClient, site: Site, scorer: Scorer
) -> None:
    old = instances(sdk, site, "blue")
    load = Traffic(scorer, threads=3)
    try:
        load.wait(10)
        sdk.online_deployments.begin_create_or_update(
            deployment(site, "blue", 1, VERSION="v2")
        ).result(timeout=90)
        # through the switch and until the old generation has stopped
        wait_until(lambda: not instances(sdk, site, "blue") & old, timeout=30, what="old gone")
        load.wait(10)
    finally:
        load.stop()
    assert load.errors == 0, load.failures
    assert load.versions["v1"] > 0 and load.versions["v2"] > 0

    # the old generation's instances and their Ray jobs end a moment after the switch
    def only_new() -> set[str] | None:
        now = instances(sdk, site, "blue")
        return None if now & old else now

    new = wait_until(only_new, timeout=30, what="the old generation stopped")
    assert len(new) == 1
    wait_until(lambda: job_instances(site) == new, timeout=30, what="one Ray job left")
    answers = [scorer.post({}) for _ in range(5)]
    assert [r.json()["version"] for r in answers] == ["v2"] * 5


def test_an_init_failure_on_ray_fails_the_deployment_with_the_reason(
    sdk: MLClient, site: Site
) -> None:
    broken = deployment(site, "broken", 1, FAIL_INIT="weights file is corrupt")
    with pytest.raises(DeploymentFailedError, match="weights file is corrupt"):
        sdk.online_deployments.begin_create_or_update(broken).result(timeout=90)
    dep = sdk.online_deployments.get("broken", endpoint_name=site.endpoint)
    assert dep.provisioning_state == "Failed"
    assert "weights file is corrupt" in (dep.status_message or "")

    def traceback() -> str | None:
        text = logs(sdk, site, "broken")
        return text if "Traceback" in text else None

    text = wait_until(traceback, what="the init() traceback in the logs")
    assert "RuntimeError: weights file is corrupt" in text
    # the failed instance holds nothing on the cluster
    wait_until(
        lambda: job_instances(site) == instances(sdk, site, "blue"),
        timeout=30,
        what="only blue's Ray job running",
    )
    sdk.online_deployments.begin_delete("broken", endpoint_name=site.endpoint).result(timeout=30)


def test_deleting_the_deployment_and_the_endpoint_stops_their_ray_jobs(
    sdk: MLClient, site: Site, scorer: Scorer
) -> None:
    sdk.online_deployments.begin_create_or_update(
        deployment(site, "green", 1, VERSION="green")
    ).result(timeout=90)
    green = instances(sdk, site, "green")
    blue = instances(sdk, site, "blue")
    assert job_instances(site) == green | blue
    sdk.online_endpoints.update_traffic(site.endpoint, {"blue": 0, "green": 100})
    sdk.online_deployments.begin_delete("blue", endpoint_name=site.endpoint).result(timeout=60)
    assert job_instances(site) == green
    assert scorer.post({}).json()["version"] == "green"

    sdk.online_endpoints.begin_delete(site.endpoint).result(timeout=60)
    assert job_instances(site) == set()
    # they were stopped (or stopped themselves when told to), not crashed
    jobs = httpx.get(f"{site.head.address}/api/jobs/", timeout=10).json()
    ended = [j for j in jobs if (j.get("metadata") or {}).get("forgeml_instance") in green]
    assert len(ended) == 1 and ended[0]["status"] in ("STOPPED", "SUCCEEDED"), ended


def test_a_worker_that_cannot_start_on_the_node_fails_the_deployment(
    sdk: MLClient, ray_head: RayHead, ray_workdir: Path, tmp_path: Path
) -> None:
    """A node without the compute's interpreter: the Ray job fails at once, and so does the
    deployment, instead of waiting for a worker that never reports."""
    compute = unique("ray-nopython")
    sdk.compute.create_or_update(
        forgeml.RayCompute(
            name=compute,
            address=ray_head.address,
            resources={"num_cpus": 0.25},
            working_dir=str(ray_workdir),
            python=str(tmp_path / "no-python-here"),
        )
    )
    code = tmp_path / "code"
    code.mkdir()
    (code / "score.py").write_text(SCORE_PY, encoding="utf-8")
    name = unique("ep-nopython")
    sdk.online_endpoints.begin_create_or_update(
        OnlineEndpoint(name=name, compute=f"azureml:{compute}")
    ).result()
    site = Site(endpoint=name, compute=compute, code=code, head=ray_head)
    with pytest.raises(DeploymentFailedError, match="failed to start"):
        sdk.online_deployments.begin_create_or_update(deployment(site, "blue", 1)).result(
            timeout=60
        )
    # what Ray knows of it says why: the launcher hands that on
    jobs = httpx.get(f"{ray_head.address}/api/jobs/", timeout=10).json()
    [job] = [j for j in jobs if (j.get("metadata") or {}).get("forgeml_compute") == compute]
    target = RayTarget.from_spec(compute, {"address": ray_head.address})
    launcher = RayLauncher("http://127.0.0.1:9", target)
    try:
        reason = launcher.exit_reason({"submission_id": job["submission_id"]})
    finally:
        launcher.close()
    assert reason is not None and "failed" in reason, reason
    assert "no-python-here: not found" in reason, reason
    sdk.online_endpoints.begin_delete(name).result(timeout=30)
