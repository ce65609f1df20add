"""The job runner, `python -m forgeml.runtime.runner --url <url> --job <name> --workdir <dir>`.

It executes one command job where the compute put it, speaking to the workspace only over HTTP
(`forgeml.schemas.runtime`): it fetches the job, reports `preparing`, realises the environment,
copies the code, materialises the inputs, reports `running`, runs the command with the MLflow and
Azure ML variables set while its logs stream back, and finally stores the outputs and run
artifacts and reports `completed`, `failed` or `canceled`. SIGTERM (or a cancel the workspace
asks for in any acknowledgement) stops the command's whole process group. Any failure of the
runner itself is reported as the job's failure with a message that says what went wrong.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import traceback
from pathlib import Path
from types import FrameType

from forgeml.compute.environments import ENV_CACHE_VAR, EnvironmentCache, RealizedEnvironment
from forgeml.core.errors import ConflictError, ForgemlError, NotFoundError
from forgeml.runtime import command as commands
from forgeml.runtime import inputs as job_inputs
from forgeml.runtime import outputs as job_outputs
from forgeml.runtime import process
from forgeml.runtime.api import RuntimeApi, WorkspaceGone
from forgeml.runtime.content import ContentCache
from forgeml.runtime.logs import Heartbeat, LogShipper, check_ack
from forgeml.schemas.runtime import RunnerAck, RunnerJob, RunnerLogs, RunnerState

HEARTBEAT_VAR = "FORGEML_RUNNER_HEARTBEAT_S"
#: log text up to this size rides along with a state report; more is sent on its own first
MAX_INLINE_LOGS = 256 * 1024


class JobCanceled(BaseException):
    """Raised in the main thread when a cancel arrives while the job is being prepared."""


def resolve_home(explicit: str | None, workdir: Path) -> Path:
    """The workspace home: `--home`, else the one `<home>/jobs/<name>/` implies, else the env."""
    if explicit:
        return Path(explicit).expanduser()
    if workdir.parent.name == "jobs":
        return workdir.parent.parent
    env = os.environ.get("FORGEML_HOME")
    return Path(env).expanduser() if env else Path.home() / ".forgeml"


def command_environment(
    job: RunnerJob,
    url: str,
    realized: RealizedEnvironment,
    values: dict[str, str | None],
    outputs: dict[str, Path],
) -> dict[str, str]:
    """The command's environment variables: the host's, the job's, then what the runtime sets."""
    # the workspace's own settings (database URL, artifact store) are not the job's business
    env = {k: v for k, v in os.environ.items() if not k.startswith("FORGEML_")}
    env.setdefault("PYTHONUNBUFFERED", "1")  # so that print() reaches the live log at once
    env.update(job.environment_variables)
    env.update(
        {
            "FORGEML_URL": url,
            "MLFLOW_TRACKING_URI": url,
            "MLFLOW_RUN_ID": job.run_id,
            "MLFLOW_EXPERIMENT_ID": job.experiment_id,
            "MLFLOW_EXPERIMENT_NAME": job.experiment_name,
            "AZUREML_RUN_ID": job.run_id,
        }
    )
    for name, value in values.items():
        if value is not None:
            env[f"AZURE_ML_INPUT_{name}"] = value
    for name, path in outputs.items():
        env[f"AZURE_ML_OUTPUT_{name}"] = str(path)
    if (job.distribution or {}).get("type") == "pytorch":
        # one process on one node: what torch.distributed needs to start a group of one
        env.update({"RANK": "0", "LOCAL_RANK": "0", "NODE_RANK": "0", "WORLD_SIZE": "1"})
        env.setdefault("MASTER_ADDR", "127.0.0.1")
        env.setdefault("MASTER_PORT", "29500")
    return realized.apply(env)


def scale_warnings(job: RunnerJob) -> list[str]:
    """What a job asks for beyond one process on one node, which this runner does not start."""
    processes = int((job.distribution or {}).get("process_count_per_instance") or 1)
    nodes = int((job.resources or {}).get("instance_count") or 1)
    if processes <= 1 and nodes <= 1:
        return []
    return [
        f"the job asks for {nodes} node(s) x {processes} process(es); this compute runs its "
        "command once, as rank 0 of a group of one"
    ]


class Runner:
    def __init__(
        self, api: RuntimeApi, workdir: Path, home: Path, *, prepared: bool = False
    ) -> None:
        self.api = api
        self.workdir = workdir
        self.home = home
        #: the scheduler moved the job to `preparing` when it launched this runner
        self.prepared = prepared
        self.cancel = threading.Event()
        self.preparing = False
        self.warnings: list[str] = []
        self.logs: LogShipper | None = None
        self._outputs: dict[str, Path] = {}

    # ------------------------------------------------------------------------ cancel

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        first = not self.cancel.is_set()
        self.cancel.set()
        if self.preparing and first:
            self.preparing = False
            raise JobCanceled(signal.Signals(signum).name)

    def request_cancel(self) -> None:
        """A cancel heard from the workspace: the same path as a SIGTERM."""
        if self.cancel.is_set():
            return
        if self.preparing:
            # interrupt whatever the main thread is blocked in (a download, an env build)
            signal.pthread_kill(threading.main_thread().ident or 0, signal.SIGTERM)
        else:
            self.cancel.set()

    # ------------------------------------------------------------------------ reports

    def report(self, state: RunnerState) -> RunnerAck:
        if self.logs is not None and not state.logs:
            # what was logged up to now goes with the report: one round trip, in order
            pending = self.logs.drain()
            if sum(len(t) for _, t in pending) <= MAX_INLINE_LOGS:
                state.logs = [RunnerLogs(stream=s, text=t) for s, t in pending]
            else:
                for stream, text in pending:
                    self.logs.resend(stream, text)
        ack = self.api.state(state)
        if state.state in ("preparing", "running"):
            check_ack(ack, self.request_cancel)
        return ack

    def system(self, line: str) -> None:
        if self.logs is not None:
            self.logs.system(line)

    # ---------------------------------------------------------------------------- run

    def run(self) -> int:
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)
        self.workdir.mkdir(parents=True, exist_ok=True)
        try:
            job = self.api.spec()
        except ForgemlError as exc:
            print(f"forgeml runner: cannot read the job: {exc}", file=sys.stderr, flush=True)
            return 2
        self.logs = LogShipper(self.api, self.workdir, on_cancel=self.request_cancel)
        beat = Heartbeat(
            self.api,
            on_cancel=self.request_cancel,
            interval=float(os.environ.get(HEARTBEAT_VAR, "5")),
        )
        try:
            try:
                return self._run(job)
            except JobCanceled:  # a signal that landed between two steps of `_run`
                self.preparing = False
                self.report(RunnerState(state="canceled", warnings=self.warnings))
                return 0
        except WorkspaceGone as exc:
            print(f"forgeml runner: {exc}", file=sys.stderr, flush=True)
            return 3
        except ConflictError as exc:
            # the workspace refused a transition: the job ended meanwhile (canceled, reconciled)
            print(f"forgeml runner: the workspace refused a report: {exc}", file=sys.stderr)
            return 4
        except Exception as exc:
            self.system(traceback.format_exc())
            return self._fail_early(f"the job runner failed: {type(exc).__name__}: {exc}")
        finally:
            beat.stop()
            self.logs.close()

    def _run(self, job: RunnerJob) -> int:
        assert self.logs is not None
        self.preparing = True
        try:
            if not self.prepared:
                self.report(RunnerState(state="preparing", pid=os.getpid()))
                if self.cancel.is_set():
                    raise JobCanceled("canceled before it started")
            # else the job is `preparing` since the scheduler launched this runner, and a cancel
            # asked for meanwhile arrives with the first acknowledgement (heartbeat, logs, or
            # the `running` report, which is checked before the command starts)
            cwd, line, env = self._prepare(job)
            self.preparing = False
        except JobCanceled:
            self.preparing = False
            self.system("canceled while preparing")
            self.logs.flush()
            self.report(RunnerState(state="canceled", warnings=self.warnings))
            return 0
        except (ForgemlError, OSError) as exc:
            self.preparing = False
            message = exc.message if isinstance(exc, ForgemlError) else f"{exc}"
            return self._fail_early(message)
        except Exception as exc:
            self.preparing = False
            self.system(traceback.format_exc())
            return self._fail_early(f"the job runner failed: {type(exc).__name__}: {exc}")
        return self._execute(job, cwd, line, env)

    def _fail_early(self, message: str) -> int:
        assert self.logs is not None
        self.system(f"failed: {message}")
        self.logs.flush()
        self.report(RunnerState(state="failed", error=message, warnings=self.warnings))
        return 1

    def _prepare(self, job: RunnerJob) -> tuple[Path, str, dict[str, str]]:
        cache = ContentCache(self.home / "cache", self.api)
        explicit = os.environ.get(ENV_CACHE_VAR)
        envs = EnvironmentCache(Path(explicit) if explicit else self.home / "envs")
        self.system(f"realizing the environment ({job.environment_key[:12]})")
        realized = envs.realize(
            job.environment,
            job.environment_key,
            log=self.system,
            fetch_build_file=cache.read_text,
        )
        self.warnings.extend(realized.warnings)
        cwd = self.workdir
        if job.code:
            if not job.code.startswith("forgeml://content/"):
                raise NotFoundError(
                    f"the code '{job.code}' is not workspace content; submit the job with the "
                    "forgeml CLI or SDK, which upload the code folder."
                )
            cwd = cache.copy(job.code, self.workdir / "code")
            self.system(f"code {job.code} copied to {cwd}")
        for warning in scale_warnings(job):
            self.system(warning)
            self.warnings.append(warning)
        values = job_inputs.materialize(job.inputs, cache, self.workdir, self.system)
        outputs = job_outputs.prepare(job.outputs, self.workdir)
        line = commands.render(job.command, values, {k: str(v) for k, v in outputs.items()})
        env = command_environment(job, self.api.url, realized, values, outputs)
        self._outputs = outputs
        return cwd, line, env

    def _execute(self, job: RunnerJob, cwd: Path, line: str, env: dict[str, str]) -> int:
        assert self.logs is not None
        self.report(RunnerState(state="running", pid=os.getpid(), warnings=self.warnings))
        if self.cancel.is_set():
            self.system("canceled before the command started")
            self.report(RunnerState(state="canceled", warnings=self.warnings))
            return 0
        self.system(f"running: {line}")
        outcome = process.run(
            line,
            cwd=cwd,
            env=env,
            write=self.logs.write,
            cancel=self.cancel,
            timeout_s=job.timeout_s,
        )
        self.logs.flush()
        if outcome.canceled:
            self.system("canceled: the command's processes were stopped")
            self._artifacts(job, cwd)
            self.report(RunnerState(state="canceled", exit_code=outcome.exit_code))
            return 0
        if outcome.timed_out:
            error = f"the job ran past its limits.timeout of {job.timeout_s} s."
            self.system(error)
            self._artifacts(job, cwd)
            self.report(RunnerState(state="failed", exit_code=outcome.exit_code, error=error))
            return 0
        if outcome.exit_code != 0:
            if outcome.signal:
                head = f"the command was killed by {signal.Signals(outcome.signal).name}"
            else:
                head = f"the command exited with code {outcome.exit_code}"
            error = "\n".join([head + (":" if outcome.stderr_tail else "."), *outcome.stderr_tail])
            self.system(head)
            self._artifacts(job, cwd)
            self.report(RunnerState(state="failed", exit_code=outcome.exit_code, error=error))
            return 0
        outputs = dict(self._outputs)
        if job.keep_artifacts and (cwd / "outputs").is_dir():
            # a pipeline step reads this step's `artifacts`: what the command left in ./outputs
            outputs["artifacts"] = cwd / "outputs"
        try:
            job_outputs.collect(job, outputs, self.api, self.system)
        except ForgemlError as exc:
            self.system(f"failed: {exc.message}")
            self._artifacts(job, cwd)
            self.report(RunnerState(state="failed", exit_code=0, error=exc.message))
            return 0
        self._artifacts(job, cwd)
        self.report(RunnerState(state="completed", exit_code=0))
        return 0

    def _artifacts(self, job: RunnerJob, cwd: Path) -> None:
        # the local log files are whole already; the live copy goes with the final report
        assert self.logs is not None
        try:
            job_outputs.upload_run_artifacts(job, cwd, self.logs.std_log, self.api, self.system)
        except ForgemlError as exc:
            self.system(f"run artifacts not uploaded: {exc}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m forgeml.runtime.runner", description=__doc__)
    parser.add_argument("--url", required=True, help="the workspace URL")
    parser.add_argument("--job", required=True, help="the job's name")
    parser.add_argument("--workdir", default=None, help="the job's folder (default: cwd)")
    parser.add_argument("--home", default=None, help="the workspace home (caches live there)")
    parser.add_argument(
        "--prepared",
        action="store_true",
        help="the workspace's scheduler already moved the job to preparing (skip that report)",
    )
    args = parser.parse_args(argv)
    workdir = Path(args.workdir or os.getcwd()).expanduser().resolve()
    api = RuntimeApi(args.url, args.job)
    try:
        home = resolve_home(args.home, workdir)
        return Runner(api, workdir, home, prepared=args.prepared).run()
    finally:
        api.close()


if __name__ == "__main__":
    sys.exit(main())
