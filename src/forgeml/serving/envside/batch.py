"""Batch scoring driver: the Azure ML batch-deployment contract, run inside the deployment's env.

The workspace copies this package into a cache folder as ``forgeml_scoring`` and runs
``python -m forgeml_scoring.batch`` with the deployment environment's own Python, so this module
uses only the standard library (pandas, mlflow and numpy are imported lazily in the workers). It
lists the input files, cuts them into mini-batches, and runs them on ``--max-concurrency`` spawned
worker processes that each load the scoring code once: a custom entry script (``init()`` then
``run(mini_batch)``) or, with no script, the MLflow model in ``--model-dir`` (no-code deployment:
CSV/parquet files in, predictions out). It owns retries, the per-mini-batch timeout (a hung worker
is killed and replaced), the error threshold, writing ``append_row`` output in mini-batch order,
progress logging and the final ``batch summary: {json}`` line.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import importlib
import importlib.util
import io
import json
import multiprocessing
import os
import signal
import sys
import time
import traceback
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from typing import Any, NoReturn, TextIO

from .scoring import numeric_columns

_LEVELS = {"debug": 10, "info": 20, "warning": 30}
_TABULAR_READERS = {".csv": "read_csv", ".parquet": "read_parquet", ".pq": "read_parquet"}


@dataclass
class Chunk:
    """What one successful mini-batch produced, as sent back from a worker."""

    items: int
    failed_files: int
    body: str = ""
    header: str | None = None
    warnings: list[str] = field(default_factory=list)
    details: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class WorkerConfig:
    entry_script: str | None
    mlmodel_dir: str | None
    input_root: str
    append_row: bool


# --------------------------------------------------------------------------- worker side


def _load_entry_script(path: str) -> Any:
    script = os.path.abspath(path)
    folder = os.path.dirname(script)
    # scripts import their sibling modules, as they do under Azure ML
    if folder not in sys.path:
        sys.path.insert(0, folder)
    name = os.path.splitext(os.path.basename(script))[0]
    if not name.isidentifier() or name in sys.modules:
        name = "_forgeml_entry_script"
    spec = importlib.util.spec_from_file_location(name, script)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import entry script {script}")
    module = importlib.util.module_from_spec(spec)
    # registered so that pickling classes defined in the script works
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _csv_line(values: Sequence[Any]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(values)
    return buffer.getvalue()


def _rows_of(result: Any) -> tuple[int, str]:
    """Count and serialize what ``run()`` returned: a DataFrame, a list, or an array."""
    if hasattr(result, "to_csv") and hasattr(result, "columns"):
        return len(result), str(result.to_csv(header=False, index=False))
    if hasattr(result, "tolist") and not isinstance(result, list | tuple):
        result = result.tolist()
    if not isinstance(result, list | tuple):
        raise TypeError(
            f"run() must return a list or a pandas DataFrame, got {type(result).__name__}"
        )
    lines = [_csv_line(item) if isinstance(item, list | tuple) else f"{item}\n" for item in result]
    return len(result), "".join(lines)


def _script_scorer(config: WorkerConfig) -> Callable[[list[str]], Chunk]:
    assert config.entry_script is not None
    module = _load_entry_script(config.entry_script)
    run = getattr(module, "run", None)
    if not callable(run):
        raise AttributeError(f"entry script {config.entry_script} defines no run(mini_batch)")
    init = getattr(module, "init", None)
    if callable(init):
        init()

    def score(files: list[str]) -> Chunk:
        items, body = _rows_of(run(list(files)))
        chunk = Chunk(items=items, failed_files=max(0, len(files) - items))
        if config.append_row:
            chunk.body = body
        if chunk.failed_files:
            chunk.warnings.append(
                f"run() returned {items} items for {len(files)} files: "
                f"{chunk.failed_files} counted as failed"
            )
        return chunk

    return score


def _prediction_frame(pd: Any, np: Any, predictions: Any) -> Any:
    if isinstance(predictions, pd.DataFrame):
        return predictions.reset_index(drop=True)
    if isinstance(predictions, pd.Series):
        return pd.DataFrame({"prediction": predictions.to_numpy()})
    if isinstance(predictions, dict):
        return pd.DataFrame({str(k): np.asarray(v).tolist() for k, v in predictions.items()})
    array = np.asarray(predictions)
    if array.ndim <= 1:
        return pd.DataFrame({"prediction": array.reshape(-1)})
    if array.ndim == 2 and array.shape[1] == 1:
        return pd.DataFrame({"prediction": array[:, 0]})
    if array.ndim == 2:
        return pd.DataFrame(array, columns=[f"prediction_{i}" for i in range(array.shape[1])])
    return pd.DataFrame({"prediction": [row.tolist() for row in array]})


def _mlflow_scorer(config: WorkerConfig) -> Callable[[list[str]], Chunk]:
    assert config.mlmodel_dir is not None
    pd: Any = importlib.import_module("pandas")
    np: Any = importlib.import_module("numpy")
    pyfunc: Any = importlib.import_module("mlflow.pyfunc")
    model = pyfunc.load_model(config.mlmodel_dir)
    metadata = model.metadata
    signature = getattr(metadata, "signature", None)
    numeric = numeric_columns(metadata.get_input_schema()) if signature is not None else None

    def score(files: list[str]) -> Chunk:
        chunk = Chunk(items=0, failed_files=0)
        parts: list[str] = []
        for path in files:
            name = _display_name(path, config.input_root)
            extension = os.path.splitext(path)[1].lower()
            try:
                reader = _TABULAR_READERS.get(extension)
                if reader is None:
                    raise ValueError(
                        f"unsupported file type {extension or '(no extension)'!r}: MLflow "
                        "batch scoring reads .csv, .parquet and .pq files"
                    )
                data = getattr(pd, reader)(path)
                if numeric:
                    # a CSV's 2 is an integer; a column the signature types as double takes it
                    wrong = {
                        c: numeric[c]
                        for c, dtype in data.dtypes.items()
                        if c in numeric and dtype != numeric[c]
                    }
                    if wrong:
                        data = data.astype(wrong)
                predictions = _prediction_frame(pd, np, model.predict(data))
            except Exception as exc:
                chunk.failed_files += 1
                chunk.warnings.append(f"file {name} failed: {type(exc).__name__}: {exc}")
                chunk.details.append(traceback.format_exc().rstrip())
                continue
            meta = pd.DataFrame({"file": [name] * len(predictions), "row": range(len(predictions))})
            frame = pd.concat([meta, predictions], axis=1)
            if chunk.header is None:
                chunk.header = str(frame.iloc[:0].to_csv(index=False))
            if config.append_row:
                parts.append(str(frame.to_csv(header=False, index=False)))
            chunk.items += len(frame)
            chunk.details.append(f"file {name}: {len(frame)} rows scored")
        chunk.body = "".join(parts)
        return chunk

    return score


def _user_traceback(exc: BaseException) -> str:
    """The traceback without this driver's own frames, which only add noise for the user."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename == __file__:
        tb = tb.tb_next
    return "".join(traceback.format_exception(type(exc), exc, tb or exc.__traceback__))


def _worker_main(conn: Connection, config: WorkerConfig) -> None:
    """Body of a worker process: load the scoring code once, then serve mini-batches."""
    try:
        if config.entry_script is not None:
            score = _script_scorer(config)
        else:
            score = _mlflow_scorer(config)
    except BaseException as exc:
        conn.send(("init_error", _user_traceback(exc)))
        return
    conn.send(("ready",))
    while True:
        try:
            message = conn.recv()
        except EOFError:
            return
        if message[0] == "stop":
            return
        _, index, files = message
        try:
            chunk = score(files)
        except BaseException as exc:
            conn.send(("error", index, _user_traceback(exc)))
        else:
            # a plain dict: the worker's classes live in `__mp_main__`, unknown to the driver
            conn.send(("done", index, asdict(chunk)))
        sys.stdout.flush()


# --------------------------------------------------------------------------- driver side


def _display_name(path: str, root: str) -> str:
    if os.path.isdir(root):
        return os.path.relpath(path, root).replace(os.sep, "/")
    return os.path.basename(path)


def list_input_files(root: str) -> list[str]:
    """Files under ``root`` (or ``root`` itself), recursively, sorted, hidden ones skipped."""
    root = os.path.abspath(root)
    if not os.path.isdir(root):
        return [root]
    found: list[str] = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        found.extend(os.path.join(folder, f) for f in files if not f.startswith("."))
    return sorted(found, key=lambda p: os.path.relpath(p, root).split(os.sep))


def find_mlmodel_dir(model_dir: str) -> str | None:
    """The folder holding ``MLmodel``: ``model_dir`` itself or its single subfolder with one."""
    if os.path.isfile(os.path.join(model_dir, "MLmodel")):
        return model_dir
    candidates = [
        os.path.join(model_dir, entry)
        for entry in sorted(os.listdir(model_dir))
        if os.path.isfile(os.path.join(model_dir, entry, "MLmodel"))
    ]
    return candidates[0] if len(candidates) == 1 else None


@dataclass
class _Worker:
    number: int
    process: BaseProcess
    conn: Connection
    state: str = "starting"  # starting | idle | busy
    batch: int = -1
    started: float = 0.0


class _Abort(Exception):
    """Stops the scheduling loop; the message says why."""


class BatchDriver:
    """Schedules mini-batches over worker processes and collects their output in order."""

    def __init__(self, args: argparse.Namespace, files: list[str], config: WorkerConfig) -> None:
        self.args = args
        self.config = config
        self.level = _LEVELS[args.logging_level]
        size = args.mini_batch_size
        self.batches = [files[i : i + size] for i in range(0, len(files), size)]
        self.files = files
        self.attempts = [0] * len(self.batches)
        self.pending: deque[int] = deque(range(len(self.batches)))
        self.outcomes: dict[int, Chunk | None] = {}
        self.next_write = 0
        self.finished = 0
        self.files_done = 0
        self.succeeded_items = 0
        self.failed_files = 0
        self.failed_batches = 0
        self.header_written: str | None = None
        self.workers: list[_Worker] = []
        self.worker_count = 0
        self.context = multiprocessing.get_context("spawn")
        self.output_path: str | None = None
        if args.output_action == "append_row":
            self.output_path = os.path.join(args.output, args.output_file_name)

    # -- logging
    def info(self, message: str) -> None:
        if self.level <= _LEVELS["info"]:
            print(message, flush=True)

    def debug(self, message: str) -> None:
        if self.level <= _LEVELS["debug"]:
            print(message, flush=True)

    def error(self, message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    def describe(self, index: int) -> str:
        names = [_display_name(f, self.config.input_root) for f in self.batches[index]]
        shown = ", ".join(names[:10]) + (f", ... (+{len(names) - 10} more)" if names[10:] else "")
        return f"mini-batch {index + 1}/{len(self.batches)} (files: {shown})"

    # -- workers
    def start_worker(self, replacing: _Worker | None = None) -> None:
        parent_end, child_end = self.context.Pipe()
        process = self.context.Process(
            target=_worker_main, args=(child_end, self.config), name="forgeml-batch-worker"
        )
        process.start()
        child_end.close()
        self.worker_count += 1
        worker = _Worker(number=self.worker_count, process=process, conn=parent_end)
        self.workers.append(worker)
        note = f" (replacing worker {replacing.number})" if replacing else ""
        self.debug(f"worker {worker.number} started, pid {process.pid}{note}")

    def stop_worker(self, worker: _Worker, *, kill: bool) -> None:
        if kill:
            worker.process.kill()
        else:
            with contextlib.suppress(OSError):
                worker.conn.send(("stop",))
        worker.process.join(None if kill else 10)
        if worker.process.is_alive():
            worker.process.kill()
            worker.process.join()
        worker.conn.close()
        if worker in self.workers:
            self.workers.remove(worker)

    def replace_worker(self, worker: _Worker) -> None:
        self.stop_worker(worker, kill=True)
        if self.pending or any(w.state == "busy" for w in self.workers):
            self.start_worker(replacing=worker)

    # -- outcomes
    def attempt_failed(self, worker: _Worker, reason: str) -> None:
        index = worker.batch
        worker.state, worker.batch = "idle", -1
        self.attempts[index] += 1
        allowed = self.args.max_retries + 1
        self.error(
            f"{self.describe(index)} attempt {self.attempts[index]}/{allowed} failed "
            f"on worker {worker.number}: {reason.rstrip()}"
        )
        if self.attempts[index] < allowed:
            self.pending.appendleft(index)
            return
        count = len(self.batches[index])
        self.error(
            f"mini-batch {index + 1}/{len(self.batches)} failed after {allowed} attempts; "
            f"its {count} files count as failed"
        )
        self.failed_batches += 1
        self.finish(index, None, failed=count)

    def batch_done(self, worker: _Worker, index: int, chunk: Chunk) -> None:
        worker.state, worker.batch = "idle", -1
        for warning in chunk.warnings:
            self.error(f"mini-batch {index + 1}/{len(self.batches)}: {warning}")
        for detail in chunk.details:
            self.debug(f"mini-batch {index + 1}/{len(self.batches)}: {detail}")
        self.succeeded_items += chunk.items
        self.finish(index, chunk, failed=chunk.failed_files)

    def finish(self, index: int, chunk: Chunk | None, *, failed: int) -> None:
        self.outcomes[index] = chunk
        self.finished += 1
        self.files_done += len(self.batches[index])
        self.failed_files += failed
        state = "done" if chunk is not None else "failed"
        self.info(
            f"mini-batch {self.finished}/{len(self.batches)} {state} ({self.files_done} files)"
        )
        threshold = self.args.error_threshold
        if threshold != -1 and self.failed_files > threshold:
            raise _Abort(f"error_threshold {threshold} exceeded: {self.failed_files} files failed")

    def flush(self, out: TextIO | None) -> None:
        while self.next_write in self.outcomes:
            chunk = self.outcomes.pop(self.next_write)
            self.next_write += 1
            if out is None or chunk is None or not (chunk.body or chunk.header):
                continue
            if chunk.header is not None:
                if self.header_written is None:
                    out.write(chunk.header)
                    self.header_written = chunk.header
                elif chunk.header != self.header_written:
                    self.error(
                        f"mini-batch {self.next_write}: prediction columns "
                        f"{chunk.header.strip()!r} differ from the first ones "
                        f"{self.header_written.strip()!r}"
                    )
            out.write(chunk.body)
            out.flush()

    # -- the loop
    def handle(self, worker: _Worker, message: tuple[Any, ...]) -> None:
        kind = message[0]
        if kind == "ready":
            worker.state = "idle"
            self.debug(f"worker {worker.number} ran init()")
        elif kind == "init_error":
            raise _Abort(f"init() failed in worker {worker.number}:\n{message[1].rstrip()}")
        elif kind == "done":
            self.batch_done(worker, message[1], Chunk(**message[2]))
        elif kind == "error":
            self.attempt_failed(worker, message[2])

    def service(self, worker: _Worker) -> None:
        try:
            while worker.conn.poll():
                self.handle(worker, worker.conn.recv())
        except (EOFError, OSError):
            pass
        if worker.process.is_alive():
            return
        worker.process.join()
        code = worker.process.exitcode
        if worker.state == "starting":
            raise _Abort(f"worker {worker.number} exited with code {code} during init()")
        if worker.state == "busy":
            self.attempt_failed(worker, f"worker exited with code {code}")
        self.replace_worker(worker)

    def dispatch(self) -> None:
        for worker in self.workers:
            if worker.state == "idle" and self.pending:
                index = self.pending.popleft()
                worker.state, worker.batch, worker.started = "busy", index, time.monotonic()
                self.debug(f"{self.describe(index)} -> worker {worker.number}")
                try:
                    worker.conn.send(("run", index, self.batches[index]))
                except OSError:
                    # the worker died while idle; `service` notices and replaces it
                    worker.state, worker.batch = "idle", -1
                    self.pending.appendleft(index)

    def check_timeouts(self) -> None:
        now = time.monotonic()
        for worker in list(self.workers):
            if worker.state == "busy" and now - worker.started > self.args.timeout:
                self.attempt_failed(
                    worker, f"timed out after {self.args.timeout:g} s; restarting the worker"
                )
                self.replace_worker(worker)

    def loop(self, out: TextIO | None) -> None:
        for _ in range(min(self.args.max_concurrency, len(self.batches))):
            self.start_worker()
        while self.finished < len(self.batches):
            if not self.workers:
                self.start_worker()
            self.dispatch()
            busy = [w.started + self.args.timeout for w in self.workers if w.state == "busy"]
            delay = max(0.0, min(busy) - time.monotonic()) + 0.01 if busy else None
            waitables: list[Any] = [w.conn for w in self.workers]
            waitables += [w.process.sentinel for w in self.workers]
            ready = set(wait(waitables, delay))
            for worker in list(self.workers):
                if worker.conn in ready or worker.process.sentinel in ready:
                    self.service(worker)
            self.check_timeouts()
            self.flush(out)

    def run(self) -> int:
        error: str | None = None
        out: TextIO | None = None
        try:
            if self.output_path is not None:
                out = open(self.output_path, "w", encoding="utf-8", newline="")  # noqa: SIM115
            if not self.batches:
                self.error(f"no input files found under {self.args.input}")
            self.loop(out)
        except _Abort as exc:
            self.error(str(exc))
            # one line for the summary: the headline plus the exception line of a traceback
            lines = str(exc).rstrip().splitlines()
            error = lines[0] + (f" {lines[-1].strip()}" if len(lines) > 1 else "")
        finally:
            self.flush(out)
            for worker in list(self.workers):
                self.stop_worker(worker, kill=error is not None or worker.state == "busy")
            if out is not None:
                out.close()
        self.info(
            f"scored {len(self.files)} files in {len(self.batches)} mini-batches: "
            f"{self.succeeded_items} items succeeded, {self.failed_files} files failed "
            f"({self.failed_batches} mini-batches failed)"
        )
        summary = {
            "files": len(self.files),
            "mini_batches": len(self.batches),
            "succeeded_items": self.succeeded_items,
            "failed_files": self.failed_files,
            "failed_mini_batches": self.failed_batches,
            "output": self.output_path,
            "error": error,
        }
        print("batch summary: " + json.dumps(summary), flush=True)
        return 0 if error is None else 1


# --------------------------------------------------------------------------- command line


def _positive_int(minimum: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        value = int(text)
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be >= {minimum}, got {value}")
        return value

    return parse


def _seconds(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m forgeml_scoring.batch",
        description="Score files with an Azure ML batch scoring script or an MLflow model.",
    )
    parser.add_argument("--input", required=True, help="input file or folder")
    parser.add_argument("--output", required=True, help="output folder")
    parser.add_argument("--entry-script", help="scoring script with init() and run(mini_batch)")
    parser.add_argument("--model-dir", help="model folder (an MLflow model without a script)")
    parser.add_argument("--mini-batch-size", type=_positive_int(1), default=10)
    parser.add_argument(
        "--output-action", choices=["append_row", "summary_only"], default="append_row"
    )
    parser.add_argument("--output-file-name", default="predictions.csv")
    parser.add_argument("--max-retries", type=_positive_int(0), default=3)
    parser.add_argument("--timeout", type=_seconds, default=30.0, help="seconds per mini-batch")
    parser.add_argument("--error-threshold", type=_positive_int(-1), default=-1)
    parser.add_argument("--max-concurrency", type=_positive_int(1), default=1)
    parser.add_argument("--logging-level", type=str.lower, choices=list(_LEVELS), default="info")
    return parser


def _validate(parser: argparse.ArgumentParser, args: argparse.Namespace) -> WorkerConfig:
    def fail(message: str) -> NoReturn:
        parser.error(message)

    if not os.path.exists(args.input):
        fail(f"input path {args.input} does not exist")
    name = args.output_file_name
    if not name or os.path.basename(name) != name or name in (".", ".."):
        fail(f"--output-file-name must be a plain file name, got {name!r}")
    entry_script = mlmodel_dir = None
    if args.entry_script is not None:
        entry_script = os.path.abspath(args.entry_script)
        if not os.path.isfile(entry_script):
            fail(f"entry script {args.entry_script} does not exist")
    if args.model_dir is not None:
        if not os.path.isdir(args.model_dir):
            fail(f"model directory {args.model_dir} does not exist")
        if entry_script is None:
            mlmodel_dir = find_mlmodel_dir(os.path.abspath(args.model_dir))
            if mlmodel_dir is None:
                fail(
                    f"model directory {args.model_dir} holds no MLflow model (no MLmodel file "
                    "in it or in exactly one of its subfolders); give --entry-script"
                )
    elif entry_script is None:
        fail("give --entry-script, or --model-dir with an MLflow model")
    return WorkerConfig(
        entry_script=entry_script,
        mlmodel_dir=mlmodel_dir,
        input_root=os.path.abspath(args.input),
        append_row=args.output_action == "append_row",
    )


def _terminate(signum: int, frame: object) -> None:
    # turns `kill` into SystemExit so the driver's cleanup kills its workers too
    raise SystemExit(128 + signum)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    config = _validate(parser, args)
    args.output = os.path.abspath(args.output)
    os.makedirs(args.output, exist_ok=True)
    # inherited by the spawned workers, where the scoring code reads them
    os.environ["AZUREML_BI_OUTPUT_PATH"] = args.output
    if args.model_dir is not None:
        os.environ["AZUREML_MODEL_DIR"] = os.path.abspath(args.model_dir)
    signal.signal(signal.SIGTERM, _terminate)
    files = list_input_files(args.input)
    driver = BatchDriver(args, files, config)
    mode = (
        f"entry script {config.entry_script}"
        if config.entry_script
        else (f"MLflow model {config.mlmodel_dir}")
    )
    driver.info(
        f"batch scoring {len(files)} files from {config.input_root} in "
        f"{len(driver.batches)} mini-batches of up to {args.mini_batch_size} with {mode}, "
        f"{args.max_concurrency} worker(s)"
    )
    return driver.run()


if __name__ == "__main__":
    sys.exit(main())
