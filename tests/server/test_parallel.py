"""Parallel clients over real HTTP never receive the same automatic version twice."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from forgeml import Environment, MLClient, Model

THREADS, EACH = 8, 5


def test_parallel_creates_of_the_next_version_never_collide(live_url: str) -> None:
    start = threading.Barrier(THREADS)

    def work(thread: int) -> list[str]:
        versions = []
        with MLClient(url=live_url, timeout=60) as client:
            start.wait()
            for i in range(EACH):
                env = Environment(name="shared", image=f"python:3.11-t{thread}-{i}")
                versions.append(client.environments.create_or_update(env).version)
        return versions

    with ThreadPoolExecutor(THREADS) as pool:
        results = [v for chunk in pool.map(work, range(THREADS)) for v in chunk]

    assert sorted(results, key=int) == [str(n) for n in range(1, THREADS * EACH + 1)]
    with MLClient(url=live_url) as client:
        listed = [e.version for e in client.environments.list("shared")]
        images = {e.image for e in client.environments.list("shared")}
    assert sorted(listed, key=int) == sorted(results, key=int)
    assert len(images) == THREADS * EACH  # every create kept its own content


def test_parallel_uploads_of_the_same_content_agree(live_url: str, tmp_path: Path) -> None:
    folder = tmp_path / "model"
    folder.mkdir()
    for i in range(4):
        (folder / f"w{i}.bin").write_bytes(bytes([i]) * 4096)
    start = threading.Barrier(THREADS)

    def work(_: int) -> tuple[str | None, str]:
        with MLClient(url=live_url, timeout=60) as client:
            start.wait()
            model = client.models.create_or_update(Model(name="same", path=str(folder)))
            return model.version, model.path

    with ThreadPoolExecutor(THREADS) as pool:
        results = list(pool.map(work, range(THREADS)))
    # identical content registered at once: one address, and no more than one version
    assert len({path for _, path in results}) == 1
    with MLClient(url=live_url) as client:
        assert [m.version for m in client.models.list("same")] == ["1"]
