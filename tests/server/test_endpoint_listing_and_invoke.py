"""What the studio asks of the endpoints API: endpoint lists filtered by name, ordered and paged
on the server (online and batch), and scoring on the caller's behalf through
`POST /api/v1/online-endpoints/<name>/invoke`, which answers with the scoring status, the
deployment that answered, the latency and the body, and counts in the deployment's figures like
any scoring request, without the caller ever holding a key."""

from __future__ import annotations

from pathlib import Path

import httpx

from forgeml import MLClient
from forgeml.core.specs.endpoints import BatchEndpoint, OnlineEndpoint
from tests.cli.live import Server
from tests.serving.conftest import (
    create_endpoint,
    custom_deployment,
    deploy,
    sdk,
    server,
    write_custom_model,
)

__all__ = ["sdk", "server"]


def test_endpoint_lists_are_filtered_ordered_and_paged(server: Server, sdk: MLClient) -> None:
    for name in ("pg-cherry", "pg-apple", "pg-banana", "other-one"):
        sdk.online_endpoints.begin_create_or_update(OnlineEndpoint(name=name)).result()
    sdk.batch_endpoints.begin_create_or_update(BatchEndpoint(name="pg-batch")).result()
    url = f"{server.url}/api/v1/online-endpoints"

    first = httpx.get(
        url, params={"name_contains": "PG-", "order_by": "name", "order": "asc", "limit": 2}
    ).json()
    assert [e["name"] for e in first["items"]] == ["pg-apple", "pg-banana"]
    assert first["next_token"]
    second = httpx.get(
        url,
        params={
            "name_contains": "pg-",
            "order_by": "name",
            "order": "asc",
            "limit": 2,
            "page_token": first["next_token"],
        },
    ).json()
    assert [e["name"] for e in second["items"]] == ["pg-cherry"]
    assert second["next_token"] is None

    newest = httpx.get(url, params={"order_by": "created_at", "order": "desc"}).json()["items"]
    assert [e["name"] for e in newest][:4] == ["other-one", "pg-banana", "pg-apple", "pg-cherry"]
    # the batch list takes the same query, and never lists online endpoints
    batch = httpx.get(f"{server.url}/api/v1/batch-endpoints", params={"name_contains": "pg"}).json()
    assert [e["name"] for e in batch["items"]] == ["pg-batch"]
    # with no query: all of them by name, as the CLI and the SDK have always listed them
    plain = httpx.get(url).json()
    assert [e["name"] for e in plain["items"]] == sorted(e["name"] for e in plain["items"])
    assert plain["next_token"] is None
    # the SDK's plain listing still lists them all
    assert {"pg-apple", "other-one"} <= {e.name for e in sdk.online_endpoints.list()}

    bad = httpx.get(url, params={"page_token": "not-a-token"})
    assert bad.status_code == 422 and "next_token" in bad.json()["message"]
    assert httpx.get(url, params={"order_by": "colour"}).status_code in (400, 422)


def test_invoke_scores_on_the_callers_behalf(server: Server, sdk: MLClient, tmp_path: Path) -> None:
    name = "invoke-ep"
    create_endpoint(sdk, name)
    deploy(
        sdk, custom_deployment(name, "blue", write_custom_model(tmp_path, "blue")), all_traffic=True
    )
    url = f"{server.url}/api/v1/online-endpoints/{name}/invoke"

    answer = httpx.post(url, json={"request": {"values": [1, 2]}}, timeout=60)
    assert answer.status_code == 200
    result = answer.json()
    assert result["status_code"] == 200 and result["deployment"] == "blue"
    assert result["body"]["scaled"] == [2.0, 4.0]
    assert result["latency_ms"] > 0 and result["request_id"]
    assert "key" not in answer.text.lower().replace("keys", "")

    # the script's rejection and an unknown pinned deployment are answers, not API errors
    rejected = httpx.post(url, json={"request": {"fail": "value"}}, timeout=60).json()
    assert rejected["status_code"] == 400 and "must be numbers" in str(rejected["body"])
    pinned = httpx.post(url, json={"request": {}, "deployment_name": "nope"}, timeout=60).json()
    assert pinned["status_code"] == 404 and "blue" in pinned["body"]["error"]["message"]

    # counted like any scoring request
    figures = sdk.online_deployments.metrics("blue", endpoint_name=name)
    assert figures.requests >= 2 and figures.client_errors >= 1

    missing = httpx.post(
        f"{server.url}/api/v1/online-endpoints/nowhere/invoke", json={"request": {}}
    )
    assert missing.status_code == 404 and "online-endpoint list" in missing.json()["message"]
