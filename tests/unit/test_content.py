"""Content addressing: manifests name folders by their files, and file names stay inside."""

from __future__ import annotations

import hashlib

import pytest

from forgeml.core.content import (
    Manifest,
    ManifestEntry,
    content_uri,
    is_local_path,
    parse_content_uri,
    safe_relpath,
)
from forgeml.core.errors import SpecError

A = hashlib.sha256(b"a").hexdigest()
B = hashlib.sha256(b"b").hexdigest()


@pytest.mark.parametrize(
    "name",
    ["../x", "a/../../x", "/etc/passwd", "a//b", "", "C:/windows", "..\\x", "a/./../b", "a\x00b"],
)
def test_unsafe_file_names_are_refused(name: str) -> None:
    with pytest.raises(SpecError, match="not allowed"):
        safe_relpath(name)


@pytest.mark.parametrize("name", ["a", "a/b.txt", "deep/er/file.csv", ".amlignore"])
def test_ordinary_file_names_pass(name: str) -> None:
    assert safe_relpath(name) == name


def test_a_manifest_digest_does_not_depend_on_file_order() -> None:
    one = Manifest.build([ManifestEntry("x", A, 1), ManifestEntry("y", B, 1)])
    two = Manifest.build([ManifestEntry("y", B, 1), ManifestEntry("x", A, 1)])
    assert one.digest == two.digest
    assert one.uri() == two.uri()


def test_a_renamed_file_changes_the_manifest_digest() -> None:
    one = Manifest.build([ManifestEntry("x", A, 1)])
    two = Manifest.build([ManifestEntry("z", A, 1)])
    assert one.digest != two.digest


def test_a_manifest_refuses_the_same_name_twice() -> None:
    with pytest.raises(SpecError, match="twice"):
        Manifest.build([ManifestEntry("x", A, 1), ManifestEntry("x", B, 1)])


def test_a_manifest_refuses_a_bad_digest() -> None:
    with pytest.raises(SpecError, match="sha256"):
        Manifest.build([ManifestEntry("x", "abc", 1)])


def test_manifest_json_round_trip() -> None:
    m = Manifest.build([ManifestEntry("d/x", A, 1)], single_file=False)
    assert Manifest.from_json(m.to_json()) == m


def test_a_single_file_uri_names_the_file() -> None:
    m = Manifest.build([ManifestEntry("train.csv", A, 1)], single_file=True)
    assert m.uri() == f"forgeml://content/{m.digest}/train.csv"
    assert parse_content_uri(m.uri()) == (m.digest, "train.csv")


def test_content_uris_refuse_traversal() -> None:
    with pytest.raises(SpecError):
        parse_content_uri(f"forgeml://content/{A}/../../etc/passwd")
    with pytest.raises(SpecError):
        content_uri(A, "../x")
    with pytest.raises(SpecError):
        parse_content_uri("forgeml://content/not-a-digest")


@pytest.mark.parametrize(
    ("value", "local"),
    [
        ("./data", True),
        ("../shared/x.csv", True),
        ("data.csv", True),
        ("/abs/path", True),
        ("azureml:iris:1", False),
        ("https://example.com/x.csv", False),
        ("s3://bucket/x", False),
        ("forgeml://content/" + A, False),
        ("runs:/abc/model", False),
    ],
)
def test_local_paths_are_told_apart_from_uris(value: str, local: bool) -> None:
    assert is_local_path(value) is local
