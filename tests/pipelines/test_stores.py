"""A pipeline on the production stores: PostgreSQL metadata and S3-compatible artifacts.

The orchestration reads and writes only through the store and the artifact store, so the same
pipeline must run, hand outputs from step to step and be reused on a second submission when the
workspace runs on PostgreSQL and an S3 bucket (moto's server, on loopback) as on SQLite and a
folder.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from forgeml import MLClient
from forgeml.core.specs.job import load_job
from forgeml.schemas.jobs import PipelineJobInfo
from tests.cli.live import free_port, s3_env, start_server
from tests.jobs.conftest import kill_leftovers, log_text, wait_for

pytestmark = [pytest.mark.postgres, pytest.mark.s3]

PIPELINE = """\
type: pipeline
experiment_name: stores
jobs:
  make:
    command: echo made > ${{outputs.out}}/made.txt
    environment: {image: python:3.11-slim}
    outputs: {out: {type: uri_folder}}
  other:
    command: echo other > ${{outputs.out}}/other.txt
    environment: {image: python:3.11-slim}
    outputs: {out: {type: uri_folder}}
  join:
    command: cat ${{inputs.a}}/made.txt ${{inputs.b}}/other.txt > ${{outputs.out}}/both.txt
    environment: {image: python:3.11-slim}
    inputs:
      a: ${{parent.jobs.make.outputs.out}}
      b: ${{parent.jobs.other.outputs.out}}
    outputs: {out: {type: uri_folder}}
"""


def test_a_pipeline_runs_and_is_reused_on_postgresql_and_s3(
    tmp_path: Path, pg_url: str, s3_bucket: str
) -> None:
    port, home = free_port(), tmp_path / "home"
    env = s3_env()
    args = ["--port", str(port), "--home", str(home), "--store", pg_url]
    args += ["--artifacts", f"s3://{s3_bucket}/artifacts"]
    server = start_server(args, port=port, log=tmp_path / "server.log", env=env, home=home)
    path = tmp_path / "pipeline.yml"
    path.write_text(PIPELINE, encoding="utf-8")
    try:
        with MLClient(url=server.url) as sdk:
            first = sdk.jobs.create_or_update(load_job(path))
            done = wait_for(sdk, str(first.name), timeout=120)
            assert done.status == "completed", log_text(sdk, str(first.name))
            join = f"{first.name}--join"
            assert sdk.jobs.get(join).status == "completed"
            out = {o.name: o.uri for o in sdk.jobs.outputs(join).items}
            assert out["out"].startswith("forgeml://content/")

            again = sdk.jobs.create_or_update(load_job(path))
            second = wait_for(sdk, str(again.name), timeout=60)
            assert isinstance(second, PipelineJobInfo) and second.status == "completed"
            assert {s.name: s.reused_from for s in second.steps} == {
                "make": f"{first.name}--make",
                "other": f"{first.name}--other",
                "join": join,
            }
            reused = {o.name: o.uri for o in sdk.jobs.outputs(f"{again.name}--join").items}
            assert reused == out
    finally:
        server.stop()
        kill_leftovers(home)
