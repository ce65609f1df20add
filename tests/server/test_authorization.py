"""One authorization point: with a policy that refuses everything, every route answers 403.

The routes come from the app's own OpenAPI document, so a route added later that forgets to ask
the policy fails here. Requests are well-formed (path and query parameters filled, a minimal
body built from the route's schema) so that a refusal cannot hide behind a validation error.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from forgeml.server import create_app
from forgeml.services import Workspace
from forgeml.services.context import Principal

OPEN_ROUTES = {("GET", "/api/v1/health")}
DIGEST = "0" * 64


class Recorder:
    """A policy that refuses everything and remembers what it was asked."""

    def __init__(self, allow: bool = False) -> None:
        self.allow = allow
        self.asked: list[tuple[str, str, str]] = []

    def __call__(self, principal: Principal, action: str, resource: str) -> bool:
        self.asked.append((principal.name, action, resource))
        return self.allow


def _resolve(schema: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
    # a dangling $ref is test_http's to report; here it stands for "any object"
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = spec.get("components", {}).get("schemas", {}).get(name, {})
    return schema


def example(schema: dict[str, Any], spec: dict[str, Any]) -> Any:
    """The smallest value that satisfies a JSON schema: required keys only."""
    schema = _resolve(schema, spec)
    for key in ("anyOf", "oneOf"):
        if key in schema:
            options = [s for s in schema[key] if _resolve(s, spec).get("type") != "null"]
            return example(options[0], spec)
    if "allOf" in schema:
        merged: dict[str, Any] = {}
        for part in schema["allOf"]:
            value = example(part, spec)
            if isinstance(value, dict):
                merged.update(value)
        return merged
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type", "object")
    if kind == "object":
        props = schema.get("properties", {})
        return {k: example(props.get(k, {}), spec) for k in schema.get("required", [])}
    if kind == "array":
        return [example(schema.get("items", {}), spec) for _ in range(schema.get("minItems", 0))]
    if kind in ("integer", "number"):
        return schema.get("minimum", 0)
    if kind == "boolean":
        return False
    return "x" * max(1, schema.get("minLength", 1))


def routes(app: Any) -> Iterator[tuple[str, str, dict[str, Any]]]:
    spec = app.openapi()
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            if method in ("get", "put", "post", "delete", "patch"):
                yield method.upper(), path, op


def request_for(path: str, op: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
    url, params = path, {}
    for p in op.get("parameters", []):
        value = DIGEST if p["name"] == "digest" else "x"
        if p["in"] == "path":
            url = url.replace("{" + p["name"] + "}", value)
        elif p["in"] == "query" and p.get("required"):
            params[p["name"]] = value
    kwargs: dict[str, Any] = {"params": params}
    content = (op.get("requestBody") or {}).get("content", {})
    if "application/json" in content:
        kwargs["json"] = example(content["application/json"].get("schema", {}), spec)
    elif content:
        kwargs["content"] = b"x"
        kwargs["headers"] = {"content-type": next(iter(content))}
    return {"url": url, **kwargs}


@pytest.fixture
def deny(workspace: Workspace) -> Recorder:
    policy = Recorder(allow=False)
    workspace.policy = policy
    return policy


def test_every_route_asks_the_policy(workspace: Workspace, deny: Recorder) -> None:
    app = create_app(workspace)
    spec = app.openapi()
    checked = []
    with TestClient(app, raise_server_exceptions=True) as http:
        for method, path, op in routes(app):
            if (method, path) in OPEN_ROUTES:
                continue
            deny.asked.clear()
            reply = http.request(method, **request_for(path, op, spec))
            assert reply.status_code == 403, (
                f"{method} {path} answered {reply.status_code}: {reply.text}"
            )
            body = reply.json()
            assert body.get("code") == "forbidden" or body.get("error_code") == "PERMISSION_DENIED"
            assert deny.asked, f"{method} {path} refused without asking the policy"
            checked.append((method, path))
    assert len(checked) >= 40  # every asset kind, content, computes


def test_a_refused_call_says_who_and_what(
    workspace: Workspace, deny: Recorder, http: TestClient
) -> None:
    reply = http.get("/api/v1/models/clf/versions/1")
    assert reply.status_code == 403
    assert "'local' may not models read on 'clf'" in reply.json()["message"]
    assert deny.asked == [("local", "models.read", "clf")]


def test_a_refused_write_writes_nothing(workspace: Workspace, http: TestClient) -> None:
    workspace.policy = Recorder(allow=False)
    assert http.post("/api/v1/environments", json={"name": "e", "image": "x"}).status_code == 403
    assert http.post("/api/v1/computes", json={"name": "c"}).status_code == 403
    workspace.policy = Recorder(allow=True)
    assert http.get("/api/v1/environments").json()["items"] == []
    assert http.get("/api/v1/computes/c").status_code == 404


def test_the_policy_sees_the_action_and_resource(workspace: Workspace, http: TestClient) -> None:
    policy = Recorder(allow=True)
    workspace.policy = policy
    http.post("/api/v1/environments", json={"name": "e", "image": "python:3.11"})
    http.get("/api/v1/environments/e/labels/latest")
    http.delete("/api/v1/computes/none")
    assert ("local", "environments.write", "e") in policy.asked
    assert ("local", "environments.read", "e") in policy.asked
    assert ("local", "computes.write", "none") in policy.asked


def test_health_needs_no_permission(workspace: Workspace, deny: Recorder, http: TestClient) -> None:
    reply = http.get("/api/v1/health")
    assert reply.status_code == 200
    assert reply.json()["status"] == "ok"
