"""The studio's asset pages (/data, /models, /environments, /components): each list shows what
the SDK created and filters by name; a data version's files are browsed, its CSV previewed and
downloaded, its lineage names the job that used it and the job that produced the next asset; an
archive from the studio hides a name until it is restored; a model's Deploy opens the endpoint
form with the model chosen."""

from __future__ import annotations

import re
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

import forgeml
from forgeml import Data, Environment, MLClient, Model, load_component
from tests.jobs.conftest import wait_for
from tests.studio.conftest import assert_accessible, shot, tick

ROWS = [(5.1, 3.5, "setosa"), (7.0, 3.2, "versicolor"), (6.3, 3.3, "virginica")] * 30

CLEAN = """\
import pathlib, shutil, sys
src, dst = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
lines = (src / "iris.csv").read_text().splitlines()
(dst / "clean.csv").write_text("\\n".join(lines[:11]) + "\\n")
print("cleaned", len(lines) - 1, "rows")
"""

COMPONENT = """\
$schema: https://azuremlschemas.azureedge.net/latest/commandComponent.schema.json
type: command
name: score_iris
version: 1
display_name: Score the iris rows
description: Scores every row of a CSV folder.
inputs:
  rows: {type: uri_folder, description: The CSV files to score.}
  threshold: {type: number, default: 0.5}
outputs:
  scores: {type: uri_folder}
code: ./src
environment: azureml:sklearn-env:1
command: >-
  python score.py --rows ${{inputs.rows}} --threshold ${{inputs.threshold}}
  --out ${{outputs.scores}}
"""


@dataclass
class Seeded:
    job: str
    csv: str


@pytest.fixture(scope="module")
def seeded(sdk: MLClient, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    root = tmp_path_factory.mktemp("assets")
    iris = root / "iris"
    (iris / "docs").mkdir(parents=True)
    csv = "sepal_length,sepal_width,species\n" + "".join(f"{a},{b},{c}\n" for a, b, c in ROWS)
    (iris / "iris.csv").write_text(csv)
    (iris / "docs" / "README.md").write_text("# iris\nThe classic flowers.\n")
    sdk.data.create_or_update(
        Data(name="iris", path=str(iris), description="Fisher's flowers", tags={"source": "uci"})
    )
    (root / "weather.csv").write_text("day,temp\nmon,12\n")
    sdk.data.create_or_update(Data(name="weather", path=str(root / "weather.csv"), type="uri_file"))

    model = root / "model"
    model.mkdir()
    (model / "weights.json").write_text('{"threshold": 2.5}\n')
    sdk.models.create_or_update(Model(name="iris-classifier", path=str(model)))
    sdk.environments.create_or_update(
        Environment(
            name="sklearn-env",
            version="1",
            image="python:3.11-slim",
            conda_file={"dependencies": ["python=3.11", {"pip": ["scikit-learn>=1.5"]}]},
        )
    )
    comp = root / "component"
    (comp / "src").mkdir(parents=True)
    (comp / "src" / "score.py").write_text("print('scoring')\n")
    (comp / "score.yml").write_text(COMPONENT)
    sdk.components.create_or_update(load_component(comp / "score.yml"))

    code = root / "clean"
    code.mkdir()
    (code / "clean.py").write_text(textwrap.dedent(CLEAN))
    job = sdk.jobs.create_or_update(
        forgeml.command(
            command="python clean.py ${{inputs.raw}} ${{outputs.clean}}",
            code=code,
            environment={"image": "python:3.11"},  # type: ignore[arg-type]
            display_name="clean iris",
            experiment_name="studio-assets",
            inputs={"raw": forgeml.Input(type="uri_folder", path="azureml:iris@latest")},
            outputs={"clean": forgeml.Output(type="uri_folder", name="iris-clean")},
        )
    )
    name = str(job.name)
    assert wait_for(sdk, name).status == "completed"
    yield Seeded(job=name, csv=csv)


def test_an_empty_list_says_how_to_create_the_first_one(page: Page, sdk: MLClient) -> None:
    # runs before the module's assets are seeded (the first test asks for no `seeded`)
    if any(True for _ in sdk.environments.list()):
        pytest.fail("run this module's tests in file order: this one needs an empty workspace")
    page.goto("/environments")
    expect(page.get_by_text("No environments yet")).to_be_visible()
    expect(page.get_by_text("forgeml environment create -f environment.yml")).to_be_visible()
    shot(page, "assets-empty-list", dark=False)
    assert_accessible(page)


def test_each_list_shows_its_assets_and_filters_by_name(page: Page, seeded: Seeded) -> None:
    page.goto("/data")
    expect(page.get_by_role("heading", name="Data", level=1)).to_be_visible()
    table = page.get_by_role("table", name="Data")
    for name in ("iris", "iris-clean", "weather"):
        expect(table.locator(f"tr[data-row='{name}']")).to_be_visible()
    iris = table.locator("tr[data-row='iris']")
    expect(iris).to_contain_text("Fisher's flowers")
    expect(iris).to_contain_text("uri_folder")
    expect(iris.get_by_role("link", name="iris version 1")).to_be_visible()
    # an output's job tag links to the job
    produced = table.locator("tr[data-row='iris-clean']").get_by_role(
        "link", name=f"job_name={seeded.job}"
    )
    expect(produced).to_have_attribute("href", f"/jobs/{seeded.job}")
    shot(page, "assets-data-list")
    assert_accessible(page)

    page.get_by_label("Name", exact=True).fill("wea")
    expect(page).to_have_url(re.compile(r"q=wea"))
    expect(table.locator("tbody tr")).to_have_count(1)
    expect(table.locator("tr[data-row='weather']")).to_be_visible()
    page.get_by_label("Name", exact=True).fill("nothing-like-this")
    expect(page.get_by_text("No data asset matches")).to_be_visible()

    # sorting is the server's, and lives in the URL
    page.goto("/data?sort=name&order=desc")
    expect(page.get_by_role("table", name="Data").locator("tbody tr").first).to_have_attribute(
        "data-row", "weather"
    )

    for path, title, name in (
        ("/models", "Models", "iris-classifier"),
        ("/environments", "Environments", "sklearn-env"),
        ("/components", "Components", "score_iris"),
    ):
        page.goto(path)
        expect(page.get_by_role("heading", name=title, level=1)).to_be_visible()
        expect(
            page.get_by_role("table", name=title).locator(f"tr[data-row='{name}']")
        ).to_be_visible()
    shot(page, "assets-components-list", dark=False)


def test_a_data_version_shows_its_files_a_preview_a_download_and_its_lineage(
    page: Page, seeded: Seeded, tmp_path: Path
) -> None:
    page.goto("/data/iris")
    expect(page.get_by_role("heading", name="iris", level=1)).to_be_visible()
    page.get_by_role("link", name="Version 1").click()
    expect(page).to_have_url(re.compile(r"/data/iris/1$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("version 1")
    details = page.locator(".card", has=page.get_by_role("heading", name="Details"))
    expect(details).to_contain_text("uri_folder")
    expect(details).to_contain_text("source=uci")
    expect(page.get_by_text("forgeml://content/").first).to_be_visible()
    shot(page, "assets-data-version-overview", dark=False)
    assert_accessible(page)

    page.get_by_role("tab", name="Files").click()
    expect(page).to_have_url(re.compile(r"tab=files"))
    files = page.get_by_role("table", name="Files in the root folder")
    expect(files.locator("tr[data-file='iris.csv']")).to_contain_text("KB")
    expect(files.locator("tr[data-file='docs']")).to_be_visible()
    # the CSV is previewed at once: its header and first rows as a table
    preview = page.get_by_role("table", name="First rows of iris.csv")
    expect(preview.locator("thead th")).to_have_text(
        ["#", "sepal_length", "sepal_width", "species"]
    )
    expect(preview.locator("tbody tr")).to_have_count(50)
    expect(preview.locator("tbody tr").first).to_contain_text("setosa")
    expect(page.get_by_text("The first 50 rows of")).to_be_visible()
    shot(page, "assets-data-version-files")
    assert_accessible(page)

    with page.expect_download() as info:
        page.get_by_role("link", name="Download iris.csv", exact=True).click()
    download = info.value
    assert download.suggested_filename == "iris.csv"
    saved = tmp_path / "iris.csv"
    download.save_as(saved)
    assert saved.read_text() == seeded.csv

    # into a folder, and a text file's preview
    files.get_by_role("button", name="docs/").click()
    expect(page).to_have_url(re.compile(r"dir=docs"))
    page.get_by_role("button", name="Preview README.md").click()
    expect(page.locator(".preview-text")).to_contain_text("The classic flowers.")
    page.get_by_role("navigation", name="Folder").get_by_role("button", name="(root)").click()
    expect(page.get_by_role("table", name="Files in the root folder")).to_be_visible()

    page.get_by_role("tab", name="Lineage").click()
    used = page.locator("table[data-lineage='Used by']")
    expect(used.locator(f"tr[data-job='{seeded.job}']")).to_contain_text("completed")
    expect(used).to_contain_text("raw")
    expect(page.get_by_text("No job produced this version")).to_be_visible()
    shot(page, "assets-data-version-lineage", dark=False)
    assert_accessible(page)

    # the produced asset names its job, and the link opens the job's page
    page.goto("/data/iris-clean/1?tab=lineage")
    produced = page.locator("table[data-lineage='Produced by']")
    expect(produced.locator(f"tr[data-job='{seeded.job}']")).to_contain_text("clean")
    produced.get_by_role("link", name="clean iris").click()
    expect(page).to_have_url(re.compile(rf"/jobs/{seeded.job}$"))

    page.goto("/data/iris-clean/1?tab=files")
    clean = page.get_by_role("table", name="First rows of clean.csv")
    expect(clean.locator("tbody tr")).to_have_count(10)
    expect(page.get_by_text("All 10 rows")).to_be_visible()


def test_archive_and_restore_from_the_studio(page: Page, seeded: Seeded) -> None:
    page.goto("/data/weather")
    expect(page.get_by_role("heading", name="weather", level=1)).to_be_visible()
    page.get_by_role("button", name="Archive data asset weather").click()
    expect(page.get_by_text("This data asset is archived")).to_be_visible()
    expect(page.get_by_role("heading", level=1)).to_contain_text("archived")

    page.goto("/data")
    table = page.get_by_role("table", name="Data")
    expect(table.locator("tr[data-row='iris']")).to_be_visible()
    expect(table.locator("tr[data-row='weather']")).to_have_count(0)
    tick(page.get_by_label("Include archived"))
    expect(page).to_have_url(re.compile(r"archived=1"))
    expect(table.locator("tr[data-row='weather']")).to_contain_text("archived")

    table.get_by_role("link", name="weather", exact=True).click()
    expect(page).to_have_url(re.compile(r"/data/weather$"))
    expect(page.get_by_text("This data asset is archived")).to_be_visible()
    page.get_by_role("button", name="Restore data asset weather").click()
    expect(page.get_by_text("This data asset is archived")).to_have_count(0)
    page.goto("/data")
    expect(page.get_by_role("table", name="Data").locator("tr[data-row='weather']")).to_be_visible()

    # one version: archived from the versions table, hidden, then restored
    page.goto("/data/iris")
    versions = page.get_by_role("table", name="Versions of iris")
    versions.get_by_role("button", name="Archive version 1").click()
    expect(page.get_by_text("Every version is archived")).to_be_visible()
    tick(page.get_by_label("Include archived versions"))
    versions.get_by_role("button", name="Restore version 1").click()
    expect(versions.locator("tr[data-row='1']")).not_to_contain_text("archived")
    shot(page, "assets-data-versions")
    assert_accessible(page)


def test_model_environment_and_component_pages(page: Page, seeded: Seeded) -> None:
    page.goto("/models/iris-classifier/1")
    expect(page.get_by_role("heading", level=1)).to_contain_text("iris-classifier")
    expect(page.get_by_text("custom_model").first).to_be_visible()
    page.get_by_role("tab", name="Files").click()
    expect(page.locator("tr[data-file='weights.json']")).to_be_visible()
    shot(page, "assets-model-version")
    assert_accessible(page)
    page.get_by_role("link", name="Deploy").click()
    expect(page).to_have_url(
        re.compile(r"/online-endpoints\?deploy=azureml(:|%3A)iris-classifier(:|%3A)1(&|$)")
    )

    page.goto("/environments/sklearn-env/1")
    expect(page.get_by_text("python:3.11-slim").first).to_be_visible()
    conda = page.locator(".card", has=page.get_by_role("heading", name="Conda file"))
    expect(conda).to_contain_text("scikit-learn>=1.5")
    shot(page, "assets-environment-version", dark=False)
    assert_accessible(page)

    page.goto("/components/score_iris/1")
    expect(page.get_by_role("heading", level=1)).to_contain_text("score_iris")
    inputs = page.get_by_role("table", name="Inputs")
    expect(inputs.locator("tr", has_text="threshold")).to_contain_text("0.5")
    expect(page.get_by_role("table", name="Outputs")).to_contain_text("scores")
    expect(page.locator(".card", has=page.get_by_role("heading", name="Command"))).to_contain_text(
        "python score.py"
    )
    shot(page, "assets-component-version", dark=False)
    page.get_by_role("link", name="azureml:sklearn-env:1").click()
    expect(page).to_have_url(re.compile(r"/environments/sklearn-env/1$"))
    page.goto("/components/score_iris/1?tab=files")
    expect(page.locator("tr[data-file='score.py']")).to_be_visible()
    expect(page.locator(".preview-text")).to_contain_text("print('scoring')")
    assert_accessible(page)
