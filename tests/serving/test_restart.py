"""A workspace server restarted on the same home and port keeps its online endpoints and their
keys. A server that shuts down stops its local serving workers and its next start serves again
with fresh ones; after a crash the workers run on, and the next start adopts them (the same
instances answer at once) and can still stop them. Its own server, since the tests stop it.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from forgeml import MLClient
from forgeml.core.errors import NotFoundError
from forgeml.schemas.serving import EndpointKeys
from tests.cli.live import Server, free_port, start_server
from tests.jobs.conftest import alive, kill_leftovers
from tests.serving.conftest import (
    Scorer,
    create_endpoint,
    custom_deployment,
    deploy,
    host_pids,
    ready_instances,
    wait_until,
    worker_pids,
    write_custom_model,
)

EP = "ep-restart"


@dataclass
class Workspace:
    """A `forgeml up` that can be stopped and started again on the same home and port."""

    root: Path
    port: int
    server: Server | None = None
    starts: int = 0

    @property
    def home(self) -> Path:
        return self.root / "home"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Server:
        self.starts += 1
        self.server = start_server(
            ["--port", str(self.port), "--home", str(self.home)],
            port=self.port,
            log=self.root / f"server-{self.starts}.log",
            home=self.home,
        )
        return self.server

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()

    def crash(self) -> None:
        """SIGKILL the server process: nothing of it gets to clean up."""
        assert self.server is not None
        self.server.process.send_signal(signal.SIGKILL)
        self.server.process.wait(timeout=15)


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    made = Workspace(root=tmp_path_factory.mktemp("restart-workspace"), port=free_port())
    made.start()
    try:
        yield made
    finally:
        made.stop()
        kill_leftovers(made.home)


@pytest.fixture(scope="module")
def endpoint(workspace: Workspace, tmp_path_factory: pytest.TempPathFactory) -> EndpointKeys:
    """`ep-restart` with `blue` taking all the traffic; its keys."""
    with MLClient(url=workspace.url) as sdk:
        create_endpoint(sdk, EP)
        files = write_custom_model(tmp_path_factory.mktemp("restart-model"), "blue")
        deploy(sdk, custom_deployment(EP, "blue", files), all_traffic=True)
        return sdk.online_endpoints.get_keys(EP)


@pytest.fixture
def scorer(workspace: Workspace, endpoint: EndpointKeys) -> Iterator[Scorer]:
    made = Scorer(uri=f"{workspace.url}/endpoints/{EP}/score", key=endpoint.primary_key)
    yield made
    made.close()


def _instance(workspace: Workspace) -> str:
    with MLClient(url=workspace.url) as sdk:
        (instance,) = [str(i["id"]) for i in ready_instances(sdk, EP, "blue")]
    return instance


def _answers(scorer: Scorer, timeout: float) -> httpx.Response:
    def attempt() -> httpx.Response | None:
        try:
            response = scorer.post({"values": [1]})
        except httpx.TransportError:
            return None
        return response if response.status_code == 200 else None

    return wait_until(attempt, timeout=timeout, what="the endpoint to answer")


def _check_keys(workspace: Workspace, scorer: Scorer, keys: EndpointKeys) -> None:
    assert scorer.post({"values": [1]}, key=keys.secondary_key).status_code == 200
    assert scorer.post({"values": [1]}, key="not-a-key").status_code == 401
    with MLClient(url=workspace.url) as sdk:
        assert sdk.online_endpoints.get_keys(EP) == keys
        dep = sdk.online_deployments.get("blue", endpoint_name=EP)
        assert dep.provisioning_state == "Succeeded"


@pytest.mark.timeout(120)
def test_a_server_that_shuts_down_serves_again_after_its_next_start(
    workspace: Workspace, endpoint: EndpointKeys, scorer: Scorer
) -> None:
    assert scorer.post({"values": [1]}).status_code == 200
    instance = _instance(workspace)
    processes = [*host_pids(instance), *worker_pids(instance)]
    assert len(processes) == 2

    workspace.stop()
    # a clean shutdown takes its local workers with it
    assert not any(alive(pid) for pid in processes)
    with pytest.raises(httpx.TransportError):
        scorer.post({"values": [1]})

    workspace.start()
    response = _answers(scorer, timeout=20)
    assert response.json()["deployment"] == "blue"
    assert response.headers["azureml-model-deployment"] == "blue"
    _check_keys(workspace, scorer, endpoint)
    assert _instance(workspace) != instance


@pytest.mark.timeout(120)
def test_after_a_crash_the_next_start_adopts_the_running_workers(
    workspace: Workspace, endpoint: EndpointKeys, scorer: Scorer
) -> None:
    _answers(scorer, timeout=20)
    instance = _instance(workspace)
    hosts, workers = host_pids(instance), worker_pids(instance)
    assert len(hosts) == 1 and len(workers) == 1

    workspace.crash()
    with pytest.raises(httpx.TransportError):
        scorer.post({"values": [1]})
    # the serving processes do not depend on the server process
    assert all(alive(pid) for pid in [*hosts, *workers])

    workspace.start()
    # adopted, not replaced: the instance that was serving answers as soon as the server does
    response = _answers(scorer, timeout=5)
    assert response.json()["deployment"] == "blue"
    _check_keys(workspace, scorer, endpoint)
    assert _instance(workspace) == instance
    assert host_pids(instance) == hosts

    # and the new server still stops them when asked
    with MLClient(url=workspace.url) as sdk:
        sdk.online_endpoints.begin_delete(EP).result(timeout=30)
        with pytest.raises(NotFoundError):
            sdk.online_endpoints.get(EP)
    wait_until(
        lambda: not any(alive(pid) for pid in [*hosts, *workers]),
        what="the adopted worker and its host to stop",
    )
    assert scorer.post({"values": [1]}).status_code == 404
