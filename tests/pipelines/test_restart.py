"""Restart safety of pipelines and sweeps with real processes: SIGKILL `forgeml up` in the middle
of a 10-step pipeline and of a sweep, start it again on the same home and port.

A parent job holds no process of its own: the next scheduler rebuilds where it stood from the
store. So after the restart both finish; no step or trial that completed runs again (each step's
command appends a line to a marker file, each trial its parameter to a shared file, and every
file is read back); the steps and trials that were running when the workspace died are
re-attached and finish; none of their records, logs or metrics is lost; a sweep's later trials get
the parameters its seeded sampler dictates. When a running step's runner dies with the workspace,
that step fails with the restart reason, the pipeline fails, and a rerun reuses the steps that
completed and runs only the rest.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import pytest

import forgeml
from forgeml import MLClient, load_job
from forgeml.compute.local import process_tree
from forgeml.pipelines import sweep as logic
from forgeml.scheduler import RESTART_REASON
from forgeml.schemas.jobs import Job, PipelineJobInfo, SweepJobInfo
from tests.cli.live import Server, free_port, start_server
from tests.jobs.conftest import kill_leftovers, log_text
from tests.pipelines.conftest import wait_parent

pytestmark = pytest.mark.slow

ENV = {"image": "python:3.11"}
COMPUTE = "restart"
#: s0 -> s1 -> s2 -> s3 -> (s4, s5) -> s6 -> s7 -> s8 -> s9: a chain with a fan-out and a join
UPSTREAM: dict[str, list[str]] = {
    "s0": [],
    "s1": ["s0"],
    "s2": ["s1"],
    "s3": ["s2"],
    "s4": ["s3"],
    "s5": ["s3"],
    "s6": ["s4", "s5"],
    "s7": ["s6"],
    "s8": ["s7"],
    "s9": ["s8"],
}
STEPS = list(UPSTREAM)
#: generous: the machine running the suite may be slow and busy
FINISH_S = 180.0
#: a rerun records the steps it reuses as soon as it starts
REUSE_S = 60.0

T = TypeVar("T")


# ------------------------------------------------------------------------------ helpers


@dataclass
class Restartable:
    """One home and port, served by one `forgeml up` process at a time."""

    root: Path
    port: int
    home: Path

    def start(self, label: str) -> Server:
        args = ["--port", str(self.port), "--home", str(self.home)]
        return start_server(args, port=self.port, log=self.root / f"{label}.log", home=self.home)


@pytest.fixture
def restartable(tmp_path: Path) -> Iterator[Restartable]:
    ws = Restartable(root=tmp_path, port=free_port(), home=tmp_path / "home")
    try:
        yield ws
    finally:
        kill_leftovers(ws.home)


@contextlib.contextmanager
def killed_at_the_end(server: Server) -> Iterator[Server]:
    """SIGKILL `server` when the block ends, however it ends; runners are left alone."""
    try:
        yield server
    finally:
        server.process.send_signal(signal.SIGKILL)
        server.process.wait(10)


@contextlib.contextmanager
def stopped_at_the_end(server: Server) -> Iterator[Server]:
    try:
        yield server
    finally:
        server.stop()


def poll(what: str, check: Callable[[], T | None], timeout: float = 90) -> T:
    """The first truthy answer of `check`, asked every 0.1 s for up to `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        assert time.monotonic() < deadline, f"no {what} after {timeout:.0f}s"
        time.sleep(0.1)


def launched(sdk: MLClient, job: str) -> bool:
    """True once the scheduler has recorded the job's runner (so a restart can find it)."""
    return "started the local runner" in log_text(sdk, job, "system")


def runner_pid(sdk: MLClient, job: str) -> int:
    found = re.search(r"started the local runner \(pid (\d+)", log_text(sdk, job, "system"))
    assert found, log_text(sdk, job)
    return int(found.group(1))


def write_job(path: Path, doc: dict[str, Any]) -> Path:
    # JSON is YAML: the file is loaded exactly as a user's YAML would be
    path.write_text(json.dumps(doc, indent=2), encoding="utf-8")
    return path


def lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines() if path.exists() else []


def get_pipeline(sdk: MLClient, name: str) -> PipelineJobInfo:
    job = sdk.jobs.get(name)
    assert isinstance(job, PipelineJobInfo), job
    return job


def get_sweep(sdk: MLClient, name: str) -> SweepJobInfo:
    job = sdk.jobs.get(name)
    assert isinstance(job, SweepJobInfo), job
    return job


Times = tuple[datetime | None, datetime | None]


def times(job: Job | PipelineJobInfo | SweepJobInfo) -> Times:
    """When a job started and ended: what a second run of it would change."""
    return job.started_at, job.ended_at


def quiet(server: Server) -> None:
    """The workspace logged no error (a parent that cannot advance only shows up there)."""
    assert "Traceback" not in server.output(), server.output()[-5000:]


def system_lines(sdk: MLClient, name: str, text: str) -> int:
    return sum(1 for line in log_text(sdk, name, "system").splitlines() if text in line)


# ----------------------------------------------------------------------------- pipeline


def pipeline_doc(marks: Path, sleeps: dict[str, int] | None = None) -> dict[str, Any]:
    """The 10-step pipeline: each step appends a line to `marks/<step>` and says so, sleeps,
    then writes its output folder (the same content every time, so a rerun can reuse it)."""
    jobs: dict[str, Any] = {}
    for step, upstream in UPSTREAM.items():
        pause = (sleeps or {}).get(step, 1)
        command = (
            f"echo ran >> {marks / step} && echo step {step} && sleep {pause} && "
            f"echo {step} > ${{{{outputs.out}}}}/value"
        )
        jobs[step] = {
            "type": "command",
            "command": command,
            "environment": ENV,
            "inputs": {u: f"${{{{parent.jobs.{u}.outputs.out}}}}" for u in upstream},
            "outputs": {"out": {"type": "uri_folder"}},
        }
    return {
        "type": "pipeline",
        "experiment_name": "restart-pipeline",
        "settings": {"default_compute": f"azureml:{COMPUTE}"},
        "jobs": jobs,
    }


def submit_pipeline(
    sdk: MLClient, root: Path, marks: Path, sleeps: dict[str, int] | None = None
) -> str:
    marks.mkdir(parents=True, exist_ok=True)
    sdk.compute.create_or_update(forgeml.LocalCompute(name=COMPUTE, max_concurrent_jobs=4))
    job = load_job(write_job(root / "pipeline.yml", pipeline_doc(marks, sleeps)))
    return str(sdk.jobs.create_or_update(job).name)


def running_steps(sdk: MLClient, job: PipelineJobInfo, marks: Path) -> list[str]:
    """Steps whose command has started and whose runner the scheduler recorded."""
    return [
        s.name
        for s in job.steps
        if s.status == "running" and s.job and lines(marks / s.name) and launched(sdk, s.job)
    ]


def test_a_pipeline_killed_midway_finishes_after_a_restart_and_runs_no_step_twice(
    restartable: Restartable,
) -> None:
    marks = restartable.root / "marks"
    with killed_at_the_end(restartable.start("first")) as first, MLClient(url=first.url) as sdk:
        # the steps beside the fan-out run longer, so the kill catches them running
        name = submit_pipeline(sdk, restartable.root, marks, sleeps={"s4": 3, "s5": 3})

        def midway() -> tuple[PipelineJobInfo, dict[str, Times], list[str]] | None:
            job = get_pipeline(sdk, name)
            assert job.status.value in ("queued", "running"), (job.status, job.error)
            done = [s for s in job.steps if s.status == "completed"]
            if len(done) < 4:
                return None
            # read before the last check, so that the kill follows it at once
            records = {s.name: times(sdk.jobs.get(str(s.job))) for s in done}
            running = running_steps(sdk, job, marks)
            return (job, records, running) if running else None

        at_kill, completed, running = poll(
            "step running after 4 completed", midway, timeout=FINISH_S
        )
        started = at_kill.started_at

    assert started is not None
    quiet(first)
    assert len(completed) + len(running) < len(STEPS), "the pipeline was nearly done at the kill"
    time.sleep(1)

    with stopped_at_the_end(restartable.start("second")) as second, MLClient(url=second.url) as sdk:
        job = wait_parent(sdk, name, timeout=FINISH_S)
        assert isinstance(job, PipelineJobInfo)
        assert job.status.value == "completed", (job.error, log_text(sdk, name))
        assert job.started_at == started

        # every step completed, each exactly once, and none was reused from itself
        assert [(s.name, s.status, s.reused_from) for s in job.steps] == [
            (s, "completed", None) for s in STEPS
        ]
        for step in STEPS:
            assert lines(marks / step) == ["ran"], f"step {step} ran {len(lines(marks / step))}x"

        # no record lost: one child per step, each with its logs
        children = {str(c.name): c for c in sdk.jobs.list(parent_job_name=name)}
        assert set(children) == {f"{name}--{s}" for s in STEPS}
        for step in STEPS:
            child_name = f"{name}--{step}"
            child = children[child_name]
            assert child.status.value == "completed" and child.exit_code == 0
            assert f"step {step}" in log_text(sdk, child_name, "std_out"), log_text(sdk, child_name)

        # the steps that had completed were left alone; the running ones were re-attached
        for step, before in completed.items():
            assert times(children[f"{name}--{step}"]) == before, step
        for step in running:
            assert "re-attached to the local runner" in log_text(sdk, f"{name}--{step}", "system")

        # the pipeline's own record and log: queued, started and ended once each
        assert system_lines(sdk, name, "queued a pipeline of 10 steps") == 1
        assert system_lines(sdk, name, "running 10 steps") == 1
        assert system_lines(sdk, name, "completed: 10 steps") == 1
        assert [j.name for j in sdk.jobs.list()] == [name]
        quiet(second)


def test_a_step_whose_runner_died_with_the_workspace_fails_and_a_rerun_reuses_the_rest(
    restartable: Restartable,
) -> None:
    marks = restartable.root / "marks"
    # s5 sleeps long enough to be caught running; s4 beside it survives the restart
    with killed_at_the_end(restartable.start("first")) as first, MLClient(url=first.url) as sdk:
        name = submit_pipeline(sdk, restartable.root, marks, sleeps={"s5": 6})
        victim = f"{name}--s5"

        def victim_running() -> bool:
            job = get_pipeline(sdk, name)
            assert job.status.value in ("queued", "running"), (job.status, job.error)
            return "s5" in running_steps(sdk, job, marks)

        poll("s5 running", victim_running, timeout=FINISH_S)
        victim_tree = process_tree(runner_pid(sdk, victim))
        assert len(victim_tree) >= 2  # the runner and its command
    quiet(first)
    # while the workspace is down, s5's runner and command die too
    for pid in victim_tree:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)

    with stopped_at_the_end(restartable.start("second")) as second, MLClient(url=second.url) as sdk:
        failed = wait_parent(sdk, name, timeout=FINISH_S)
        assert isinstance(failed, PipelineJobInfo)
        assert failed.status.value == "failed", (failed.status, log_text(sdk, name))
        lost = sdk.jobs.get(victim)
        assert lost.status.value == "failed" and lost.error == RESTART_REASON
        assert failed.error is not None and "step 's5' failed" in failed.error, failed.error
        assert "not run: s6, s7, s8, s9" in failed.error
        states = {s.name: s.status for s in failed.steps}
        assert states == {
            **{s: "completed" for s in STEPS[:5]},
            "s5": "failed",
            **{s: "skipped" for s in STEPS[6:]},
        }
        for step in STEPS[:6]:
            assert lines(marks / step) == ["ran"], step
        for step in STEPS[6:]:
            assert not (marks / step).exists(), step
        quiet(second)

        again = str(sdk.jobs.rerun(name).name)
        # the completed steps are recorded as reused at once, before anything runs
        poll(
            "reused steps in the rerun",
            lambda: [s.status for s in get_pipeline(sdk, again).steps[:5]] == ["completed"] * 5,
            timeout=REUSE_S,
        )
        rerun = wait_parent(sdk, again, timeout=FINISH_S)
        assert isinstance(rerun, PipelineJobInfo)
        assert rerun.status.value == "completed", (rerun.error, log_text(sdk, again))
        reused = {s.name: s.reused_from for s in rerun.steps}
        assert reused == {
            **{s: f"{name}--{s}" for s in STEPS[:5]},
            **{s: None for s in STEPS[5:]},
        }
        assert all(s.status == "completed" for s in rerun.steps)
        # reused steps did not run again; s5 ran a second time, the rest once
        for step in STEPS:
            expected = ["ran", "ran"] if step == "s5" else ["ran"]
            assert lines(marks / step) == expected, step
        quiet(second)


# -------------------------------------------------------------------------------- sweep

SWEEP_TRIALS = 8
SEARCH_SPACE = {"x": {"type": "uniform", "min_value": 0, "max_value": 1}}
SAMPLING = {"type": "random", "seed": 11}


def sweep_doc(record: Path) -> dict[str, Any]:
    """Each trial logs `score` = x through MLflow, appends x to `record`, sleeps a second."""
    script = (
        "import sys, time, mlflow; x = sys.argv[1]; mlflow.log_metric('score', float(x)); "
        "print(x, file=open(sys.argv[2], 'a'), flush=True); print('trial x =', x); time.sleep(1)"
    )
    return {
        "type": "sweep",
        "experiment_name": "restart-sweep",
        "compute": f"azureml:{COMPUTE}",
        "trial": {
            "command": f'python -c "{script}" ${{{{search_space.x}}}} {record}',
            "environment": ENV,
        },
        "search_space": SEARCH_SPACE,
        "sampling_algorithm": SAMPLING,
        "objective": {"goal": "maximize", "primary_metric": "score"},
        "limits": {"max_total_trials": SWEEP_TRIALS, "max_concurrent_trials": 2},
    }


def test_a_sweep_killed_midway_finishes_after_a_restart_with_each_trial_run_once(
    restartable: Restartable,
) -> None:
    record = restartable.root / "trials.log"
    with killed_at_the_end(restartable.start("first")) as first, MLClient(url=first.url) as sdk:
        sdk.compute.create_or_update(forgeml.LocalCompute(name=COMPUTE, max_concurrent_jobs=4))
        job = load_job(write_job(restartable.root / "sweep.yml", sweep_doc(record)))
        name = str(sdk.jobs.create_or_update(job).name)

        def midway() -> tuple[SweepJobInfo, list[str]] | None:
            sweep = get_sweep(sdk, name)
            assert sweep.status.value in ("queued", "running"), (sweep.status, sweep.error)
            done = [t for t in sweep.trials if t.status == "completed"]
            if len(done) < 3:
                return None
            running = [
                t.job for t in sweep.trials if t.status == "running" and launched(sdk, t.job)
            ]
            return (sweep, running) if running else None

        at_kill, running = poll("trial running after 3 completed", midway, timeout=FINISH_S)
        params_at_kill = {t.job: t.parameters for t in at_kill.trials}
        started = at_kill.started_at
    assert len(params_at_kill) < SWEEP_TRIALS, "the sweep was nearly done at the kill"
    assert started is not None
    quiet(first)
    time.sleep(1)

    with stopped_at_the_end(restartable.start("second")) as second, MLClient(url=second.url) as sdk:
        sweep = wait_parent(sdk, name, timeout=FINISH_S)
        assert isinstance(sweep, SweepJobInfo)
        assert sweep.status.value == "completed", (sweep.error, log_text(sdk, name))
        assert sweep.started_at == started

        # exactly 8 trials, named by their index, each completed, none lost or doubled
        names = [f"{name}--{i}" for i in range(SWEEP_TRIALS)]
        assert sorted(t.job for t in sweep.trials) == sorted(names)
        children = {str(c.name): c for c in sdk.jobs.list(parent_job_name=name)}
        assert sorted(children) == sorted(names)
        assert all(c.status.value == "completed" for c in children.values())

        # the trials that existed kept their parameters; the later ones got the seeded ones
        params = {t.job: t.parameters for t in sweep.trials}
        assert {k: params[k] for k in params_at_kill} == params_at_kill
        space, sampling = logic.parse_search_space(SEARCH_SPACE), logic.parse_sampling(SAMPLING)
        expected = [logic.suggest(space, sampling, i, [], "maximize") for i in range(SWEEP_TRIALS)]
        assert [params[n] for n in names] == expected
        xs = [float(params[n]["x"]) for n in names]
        assert len(set(xs)) == SWEEP_TRIALS

        # each trial ran once: its value is in the record exactly once; its metric and log kept
        assert sorted(float(v) for v in lines(record)) == sorted(xs)
        for trial in sweep.trials:
            x = float(trial.parameters["x"])
            assert trial.metric == pytest.approx(x), trial
            assert f"trial x = {trial.parameters['x']}" in log_text(sdk, trial.job, "std_out")

        # the best trial is the one with the highest score
        best = max(sweep.trials, key=lambda t: float(t.parameters["x"]))
        assert sweep.best_trial is not None
        assert sweep.best_trial.job == best.job
        assert sweep.best_trial.metric == pytest.approx(max(xs))

        for trial_job in running:
            assert "re-attached to the local runner" in log_text(sdk, trial_job, "system")

        assert system_lines(sdk, name, "queued a sweep of up to 8 trials") == 1
        assert system_lines(sdk, name, "running trials") == 1
        assert system_lines(sdk, name, "completed:") == 1
        quiet(second)
