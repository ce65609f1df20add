"""Compute targets: the built-in `local`, registered local targets, and clear refusals."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from forgeml import LocalCompute, MLClient, load_compute
from forgeml.core.errors import NotFoundError, SpecError


def test_local_exists_by_default(client: MLClient) -> None:
    names = [c.name for c in client.compute.list()]
    assert names == ["local"]
    local = client.compute.get("local")
    assert local.type == "local"  # type: ignore[attr-defined]
    assert local.max_concurrent_jobs == max(1, os.cpu_count() or 1)  # type: ignore[attr-defined]


def test_create_show_list_delete_a_local_target(client: MLClient, tmp_path: Path) -> None:
    yml = tmp_path / "cpu.yml"
    yml.write_text(
        "$schema: https://azuremlschemas.azureedge.net/latest/compute.schema.json\n"
        "name: cpu-small\ntype: local\nmax_concurrent_jobs: 2\ndescription: two at a time\n"
    )
    made = client.compute.create_or_update(load_compute(yml))
    assert made.name == "cpu-small"
    assert made.max_concurrent_jobs == 2  # type: ignore[attr-defined]
    assert made.creation_context is not None

    shown = client.compute.get("cpu-small")
    assert shown.description == "two at a time"
    assert [c.name for c in client.compute.list()] == ["local", "cpu-small"]

    client.compute.delete("cpu-small")
    with pytest.raises(NotFoundError, match="cpu-small"):
        client.compute.get("cpu-small")
    assert [c.name for c in client.compute.list()] == ["local"]
    with pytest.raises(NotFoundError):
        client.compute.delete("cpu-small")


def test_updating_a_target_changes_its_limit(client: MLClient) -> None:
    client.compute.create_or_update(LocalCompute(name="box", max_concurrent_jobs=1))
    client.compute.begin_create_or_update(LocalCompute(name="box", max_concurrent_jobs=4))
    assert client.compute.get("box").max_concurrent_jobs == 4  # type: ignore[attr-defined]
    assert [c.name for c in client.compute.list()].count("box") == 1


def test_the_builtin_local_target_can_be_limited(client: MLClient) -> None:
    client.compute.create_or_update(LocalCompute(name="local", max_concurrent_jobs=1))
    assert client.compute.get("local").max_concurrent_jobs == 1  # type: ignore[attr-defined]
    assert [c.name for c in client.compute.list()] == ["local"]


def test_an_unknown_type_is_refused_with_the_supported_ones(http: TestClient) -> None:
    reply = http.post("/api/v1/computes", json={"name": "gpu", "type": "amlcompute"})
    assert reply.status_code == 422
    assert "amlcompute" in reply.json()["message"]
    assert "supported types: local" in reply.json()["message"]
    assert reply.json()["details"]["field"] == "type"
    assert http.get("/api/v1/computes/gpu").status_code == 404


def test_bad_compute_documents_name_the_field(http: TestClient) -> None:
    for body, field in (
        ({"name": "x", "max_concurrent_jobs": 0}, "max_concurrent_jobs"),
        ({"name": "x", "size": "big"}, "size"),
        ({"max_concurrent_jobs": 1}, "name"),
    ):
        reply = http.post("/api/v1/computes", json=body)
        assert reply.status_code == 422, body
        assert reply.json()["details"]["field"] == field


def test_a_name_that_cannot_be_addressed_is_refused(client: MLClient) -> None:
    for name in ("a/b", "bad name!", "-dash"):
        # built without validation, as a hand-written request would be: the server checks too
        compute = LocalCompute.model_construct(name=name, type="local", max_concurrent_jobs=1)
        with pytest.raises(SpecError) as err:
            client.compute.create_or_update(compute)
        assert err.value.field == "name", name
    assert [c.name for c in client.compute.list()] == ["local"]
