"""The job runner, `python -m forgeml.runtime.runner --url <url> --job <name> --workdir <dir>`.

It executes one command job where the compute put it, speaking to the workspace only over HTTP
(`forgeml.schemas.runtime`): it fetches the job, reports `preparing`, realises the environment,
copies the code, materialises the inputs, reports `running`, runs the command with the MLflow and
Azure ML variables set while its logs stream back, and finally stores the outputs and run
artifacts and reports `completed`, `failed` or `canceled`. SIGTERM (or a cancel the workspace
asks for in any acknowledgement) stops the command's whole process group. Any failure of the
runner itself is reported as the job's failure with a message that says what went wrong. A job
with a `distribution` runs as a group of processes (`forgeml.runtime.distributed` plans them):
all of them here on the local compute, or one node's share when the compute starts a runner per
node (`--nodes M --node-rank I --master-addr A --master-port P`). Node 0's runner is the one
described above; another node's runner is a follower: it prepares and runs its processes and
ships their logs (its own lines prefixed `[node I] `) in a folder of its own (`<workdir>/node_I`),
hears cancels, but reports no state and stores no outputs or artifacts — rank 0 writes those,
as Azure ML users do — and exits with its processes' first non-zero exit code, else 0.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import sys
import threading
import time
import traceback
from dataclasses import replace
from pathlib import Path
from types import FrameType

from forgeml.compute.environments import ENV_CACHE_VAR, EnvironmentCache, RealizedEnvironment
from forgeml.core.errors import ConflictError, ForgemlError, NotFoundError
from forgeml.runtime import command as commands
from forgeml.runtime import distributed, process
from forgeml.runtime import inputs as job_inputs
from forgeml.runtime import outputs as job_outputs
from forgeml.runtime.api import RuntimeApi, WorkspaceGone
from forgeml.runtime.content import ContentCache
from forgeml.runtime.distributed import Layout, Node, Plan
from forgeml.runtime.logs import Heartbeat, LogShipper, check_ack
from forgeml.schemas.runtime import LogStream, RunnerAck, RunnerJob, RunnerLogs, RunnerState
from forgeml.serving.hostpkg import PACKAGE_NAME, host_path

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
    layout: Layout | None = None,
) -> dict[str, str]:
    """The command's environment variables: the host's, the job's, then what the runtime sets
    (for a single process, the distribution's rank-0-of-1 variables; a group's ranks add theirs)."""
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
    layout = layout or distributed.layout(job.distribution, job.resources)
    if layout.single:
        env.update(distributed.single_env(layout, env, distributed.free_port))
    return realized.apply(env)


def scale_warnings(job: RunnerJob) -> list[str]:
    """What the job's distribution asks for that this runner does not honour."""
    distribution = job.distribution or {}
    if str(distribution.get("type") or "").lower() != "ray":
        return []
    ignored = sorted(k for k in distribution if k not in ("type", "address"))
    if not ignored:
        return []
    return [
        f"distribution: {', '.join(ignored)} ignored; the command runs once with RAY_ADDRESS "
        "(the Ray compute's cluster, distribution.address, or a local Ray that ray.init() starts)"
    ]


class FollowerApi(RuntimeApi):
    """A follower's client: log text refused because the job has ended is dropped quietly, and
    tells the follower to stop (node 0 has reported the job's end)."""

    def logs(self, stream: LogStream, text: str) -> RunnerAck:
        try:
            return super().logs(stream, text)
        except (ConflictError, NotFoundError):
            return RunnerAck(cancel_requested=True)


class Runner:
    def __init__(
        self,
        api: RuntimeApi,
        workdir: Path,
        home: Path,
        *,
        prepared: bool = False,
        node: Node | None = None,
        peers_file: Path | None = None,
    ) -> None:
        self.api = api
        self.node = node or Node()
        # a follower on the same machine as node 0 must not share its code, outputs and logs
        self.workdir = workdir / f"node_{self.node.rank}" if self.node.follower else workdir
        self.home = home
        #: the scheduler moved the job to `preparing` when it launched this runner
        self.prepared = prepared
        self.cancel = threading.Event()
        self.preparing = False
        self.warnings: list[str] = []
        self.logs: LogShipper | None = None
        self._outputs: dict[str, Path] = {}
        self._plan: Plan | None = None
        #: node 0 of a gang: where the gang's driver writes how the other nodes ended
        self.peers_file = peers_file
        self.peer_failure: tuple[int, str] | None = None

    @property
    def follower(self) -> bool:
        return self.node.follower

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
        if self.follower:
            # node 0 owns the job's state; a follower's logs go on their own
            if self.logs is not None:
                self.logs.flush()
            return RunnerAck()
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
            self.logs.system(f"[node {self.node.rank}] {line}" if self.follower else line)

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
            layout = distributed.layout(job.distribution, job.resources, nodes=self.node.nodes)
            if self.follower and not distributed.has_work(layout, self.node):
                self.preparing = False
                self.system("nothing to run on this node: node 0 runs the whole job")
                return 0
            cwd, line, env = self._prepare(job, layout)
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

    def _prepare(self, job: RunnerJob, layout: Layout) -> tuple[Path, str, dict[str, str]]:
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
        env = command_environment(job, self.api.url, realized, values, outputs, layout)
        if PACKAGE_NAME in line:
            # batch scoring (`python -m forgeml_scoring.batch`) runs in the job's environment,
            # which does not have forgeml: its stdlib-only scoring package goes on the path
            host = str(host_path(self.home / "scoring-host"))
            env["PYTHONPATH"] = os.pathsep.join(p for p in (host, env.get("PYTHONPATH")) if p)
        self._outputs = outputs
        if not layout.single:
            self._plan = self._launch_plan(layout, line, realized)
        return cwd, line, env

    def _launch_plan(self, layout: Layout, line: str, realized: RealizedEnvironment) -> Plan:
        torchrun = None
        if layout.kind == "pytorch" and distributed.has_torch(realized.python, realized.venv):
            torchrun = realized.python
        tasks = distributed.tf_tasks(layout) if layout.kind == "tensorflow" else []
        logs = self.workdir / "system_logs" / "launcher"
        plan = distributed.plan(
            layout,
            line,
            self.node,
            master_port=self.node.master_port or distributed.free_port(),
            tf_ports=[distributed.free_port() for _ in tasks],
            torchrun=torchrun,
            logs=logs,
        )
        if plan.exit_dir is not None:
            shutil.rmtree(plan.exit_dir, ignore_errors=True)  # a rerun's leftovers
            plan.exit_dir.mkdir(parents=True)
        self.system(f"distributed: {plan.describe}")
        for warning in plan.warnings:
            self.system(warning)
            self.warnings.append(warning)
        return plan

    def _execute(self, job: RunnerJob, cwd: Path, line: str, env: dict[str, str]) -> int:
        assert self.logs is not None
        self.report(RunnerState(state="running", pid=os.getpid(), warnings=self.warnings))
        if self.cancel.is_set():
            self.system("canceled before the command started")
            self.report(RunnerState(state="canceled", warnings=self.warnings))
            return 0
        watcher = self._watch_peers() if self.peers_file is not None else None
        outcome = self._start(job, cwd, line, env)
        # the job is done when every node is: wait for the others to end too (a cancel that
        # comes meanwhile cancels the job)
        if (
            watcher is not None
            and outcome.exit_code == 0
            and not outcome.canceled
            and not self._peers_ended(wait=True)
            and self.peer_failure is None
        ):
            outcome = replace(outcome, canceled=True)
        self.logs.flush()
        if self.peer_failure is not None:
            code, error = self.peer_failure
            self.system(error)
            self._artifacts(job, cwd)
            self.report(RunnerState(state="failed", exit_code=code, error=error))
            return 0
        if self.follower:
            if outcome.exit_code and not outcome.canceled:
                self.system(f"failed: {_failure(outcome)[0]}")
                return outcome.exit_code
            return 0
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
            head, error = _failure(outcome)
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

    def _watch_peers(self) -> threading.Thread:
        """Stop this node's processes as soon as another node of the gang fails."""

        def watch() -> None:
            while not self.cancel.is_set():
                if self._peers_ended(wait=False) and self.peer_failure is not None:
                    self.cancel.set()
                    return
                time.sleep(0.2)

        thread = threading.Thread(target=watch, name="forgeml-peers", daemon=True)
        thread.start()
        return thread

    def _peers_ended(self, *, wait: bool) -> bool:
        """Whether the gang's driver said how the other nodes ended (and remember a failure)."""
        assert self.peers_file is not None
        while True:
            try:
                ended = json.loads(self.peers_file.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                ended = None
            if ended is not None:
                failed = [p for p in ended.get("nodes", []) if p.get("code")]
                if failed and self.peer_failure is None:
                    first = failed[0]
                    why = first.get("error") or f"exit code {first['code']}"
                    self.peer_failure = (int(first["code"]), f"node {first['node']} failed: {why}")
                return not ended.get("running")
            if not wait or self.cancel.is_set():
                return False
            time.sleep(0.2)

    def _start(self, job: RunnerJob, cwd: Path, line: str, env: dict[str, str]) -> process.Outcome:
        assert self.logs is not None
        self.system(f"running: {line}")
        if self._plan is None:
            return process.run(
                line,
                cwd=cwd,
                env=env,
                write=self.logs.write,
                cancel=self.cancel,
                timeout_s=job.timeout_s,
            )
        outcome = process.run_group(
            self._plan.members,
            cwd=cwd,
            env=env,
            write=self.logs.write,
            cancel=self.cancel,
            timeout_s=job.timeout_s,
        )
        found = distributed.first_failure(self._plan.exit_dir) if self._plan.exit_dir else None
        if found is not None and outcome.exit_code and not outcome.canceled:
            # torchrun said 1; the rank's own shell recorded what really happened
            who = f"rank {found[0]}"
            outcome = replace(
                outcome,
                exit_code=found[1],
                failed=who,
                signal=None,
                stderr_tail=outcome.tails.get(who, outcome.stderr_tail),
            )
        return outcome

    def _artifacts(self, job: RunnerJob, cwd: Path) -> None:
        # the local log files are whole already; the live copy goes with the final report
        assert self.logs is not None
        try:
            job_outputs.upload_run_artifacts(job, cwd, self.logs.std_log, self.api, self.system)
        except ForgemlError as exc:
            self.system(f"run artifacts not uploaded: {exc}")


def _failure(outcome: process.Outcome) -> tuple[str, str]:
    """The one-line cause of a failed command, and the error for the job (with stderr's tail)."""
    who = outcome.failed or "the command"
    if outcome.signal:
        head = f"{who} was killed by {signal.Signals(outcome.signal).name}"
    else:
        head = f"{who} exited with code {outcome.exit_code}"
    error = "\n".join([head + (":" if outcome.stderr_tail else "."), *outcome.stderr_tail])
    return head, error


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
    parser.add_argument(
        "--nodes", type=int, default=None, help="the job runs on this many nodes, a runner each"
    )
    parser.add_argument("--node-rank", type=int, default=0, help="this runner's node (0: leader)")
    parser.add_argument("--master-addr", default=distributed.LOOPBACK, help="node 0's address")
    parser.add_argument("--master-port", type=int, default=None, help="the rendezvous port")
    parser.add_argument(
        "--peers-file",
        default=None,
        help="node 0 of a gang: the file the gang's driver writes when the other nodes end",
    )
    args = parser.parse_args(argv)
    if args.nodes is not None and not 0 <= args.node_rank < args.nodes:
        parser.error(f"--node-rank must be in 0..{args.nodes - 1}")
    if args.nodes is None and args.node_rank:
        parser.error("--node-rank needs --nodes")
    if (args.nodes or 1) > 1 and args.master_port is None:
        parser.error("--nodes above 1 needs --master-port (node 0's rendezvous port)")
    node = Node(args.nodes, args.node_rank, args.master_addr, args.master_port)
    workdir = Path(args.workdir or os.getcwd()).expanduser().resolve()
    api = (FollowerApi if node.follower else RuntimeApi)(args.url, args.job)
    try:
        home = resolve_home(args.home, workdir)
        peers = Path(args.peers_file) if args.peers_file else None
        return Runner(api, workdir, home, prepared=args.prepared, node=node, peers_file=peers).run()
    finally:
        api.close()


if __name__ == "__main__":
    sys.exit(main())
