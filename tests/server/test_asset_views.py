"""What the studio reads about assets: sorted container listings with the latest version's
summary, versions oldest first, a version's lineage (the job that produced it, the jobs that used
it), a bounded preview of one uploaded file, and downloads that keep the file's name."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

import forgeml
from forgeml import Data, MLClient

ENV: Any = {"image": "python:3.11"}


def digest_of(uri: str) -> str:
    return uri.removeprefix("forgeml://content/").split("/")[0]


def test_containers_sort_by_name_or_time_and_carry_the_latest_summary(
    client: MLClient, http: TestClient, tmp_path: Path
) -> None:
    (tmp_path / "a.csv").write_text("x\n1\n")
    for name in ("beta", "alpha", "gamma"):
        client.data.create_or_update(
            Data(name=name, path=str(tmp_path / "a.csv"), type="uri_file", tags={"n": name})
        )
    client.data.create_or_update(
        Data(
            name="alpha",
            path=str(tmp_path),
            description="the folder",
            tags={"stage": "dev"},
        )
    )

    def names(**params: str) -> list[str]:
        reply = http.get("/api/v1/data", params=params)
        assert reply.status_code == 200, reply.text
        return [c["name"] for c in reply.json()["items"]]

    assert names() == ["alpha", "beta", "gamma"]
    assert names(order="desc") == ["gamma", "beta", "alpha"]
    # times sort newest first unless asked otherwise; alpha changed last
    assert names(order_by="last_modified_at") == ["alpha", "gamma", "beta"]
    assert names(order_by="created_at") == ["gamma", "alpha", "beta"]
    assert names(order_by="created_at", order="asc") == ["beta", "alpha", "gamma"]
    # pages follow the order
    first = http.get("/api/v1/data", params={"order": "desc", "limit": 2}).json()
    assert [c["name"] for c in first["items"]] == ["gamma", "beta"]
    rest = http.get(
        "/api/v1/data", params={"order": "desc", "limit": 2, "page_token": first["next_token"]}
    ).json()
    assert [c["name"] for c in rest["items"]] == ["alpha"]

    alpha = http.get("/api/v1/data", params={"name_contains": "alp"}).json()["items"]
    assert len(alpha) == 1
    assert alpha[0]["latest_version"] == "2" and alpha[0]["version_count"] == 2
    assert alpha[0]["type"] == "uri_folder"
    assert alpha[0]["description"] == "the folder"
    assert alpha[0]["tags"] == {"stage": "dev"}

    bad = http.get("/api/v1/data", params={"order_by": "colour"})
    assert bad.status_code == 422

    # one name summarised, archived or not
    assert http.post("/api/v1/data/beta/archive").status_code == 204
    beta = http.get("/api/v1/data/beta").json()
    assert (beta["archived"], beta["latest_version"], beta["tags"]) == (True, "1", {"n": "beta"})
    assert "beta" not in names()
    missing = http.get("/api/v1/data/nobody")
    assert missing.status_code == 404 and "forgeml data create" in missing.json()["message"]

    oldest = http.get("/api/v1/data/alpha/versions", params={"order": "asc"}).json()["items"]
    assert [v["version"] for v in oldest] == ["1", "2"]
    newest = http.get("/api/v1/data/alpha/versions").json()["items"]
    assert [v["version"] for v in newest] == ["2", "1"]


def test_lineage_names_the_producing_job_and_the_jobs_that_used_a_version(
    client: MLClient, http: TestClient, tmp_path: Path
) -> None:
    (tmp_path / "raw").mkdir()
    (tmp_path / "raw" / "a.csv").write_text("x\n1\n")
    client.data.create_or_update(Data(name="raw", path=str(tmp_path / "raw")))
    job = client.jobs.create_or_update(
        forgeml.command(
            command="clean ${{inputs.raw}} ${{outputs.out}}",
            environment=ENV,
            display_name="cleaning",
            inputs={"raw": forgeml.Input(type="uri_folder", path="azureml:raw@latest")},
            outputs={"out": forgeml.Output(type="uri_folder", name="cleaned")},
        )
    )
    producer = str(job.name)
    uploader = forgeml.client.upload.Uploader(client._http)
    uri = uploader.upload_path(tmp_path / "raw", field="out")
    reply = http.post(f"/api/v1/jobs/{producer}/runtime/outputs", json={"name": "out", "uri": uri})
    assert reply.status_code == 200, reply.text
    consumer = str(
        client.jobs.create_or_update(
            forgeml.command(
                command="train ${{inputs.data}}",
                environment=ENV,
                inputs={"data": forgeml.Input(type="uri_folder", path="azureml:cleaned:1")},
            )
        ).name
    )

    raw = http.get("/api/v1/data/raw/versions/1/lineage").json()
    assert raw["produced_by"] == []
    assert [(j["name"], j["port"], j["display_name"]) for j in raw["used_by"]] == [
        (producer, "raw", "cleaning")
    ]
    assert raw["used_by"][0]["status"] == "queued" and raw["used_by"][0]["type"] == "command"

    cleaned = http.get("/api/v1/data/cleaned/versions/1/lineage").json()
    assert [(j["name"], j["port"]) for j in cleaned["produced_by"]] == [(producer, "out")]
    assert [j["name"] for j in cleaned["used_by"]] == [consumer]
    assert cleaned["truncated"] is False

    missing = http.get("/api/v1/data/cleaned/versions/9/lineage")
    assert missing.status_code == 404
    assert "Existing versions (newest first): 1" in missing.json()["message"]


def test_a_preview_shows_the_first_rows_of_a_table_or_the_start_of_a_text(
    client: MLClient, http: TestClient, tmp_path: Path
) -> None:
    folder = tmp_path / "mixed"
    folder.mkdir()
    (folder / "iris.csv").write_text(
        "sepal_length,species\n"
        + "".join(f"{i / 10},setosa\n" for i in range(100))
        + '5.1,"quoted, with comma"\n'
    )
    (folder / "small.tsv").write_text("a\tb\n1\t2\n")
    (folder / "notes.txt").write_text("hello é\n" * 3)
    (folder / "weights.bin").write_bytes(bytes(range(256)))
    data = client.data.create_or_update(Data(name="mixed", path=str(folder)))
    base = f"/api/v1/content/{digest_of(data.path)}"

    table = http.get(f"{base}/preview/iris.csv", params={"rows": 5}).json()
    assert table["kind"] == "table" and table["columns"] == ["sepal_length", "species"]
    assert table["rows"] == [[f"{i / 10}", "setosa"] for i in range(5)]
    assert table["truncated"] is True and table["size"] > 1000
    whole = http.get(f"{base}/preview/iris.csv", params={"rows": 1000}).json()
    assert whole["rows"][-1] == ["5.1", "quoted, with comma"] and whole["truncated"] is False
    # a byte limit cuts the file: only whole rows come back
    cut = http.get(f"{base}/preview/iris.csv", params={"max_bytes": 45}).json()
    assert cut["truncated"] is True
    assert cut["rows"] == [["0.0", "setosa"], ["0.1", "setosa"]]

    tsv = http.get(f"{base}/preview/small.tsv").json()
    assert (tsv["columns"], tsv["rows"], tsv["truncated"]) == (["a", "b"], [["1", "2"]], False)
    text = http.get(f"{base}/preview/notes.txt").json()
    assert text["kind"] == "text" and text["text"] == "hello é\n" * 3
    binary = http.get(f"{base}/preview/weights.bin").json()
    assert binary["kind"] == "binary" and binary["size"] == 256 and binary["text"] is None

    nothing = http.get(f"{base}/preview/nope.csv")
    assert nothing.status_code == 404 and "no file 'nope.csv'" in nothing.json()["message"]
    too_much = http.get(f"{base}/preview/iris.csv", params={"max_bytes": 1 << 30})
    assert too_much.status_code == 422

    download = http.get(f"{base}/files/iris.csv")
    assert download.status_code == 200
    assert download.headers["content-disposition"] == "attachment; filename*=UTF-8''iris.csv"
    assert download.content == (folder / "iris.csv").read_bytes()
