"""The REST API as any HTTP client sees it: documents, status codes and error bodies."""

from __future__ import annotations

import json
import re

from fastapi.testclient import TestClient

from forgeml import MLClient, __version__


def test_the_openapi_document_and_docs_are_served(http: TestClient) -> None:
    spec = http.get("/openapi.json")
    assert spec.status_code == 200
    paths = spec.json()["paths"]
    for kind in ("data", "models", "environments", "components"):
        assert f"/api/v1/{kind}" in paths
        assert f"/api/v1/{kind}/{{name}}/versions/{{version}}" in paths
    assert "/api/v1/computes" in paths
    # create bodies are documented with their real type, not as a free-form object
    create = paths["/api/v1/models"]["post"]["requestBody"]["content"]["application/json"]
    assert create["schema"]["$ref"].endswith("/Model")
    docs = http.get("/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()
    root = http.get("/")
    assert root.status_code == 200 and ("/docs" in root.text or 'id="root"' in root.text)


def test_every_schema_the_openapi_document_refers_to_is_in_it(http: TestClient) -> None:
    spec = http.get("/openapi.json").json()
    text = json.dumps(spec)
    referred = set(re.findall(r'"#/components/schemas/([^"]+)"', text))
    defined = set(spec.get("components", {}).get("schemas", {}))
    assert referred - defined == set(), "the studio's generated API types would not build"


def test_health_reports_the_version(client: MLClient) -> None:
    assert client.health() == {"status": "ok", "version": __version__}


def test_create_answers_201_then_200_for_the_same_content(http: TestClient) -> None:
    body = {"name": "e", "image": "python:3.11"}
    assert http.post("/api/v1/environments", json=body).status_code == 201
    assert http.post("/api/v1/environments", json=body).status_code == 200
    changed = http.post("/api/v1/environments", json={**body, "image": "python:3.12"})
    assert changed.status_code == 201
    assert changed.json()["version"] == "2"


def test_errors_share_one_body_shape(http: TestClient) -> None:
    missing = http.get("/api/v1/models/nope/versions/1")
    assert missing.status_code == 404
    assert set(missing.json()) == {"code", "message", "details"}
    assert missing.json()["code"] == "not_found"

    bad = http.post("/api/v1/environments", json={"name": "e", "image": "x", "colour": "red"})
    assert bad.status_code == 422
    assert bad.json()["code"] == "invalid_spec"
    assert bad.json()["details"]["field"] == "colour"
    assert "Valid keys here are:" in bad.json()["message"]


def test_request_validation_errors_use_the_same_shape(http: TestClient) -> None:
    reply = http.get("/api/v1/models", params={"limit": 0})
    assert reply.status_code == 422
    assert reply.json()["code"] == "invalid_spec"
    assert reply.json()["details"]["field"] == "limit"
    not_json = http.post(
        "/api/v1/content/missing", content=b"{", headers={"content-type": "application/json"}
    )
    assert not_json.status_code == 422
    assert not_json.json()["code"] == "invalid_spec"


def test_a_body_that_is_not_a_mapping_is_refused(http: TestClient) -> None:
    reply = http.post("/api/v1/data", json=["not", "a", "mapping"])
    assert reply.status_code == 422
    assert reply.json()["code"] == "invalid_spec"


def test_read_only_fields_in_a_body_are_refused(http: TestClient) -> None:
    reply = http.post(
        "/api/v1/environments",
        json={"name": "e", "image": "x", "creation_context": {"created_by": "mallory"}},
    )
    assert reply.status_code == 422
    assert reply.json()["details"]["field"] == "creation_context"


def test_a_client_pointed_at_nothing_says_how_to_start_a_workspace() -> None:
    import socket

    import pytest

    from forgeml.core.errors import UnavailableError

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with (
        MLClient(url=f"http://127.0.0.1:{port}", timeout=5) as client,
        pytest.raises(UnavailableError) as err,
    ):
        client.health()
    assert "forgeml up" in str(err.value)
    assert f"127.0.0.1:{port}" in str(err.value)
