"""Pipeline jobs run for real: `forgeml up` expands them into child jobs, one per step, runs
the independent ones side by side, reuses what completed before, and stops what a failure or a
cancel leaves pointless.

Every step is a small shell command on an `image:`-only environment (the workspace's own
interpreter, no virtualenv built). Each test writes its files into its own folder and puts a
fresh token into its commands, so no test reuses another's steps by accident.
"""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

import pytest

from forgeml import MLClient, SpecError, load_component
from forgeml.core.content import parse_content_uri
from forgeml.core.specs.job import load_job
from forgeml.schemas.jobs import PipelineJobInfo, StepInfo
from tests.cli.live import Cli, Server
from tests.pipelines.conftest import (
    children,
    log_text,
    make_compute,
    max_overlap,
    pipeline,
    wait_for,
    write,
)


def token() -> str:
    return uuid.uuid4().hex[:10]


def submit(sdk: MLClient, path: Path, overrides: list[str] | None = None) -> str:
    return str(sdk.jobs.create_or_update(load_job(path, overrides)).name)


def steps_of(job: PipelineJobInfo) -> dict[str, StepInfo]:
    return {s.name: s for s in job.steps}


def output_uri(sdk: MLClient, job: str, output: str) -> str:
    found = {o.name: o.uri for o in sdk.jobs.outputs(job).items}
    assert output in found, (job, found)
    return found[output]


def fetch(sdk: MLClient, job: str, output: str, dest: Path) -> Path:
    """Download one named output of a job; the folder it lies in."""
    sdk.jobs.download(job, output_name=output, download_path=dest)
    return dest / "named-outputs" / output


# ------------------------------------------------------------------ documents and graph

COUNT = """\
type: command
name: count_TOKEN
inputs:
  rows: {type: uri_folder}
outputs:
  result: {type: uri_folder}
environment: {image: python:3.11}
command: >-
  echo step count && wc -l < ${{inputs.rows}}/rows.txt > ${{outputs.result}}/count.txt
"""

SHOUT = """\
type: command
name: shout_TOKEN
inputs:
  rows: {type: uri_folder}
outputs:
  loud: {type: uri_folder}
environment: {image: python:3.11}
command: >-
  echo step shout && tr a-z A-Z < ${{inputs.rows}}/rows.txt > ${{outputs.loud}}/rows.txt
"""

JOIN = """\
type: command
name: join_TOKEN
version: 1
inputs:
  first: {type: uri_folder}
  second: {type: uri_folder}
outputs:
  joined: {type: uri_folder}
environment: {image: python:3.11}
command: >-
  echo step join && cat ${{inputs.first}}/count.txt ${{inputs.second}}/rows.txt
  > ${{outputs.joined}}/joined.txt
"""

STAMP = """\
type: command
name: stamp_TOKEN
version: VERSION
outputs:
  out: {type: uri_folder}
environment: {image: python:3.11}
command: echo step stamp VERSION && echo vVERSION > ${{outputs.out}}/stamp.txt
"""

FORMS = """\
$schema: https://azuremlschemas.azureedge.net/latest/pipelineJob.schema.json
type: pipeline
display_name: every component form
settings:
  default_compute: azureml:COMPUTE
  default_datestore: a typo Azure ML tolerates
inputs:
  raw: {type: uri_folder, path: ./data}
  suffix: TOKEN
jobs:
  prep:
    command: >-
      echo step prep && cp ${{inputs.raw}}/rows.txt ${{outputs.clean}}/rows.txt &&
      echo ${{inputs.suffix}} >> ${{outputs.clean}}/rows.txt
    environment: {image: python:3.11}
    comment: unknown keys in a step pass through
    inputs:
      raw: ${{parent.inputs.raw}}
      suffix: ${{parent.inputs.suffix}}
    outputs:
      clean:
  count:
    component: ./components/count.yml
    inputs:
      rows: ${{parent.jobs.prep.outputs.clean}}
  shout:
    type: command
    component: file:components/shout.yml
    inputs:
      rows: ${{parent.jobs.prep.outputs.clean}}
  join:
    component: azureml:join_TOKEN:1
    inputs:
      first: ${{parent.jobs.count.outputs.result}}
      second: ${{parent.jobs.shout.outputs.loud}}
  stamp:
    component: azureml:stamp_TOKEN@latest
"""


def test_steps_of_every_component_form_run_as_child_jobs_with_their_own_logs_and_outputs(
    sdk: MLClient, cli: Cli, compute: str, tmp_path: Path
) -> None:
    tok = token()
    write(tmp_path, "data/rows.txt", "alpha\nbeta\n")
    write(tmp_path, "components/count.yml", COUNT.replace("TOKEN", tok))
    write(tmp_path, "components/shout.yml", SHOUT.replace("TOKEN", tok))
    for name, text in [
        ("join.yml", JOIN),
        ("stamp1.yml", STAMP.replace("VERSION", "1")),
        ("stamp2.yml", STAMP.replace("VERSION", "2")),
    ]:
        registered = sdk.components.create_or_update(
            load_component(write(tmp_path / "registry", name, text.replace("TOKEN", tok)))
        )
        assert registered.version is not None
    path = write(tmp_path, "pipeline.yml", FORMS.replace("TOKEN", tok).replace("COMPUTE", compute))

    name = submit(sdk, path)
    job = pipeline(sdk, name)

    assert job.status == "completed", job.error
    steps = steps_of(job)
    assert set(steps) == {"prep", "count", "shout", "join", "stamp"}
    assert all(s.status == "completed" and s.job == f"{name}--{s.name}" for s in job.steps)
    order = [s.name for s in job.steps]
    assert order.index("prep") < order.index("count") < order.index("join")
    assert order.index("shout") < order.index("join")
    # the references were pinned to the versions they meant at submit time
    assert job.jobs["join"].component == f"azureml:join_{tok}:1"
    assert job.jobs["stamp"].component == f"azureml:stamp_{tok}:2"

    kids = children(sdk, name)
    assert set(kids) == set(steps)
    for step, kid in kids.items():
        assert kid.status == "completed" and kid.type == "command"
        text = log_text(sdk, str(kid.name), "std_out")
        assert f"step {step}" in text
        assert not any(f"step {other}" in text for other in set(steps) - {step}), text
    joined = fetch(sdk, f"{name}--join", "joined", tmp_path / "dl")
    assert (joined / "joined.txt").read_text() == f"3\nALPHA\nBETA\n{tok.upper()}\n"
    stamp = fetch(sdk, f"{name}--stamp", "out", tmp_path / "dl-stamp")
    assert (stamp / "stamp.txt").read_text() == "v2\n"
    assert output_uri(sdk, f"{name}--count", "result") != output_uri(sdk, f"{name}--shout", "loud")

    listed = json.loads(cli.ok("job", "list", "--parent", name, "-o", "json"))
    assert {j["name"] for j in listed} == {f"{name}--{s}" for s in steps}
    top = json.loads(cli.ok("job", "list", "-o", "json", "--max-results", "100"))
    assert name in {j["name"] for j in top}
    assert not {j["name"] for j in top} & {j["name"] for j in listed}  # steps are not top-level


PROMOTED = """\
type: pipeline
settings:
  default_compute: COMPUTE
inputs:
  word: TOKEN
outputs:
  report: {type: uri_folder, name: report-TOKEN}
  loud:
jobs:
  write:
    command: echo ${{inputs.word}} > ${{outputs.out}}/word.txt
    environment: {image: python:3.11}
    inputs:
      word: ${{parent.inputs.word}}
    outputs:
      out: ${{parent.outputs.report}}
  shout:
    command: tr a-z A-Z < ${{inputs.text}}/word.txt > ${{outputs.out}}/word.txt
    environment: {image: python:3.11}
    inputs:
      text: ${{parent.jobs.write.outputs.out}}
    outputs:
      out: ${{parent.outputs.loud}}
"""


def test_step_outputs_bound_to_pipeline_outputs_become_the_pipelines_and_a_named_one_an_asset(
    sdk: MLClient, compute: str, tmp_path: Path
) -> None:
    tok = token()
    path = write(
        tmp_path, "pipeline.yml", PROMOTED.replace("TOKEN", tok).replace("COMPUTE", compute)
    )
    name = submit(sdk, path)
    job = pipeline(sdk, name)

    assert job.status == "completed", job.error
    outputs = {o.name: o for o in sdk.jobs.outputs(name).items}
    assert set(outputs) == {"report", "loud"}
    assert outputs["report"].uri == output_uri(sdk, f"{name}--write", "out")
    assert outputs["loud"].uri == output_uri(sdk, f"{name}--shout", "out")
    assert outputs["report"].asset == f"azureml:report-{tok}:1"
    assert outputs["loud"].asset is None
    asset = sdk.data.get(f"report-{tok}", version="1")
    assert str(asset.path) == outputs["report"].uri
    got = sdk.jobs.download(name, download_path=tmp_path / "dl", all=True)
    assert (got / "named-outputs" / "report" / "word.txt").read_text() == f"{tok}\n"
    assert (got / "named-outputs" / "loud" / "word.txt").read_text() == f"{tok.upper()}\n"


INNER = """\
type: pipeline
name: inner_TOKEN
inputs:
  text: {type: string}
outputs:
  result: {type: uri_folder}
jobs:
  write:
    command: echo ${{inputs.text}} > ${{outputs.out}}/text.txt
    environment: {image: python:3.11}
    inputs:
      text: ${{parent.inputs.text}}
    outputs:
      out:
  shout:
    command: tr a-z A-Z < ${{inputs.src}}/text.txt > ${{outputs.out}}/text.txt
    environment: {image: python:3.11}
    inputs:
      src: ${{parent.jobs.write.outputs.out}}
    outputs:
      out: ${{parent.outputs.result}}
"""

OUTER = """\
type: pipeline
settings:
  default_compute: COMPUTE
inputs:
  word: TOKEN
jobs:
  sub:
    type: pipeline
    component: ./inner.yml
    inputs:
      text: ${{parent.inputs.word}}
  after:
    command: echo got $(cat ${{inputs.result}}/text.txt)
    environment: {image: python:3.11}
    inputs:
      result: ${{parent.jobs.sub.outputs.result}}
"""


def test_a_pipeline_step_runs_a_pipeline_component_whose_output_feeds_the_next_step(
    sdk: MLClient, compute: str, tmp_path: Path
) -> None:
    tok = token()
    write(tmp_path, "inner.yml", INNER.replace("TOKEN", tok))
    path = write(tmp_path, "outer.yml", OUTER.replace("TOKEN", tok).replace("COMPUTE", compute))
    name = submit(sdk, path)
    job = pipeline(sdk, name)

    assert job.status == "completed", job.error
    assert steps_of(job)["sub"].type == "pipeline"
    sub = sdk.jobs.get(f"{name}--sub")
    assert isinstance(sub, PipelineJobInfo) and sub.status == "completed"
    assert set(children(sdk, f"{name}--sub")) == {"write", "shout"}
    assert f"got {tok.upper()}" in log_text(sdk, f"{name}--after", "std_out")


BROKEN = """\
type: pipeline
settings:
  default_compute: COMPUTE
jobs:
  make:
    command: echo hi > ${{outputs.out}}/hi.txt
    environment: {image: python:3.11}
    outputs:
      out:
  use:
    command: cat ${{inputs.data}}/hi.txt
    environment: {image: python:3.11}
    inputs:
      data: ${{parent.jobs.maker.outputs.out}}
"""


def test_a_broken_graph_is_refused_at_submit_naming_the_file_line_and_field(
    sdk: MLClient, cli: Cli, compute: str, tmp_path: Path
) -> None:
    path = write(tmp_path, "broken.yml", BROKEN.replace("COMPUTE", compute))
    before = {str(j.name) for j in sdk.jobs.list(max_results=100)}
    with pytest.raises(SpecError) as err:
        submit(sdk, path)
    assert err.value.field == "jobs.use.inputs.data"
    assert err.value.file == str(path)
    assert "'maker', which does not exist" in str(err.value)
    line = err.value.line  # found in the file on this machine: the server only knows the field
    assert line is not None
    assert path.read_text().splitlines()[line - 1].strip() == (
        "data: ${{parent.jobs.maker.outputs.out}}"
    )

    stderr = cli.fails("job", "create", "-f", "broken.yml", cwd=tmp_path)
    assert f"broken.yml:{line}" in stderr and "jobs.use.inputs.data" in stderr
    assert "maker" in stderr
    assert {str(j.name) for j in sdk.jobs.list(max_results=100)} == before  # nothing queued


def test_a_broken_graph_inside_a_pipeline_component_is_refused_at_submit(
    sdk: MLClient, compute: str, tmp_path: Path
) -> None:
    write(
        tmp_path,
        "inner.yml",
        """\
        type: pipeline
        name: inner
        inputs:
          n: {type: integer}
        jobs:
          one:
            command: echo ${{inputs.n}}
            environment: {image: python:3.11}
            inputs:
              n: ${{parent.inputs.m}}
        """,
    )
    path = write(
        tmp_path,
        "outer.yml",
        f"""\
        type: pipeline
        settings:
          default_compute: {compute}
        jobs:
          sub:
            type: pipeline
            component: ./inner.yml
            inputs:
              n: 3
        """,
    )
    with pytest.raises(SpecError, match="no input 'm'") as err:
        submit(sdk, path)
    assert err.value.field is not None and err.value.field.endswith("jobs.one.inputs.n")


# ------------------------------------------------------------------------- scheduling

FAN_OUT = """\
type: pipeline
settings:
  default_compute: COMPUTE
jobs:
"""

#: each step waits (20 s at most) until three steps have started, so that on a busy machine
#: too the three that fit run at the same moment; then it works for a second
FAN_STEP = """\
  STEP:
    command: >-
      echo step STEP TOKEN && touch ROOM/STEP &&
      for i in $(seq 200); do [ $(ls ROOM | wc -l) -ge 3 ] && break; sleep 0.1; done &&
      sleep 1 && echo STEP > ${{outputs.out}}/name.txt
    environment: {image: python:3.11}
    outputs:
      out:
"""


def test_independent_steps_run_side_by_side_up_to_the_computes_capacity(
    sdk: MLClient, tmp_path: Path
) -> None:
    three = make_compute(sdk, 3)
    tok = token()
    room = tmp_path / "room"
    room.mkdir()
    names = ["north", "south", "east", "west"]
    text = FAN_OUT + "".join(FAN_STEP.replace("STEP", s) for s in names)
    text = text.replace("TOKEN", tok).replace("COMPUTE", three).replace("ROOM", str(room))
    path = write(tmp_path, "fan.yml", text)
    name = submit(sdk, path)
    job = pipeline(sdk, name)

    assert job.status == "completed", job.error
    kids = children(sdk, name)
    assert set(kids) == set(names)
    assert max_overlap(kids.values()) == 3  # three side by side, never four
    for step, kid in kids.items():
        assert kid.compute == three
        assert f"step {step} {tok}" in log_text(sdk, str(kid.name), "std_out")
        assert (fetch(sdk, str(kid.name), "out", tmp_path / step) / "name.txt").read_text() == (
            f"{step}\n"
        )


CANCEL = """\
type: pipeline
settings:
  default_compute: COMPUTE
jobs:
  slow_a:
    command: echo TOKEN && sleep 120 && echo done > ${{outputs.out}}/a.txt
    environment: {image: python:3.11}
    outputs:
      out:
  after_a:
    command: cat ${{inputs.a}}/a.txt
    environment: {image: python:3.11}
    inputs:
      a: ${{parent.jobs.slow_a.outputs.out}}
  slow_b:
    command: echo TOKEN && sleep 120
    environment: {image: python:3.11}
"""


def test_canceling_a_pipeline_cancels_its_running_steps_and_skips_the_rest(
    sdk: MLClient, compute: str, tmp_path: Path
) -> None:
    path = write(
        tmp_path, "cancel.yml", CANCEL.replace("TOKEN", token()).replace("COMPUTE", compute)
    )
    name = submit(sdk, path)
    deadline = time.monotonic() + 60
    while set(children(sdk, name)) != {"slow_a", "slow_b"}:  # the steps are created first
        assert time.monotonic() < deadline, children(sdk, name)
        time.sleep(0.1)
    for step in ("slow_a", "slow_b"):
        wait_for(sdk, f"{name}--{step}", states=("running",), timeout=60)

    assert sdk.jobs.cancel(name).status == "canceling"
    job = pipeline(sdk, name, timeout=60)

    assert job.status == "canceled"
    kids = children(sdk, name)
    assert set(kids) == {"slow_a", "slow_b"}
    assert all(k.status == "canceled" for k in kids.values())
    steps = steps_of(job)
    assert steps["after_a"].job is None
    assert steps["after_a"].status in ("skipped", "not_started")
    assert {steps[s].status for s in ("slow_a", "slow_b")} == {"canceled"}


# ------------------------------------------------------------------------------ reuse

TWO_STEPS = """\
type: pipeline
settings:
  default_compute: COMPUTE
jobs:
  make:
    command: echo made TOKEN > ${{outputs.out}}/made.txt
    environment: {image: python:3.11}
    outputs:
      out:
  use:
    command: echo used && cat ${{inputs.made}}/made.txt > ${{outputs.out}}/used.txt
    environment: {image: python:3.11}
    inputs:
      made: ${{parent.jobs.make.outputs.out}}
    outputs:
      out:
"""


def test_the_same_pipeline_again_reuses_every_step_and_its_outputs(
    sdk: MLClient, compute: str, tmp_path: Path
) -> None:
    path = write(tmp_path, "p.yml", TWO_STEPS.replace("TOKEN", token()).replace("COMPUTE", compute))
    first = submit(sdk, path)
    assert pipeline(sdk, first).status == "completed"
    second = submit(sdk, path)
    job = pipeline(sdk, second)

    assert job.status == "completed", job.error
    for step in ("make", "use"):
        assert steps_of(job)[step].reused_from == f"{first}--{step}"
        kid = sdk.jobs.get(f"{second}--{step}")
        assert kid.status == "completed" and kid.reused_from == f"{first}--{step}"
        assert kid.started_at == kid.ended_at  # recorded as done, nothing ran
        assert "reused the outputs of job" in log_text(sdk, str(kid.name))
        assert "used" not in log_text(sdk, str(kid.name), "std_out")
        assert output_uri(sdk, str(kid.name), "out") == output_uri(sdk, f"{first}--{step}", "out")
    third = submit(sdk, path)  # a reused step is reused again, from the original
    assert steps_of(pipeline(sdk, third))["use"].reused_from == f"{first}--use"


INDEPENDENT = """\
type: pipeline
settings:
  default_compute: COMPUTE
inputs:
  data: {type: uri_folder, path: ./data}
jobs:
  reads:
    command: echo TOKEN && cat ${{inputs.data}}/value.txt
    environment: {image: python:3.11}
    inputs:
      data: ${{parent.inputs.data}}
  other:
    command: echo other TOKEN
    environment: {image: python:3.11}
"""


def reused(job: PipelineJobInfo) -> dict[str, str | None]:
    assert job.status == "completed", job.error
    return {s.name: s.reused_from for s in job.steps}


def test_force_rerun_in_settings_or_on_a_step_runs_it_again(
    sdk: MLClient, compute: str, tmp_path: Path
) -> None:
    write(tmp_path, "data/value.txt", "1\n")
    text = INDEPENDENT.replace("TOKEN", token()).replace("COMPUTE", compute)
    path = write(tmp_path, "p.yml", text)
    first = submit(sdk, path)
    assert reused(pipeline(sdk, first)) == {"reads": None, "other": None}

    forced = submit(sdk, path, ["settings.force_rerun=true"])
    assert reused(pipeline(sdk, forced)) == {"reads": None, "other": None}

    one = submit(sdk, path, ["jobs.reads.force_rerun=true"])
    assert reused(pipeline(sdk, one)) == {"reads": None, "other": f"{first}--other"}
    assert "1" in log_text(sdk, f"{one}--reads", "std_out")


def test_a_step_whose_input_content_changed_runs_again_and_the_others_are_reused(
    sdk: MLClient, compute: str, tmp_path: Path
) -> None:
    write(tmp_path, "data/value.txt", "1\n")
    path = write(
        tmp_path, "p.yml", INDEPENDENT.replace("TOKEN", token()).replace("COMPUTE", compute)
    )
    first = submit(sdk, path)
    assert reused(pipeline(sdk, first)) == {"reads": None, "other": None}

    write(tmp_path, "data/value.txt", "2\n")  # same path, other content
    second = submit(sdk, path)
    assert reused(pipeline(sdk, second)) == {"reads": None, "other": f"{first}--other"}
    assert log_text(sdk, f"{second}--reads", "std_out").splitlines()[-1] == "2"

    third = submit(sdk, path)  # unchanged since the second run
    assert reused(pipeline(sdk, third)) == {
        "reads": f"{second}--reads",
        "other": f"{first}--other",
    }


NOT_DETERMINISTIC = """\
type: command
name: clock_TOKEN
is_deterministic: false
environment: {image: python:3.11}
command: echo clock TOKEN && date +%s%N
"""

MIXED = """\
type: pipeline
settings:
  default_compute: COMPUTE
jobs:
  clock:
    component: ./clock.yml
  inline_clock:
    command: echo inline clock TOKEN
    environment: {image: python:3.11}
    is_deterministic: false
  steady:
    command: echo steady TOKEN
    environment: {image: python:3.11}
"""


def test_a_non_deterministic_component_is_never_reused(
    sdk: MLClient, compute: str, tmp_path: Path
) -> None:
    tok = token()
    write(tmp_path, "clock.yml", NOT_DETERMINISTIC.replace("TOKEN", tok))
    path = write(tmp_path, "p.yml", MIXED.replace("TOKEN", tok).replace("COMPUTE", compute))
    first = submit(sdk, path)
    assert reused(pipeline(sdk, first)) == {"clock": None, "inline_clock": None, "steady": None}
    second = submit(sdk, path)
    assert reused(pipeline(sdk, second)) == {
        "clock": None,
        "inline_clock": None,
        "steady": f"{first}--steady",
    }
    assert f"clock {tok}" in log_text(sdk, f"{second}--clock", "std_out")


GONE = """\
type: pipeline
settings:
  default_compute: COMPUTE
jobs:
  make:
    command: echo made TOKEN > ${{outputs.out}}/made.txt
    environment: {image: python:3.11}
    outputs:
      out:
  use:
    command: cat ${{inputs.made}}/made.txt
    environment: {image: python:3.11}
    inputs:
      made: ${{parent.jobs.make.outputs.out}}
"""


def test_a_step_whose_reused_output_is_gone_from_the_store_runs_again(
    sdk: MLClient, server: Server, compute: str, tmp_path: Path
) -> None:
    tok = token()
    path = write(tmp_path, "p.yml", GONE.replace("TOKEN", tok).replace("COMPUTE", compute))
    first = submit(sdk, path)
    assert reused(pipeline(sdk, first)) == {"make": None, "use": None}

    digest, _ = parse_content_uri(output_uri(sdk, f"{first}--make", "out"))
    store = server.home / "artifacts"
    manifest = json.loads((store / "manifests" / f"{digest}.json").read_text())
    blobs = [store / "blobs" / f["sha256"][:2] / f["sha256"] for f in manifest["files"]]
    assert blobs and all(b.is_file() for b in blobs)
    for blob in blobs:
        blob.unlink()

    second = submit(sdk, path)
    # `make` ran again instead of failing; it made the same content, so `use` (which has no
    # output to copy) read what it read before and was reused
    assert reused(pipeline(sdk, second)) == {"make": None, "use": f"{first}--use"}
    assert all(b.is_file() for b in blobs)  # the content is back
    made = fetch(sdk, f"{second}--make", "out", tmp_path / "dl")
    assert (made / "made.txt").read_text() == f"made {tok}\n"


# ------------------------------------------------------------------ failure and resume

FAILING = """\
type: pipeline
settings:
  default_compute: COMPUTE
inputs:
  nap: 1
jobs:
  broken:
    command: echo about to fail TOKEN && exit 3
    environment: {image: python:3.11}
    outputs:
      out:
  after:
    command: ls ${{inputs.x}}
    environment: {image: python:3.11}
    inputs:
      x: ${{parent.jobs.broken.outputs.out}}
  side:
    command: echo side TOKEN && sleep ${{inputs.nap}} && echo side done
    environment: {image: python:3.11}
    inputs:
      nap: ${{parent.inputs.nap}}
"""


def test_a_failed_step_fails_the_pipeline_and_skips_what_depends_on_it(
    sdk: MLClient, compute: str, tmp_path: Path
) -> None:
    path = write(tmp_path, "p.yml", FAILING.replace("TOKEN", token()).replace("COMPUTE", compute))
    name = submit(sdk, path, ["inputs.nap=120"])  # still running when `broken` fails
    job = pipeline(sdk, name, timeout=60)

    assert job.status == "failed"
    assert job.error is not None and "step 'broken' failed" in job.error
    steps = steps_of(job)
    assert steps["broken"].status == "failed"
    assert steps["after"].status == "skipped" and steps["after"].job is None
    assert steps["side"].status == "canceled"  # stopped: the pipeline had failed
    assert "side done" not in log_text(sdk, f"{name}--side", "std_out")

    going_on = submit(sdk, path, ["settings.continue_on_step_failure=true"])
    job = pipeline(sdk, going_on)
    assert job.status == "failed"
    assert job.error is not None and "step 'broken' failed" in job.error
    steps = steps_of(job)
    assert steps["side"].status == "completed"  # the independent branch finished
    assert "side done" in log_text(sdk, f"{going_on}--side", "std_out")
    assert steps["after"].status == "skipped" and steps["after"].job is None


RESUMABLE = """\
type: pipeline
settings:
  default_compute: COMPUTE
jobs:
  up:
    command: echo up TOKEN > ${{outputs.out}}/up.txt
    environment: {image: python:3.11}
    outputs:
      out:
  flaky:
    command: test -f MARKER && cp ${{inputs.src}}/up.txt ${{outputs.out}}/up.txt
    environment: {image: python:3.11}
    inputs:
      src: ${{parent.jobs.up.outputs.out}}
    outputs:
      out:
  down:
    command: echo down got $(cat ${{inputs.src}}/up.txt)
    environment: {image: python:3.11}
    inputs:
      src: ${{parent.jobs.flaky.outputs.out}}
  side:
    command: echo side TOKEN
    environment: {image: python:3.11}
"""


def test_a_rerun_reuses_the_completed_steps_and_runs_the_failed_one_and_what_follows(
    sdk: MLClient, compute: str, tmp_path: Path
) -> None:
    tok = token()
    marker = tmp_path / "state" / "ok"
    text = RESUMABLE.replace("TOKEN", tok).replace("COMPUTE", compute)
    path = write(tmp_path, "p.yml", text.replace("MARKER", str(marker)))
    first = submit(sdk, path)
    job = pipeline(sdk, first)
    assert job.status == "failed"
    assert {s.name: s.status for s in job.steps} == {
        "up": "completed",
        "flaky": "failed",
        "down": "skipped",
        "side": "completed",
    }

    marker.parent.mkdir()
    marker.touch()
    again = sdk.jobs.rerun(first)
    assert again.name != first and again.tags.get("forgeml.rerun_of") == first
    job = pipeline(sdk, str(again.name))

    assert job.status == "completed", job.error
    assert reused(job) == {
        "up": f"{first}--up",
        "flaky": None,
        "down": None,
        "side": f"{first}--side",
    }
    assert f"down got up {tok}" in log_text(sdk, f"{again.name}--down", "std_out")
