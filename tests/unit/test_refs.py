"""Every reference form Azure ML YAML uses parses to the same name/version/label."""

from __future__ import annotations

import pytest

from forgeml.core.curated import curated_key
from forgeml.core.errors import SpecError
from forgeml.core.refs import AssetRef, is_reference, parse_ref

ARM = (
    "azureml:/subscriptions/0000/resourceGroups/rg/providers/"
    "Microsoft.MachineLearningServices/workspaces/ws/models/clf/versions/3"
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("azureml:clf:3", AssetRef(name="clf", version="3")),
        ("azureml:clf@latest", AssetRef(name="clf", label="latest")),
        ("clf@latest", AssetRef(name="clf", label="latest")),
        ("clf:3", AssetRef(name="clf", version="3")),
        ("azureml:clf", AssetRef(name="clf", label="latest")),
        (
            "azureml://registries/azureml/environments/sklearn-1.5/labels/latest",
            AssetRef(name="sklearn-1.5", label="latest", registry="azureml", kind="environments"),
        ),
        (
            "azureml://registries/team/models/clf/versions/2",
            AssetRef(name="clf", version="2", registry="team", kind="models"),
        ),
        (
            "azureml://registries/team/data/iris",
            AssetRef(name="iris", label="latest", registry="team", kind="data"),
        ),
        (ARM, AssetRef(name="clf", version="3", kind="models")),
    ],
)
def test_reference_forms_parse(text: str, expected: AssetRef) -> None:
    assert parse_ref(text) == expected


def test_a_parsed_reference_prints_in_a_form_that_parses_back() -> None:
    for text in ("azureml:clf:3", "clf@latest", "azureml://registries/r/models/m/versions/1"):
        ref = parse_ref(text)
        assert parse_ref(str(ref)) == ref


@pytest.mark.parametrize(
    "text",
    [
        "azureml://registries/azureml/jobs/x/versions/1",
        "azureml:has space:1",
        "azureml:a:b:c",
        "",
    ],
)
def test_malformed_references_are_refused_with_the_forms_that_work(text: str) -> None:
    with pytest.raises(SpecError) as err:
        parse_ref(text, field="environment")
    assert err.value.field == "environment"
    assert "azureml:" in str(err.value)


def test_paths_are_not_mistaken_for_references() -> None:
    assert is_reference("azureml:env:1")
    assert is_reference("env@latest")
    assert not is_reference("./src")
    assert not is_reference("python:3.11")  # an image, not an asset
    assert not is_reference("/abs/path@latest")


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("sklearn-1.5", "sklearn-1.5"),
        ("AzureML-sklearn-1.5", "sklearn-1.5"),
        ("AzureML-sklearn-1.0-ubuntu20.04-py38-cpu", "sklearn-1.0"),
        ("my-own-env", None),
    ],
)
def test_curated_environment_aliases(name: str, key: str | None) -> None:
    assert curated_key(name) == key
