"""The studio's job list and submit page on the API: filters (type, search, compute), orders
with their page tokens, a count of the matches, a job submitted as YAML text (errors name the
line; local files are refused with what to do), and a model registered from a job's output."""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

import forgeml
from forgeml import MLClient
from forgeml.services import Workspace
from forgeml.store.repositories import JobRepository
from forgeml.store.repositories.common import utcnow

ENV = {"image": "python:3.11"}


def names(http: TestClient, **params: Any) -> list[str]:
    page = http.get("/api/v1/jobs", params=params)
    assert page.status_code == 200, page.text
    return [j["name"] for j in page.json()["items"]]


def every(http: TestClient, **params: Any) -> list[str]:
    """All pages of a listing, following next_token."""
    found: list[str] = []
    token = None
    while True:
        page = http.get(
            "/api/v1/jobs", params={**params, **({"page_token": token} if token else {})}
        )
        assert page.status_code == 200, page.text
        found += [j["name"] for j in page.json()["items"]]
        token = page.json()["next_token"]
        if not token:
            return found


@pytest.fixture
def seeded(client: MLClient, workspace: Workspace) -> list[str]:
    """Six command jobs: two experiments, two computes, some started and ended."""
    client.compute.create_or_update(forgeml.LocalCompute(name="gpu"))
    made = []
    for i in range(6):
        job = forgeml.command(
            name=f"train-{i}" if i % 2 else f"prep-{i}",
            display_name=f"Run Number {i}",
            command="echo",
            environment=ENV,
            experiment_name="alpha" if i < 3 else "beta",
            compute="gpu" if i in (1, 4) else None,
        )
        made.append(str(client.jobs.create_or_update(job).name))
    now = utcnow()
    with workspace.db.write() as session:
        repo = JobRepository(session)
        # durations: prep-0 30 s, train-1 10 s, prep-2 20 s; train-3 still running; the rest queued
        for name, took in (("prep-0", 30), ("train-1", 10), ("prep-2", 20)):
            repo.update(
                name,
                status="completed",
                started_at=now,
                ended_at=now + timedelta(seconds=took),
            )
        repo.update("train-3", status="running", started_at=now + timedelta(seconds=1))
    return made


def test_filters_by_type_search_compute_status_and_experiment(
    http: TestClient, seeded: list[str]
) -> None:
    newest_first = list(reversed(seeded))
    assert names(http) == newest_first
    assert names(http, type="command") == newest_first
    assert names(http, type="pipeline") == []
    assert names(http, search="TRAIN") == ["train-5", "train-3", "train-1"]
    assert names(http, search="number 4") == ["prep-4"]  # the display name, any case
    assert names(http, search="%") == []  # a wildcard is a character like any other
    assert names(http, compute="gpu") == ["prep-4", "train-1"]
    assert names(http, status=["completed", "running"]) == [
        "train-3",
        "prep-2",
        "train-1",
        "prep-0",
    ]
    assert names(http, experiment_name="beta", search="train") == ["train-5", "train-3"]
    bad = http.get("/api/v1/jobs", params={"type": "spark"})
    assert bad.status_code == 422


def test_orders_page_through_every_job_once(http: TestClient, seeded: list[str]) -> None:
    assert every(http, order_by="name", order="asc", limit=4) == sorted(seeded)
    assert every(http, order_by="name", order="desc", limit=4) == sorted(seeded, reverse=True)
    assert every(http, order_by="created_at", order="asc", limit=2) == seeded
    by_experiment = every(http, order_by="experiment", order="asc", limit=4)
    assert by_experiment == ["prep-0", "prep-2", "train-1", "prep-4", "train-3", "train-5"]
    by_status = every(http, order_by="status", order="desc", limit=2)
    assert by_status == ["train-3", "train-5", "prep-4", "train-1", "prep-2", "prep-0"]
    # not started / still running come last in both directions
    shortest = every(http, order_by="duration", order="asc", limit=2)
    assert shortest == ["train-1", "prep-2", "prep-0", "prep-4", "train-3", "train-5"]
    longest = every(http, order_by="duration", order="desc", limit=2)
    assert longest == ["prep-0", "prep-2", "train-1", "train-5", "train-3", "prep-4"]
    started = every(http, order_by="started_at", order="desc", limit=5)
    assert started == ["train-3", "train-1", "prep-2", "prep-0", "train-5", "prep-4"]
    # a token belongs to its order
    page = http.get("/api/v1/jobs", params={"order_by": "name", "limit": 2}).json()
    wrong = http.get(
        "/api/v1/jobs", params={"order_by": "status", "page_token": page["next_token"]}
    )
    assert wrong.status_code == 422 and "page token" in wrong.json()["message"]
    assert http.get("/api/v1/jobs", params={"page_token": "nonsense!"}).status_code == 422


def test_old_numeric_tokens_skip_and_tampered_tokens_are_refused(
    http: TestClient, seeded: list[str]
) -> None:
    newest_first = list(reversed(seeded))
    assert names(http, page_token="2", limit=2) == newest_first[2:4]
    for doc in (
        {"by": "created_at", "desc": True, "after": ["garbage", "x"]},
        {"by": "created_at", "desc": True, "after": [{"a": 1}, "x"]},
        {"by": "created_at", "desc": True, "after": ["2026-01-01T00:00:00", [1]]},
        {"by": "created_at", "desc": True, "offset": -3},
        {"by": "created_at", "desc": True, "offset": True},
    ):
        token = base64.urlsafe_b64encode(json.dumps(doc).encode()).decode().rstrip("=")
        answer = http.get("/api/v1/jobs", params={"page_token": token})
        assert answer.status_code == 422, (doc, answer.text)
        assert "page token" in answer.json()["message"]


def test_a_count_of_the_matches_comes_on_request(http: TestClient, seeded: list[str]) -> None:
    page = http.get("/api/v1/jobs", params={"limit": 2, "total": "true"}).json()
    assert page["total"] == 6 and len(page["items"]) == 2
    assert http.get("/api/v1/jobs").json()["total"] is None
    assert http.get("/api/v1/jobs", params={"search": "train", "total": True}).json()["total"] == 3


def test_a_list_item_carries_what_the_studio_shows(http: TestClient, seeded: list[str]) -> None:
    item = http.get("/api/v1/jobs", params={"search": "prep-0"}).json()["items"][0]
    assert item["status"] == "completed" and item["type"] == "command"
    assert item["experiment_name"] == "alpha" and item["compute"] == "local"
    assert item["creation_context"]["created_by"] == "local"
    assert item["started_at"] and item["ended_at"] and "reused_from" in item


COMMAND = """\
$schema: https://azuremlschemas.azureedge.net/latest/commandJob.schema.json
command: echo hello from the studio
environment:
  image: python:3.11
experiment_name: pasted
display_name: pasted job
"""


def test_a_job_submitted_as_yaml_text_is_queued(http: TestClient) -> None:
    made = http.post("/api/v1/jobs/yaml", json={"yaml": COMMAND})
    assert made.status_code == 201, made.text
    job = made.json()
    assert job["status"] == "queued" and job["experiment_name"] == "pasted"
    assert job["command"] == "echo hello from the studio"
    pipeline = "type: pipeline\njobs:\n  a:\n    type: command\n    command: echo a\n"
    pipeline += "    environment: {image: python:3.11}\n"
    made = http.post("/api/v1/jobs/yaml", json={"yaml": pipeline})
    assert made.status_code == 201, made.text
    assert names(http, type="pipeline") == [made.json()["name"]]


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("command: echo\nenvironment: {image: x}\nbogus: 1\n", 3, "unknown key 'bogus'"),
        ("command: echo\nenvironment: [unclosed\n", 3, "not valid YAML"),
        ("- a list\n", 1, "mapping"),
        (
            "command: python main.py\ncode: ./src\nenvironment: {image: python:3.11}\n",
            2,
            "forgeml job create -f train.yml",
        ),
        (
            "command: echo\nenvironment: {image: python:3.11}\ninputs:\n  d:\n"
            "    type: uri_folder\n    path: ./data\n",
            6,
            "cannot upload",
        ),
        (
            "command: echo\nenvironment: {image: python:3.11}\ncompute: nowhere\n",
            3,
            "nowhere",
        ),
    ],
)
def test_yaml_errors_name_the_line_and_what_to_do(
    http: TestClient, text: str, line: int, words: str
) -> None:
    answer = http.post("/api/v1/jobs/yaml", json={"yaml": text, "file": "train.yml"})
    assert answer.status_code in (404, 409, 422), answer.text
    body = answer.json()
    assert words in body["message"], body
    assert body["details"].get("line") == line, body
    assert body["message"].startswith(f"train.yml:{line}")
    assert names(http) == []  # nothing was queued


def test_a_model_is_registered_from_a_job_output(
    client: MLClient, http: TestClient, workspace: Workspace, tmp_path: Path
) -> None:
    job = client.jobs.create_or_update(
        forgeml.command(name="producer", command="echo", environment=ENV)
    )
    (tmp_path / "weights.txt").write_text("w=1\n")
    weights = client.data.create_or_update(
        forgeml.Data(name="weights-src", path=str(tmp_path), type="uri_folder")
    )
    with workspace.db.write() as session:
        JobRepository(session).put_output(
            str(job.name), name="model", type="uri_folder", uri=str(weights.path)
        )
    made = http.post(
        "/api/v1/models",
        json={"name": "from-job", "path": "azureml://jobs/producer/outputs/model"},
    )
    assert made.status_code == 201, made.text
    model = made.json()
    assert model["path"] == weights.path and model["job_name"] == "producer"
    missing = http.post(
        "/api/v1/models",
        json={"name": "from-job", "path": "azureml://jobs/producer/outputs/nothing"},
    )
    assert missing.status_code == 422 and "no output 'nothing'" in missing.json()["message"]
