"""Content, once: uploads are content-addressed, resumable, all-or-nothing and stay inside."""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from forgeml import Data, MLClient, Model
from forgeml.core.errors import NotFoundError, SpecError

BOTH_ARTIFACT_STORES = pytest.mark.parametrize(
    "artifacts_kind", ["local", pytest.param("s3", marks=pytest.mark.s3)], indirect=True
)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def stored(
    artifacts_kind: str, artifacts_url: str, request: pytest.FixtureRequest
) -> Callable[[str], list[str]]:
    """`stored(folder)`: what the artifact store holds under blobs/, manifests/ or tmp/."""
    if artifacts_kind == "s3":
        keys = request.getfixturevalue("s3_keys")
        prefix = artifacts_url.split("/", 3)[3]
        return lambda folder: keys(f"{prefix}/{folder}/")
    root = Path(artifacts_url)
    return lambda folder: [str(p) for p in (root / folder).rglob("*") if p.is_file()]


@pytest.fixture
def requests_seen(http: TestClient) -> Iterator[list[tuple[str, str]]]:
    """(method, path) of every request the SDK sends through the test client."""
    seen: list[tuple[str, str]] = []
    lock = threading.Lock()

    def record(request: httpx.Request) -> None:
        with lock:
            seen.append((request.method, request.url.path))

    http.event_hooks["request"].append(record)
    yield seen
    http.event_hooks["request"].remove(record)


def blob_puts(seen: list[tuple[str, str]]) -> int:
    return sum(1 for m, p in seen if m == "PUT" and p.startswith("/api/v1/content/blobs/"))


def folder(root: Path, files: dict[str, bytes]) -> Path:
    for name, data in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    return root


# --------------------------------------------------------------------------- stored once


@BOTH_ARTIFACT_STORES
def test_identical_content_is_stored_once(
    client: MLClient, tmp_path: Path, stored: Callable[[str], list[str]]
) -> None:
    same = b"the same bytes\n" * 100
    first = folder(tmp_path / "a", {"x.txt": same, "copy/x.txt": same, "y.txt": b"other"})
    second = folder(tmp_path / "b", {"x.txt": same, "copy/x.txt": same, "y.txt": b"other"})
    d = client.data.create_or_update(Data(name="d", path=str(first)))
    e = client.data.create_or_update(Data(name="e", path=str(second)))
    assert len(stored("blobs")) == 2  # two distinct contents, three files, two assets
    assert len(stored("manifests")) == 1
    assert d.path == e.path  # identical content has an identical address
    # a model keeps its folder's name in its content: the same blobs, a manifest of its own
    m = client.models.create_or_update(Model(name="m", path=str(second)))
    assert m.path.endswith("/b")
    assert len(stored("blobs")) == 2
    assert len(stored("manifests")) == 2


@BOTH_ARTIFACT_STORES
def test_an_unchanged_folder_uploads_nothing_the_second_time(
    client: MLClient,
    tmp_path: Path,
    requests_seen: list[tuple[str, str]],
    stored: Callable[[str], list[str]],
) -> None:
    src = folder(tmp_path / "data", {f"part-{i}.csv": os.urandom(64) for i in range(6)})
    client.data.create_or_update(Data(name="parts", path=str(src)))
    assert blob_puts(requests_seen) == 6

    requests_seen.clear()
    again = client.data.create_or_update(Data(name="parts", path=str(src)))
    assert blob_puts(requests_seen) == 0
    assert again.version == "1"

    (src / "part-0.csv").write_bytes(b"changed")
    requests_seen.clear()
    changed = client.data.create_or_update(Data(name="parts", path=str(src)))
    assert blob_puts(requests_seen) == 1  # only the changed file travels
    assert changed.version == "2"
    assert len(stored("blobs")) == 7


def test_the_server_reports_only_missing_digests(
    client: MLClient, http: TestClient, tmp_path: Path
) -> None:
    src = folder(tmp_path / "d", {"a": b"a-bytes"})
    client.data.create_or_update(Data(name="d", path=str(src)))
    reply = http.post(
        "/api/v1/content/missing", json={"digests": [sha(b"a-bytes"), sha(b"new"), sha(b"new")]}
    )
    assert reply.status_code == 200
    assert reply.json() == {"missing": [sha(b"new")]}
    assert http.post("/api/v1/content/missing", json={"digests": ["../etc"]}).status_code == 422


# ----------------------------------------------------------------------- interrupted uploads


@BOTH_ARTIFACT_STORES
def test_a_blob_whose_bytes_do_not_match_is_refused_and_leaves_nothing(
    http: TestClient, stored: Callable[[str], list[str]]
) -> None:
    whole = b"0123456789" * 1000
    reply = http.put(f"/api/v1/content/blobs/{sha(whole)}", content=whole[:5000])
    assert reply.status_code == 422
    assert "Upload the file again" in reply.json()["message"]
    assert stored("blobs") == []
    assert stored("tmp") == []
    missing = http.post("/api/v1/content/missing", json={"digests": [sha(whole)]}).json()
    assert missing == {"missing": [sha(whole)]}

    ok = http.put(f"/api/v1/content/blobs/{sha(whole)}", content=whole)
    assert ok.status_code == 201
    assert ok.json() == {"size": len(whole)}


def test_a_manifest_whose_files_were_not_uploaded_is_refused(
    http: TestClient, stored: Callable[[str], list[str]]
) -> None:
    http.put(f"/api/v1/content/blobs/{sha(b'here')}", content=b"here")
    body = {
        "files": [
            {"path": "here.txt", "sha256": sha(b"here"), "size": 4},
            {"path": "gone.txt", "sha256": sha(b"gone"), "size": 4},
        ]
    }
    reply = http.post("/api/v1/content/manifests", json=body)
    assert reply.status_code == 422
    assert "not in the artifact store" in reply.json()["message"]
    assert stored("manifests") == []


def test_an_asset_naming_content_never_uploaded_is_refused_and_leaves_no_trace(
    client: MLClient, http: TestClient
) -> None:
    ghost = f"forgeml://content/{sha(b'never uploaded manifest')}"
    with pytest.raises(SpecError, match="never uploaded") as err:
        client.data.create_or_update(Data(name="ghost", path=ghost))
    assert err.value.field == "path"
    reply = http.post("/api/v1/models", json={"name": "ghost", "path": ghost})
    assert reply.status_code == 422
    with pytest.raises(NotFoundError):
        client.data.get("ghost")
    assert list(client.data.list()) == []
    assert list(client.models.list()) == []
    assert list(client.data.list(include_archived=True)) == []


def test_a_client_that_dies_before_registering_leaves_no_asset_and_resumes(
    client: MLClient,
    http: TestClient,
    tmp_path: Path,
    requests_seen: list[tuple[str, str]],
    stored: Callable[[str], list[str]],
) -> None:
    src = folder(tmp_path / "big", {f"shard-{i}": os.urandom(256) for i in range(8)})
    puts = 0
    lock = threading.Lock()

    def die_after_three_blobs(request: httpx.Request) -> None:
        nonlocal puts
        if request.method == "PUT":
            with lock:
                puts += 1
                if puts > 3:
                    raise httpx.ReadError("connection lost", request=request)

    http.event_hooks["request"].append(die_after_three_blobs)
    with pytest.raises(httpx.ReadError):
        client.data.create_or_update(Data(name="big", path=str(src)))
    http.event_hooks["request"].remove(die_after_three_blobs)

    assert len(stored("blobs")) == 3
    with pytest.raises(NotFoundError):
        client.data.get("big")
    assert list(client.data.list()) == []

    requests_seen.clear()
    data = client.data.create_or_update(Data(name="big", path=str(src)))
    assert blob_puts(requests_seen) == 5  # the three that arrived are not sent again
    assert data.version == "1"
    assert len(stored("blobs")) == 8


def test_a_client_that_dies_before_the_manifest_leaves_no_asset(
    client: MLClient, http: TestClient, tmp_path: Path
) -> None:
    src = folder(tmp_path / "m", {"MLmodel": b"flavors: {}\n", "w.bin": b"w"})

    def die_at_manifest(request: httpx.Request) -> None:
        if request.url.path == "/api/v1/content/manifests":
            raise httpx.ReadError("connection lost", request=request)

    http.event_hooks["request"].append(die_at_manifest)
    with pytest.raises(httpx.ReadError):
        client.models.create_or_update(Model(name="m", type="mlflow_model", path=str(src)))
    http.event_hooks["request"].remove(die_at_manifest)
    assert list(client.models.list()) == []
    assert (
        client.models.create_or_update(Model(name="m", type="mlflow_model", path=str(src))).version
        == "1"
    )


# ---------------------------------------------------------------------------- traversal


ESCAPING_NAMES = ["../x", "/etc/passwd", "a//b", "a/../../b", "..\\x"]
ESCAPING_URL_PATHS = [
    "..%2F..%2F..%2Fetc%2Fpasswd",
    "%2Fetc%2Fpasswd",
    "sub%2F..%2F..%2Fsecret",
    "%2E%2E%2F%2E%2E%2Fsecret",
    "a.txt%2F..%2F..%2Fsecret",
]
NOT_DIGESTS = ["..%2F..%2Fetc", "..", "%2Fetc%2Fpasswd", "abc", "0" * 63]


def test_a_manifest_with_an_escaping_file_name_is_refused(
    http: TestClient, stored: Callable[[str], list[str]]
) -> None:
    assert http.put(f"/api/v1/content/blobs/{sha(b'x')}", content=b"x").status_code == 201
    for name in ESCAPING_NAMES:
        body = {"files": [{"path": name, "sha256": sha(b"x"), "size": 1}]}
        reply = http.post("/api/v1/content/manifests", json=body)
        assert reply.status_code == 422, name
        assert reply.json()["code"] == "invalid_spec"
        assert "not allowed" in reply.json()["message"]
    assert stored("manifests") == []


def test_reading_a_file_by_an_escaping_path_finds_nothing(
    client: MLClient, http: TestClient, tmp_path: Path
) -> None:
    (tmp_path / "secret").write_text("do not serve")
    src = folder(tmp_path / "d" / "sub", {"a.txt": b"a"})
    data = client.data.create_or_update(Data(name="d", path=str(src)))
    digest = data.path.removeprefix("forgeml://content/")
    assert http.get(f"/api/v1/content/{digest}/files/a.txt").content == b"a"
    for path in ESCAPING_URL_PATHS:
        reply = http.get(f"/api/v1/content/{digest}/files/{path}")
        assert reply.status_code in (404, 422), path
        assert b"do not serve" not in reply.content and b"root:" not in reply.content


def test_blob_and_manifest_names_must_be_digests(
    http: TestClient, stored: Callable[[str], list[str]]
) -> None:
    for digest in NOT_DIGESTS:
        put = http.put(f"/api/v1/content/blobs/{digest}", content=b"x")
        assert put.status_code in (404, 405, 422), digest
        assert http.get(f"/api/v1/content/{digest}").status_code in (404, 422), digest
    assert stored("blobs") == []


def test_an_asset_path_may_not_escape_its_content(client: MLClient, tmp_path: Path) -> None:
    src = folder(tmp_path / "d", {"a.txt": b"a"})
    data = client.data.create_or_update(Data(name="d", path=str(src)))
    with pytest.raises(SpecError, match="not allowed"):
        client.data.create_or_update(
            Data(name="e", type="uri_file", path=f"{data.path}/../../../etc/passwd")
        )
    assert [c.name for c in client.data.list()] == ["d"]
