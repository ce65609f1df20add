"""Data collection for online deployments (`data_collector` in the deployment YAML).

The router hands every answered scoring request to the collector; a sampled share of them
(`sampling_rate`) is kept per enabled collection — `model_inputs` / `request` get the request
body, `model_outputs` / `response` the answer — as JSON lines in Azure ML's record shape (a
CloudEvents envelope with the payload under `data` and the request id as `correlationid`).
Every flush appends the new lines as one file under `<yyyy>/<mm>/<dd>/<hh>/` (by `rolling_rate`)
and registers the grown folder as the next version of the collection's data asset
(`<endpoint>-<deployment>-<collection>`, or the collection's `data.name`), so
`azureml:<name>@latest` always holds everything collected so far, for the monitoring to come.
Collections fed by `Collector("name")` calls inside a scoring script are not collected.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import random
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from forgeml.core.content import Manifest, ManifestEntry, parse_content_uri
from forgeml.core.errors import NotFoundError
from forgeml.core.specs import Data
from forgeml.services import assets
from forgeml.services.context import Context, Workspace
from forgeml.services.serving import RoutedDeployment

log = logging.getLogger("forgeml.serving.collector")

INPUTS = frozenset({"model_inputs", "request"})
OUTPUTS = frozenset({"model_outputs", "response"})
_FOLDER = {"minute": "%Y/%m/%d/%H/%M", "hour": "%Y/%m/%d/%H", "day": "%Y/%m/%d"}


@dataclass
class _Pending:
    endpoint: str
    deployment: str
    collection: str
    lines: list[tuple[str, str]] = field(default_factory=list)  # (folder, json line)


def _enabled(config: Any) -> bool:
    value = (config or {}).get("enabled", True) if isinstance(config, dict) else config
    return str(value).lower() in ("true", "1", "yes")


def _payload(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode("utf-8", errors="replace")


class DataCollector:
    def __init__(self, workspace: Workspace, flush_s: float = 30.0) -> None:
        self.ctx = Context(workspace)
        self.flush_s = flush_s
        self.pending: dict[str, _Pending] = {}
        self.lock = threading.Lock()
        self.halt = threading.Event()
        self.thread: threading.Thread | None = None

    def add(
        self,
        endpoint: str,
        target: RoutedDeployment,
        body: bytes,
        answer: bytes,
        status: int,
        request_id: str,
    ) -> None:
        config = target.data_collector or {}
        if status >= 400 or random.random() >= float(config.get("sampling_rate", 1.0)):
            return
        now = datetime.now(UTC)
        folder = now.strftime(
            _FOLDER.get(str(config.get("rolling_rate", "hour")).lower(), _FOLDER["hour"])
        )
        for collection, settings in (config.get("collections") or {}).items():
            if not _enabled(settings) or collection not in INPUTS | OUTPUTS:
                continue
            record = {
                "specversion": "1.0",
                "id": uuid.uuid4().hex,
                "source": f"/endpoints/{endpoint}/deployments/{target.name}",
                "type": f"azureml.inference.{collection}",
                "datacontenttype": "application/json",
                "time": now.isoformat(),
                "data": _payload(body if collection in INPUTS else answer),
                "correlationid": request_id,
            }
            data = (settings or {}).get("data") if isinstance(settings, dict) else None
            name = (data or {}).get("name") or f"{endpoint}-{target.name}-{collection}"
            with self.lock:
                item = self.pending.setdefault(name, _Pending(endpoint, target.name, collection))
                if len(item.lines) < 100_000:
                    item.lines.append((folder, json.dumps(record, separators=(",", ":"))))
        if self.thread is None:
            self._start()

    def _start(self) -> None:
        with self.lock:
            if self.thread is None:
                self.thread = threading.Thread(target=self._run, daemon=True, name="data-collector")
                self.thread.start()

    def _run(self) -> None:
        while not self.halt.wait(self.flush_s):
            self.flush()

    def close(self) -> None:
        self.halt.set()
        if self.thread is not None:
            self.thread.join(timeout=10)
        self.flush()

    def flush(self) -> None:
        with self.lock:
            batch, self.pending = self.pending, {}
        for name, item in batch.items():
            if item.lines:
                try:
                    self._append(name, item)
                except Exception:
                    log.exception(
                        "could not store %d collected records for %s", len(item.lines), name
                    )

    def _append(self, name: str, item: _Pending) -> None:
        artifacts = self.ctx.artifacts
        entries: list[ManifestEntry] = []
        try:
            latest = assets.resolve(self.ctx, "data", f"{name}@latest")
            assert isinstance(latest, Data)
            previous = artifacts.get_manifest(parse_content_uri(latest.path)[0])
            if previous is not None:
                entries.extend(previous.entries)
        except NotFoundError:
            pass
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        by_folder: dict[str, list[str]] = {}
        for folder, line in item.lines:
            by_folder.setdefault(folder, []).append(line)
        for folder, lines in by_folder.items():
            content = ("\n".join(lines) + "\n").encode()
            digest = hashlib.sha256(content).hexdigest()
            if not artifacts.has_blob(digest):
                artifacts.put_blob(digest, io.BytesIO(content))
            path = f"{folder}/{stamp}-{uuid.uuid4().hex[:8]}.jsonl"
            entries.append(ManifestEntry(path, digest, len(content)))
        manifest = Manifest.build(entries)
        artifacts.put_manifest(manifest)
        assets.create(
            self.ctx,
            "data",
            {
                "name": name,
                "type": "uri_folder",
                "path": manifest.uri(),
                "description": (
                    f"{item.collection} collected from deployment '{item.deployment}' of online "
                    f"endpoint '{item.endpoint}'."
                ),
                "tags": {
                    "endpoint": item.endpoint,
                    "deployment": item.deployment,
                    "collection": item.collection,
                },
            },
        )
