"""The asset commands as a user types them: output formats, overrides, versions and errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from tests.cli.live import SAMPLES, Cli, clean_env, free_port

IRIS_FILE = str(SAMPLES / "assets/data/iris-file.yml")
IRIS_FOLDER = str(SAMPLES / "assets/data/iris-folder.yml")


@pytest.fixture(scope="module", autouse=True)
def _iris(cli: Cli) -> None:
    cli.ok("data", "create", "-f", IRIS_FILE)


def test_output_formats(cli: Cli) -> None:
    as_json = json.loads(
        cli.ok("data", "show", "--name", "iris-csv", "--version", "1", "-o", "json")
    )
    as_yaml = YAML(typ="safe").load(cli.ok("data", "show", "--name", "iris-csv", "-o", "yaml"))
    assert as_json == as_yaml
    assert as_json["type"] == "uri_file"
    assert as_json["tags"] == {"source": "samples"}
    table = cli.ok("data", "show", "--name", "iris-csv", "--output", "table")
    assert "iris-csv" in table
    assert "uri_file" in table
    assert not table.lstrip().startswith("{")


def test_list_and_list_by_name(cli: Cli) -> None:
    cli.ok("data", "create", "-f", IRIS_FOLDER, "--set", "name=iris-listed")
    cli.ok("data", "create", "-f", IRIS_FILE, "--set", "name=iris-listed", "--set", "version=2")
    names = cli.ok("data", "list")
    assert "iris-csv" in names
    assert "iris-listed" in names
    header = names.splitlines()[0]
    assert "NAME" in header
    assert "LATEST VERSION" in header
    versions = json.loads(cli.ok("data", "list", "--name", "iris-listed", "-o", "json"))
    assert [(v["version"], v["type"]) for v in versions] == [("2", "uri_file"), ("1", "uri_folder")]
    table = cli.ok("data", "list", "--name", "iris-listed")
    assert "uri_file" in table
    assert "uri_folder" in table
    summaries = json.loads(cli.ok("data", "list", "-o", "json"))
    listed = next(s for s in summaries if s["name"] == "iris-listed")
    assert (listed["latest_version"], listed["version_count"]) == ("2", 2)


def test_show_by_version_and_by_latest_label(cli: Cli) -> None:
    cli.ok("data", "create", "-f", IRIS_FOLDER, "--set", "name=iris-shown", "--set", "version=5")
    cli.ok("data", "create", "-f", IRIS_FILE, "--set", "name=iris-shown", "--set", "version=6")
    pinned = json.loads(cli.ok("data", "show", "--name", "iris-shown", "--version", "5"))
    assert pinned["type"] == "uri_folder"
    latest = json.loads(cli.ok("data", "show", "--name", "iris-shown", "--label", "latest"))
    assert (latest["version"], latest["type"]) == ("6", "uri_file")
    default = json.loads(cli.ok("data", "show", "-n", "iris-shown"))
    assert default["version"] == "6"


def test_set_overrides_fields_before_validation(cli: Cli) -> None:
    created = json.loads(
        cli.ok(
            "data",
            "create",
            "-f",
            IRIS_FOLDER,
            "--set",
            "name=iris-overridden",
            "--set",
            "version=3",
            "--set",
            "tags.stage=dev",
            "--set",
            "description=from the command line",
        )
    )
    assert (created["name"], created["version"]) == ("iris-overridden", "3")
    assert created["tags"] == {"stage": "dev"}
    assert created["description"] == "from the command line"
    # nested keys of a component, typed as YAML would type them
    component = json.loads(
        cli.ok(
            "component",
            "create",
            "-f",
            str(SAMPLES / "components/train/train.yml"),
            "--set",
            "version=2",
            "--set",
            "inputs.learning_rate.default=0.5",
        )
    )
    assert component["inputs"]["learning_rate"]["default"] == 0.5


def test_model_create_from_flags_with_auto_increment(cli: Cli, tmp_path: Path) -> None:
    shutil.copytree(SAMPLES / "assets/model/iris-mlflow", tmp_path / "model")
    flags = ["--name", "m", "--path", "./model", "--type", "mlflow_model"]
    first = json.loads(cli.ok("model", "create", "--version", "1", *flags, cwd=tmp_path))
    assert (first["name"], first["version"], first["type"]) == ("m", "1", "mlflow_model")
    # new content without a version: the next number
    (tmp_path / "model/rules.json").write_text('{"feature": "petal_length", "thresholds": []}')
    second = json.loads(cli.ok("model", "create", *flags, cwd=tmp_path))
    assert second["version"] == "2"
    assert second["path"] != first["path"]
    # the same content again without a version: nothing new
    third = json.loads(cli.ok("model", "create", *flags, cwd=tmp_path))
    assert third["version"] == "2"
    versions = json.loads(cli.ok("model", "list", "--name", "m", "-o", "json"))
    assert [v["version"] for v in versions] == ["2", "1"]


def test_mlflow_model_without_mlmodel_is_refused(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "model").mkdir()
    (tmp_path / "model/weights.bin").write_bytes(b"\x00\x01")
    err = cli.fails(
        "model", "create", "--name", "bad", "--path", "./model", "--type", "mlflow_model",
        cwd=tmp_path,
    )  # fmt: skip
    assert "MLmodel" in err


def test_recreating_a_version_with_different_content_is_refused(cli: Cli) -> None:
    err = cli.fails(
        "data", "create", "-f", IRIS_FOLDER, "--set", "name=iris-csv", "--set", "version=1"
    )
    assert "iris-csv" in err
    assert "version '1' already exists" in err
    assert "immutable" in err
    # what exists is untouched
    shown = json.loads(cli.ok("data", "show", "--name", "iris-csv", "--version", "1"))
    assert shown["type"] == "uri_file"


def test_archive_and_restore(cli: Cli) -> None:
    for version, sample in (("1", IRIS_FILE), ("2", IRIS_FOLDER)):
        cli.ok(
            "data", "create", "-f", sample, "--set", "name=iris-old", "--set", f"version={version}"
        )
    # one version: gone from the listing and from `latest`, still there by number
    cli.ok("data", "archive", "--name", "iris-old", "--version", "2")
    listed = json.loads(cli.ok("data", "list", "--name", "iris-old", "-o", "json"))
    assert [v["version"] for v in listed] == ["1"]
    assert json.loads(cli.ok("data", "show", "--name", "iris-old"))["version"] == "1"
    archived = json.loads(cli.ok("data", "show", "--name", "iris-old", "--version", "2"))
    assert archived["archived"] is True
    everything = cli.ok("data", "list", "--name", "iris-old", "--include-archived", "-o", "json")
    assert [v["version"] for v in json.loads(everything)] == ["2", "1"]
    cli.ok("data", "restore", "--name", "iris-old", "--version", "2")
    assert json.loads(cli.ok("data", "show", "--name", "iris-old"))["version"] == "2"
    # the whole name
    cli.ok("data", "archive", "--name", "iris-old")
    assert "iris-old" not in cli.ok("data", "list")
    assert "iris-old" in cli.ok("data", "list", "--include-archived")
    cli.ok("data", "restore", "--name", "iris-old")
    assert "iris-old" in cli.ok("data", "list")


def test_unknown_name_or_version_says_what_exists(cli: Cli) -> None:
    err = cli.fails("data", "show", "--name", "iris-csv", "--version", "42")
    assert "iris-csv" in err
    assert "42" in err
    assert "Existing versions" in err
    assert "1" in err
    err = cli.fails("model", "show", "--name", "no-such-model")
    assert "no model named 'no-such-model'" in err


def test_bad_yaml_names_the_file_and_line(cli: Cli, tmp_path: Path) -> None:
    bad = tmp_path / "broken.yml"
    bad.write_text("name: broken\ntype: uri_file\npath: ./a.csv\n  oops: indented\nversion: 1\n")
    err = cli.fails("data", "create", "-f", str(bad))
    assert "broken.yml:4" in err
    assert "not valid YAML" in err


def test_invalid_field_names_the_field_path_and_line(cli: Cli, tmp_path: Path) -> None:
    text = (SAMPLES / "components/train/train.yml").read_text()
    lines = text.splitlines()
    where = next(i for i, line in enumerate(lines) if "type: number" in line) + 1
    (tmp_path / "src").mkdir()
    bad = tmp_path / "train.yml"
    bad.write_text(text.replace("type: number", "type: numbr"))
    err = cli.fails("component", "create", "-f", str(bad))
    assert f"train.yml:{where}" in err
    assert "inputs.learning_rate.type" in err
    assert "'number'" in err  # what was expected


def test_unknown_key_lists_the_valid_keys(cli: Cli, tmp_path: Path) -> None:
    bad = tmp_path / "data.yml"
    bad.write_text("name: typo\ntype: uri_file\npaht: ./iris.csv\n")
    err = cli.fails("data", "create", "-f", str(bad))
    assert "data.yml:3" in err
    assert "unknown key 'paht'" in err
    for key in ("description", "name", "path", "tags", "type", "version"):
        assert key in err


def test_schema_key_is_accepted_and_ignored(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "iris.csv").write_bytes((SAMPLES / "shared/iris.csv").read_bytes())
    doc = tmp_path / "data.yml"
    doc.write_text(
        "$schema: https://azuremlschemas.azureedge.net/latest/data.schema.json\n"
        "name: with-schema\ntype: uri_file\npath: iris.csv\n"
    )
    created = json.loads(cli.ok("data", "create", "-f", str(doc)))
    assert "$schema" not in created
    assert created["version"] == "1"


def test_help_needs_no_server() -> None:
    unreachable = Cli(url=f"http://127.0.0.1:{free_port()}", cwd=Path.cwd())
    for args in ([], ["data"], ["model", "create"], ["compute"], ["up"]):
        out = unreachable.ok(*args, "--help")
        assert "Usage" in out
    assert "FORGEML_URL" in unreachable.ok("--help")


def test_no_server_gives_a_clear_message(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    err = Cli(url=url, cwd=tmp_path).fails("data", "list")
    assert url in err
    assert "forgeml up" in err
    assert "FORGEML_URL" in err
    # without FORGEML_URL the default address is tried and named
    done = Cli(url=url, cwd=tmp_path).run("model", "list", env=clean_env())
    if done.returncode != 0:
        assert "127.0.0.1:8080" in done.stderr
