"""The ArtifactStore contract, run against every backend: a local folder and S3 (moto server)."""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from forgeml.artifacts import ArtifactStore, open_artifact_store
from forgeml.core.content import Manifest, ManifestEntry
from forgeml.core.errors import NotFoundError, SpecError

BACKENDS = pytest.mark.parametrize(
    "artifacts_kind", ["local", pytest.param("s3", marks=pytest.mark.s3)], indirect=True
)
pytestmark = BACKENDS


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def store(artifacts_url: str) -> ArtifactStore:
    s = open_artifact_store(artifacts_url)
    s.check()
    return s


@pytest.fixture
def stored_keys(
    artifacts_kind: str, artifacts_url: str, request: pytest.FixtureRequest
) -> Callable[[str], list[str]]:
    """Everything the backend holds under a folder of the store, as relative names."""
    if artifacts_kind == "s3":
        keys = request.getfixturevalue("s3_keys")
        prefix = artifacts_url.split("/", 3)[3]  # s3://bucket/<prefix>

        def s3(folder: str) -> list[str]:
            return [k[len(prefix) + 1 :] for k in keys(f"{prefix}/{folder}/")]

        return s3

    def local(folder: str) -> list[str]:
        root = Path(artifacts_url) / folder
        return sorted(
            str(p.relative_to(Path(artifacts_url))) for p in root.rglob("*") if p.is_file()
        )

    return local


def test_a_blob_round_trips(store: ArtifactStore) -> None:
    data = b"hello, world\n"
    digest = sha(data)
    assert not store.has_blob(digest)
    assert store.put_blob(digest, io.BytesIO(data)) == len(data)
    assert store.has_blob(digest)
    assert store.blob_size(digest) == len(data)
    with store.open_blob(digest) as fh:
        assert fh.read() == data
    assert b"".join(store.iter_blob(digest, chunk=4)) == data


def test_a_blob_larger_than_one_chunk_round_trips(store: ArtifactStore) -> None:
    data = os.urandom(3 * (1 << 20) + 17)
    digest = sha(data)
    assert store.put_blob(digest, io.BytesIO(data)) == len(data)
    with store.open_blob(digest) as fh:
        assert hashlib.sha256(fh.read()).hexdigest() == digest


def test_identical_content_is_stored_once(
    store: ArtifactStore, stored_keys: Callable[[str], list[str]]
) -> None:
    data = b"same bytes"
    store.put_blob(sha(data), io.BytesIO(data))
    store.put_blob(sha(data), io.BytesIO(data))
    assert len(stored_keys("blobs")) == 1


def test_bytes_that_do_not_match_their_digest_are_refused_and_leave_nothing(
    store: ArtifactStore, stored_keys: Callable[[str], list[str]]
) -> None:
    claimed = sha(b"the whole file")
    with pytest.raises(SpecError, match="hash to"):
        store.put_blob(claimed, io.BytesIO(b"the whole"))  # cut short on the way
    assert not store.has_blob(claimed)
    assert stored_keys("blobs") == []
    assert stored_keys("tmp") == []


@pytest.mark.parametrize("digest", ["../../etc/passwd", "ABC", sha(b"x")[:-1]])
def test_a_blob_name_must_be_a_digest(store: ArtifactStore, digest: str) -> None:
    with pytest.raises(SpecError, match="sha256"):
        store.put_blob(digest, io.BytesIO(b"x"))
    with pytest.raises(SpecError):
        store.has_blob(digest)


def test_missing_blobs_lists_each_absent_digest_once(store: ArtifactStore) -> None:
    present, absent = b"present", b"absent"
    store.put_blob(sha(present), io.BytesIO(present))
    asked = [sha(present), sha(absent), sha(absent)]
    assert store.missing_blobs(asked) == [sha(absent)]


def test_opening_an_unknown_blob_is_not_found(store: ArtifactStore) -> None:
    with pytest.raises(NotFoundError):
        store.open_blob(sha(b"never stored"))
    with pytest.raises(NotFoundError):
        store.blob_size(sha(b"never stored"))


def test_a_manifest_round_trips(store: ArtifactStore) -> None:
    files = {"train.csv": b"a,b\n1,2\n", "sub/readme.md": b"# hi\n"}
    for data in files.values():
        store.put_blob(sha(data), io.BytesIO(data))
    manifest = Manifest.build(
        [ManifestEntry(name, sha(data), len(data)) for name, data in files.items()]
    )
    digest = store.put_manifest(manifest)
    assert digest == manifest.digest
    assert store.put_manifest(manifest) == digest  # again: the same name, no error
    assert store.get_manifest(digest) == manifest


def test_a_manifest_whose_blobs_are_missing_is_refused(
    store: ArtifactStore, stored_keys: Callable[[str], list[str]]
) -> None:
    here, gone = b"uploaded", b"never uploaded"
    store.put_blob(sha(here), io.BytesIO(here))
    manifest = Manifest.build(
        [ManifestEntry("a", sha(here), len(here)), ManifestEntry("b", sha(gone), len(gone))]
    )
    with pytest.raises(SpecError, match="not in the artifact store") as err:
        store.put_manifest(manifest)
    assert sha(gone) in str(err.value)
    assert store.get_manifest(manifest.digest) is None
    assert stored_keys("manifests") == []


def test_an_unknown_manifest_is_none(store: ArtifactStore) -> None:
    assert store.get_manifest(sha(b"no such manifest")) is None


# ------------------------------------------------------------------ the mutable file area


def test_a_file_is_written_read_and_overwritten(store: ArtifactStore) -> None:
    path = "runs/r1/artifacts/metrics.json"
    assert store.file_info(path) is None
    assert store.write_file(path, io.BytesIO(b'{"acc": 0.5}')) == 12
    with store.open_file(path) as fh:
        assert fh.read() == b'{"acc": 0.5}'
    store.write_file(path, io.BytesIO(b'{"acc": 0.9}'))
    with store.open_file(path) as fh:
        assert fh.read() == b'{"acc": 0.9}'
    info = store.file_info(path)
    assert info is not None and not info.is_dir and info.size == 12


def test_folders_list_their_direct_children(store: ArtifactStore) -> None:
    for name in ("runs/r1/artifacts/a.txt", "runs/r1/artifacts/model/MLmodel", "runs/r2/x"):
        store.write_file(name, io.BytesIO(b"data"))
    listed = store.list_files("runs/r1/artifacts")
    assert [(f.path, f.is_dir) for f in listed] == [
        ("runs/r1/artifacts/a.txt", False),
        ("runs/r1/artifacts/model", True),
    ]
    assert listed[0].size == 4
    folder = store.file_info("runs/r1/artifacts/model")
    assert folder is not None and folder.is_dir
    assert store.list_files("runs/none") == []


def test_deleting_a_folder_removes_what_is_under_it(store: ArtifactStore) -> None:
    store.write_file("runs/r1/a", io.BytesIO(b"1"))
    store.write_file("runs/r1/sub/b", io.BytesIO(b"2"))
    store.write_file("runs/r2/c", io.BytesIO(b"3"))
    store.delete_files("runs/r1")
    assert store.file_info("runs/r1/a") is None
    assert store.file_info("runs/r1/sub/b") is None
    assert store.list_files("runs/r1") == []
    assert store.file_info("runs/r2/c") is not None
    store.delete_files("runs/never")  # nothing there is not an error


def test_opening_a_missing_file_or_a_folder_is_not_found(store: ArtifactStore) -> None:
    store.write_file("runs/r1/sub/b", io.BytesIO(b"2"))
    with pytest.raises(NotFoundError):
        store.open_file("runs/r1/missing")
    with pytest.raises(NotFoundError):
        store.open_file("runs/r1/sub")


@pytest.mark.parametrize("path", ["../escape", "runs/../../escape", "/etc/passwd", "a//b"])
def test_file_area_paths_may_not_escape(
    store: ArtifactStore, artifacts_url: str, tmp_path: Path, path: str
) -> None:
    with pytest.raises(SpecError):
        store.write_file(path, io.BytesIO(b"x"))
    with pytest.raises(SpecError):
        store.file_info(path)
    assert not (tmp_path / "escape").exists()
