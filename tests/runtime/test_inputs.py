"""Inputs made local: workspace content read-only or copied, URIs passed, literals as text."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from forgeml.client.upload import Uploader
from forgeml.core.errors import NotFoundError
from forgeml.runtime.content import ContentCache
from forgeml.runtime.inputs import InputError, materialize
from forgeml.schemas.runtime import RunnerInput
from tests.runtime.conftest import CountingApi


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    root = tmp_path / "data"
    (root / "sub").mkdir(parents=True)
    (root / "train.csv").write_text("a,b\n1,2\n")
    (root / "sub" / "more.csv").write_text("a,b\n3,4\n")
    return root


def writable(path: Path) -> bool:
    return bool(path.stat().st_mode & 0o222)


def test_a_read_only_input_is_the_cached_tree_shared_by_jobs(
    tmp_path: Path,
    data_dir: Path,
    upload: Uploader,
    content_cache: ContentCache,
    runtime_api: CountingApi,
) -> None:
    uri = upload.upload_path(data_dir, field="inputs.data")
    lines: list[str] = []
    first = materialize(
        {"data": RunnerInput(type="uri_folder", uri=uri)},
        content_cache,
        tmp_path / "w1",
        lines.append,
    )
    path = Path(first["data"] or "")
    assert (path / "train.csv").read_text() == "a,b\n1,2\n"
    assert (path / "sub" / "more.csv").read_text() == "a,b\n3,4\n"
    assert not writable(path / "train.csv") and not writable(path)
    assert lines == [f"input 'data': {uri} -> {path} (read-only)"]
    assert runtime_api.downloads == 2

    # a second job reads the same tree: nothing downloaded, nothing copied
    second = materialize(
        {"d": RunnerInput(type="uri_folder", uri=uri, mode="ro_mount")},
        content_cache,
        tmp_path / "w2",
        lambda _: None,
    )
    assert second["d"] == str(path)
    assert runtime_api.downloads == 2


def test_a_download_input_is_a_writable_copy_in_the_job_folder(
    tmp_path: Path, data_dir: Path, upload: Uploader, content_cache: ContentCache
) -> None:
    uri = upload.upload_path(data_dir, field="inputs.data")
    work = tmp_path / "job"
    values = materialize(
        {"data": RunnerInput(type="uri_folder", uri=uri, mode="download")},
        content_cache,
        work,
        lambda _: None,
    )
    path = Path(values["data"] or "")
    assert path == work / "inputs" / "data"
    (path / "train.csv").write_text("changed")  # the job may edit its copy ...
    again = content_cache.read_only(uri)
    assert (again / "train.csv").read_text() == "a,b\n1,2\n"  # ... without touching the cache


def test_a_file_input_resolves_to_the_file(
    tmp_path: Path, data_dir: Path, upload: Uploader, content_cache: ContentCache
) -> None:
    uri = upload.upload_path(data_dir / "train.csv", field="inputs.f")
    assert uri.endswith("/train.csv")
    values = materialize(
        {
            "ro": RunnerInput(type="uri_file", uri=uri),
            "dl": RunnerInput(type="uri_file", uri=uri, mode="download"),
        },
        content_cache,
        tmp_path / "job",
        lambda _: None,
    )
    assert Path(values["ro"] or "").name == "train.csv"
    assert Path(values["ro"] or "").read_text() == "a,b\n1,2\n"
    assert values["dl"] == str(tmp_path / "job" / "inputs" / "dl" / "train.csv")
    assert os.access(values["dl"] or "", os.W_OK)


def test_direct_mode_literals_and_unset_inputs(
    tmp_path: Path, content_cache: ContentCache, runtime_api: CountingApi
) -> None:
    values = materialize(
        {
            "uri": RunnerInput(
                type="uri_folder", uri="forgeml://content/" + "b" * 64, mode="direct"
            ),
            "remote": RunnerInput(type="uri_file", uri="s3://bucket/x.csv", mode="direct"),
            "lr": RunnerInput(type="number", value=0.01),
            "flag": RunnerInput(type="boolean", value=False),
            "name": RunnerInput(type="string", value="resnet"),
            "optional": RunnerInput(type="integer"),
        },
        content_cache,
        tmp_path / "job",
        lambda _: None,
    )
    assert values == {
        "uri": "forgeml://content/" + "b" * 64,
        "remote": "s3://bucket/x.csv",
        "lr": "0.01",
        "flag": "False",
        "name": "resnet",
        "optional": None,
    }
    assert runtime_api.downloads == 0


def test_an_input_that_cannot_be_had_names_itself(
    tmp_path: Path, content_cache: ContentCache
) -> None:
    missing = "forgeml://content/" + "c" * 64
    with pytest.raises(InputError) as caught:
        materialize(
            {"data": RunnerInput(type="uri_folder", uri=missing)},
            content_cache,
            tmp_path,
            lambda _: None,
        )
    assert caught.value.message.startswith("input 'data': ")
    with pytest.raises(InputError) as caught:
        materialize(
            {"z": RunnerInput(type="uri_folder", uri="azureml://datastores/x/paths/y")},
            content_cache,
            tmp_path,
            lambda _: None,
        )
    assert "input 'z'" in caught.value.message and "mode: direct" in caught.value.message


def test_a_sub_path_of_content_that_is_not_there_is_not_found(
    data_dir: Path, upload: Uploader, content_cache: ContentCache
) -> None:
    uri = upload.upload_path(data_dir, field="inputs.data")
    assert (content_cache.read_only(uri + "/sub") / "more.csv").exists()
    with pytest.raises(NotFoundError):
        content_cache.read_only(uri + "/nope")
    assert content_cache.read_text(uri, "train.csv") == "a,b\n1,2\n"
    assert content_cache.read_text(uri, "requirements.txt") is None
