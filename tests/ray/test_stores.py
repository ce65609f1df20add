"""The production layout: a workspace on PostgreSQL and S3-compatible storage, its jobs on Ray.
The runner on the node reads its inputs and stores its outputs through the workspace, which
keeps them in the bucket; nothing passes through a disk the two share."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from forgeml import MLClient
from forgeml.core.specs.job import load_job
from tests.cli.live import free_port, s3_env, start_server
from tests.jobs.conftest import kill_leftovers, log_text, wait_for
from tests.ray.conftest import RayHead, create_ray_compute

pytestmark = [pytest.mark.ray, pytest.mark.postgres, pytest.mark.s3, pytest.mark.slow]


def test_a_job_on_ray_with_postgresql_and_s3(
    tmp_path: Path, pg_url: str, s3_bucket: str, s3_keys: Any, ray_head: RayHead
) -> None:
    port, home = free_port(), tmp_path / "home"
    env = s3_env()
    args = ["--port", str(port), "--home", str(home), "--store", pg_url]
    args += ["--artifacts", f"s3://{s3_bucket}/artifacts"]
    server = start_server(args, port=port, log=tmp_path / "server.log", env=env, home=home)
    data = tmp_path / "data"
    data.mkdir()
    (data / "in.txt").write_text("from the bucket\n", encoding="utf-8")
    nodes = tmp_path / "node"
    job = tmp_path / "job.yml"
    job.write_text(
        f"""\
command: cat ${{{{inputs.data}}}}/in.txt | tr a-z A-Z > ${{{{outputs.out}}}}/out.txt
environment: {{image: python:3.11-slim}}
compute: cluster
inputs: {{data: {{type: uri_folder, path: {data}}}}}
outputs: {{out: {{type: uri_folder}}}}
""",
        encoding="utf-8",
    )
    try:
        with MLClient(url=server.url) as sdk:
            create_ray_compute(sdk, "cluster", ray_head.address, nodes)
            name = str(sdk.jobs.create_or_update(load_job(job)).name)
            done = wait_for(sdk, name, timeout=120)
            assert done.status == "completed", log_text(sdk, name)
            got = tmp_path / "got"
            sdk.jobs.download(name, download_path=str(got), output_name="out")
            assert [p.read_text() for p in got.rglob("out.txt")] == ["FROM THE BUCKET\n"]
        assert s3_keys("artifacts/"), "the workspace keeps content in the bucket"
        # the node worked in its own folder; the workspace's home holds no job folder for it
        assert (nodes / "jobs" / name).is_dir()
        assert not (home / "jobs" / name).exists()
    finally:
        server.stop()
        kill_leftovers(home)
        kill_leftovers(nodes)
