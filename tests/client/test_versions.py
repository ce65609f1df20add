"""Versions: automatic and explicit numbers, immutability, latest, listings, paging, archive."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from forgeml import Environment, MLClient
from forgeml.core.errors import ConflictError, NotFoundError, SpecError


def env(name: str = "e", image: str = "python:3.11", **kw: object) -> Environment:
    return Environment(name=name, image=image, **kw)  # type: ignore[arg-type]


def test_versions_count_up_when_omitted(client: MLClient) -> None:
    versions = [
        client.environments.create_or_update(env(image=f"img:{i}")).version for i in range(3)
    ]
    assert versions == ["1", "2", "3"]
    assert client.environments.get("e").version == "3"


def test_identical_content_without_a_version_returns_the_latest(client: MLClient) -> None:
    first = client.environments.create_or_update(env())
    again = client.environments.create_or_update(env())
    assert again.version == first.version == "1"
    assert [e.version for e in client.environments.list("e")] == ["1"]


def test_an_explicit_version_moves_the_counter_past_it(client: MLClient) -> None:
    assert client.environments.create_or_update(env(image="a", version="5")).version == "5"
    assert client.environments.create_or_update(env(image="b")).version == "6"
    assert client.environments.create_or_update(env(image="c", version="2")).version == "2"
    assert client.environments.create_or_update(env(image="d")).version == "7"


def test_a_named_version_does_not_disturb_numbering(client: MLClient) -> None:
    client.environments.create_or_update(env(image="a"))
    assert (
        client.environments.create_or_update(env(image="b", version="v2-beta")).version == "v2-beta"
    )
    assert client.environments.create_or_update(env(image="c")).version == "2"


def test_same_version_with_identical_content_is_a_no_op(client: MLClient, http: TestClient) -> None:
    body = {"name": "e", "version": "1", "image": "python:3.11"}
    first = http.post("/api/v1/environments", json=body)
    assert first.status_code == 201
    again = http.post("/api/v1/environments", json=body)
    assert again.status_code == 200
    assert again.json()["version"] == "1"
    assert again.json()["creation_context"] == first.json()["creation_context"]
    put = http.put("/api/v1/environments/e/versions/1", json={"image": "python:3.11"})
    assert put.status_code == 200
    assert [e.version for e in client.environments.list("e")] == ["1"]


def test_same_version_with_different_content_is_a_409_that_says_what_to_do(
    client: MLClient, http: TestClient
) -> None:
    client.environments.create_or_update(env(version="1"))
    with pytest.raises(ConflictError) as err:
        client.environments.create_or_update(env(version="1", image="python:3.12"))
    message = str(err.value)
    assert "environment 'e' version '1' already exists with different content" in message
    assert "omit 'version'" in message and "new version" in message
    assert "by local" in message

    reply = http.put("/api/v1/environments/e/versions/1", json={"image": "python:3.12"})
    assert reply.status_code == 409
    assert reply.json()["code"] == "conflict"
    assert reply.json()["details"] == {"name": "e", "version": "1"}
    assert client.environments.get("e", version="1").image == "python:3.11"


def test_description_and_tags_may_change_on_an_existing_version(client: MLClient) -> None:
    client.environments.create_or_update(env(version="1", description="old", tags={"a": "1"}))
    updated = client.environments.create_or_update(
        env(version="1", description="new", tags={"b": "2"})
    )
    assert updated.version == "1"
    assert updated.description == "new"
    assert updated.tags == {"a": "1", "b": "2"}
    assert client.environments.get("e", version="1").description == "new"


def test_a_url_and_body_version_must_agree(http: TestClient) -> None:
    reply = http.put("/api/v1/environments/e/versions/1", json={"version": "2", "image": "x"})
    assert reply.status_code == 422
    assert reply.json()["details"]["field"] == "version"


def test_get_by_version_and_by_label(client: MLClient) -> None:
    client.environments.create_or_update(env(image="a"))
    client.environments.create_or_update(env(image="b"))
    assert client.environments.get("e", version="1").image == "a"
    assert client.environments.get("e", label="latest").image == "b"
    assert client.environments.get("e").image == "b"
    with pytest.raises(SpecError, match="only label is 'latest'"):
        client.environments.get("e", label="production")


def test_getting_a_missing_version_lists_the_existing_ones(client: MLClient) -> None:
    for image in ("a", "b"):
        client.environments.create_or_update(env(image=image))
    with pytest.raises(NotFoundError) as err:
        client.environments.get("e", version="9")
    assert "'9'" in str(err.value)
    assert "Existing versions (newest first): 2, 1" in str(err.value)
    with pytest.raises(NotFoundError, match="no environment named 'nope'"):
        client.environments.get("nope")


def test_list_names_and_versions(client: MLClient) -> None:
    for name, image in (("b", "x"), ("a", "x"), ("a", "y"), ("c", "x")):
        client.environments.create_or_update(env(name=name, image=image))
    containers = list(client.environments.list())
    assert [(c.name, c.latest_version, c.version_count) for c in containers] == [
        ("a", "2", 2),
        ("b", "1", 1),
        ("c", "1", 1),
    ]
    assert [e.version for e in client.environments.list("a")] == ["2", "1"]
    assert [e.image for e in client.environments.list("a")] == ["y", "x"]
    with pytest.raises(NotFoundError):
        list(client.environments.list("zzz"))


def test_listings_are_per_kind(client: MLClient) -> None:
    client.environments.create_or_update(env(name="shared"))
    assert [c.name for c in client.environments.list()] == ["shared"]
    assert list(client.models.list()) == []


def test_pages_carry_a_next_token(client: MLClient, http: TestClient) -> None:
    for i in range(5):
        client.environments.create_or_update(env(name=f"env{i}"))
        client.environments.create_or_update(env(name="many", image=f"img:{i}"))
    names: list[str] = []
    token = None
    pages = 0
    while True:
        params: dict[str, str | int] = {"limit": 2}
        if token:
            params["page_token"] = token
        page = http.get("/api/v1/environments", params=params).json()
        names.extend(item["name"] for item in page["items"])
        pages += 1
        token = page["next_token"]
        if not token:
            break
    assert names == ["env0", "env1", "env2", "env3", "env4", "many"]
    assert pages >= 3

    page = http.get("/api/v1/environments/many/versions", params={"limit": 3}).json()
    assert [e["version"] for e in page["items"]] == ["5", "4", "3"]
    rest = http.get(
        "/api/v1/environments/many/versions", params={"limit": 3, "page_token": page["next_token"]}
    ).json()
    assert [e["version"] for e in rest["items"]] == ["2", "1"]
    assert rest["next_token"] is None

    assert [e.version for e in client.environments.list("many", max_results=2)] == ["5", "4"]
    bad = http.get("/api/v1/environments", params={"page_token": "abc"})
    assert bad.status_code == 422


def test_the_sdk_follows_pages_past_the_first(client: MLClient) -> None:
    for i in range(103):
        client.environments.create_or_update(env(name="big", image=f"img:{i}"))
    versions = [e.version for e in client.environments.list("big")]
    assert len(versions) == 103
    assert versions[0] == "103" and versions[-1] == "1"
    assert len(set(versions)) == 103


def test_archiving_a_version_hides_it_from_latest_and_lists(client: MLClient) -> None:
    for image in ("a", "b", "c"):
        client.environments.create_or_update(env(image=image))
    client.environments.archive("e", version="3")
    assert client.environments.get("e").version == "2"
    assert [e.version for e in client.environments.list("e")] == ["2", "1"]
    everything = list(client.environments.list("e", include_archived=True))
    assert [(e.version, e.archived) for e in everything] == [
        ("3", True),
        ("2", False),
        ("1", False),
    ]
    assert client.environments.get("e", version="3").archived is True  # still reachable by number
    assert next(iter(client.environments.list())).latest_version == "2"
    # a new version never reuses an archived number
    assert client.environments.create_or_update(env(image="d")).version == "4"

    client.environments.restore("e", version="3")
    assert [e.version for e in client.environments.list("e")] == ["4", "3", "2", "1"]


def test_archiving_a_name_hides_the_whole_asset(client: MLClient) -> None:
    client.environments.create_or_update(env(name="old"))
    client.environments.create_or_update(env(name="kept"))
    client.environments.archive("old")
    assert [c.name for c in client.environments.list()] == ["kept"]
    shown = {c.name: c.archived for c in client.environments.list(include_archived=True)}
    assert shown == {"old": True, "kept": False}
    assert client.environments.get("old").archived is True

    client.environments.restore("old")
    assert [c.name for c in client.environments.list()] == ["kept", "old"]
    assert client.environments.get("old").archived is False


def test_archiving_something_missing_says_what_exists(client: MLClient) -> None:
    client.environments.create_or_update(env())
    with pytest.raises(NotFoundError, match="Existing versions"):
        client.environments.archive("e", version="8")
    with pytest.raises(NotFoundError, match="'ghost'"):
        client.environments.archive("ghost")


def test_an_unknown_kind_is_not_found(http: TestClient) -> None:
    assert http.get("/api/v1/widgets").status_code == 404
