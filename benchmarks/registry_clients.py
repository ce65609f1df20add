"""The client side of benchmarks/assets.py: one process that drives one registry through its SDK.

`assets.py` starts one of these per system under that system's own interpreter (forgeml's SDK from
the project's virtualenv, MlflowClient from benchmarks/.work/mlflow-venv), then sends it one JSON
command a line on stdin and reads one JSON answer a line on stdout, so that it can interleave the
timed phases of all systems. Only the standard library is imported at the top; each side imports
its own SDK when it is used.
"""

from __future__ import annotations

import json
import os
import random
import sys
import tempfile
import threading
import time
import uuid
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

NAMES_PER_STREAM = 5
WARMUP = 5


class ForgemlSide:
    """forgeml's SDK, called exactly as a user calls it."""

    def __init__(self, url: str) -> None:
        self.url = url

    def client(self, counter: list[int] | None = None) -> Any:
        from forgeml import MLClient

        if counter is None:
            return MLClient(url=self.url)
        import httpx

        def hook(_request: Any) -> None:
            counter[0] += 1

        http = httpx.Client(timeout=60.0, event_hooks={"request": [hook]})
        return MLClient(url=self.url, http_client=http)

    def count_requests(self, _counter: list[int]) -> Callable[[], None]:
        return lambda: None  # the counting client above does it

    def create_content(self, c: Any, name: str, folder: Path) -> str:
        from forgeml import Model

        return str(c.models.create_or_update(Model(name=name, path=str(folder))).version)

    def create_registry(self, c: Any, name: str, uri: str) -> str:
        from forgeml import Model

        return str(c.models.create_or_update(Model(name=name, path=uri)).version)

    def get_version(self, c: Any, name: str, version: str) -> None:
        c.models.get(name, version=version)

    def get_latest(self, c: Any, name: str) -> None:
        c.models.get(name, label="latest")

    def list_models(self, c: Any) -> int:
        return len(list(c.models.list()))

    def list_versions(self, c: Any, name: str) -> int:
        return len(list(c.models.list(name)))


class MlflowSide:
    """MlflowClient against `mlflow server`, used as MLflow's documentation shows."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.experiment_id: str | None = None
        self.known: set[str] = set()
        self.lock = threading.Lock()

    def client(self, _counter: list[int] | None = None) -> Any:
        from mlflow import MlflowClient

        client = MlflowClient(tracking_uri=self.url, registry_uri=self.url)
        if self.experiment_id is None:
            self.experiment_id = client.create_experiment(f"bench-{uuid.uuid4().hex[:8]}")
        return client

    def count_requests(self, counter: list[int]) -> Callable[[], None]:
        import requests.adapters

        original = requests.adapters.HTTPAdapter.send

        def send(adapter: Any, *args: Any, **kwargs: Any) -> Any:
            counter[0] += 1
            return original(adapter, *args, **kwargs)

        requests.adapters.HTTPAdapter.send = send  # type: ignore[method-assign]

        def undo() -> None:
            requests.adapters.HTTPAdapter.send = original  # type: ignore[method-assign]

        return undo

    def _ensure(self, c: Any, name: str) -> None:
        # a registered model must exist before its first version; forgeml makes it implicitly
        if name in self.known:
            return
        c.create_registered_model(name)
        with self.lock:
            self.known.add(name)

    def create_content(self, c: Any, name: str, folder: Path) -> str:
        self._ensure(c, name)
        run = c.create_run(self.experiment_id)
        run_id = run.info.run_id
        c.log_artifacts(run_id, str(folder), "model")
        mv = c.create_model_version(name, f"{run.info.artifact_uri}/model", run_id=run_id)
        return str(mv.version)

    def create_registry(self, c: Any, name: str, uri: str) -> str:
        self._ensure(c, name)
        return str(c.create_model_version(name, uri).version)

    def get_version(self, c: Any, name: str, version: str) -> None:
        c.get_model_version(name, version)

    def get_latest(self, c: Any, name: str) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # deprecated with stages, still MLflow's "latest"
            found = c.get_latest_versions(name)
        if not found:
            raise RuntimeError(f"no latest version of {name}")

    def list_models(self, c: Any) -> int:
        return _all_pages(
            lambda token: c.search_registered_models(max_results=100, page_token=token)
        )

    def list_versions(self, c: Any, name: str) -> int:
        return _all_pages(
            lambda token: c.search_model_versions(
                f"name='{name}'", max_results=100, page_token=token
            )
        )


def _all_pages(page: Callable[[str | None], Any]) -> int:
    total, token = 0, None
    while True:
        got = page(token)
        total += len(got)
        token = got.token
        if not token:
            return total


def timed(
    clients: list[Any],
    count: int,
    op: Callable[[Any, int, int], Any],
    max_s: float | None = None,
) -> dict[str, Any]:
    """Run `count` calls `op(client, thread, i)` spread over `clients`, one thread each.

    With `max_s`, no call starts after that many seconds: a slow system makes fewer calls in a
    bounded time, and its rate is still calls completed over the phase's wall time.
    """
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    k = len(clients)
    per = [count // k + (1 if t < count % k else 0) for t in range(k)]
    gate = threading.Barrier(k + 1)

    def work(t: int) -> None:
        mine: list[float] = []
        gate.wait()
        base = sum(per[:t])
        stop_at = time.perf_counter() + max_s if max_s else float("inf")
        for i in range(per[t]):
            began = time.perf_counter()
            if began > stop_at:
                break
            try:
                op(clients[t], t, base + i)
            except Exception as exc:
                with lock:
                    errors.append(f"{type(exc).__name__}: {exc}"[:300])
                continue
            mine.append(time.perf_counter() - began)
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(k)]
    for th in threads:
        th.start()
    gate.wait()
    began = time.perf_counter()
    for th in threads:
        th.join()
    wall = time.perf_counter() - began
    latencies.sort()
    ok = len(latencies)
    return {
        "requested": count,
        "ops": ok,
        "errors": len(errors),
        "first_error": errors[0] if errors else None,
        "wall_s": wall,
        "ops_per_s": ok / wall if wall > 0 else 0.0,
        "p50_ms": 1000 * latencies[ok // 2] if ok else None,
        "p95_ms": 1000 * latencies[min(ok - 1, int(ok * 0.95))] if ok else None,
    }


def make_folders(root: Path, count: int, tag: str) -> list[Path]:
    """Distinct small model folders: 1 KiB of random bytes and a small JSON file each."""
    out = []
    for i in range(count):
        folder = root / f"{tag}-{i}"
        folder.mkdir(parents=True)
        (folder / "model.bin").write_bytes(os.urandom(1024))
        (folder / "params.json").write_text(json.dumps({"tag": tag, "i": i}))
        out.append(folder)
    return out


class Driver:
    """The state of one client process between commands."""

    def __init__(self, system: str, url: str, threads: int, root: Path) -> None:
        self.side: Any = ForgemlSide(url) if system == "forgeml" else MlflowSide(url)
        self.root = root
        self.clients = {"seq": [self.side.client()], "conc": []}
        self.clients["conc"] = [self.side.client() for _ in range(threads)]
        self.created: list[tuple[str, str]] = []
        self.lock = threading.Lock()
        self.folders: dict[str, list[Path]] = {}

    def setup(self, n: int) -> dict[str, Any]:
        for mode in ("seq", "conc"):
            self.folders[mode] = make_folders(self.root, n, mode)
        warm = make_folders(self.root, WARMUP + 1, "warm")
        # warm-up: connection pools, first-request imports, server-side caches
        for i, folder in enumerate(warm[:WARMUP]):
            for c in (self.clients["seq"][0], self.clients["conc"][i % len(self.clients["conc"])]):
                self.side.create_content(c, "warmup", folder)
                self.side.get_latest(c, "warmup")
                self.side.list_versions(c, "warmup")
        return {"requests_per_op": self.requests_per_op("probe", warm[WARMUP])}

    def requests_per_op(self, name: str, folder: Path) -> dict[str, int]:
        """HTTP requests each operation costs with this SDK (one untimed call of each)."""
        counter = [0]
        undo = self.side.count_requests(counter)
        c = self.side.client(counter)
        # the model exists first, so a create is counted as every later create costs
        self.side.create_registry(c, name, f"s3://b/{uuid.uuid4()}")
        probes: dict[str, Callable[[], Any]] = {
            "create_content": lambda: self.side.create_content(c, name, folder),
            "create_registry": lambda: self.side.create_registry(c, name, f"s3://b/{uuid.uuid4()}"),
            "get_version": lambda: self.side.get_version(c, name, "1"),
            "get_latest": lambda: self.side.get_latest(c, name),
            "list_models": lambda: self.side.list_models(c),
            "list_versions": lambda: self.side.list_versions(c, name),
        }
        counts = {}
        try:
            for op, call in probes.items():
                counter[0] = 0
                call()
                counts[op] = counter[0]
        finally:
            undo()
        return counts

    def phase(
        self, op: str, mode: str, count: int, seed: int, max_s: float | None
    ) -> dict[str, Any]:
        side, clients, rng = self.side, self.clients[mode], random.Random(seed)
        if op == "create_content":
            folders = self.folders[mode]

            def call(c: Any, t: int, i: int) -> None:
                # each client thread writes its own few models: no two threads race on one name
                name = f"content-{mode}-t{t}-{i % NAMES_PER_STREAM}"
                version = side.create_content(c, name, folders[i])
                with self.lock:
                    self.created.append((name, version))

        elif op == "create_registry":

            def call(c: Any, t: int, i: int) -> None:
                name = f"registry-{mode}-t{t}-{i % NAMES_PER_STREAM}"
                side.create_registry(c, name, f"s3://bench/{mode}/{uuid.uuid4()}/model")

        else:
            if not self.created:
                raise RuntimeError("no create succeeded, so there is nothing to read")
            picks = [rng.choice(self.created) for _ in range(count)]
            names = [name for name, _ in picks]
            calls: dict[str, Callable[[Any, int, int], Any]] = {
                "get_version": lambda c, _t, i: side.get_version(c, *picks[i]),
                "get_latest": lambda c, _t, i: side.get_latest(c, names[i]),
                "list_models": lambda c, _t, _i: side.list_models(c),
                "list_versions": lambda c, _t, i: side.list_versions(c, names[i]),
            }
            call = calls[op]
        return timed(clients, count, call, max_s)

    def summary(self) -> dict[str, Any]:
        c = self.clients["seq"][0]
        names = sorted({name for name, _ in self.created})
        sizes = [self.side.list_versions(c, name) for name in names]
        return {
            "models": self.side.list_models(c),
            "versions_per_listed_model": f"{min(sizes)}-{max(sizes)}" if sizes else "0",
        }


def main(argv: list[str]) -> int:
    """`registry_clients.py SYSTEM URL THREADS FOLDER`: FOLDER receives the content to upload."""
    system, url, threads, folder = argv[0], argv[1], int(argv[2]), Path(argv[3])
    answer = sys.stdout
    sys.stdout = sys.stderr  # whatever a library prints must not mix with the answers
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="content-", dir=folder) as tmp:
        driver = Driver(system, url, threads, Path(tmp))
        for line in sys.stdin:
            cmd = json.loads(line)
            try:
                if cmd["cmd"] == "setup":
                    reply = driver.setup(cmd["n"])
                elif cmd["cmd"] == "phase":
                    reply = driver.phase(
                        cmd["op"], cmd["mode"], cmd["count"], cmd["seed"], cmd.get("max_s")
                    )
                else:
                    reply = driver.summary()
            except Exception as exc:
                reply = {"fatal": f"{type(exc).__name__}: {exc}"}
            answer.write(json.dumps(reply) + "\n")
            answer.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
