"""The batch scoring driver, run exactly as a batch deployment runs it.

The envside package is copied to a folder as the top-level package ``forgeml_scoring`` and started
with ``python -m forgeml_scoring.batch``, as the workspace does inside a deployment environment.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

ENVSIDE = Path(__file__).resolve().parents[2] / "src" / "forgeml" / "serving" / "envside"


@pytest.fixture(scope="module")
def pkg(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("pkg")
    target = root / "forgeml_scoring"
    target.mkdir()
    for source in ENVSIDE.glob("*.py"):
        shutil.copy(source, target / source.name)
    return root


@pytest.fixture()
def data(tmp_path: Path) -> Path:
    folder = tmp_path / "data"
    (folder / "sub").mkdir(parents=True)
    for i in range(1, 7):
        (folder / f"f{i}.txt").write_text(f"value {i}\n")
    (folder / "sub" / "g7.txt").write_text("value 7\n")
    (folder / ".hidden").write_text("never scored\n")
    return folder


def run_driver(pkg: Path, cwd: Path, *args: str | Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(pkg), "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.run(
        [sys.executable, "-m", "forgeml_scoring.batch", *map(str, args)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def summary(result: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    lines = [line for line in result.stdout.splitlines() if line.startswith("batch summary: ")]
    assert len(lines) == 1, result.stdout + result.stderr
    parsed: dict[str, Any] = json.loads(lines[0].removeprefix("batch summary: "))
    return parsed


def script(tmp_path: Path, body: str, name: str = "score.py") -> Path:
    path = tmp_path / "code" / name
    path.parent.mkdir(exist_ok=True)
    path.write_text(textwrap.dedent(body))
    return path


def test_list_output_keeps_file_order_across_two_workers(
    pkg: Path, data: Path, tmp_path: Path
) -> None:
    entry = script(
        tmp_path,
        """
        import os, time

        def init():
            global out
            out = os.environ["AZUREML_BI_OUTPUT_PATH"]

        def run(mini_batch):
            # the first mini-batch finishes last, so output order cannot follow completion order
            if mini_batch[0].endswith("f1.txt"):
                time.sleep(1.0)
            return [(os.path.basename(f), open(f).read().strip(), os.getpid(), out)
                    for f in mini_batch]
        """,
    )
    out = tmp_path / "out"
    result = run_driver(
        pkg, tmp_path, "--input", data, "--output", out, "--entry-script", entry,
        "--mini-batch-size", "2", "--max-concurrency", "2",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    rows = [line.split(",") for line in (out / "predictions.csv").read_text().splitlines()]
    assert [(r[0], r[1]) for r in rows] == [
        (f"f{i}.txt" if i < 7 else "g7.txt", f"value {i}") for i in range(1, 8)
    ]
    assert len({r[2] for r in rows}) == 2, "two worker processes share the work"
    assert {r[3] for r in rows} == {str(out)}
    assert "mini-batch 4/4 done (7 files)" in result.stdout
    assert summary(result) == {
        "files": 7,
        "mini_batches": 4,
        "succeeded_items": 7,
        "failed_files": 0,
        "failed_mini_batches": 0,
        "output": str(out / "predictions.csv"),
        "error": None,
    }


def test_dataframe_rows_are_appended_as_csv_without_header(
    pkg: Path, data: Path, tmp_path: Path
) -> None:
    entry = script(
        tmp_path,
        """
        import os
        import pandas as pd

        def run(mini_batch):
            names = [os.path.basename(f) for f in mini_batch]
            return pd.DataFrame({"file": names, "length": [len(n) for n in names]})
        """,
    )
    out = tmp_path / "out"
    result = run_driver(
        pkg, tmp_path, "--input", data, "--output", out, "--entry-script", entry,
        "--mini-batch-size", "3", "--max-concurrency", "2", "--output-file-name", "scores.csv",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    lines = (out / "scores.csv").read_text().splitlines()
    assert lines == [f"f{i}.txt,6" for i in range(1, 7)] + ["g7.txt,6"]
    assert summary(result)["succeeded_items"] == 7


def test_summary_only_leaves_output_to_the_script(pkg: Path, data: Path, tmp_path: Path) -> None:
    entry = script(
        tmp_path,
        """
        import os

        def run(mini_batch):
            folder = os.environ["AZUREML_BI_OUTPUT_PATH"]
            for f in mini_batch:
                with open(os.path.join(folder, os.path.basename(f) + ".out"), "w") as fh:
                    fh.write(open(f).read().upper())
            return mini_batch
        """,
    )
    out = tmp_path / "out"
    result = run_driver(
        pkg, tmp_path, "--input", data, "--output", out, "--entry-script", entry,
        "--output-action", "summary_only",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in out.iterdir()) == [f"f{i}.txt.out" for i in range(1, 7)] + [
        "g7.txt.out"
    ]
    assert (out / "f3.txt.out").read_text() == "VALUE 3\n"
    assert summary(result)["output"] is None
    assert summary(result)["succeeded_items"] == 7


FAILING = """
import os

def run(mini_batch):
    if any(os.path.basename(f) == "f3.txt" for f in mini_batch):
        raise ValueError("cannot score f3")
    return [os.path.basename(f) for f in mini_batch]
"""


def test_failing_mini_batch_is_retried_then_counted(pkg: Path, data: Path, tmp_path: Path) -> None:
    entry = script(tmp_path, FAILING)
    out = tmp_path / "out"
    result = run_driver(
        pkg, tmp_path, "--input", data, "--output", out, "--entry-script", entry,
        "--mini-batch-size", "2", "--max-retries", "2",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    for attempt in (1, 2, 3):
        assert f"mini-batch 2/4 (files: f3.txt, f4.txt) attempt {attempt}/3 failed" in result.stderr
    assert "ValueError: cannot score f3" in result.stderr
    assert 'score.py", line' in result.stderr, "the traceback points into the user's script"
    assert (out / "predictions.csv").read_text().split() == [
        "f1.txt", "f2.txt", "f5.txt", "f6.txt", "g7.txt"
    ]  # fmt: skip
    assert summary(result)["failed_files"] == 2
    assert summary(result)["failed_mini_batches"] == 1


def test_error_threshold_stops_the_job(pkg: Path, data: Path, tmp_path: Path) -> None:
    entry = script(tmp_path, FAILING)
    result = run_driver(
        pkg, tmp_path, "--input", data, "--output", tmp_path / "out", "--entry-script", entry,
        "--mini-batch-size", "2", "--max-retries", "0", "--error-threshold", "1",
    )  # fmt: skip
    assert result.returncode == 1
    assert "error_threshold 1 exceeded: 2 files failed" in result.stderr
    assert summary(result)["error"] == "error_threshold 1 exceeded: 2 files failed"
    assert summary(result)["mini_batches"] == 4


def test_timeout_kills_a_hung_mini_batch_and_replaces_the_worker(
    pkg: Path, data: Path, tmp_path: Path
) -> None:
    entry = script(
        tmp_path,
        """
        import os, time

        HERE = os.path.dirname(os.path.abspath(__file__))

        def init():
            with open(os.path.join(HERE, "inits.log"), "a") as fh:
                fh.write(f"{os.getpid()}\\n")

        def run(mini_batch):
            marker = os.path.join(HERE, "hung-once")
            if any(f.endswith("f3.txt") for f in mini_batch) and not os.path.exists(marker):
                open(marker, "w").close()
                time.sleep(60)
            return [os.path.basename(f) for f in mini_batch]
        """,
    )
    out = tmp_path / "out"
    result = run_driver(
        pkg, tmp_path, "--input", data, "--output", out, "--entry-script", entry,
        "--mini-batch-size", "2", "--timeout", "1.5",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "attempt 1/4 failed on worker 1: timed out after 1.5 s" in result.stderr
    inits = (tmp_path / "code" / "inits.log").read_text().split()
    assert len(set(inits)) == 2, "the killed worker is replaced by a new one that runs init()"
    assert (out / "predictions.csv").read_text().split() == [
        "f1.txt", "f2.txt", "f3.txt", "f4.txt", "f5.txt", "f6.txt", "g7.txt"
    ]  # fmt: skip
    assert summary(result)["failed_files"] == 0


def test_init_failure_fails_the_job(pkg: Path, data: Path, tmp_path: Path) -> None:
    entry = script(
        tmp_path,
        """
        def init():
            raise FileNotFoundError("model.pkl is missing")

        def run(mini_batch):
            return mini_batch
        """,
    )
    result = run_driver(
        pkg, tmp_path, "--input", data, "--output", tmp_path / "out", "--entry-script", entry
    )
    assert result.returncode == 1
    assert "init() failed in worker 1:" in result.stderr
    assert "FileNotFoundError: model.pkl is missing" in result.stderr
    assert summary(result)["error"] == (
        "init() failed in worker 1: FileNotFoundError: model.pkl is missing"
    )


MAKE_MODEL = """
import sys
import pandas as pd
import mlflow.sklearn
from sklearn.linear_model import LinearRegression

X = pd.DataFrame({"a": [0.0, 1.0, 2.0, 3.0], "b": [1.0, 0.0, 1.0, 0.0]})
model = LinearRegression().fit(X, 2 * X["a"] + X["b"])
mlflow.sklearn.save_model(model, sys.argv[1], pip_requirements=["scikit-learn"])
try:
    pd.DataFrame({"a": [10.0], "b": [0.0]}).to_parquet(sys.argv[2])
except ImportError:  # no parquet engine in this venv: the parquet case is skipped
    pass
"""


def test_mlflow_model_scores_tabular_files_without_a_script(pkg: Path, tmp_path: Path) -> None:
    model_root, data = tmp_path / "model", tmp_path / "data"
    data.mkdir()
    (data / "a.csv").write_text("a,b\n1,1\n2,0\n")
    (data / "b.csv").write_text("a,b\n5,1\n")
    (data / "notes.txt").write_text("not a table\n")
    subprocess.run(
        [sys.executable, "-c", MAKE_MODEL, model_root / "sklearn-model", data / "c.parquet"],
        check=True,
        capture_output=True,
        timeout=120,
    )
    expected = ["file,row,prediction", "a.csv,0,3.0", "a.csv,1,4.0", "b.csv,0,11.0"]
    if (data / "c.parquet").exists():
        expected.append("c.parquet,0,20.0")
    out = tmp_path / "out"
    result = run_driver(
        pkg, tmp_path, "--input", data, "--output", out, "--model-dir", model_root,
        "--mini-batch-size", "2",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    lines = (out / "predictions.csv").read_text().splitlines()
    assert lines[0] == expected[0]
    rounded = [
        ",".join([*ln.split(",")[:2], str(round(float(ln.split(",")[2]), 6))]) for ln in lines[1:]
    ]
    assert rounded == expected[1:]
    assert "file notes.txt failed: ValueError: unsupported file type '.txt'" in result.stderr
    assert summary(result)["failed_files"] == 1
    assert summary(result)["succeeded_items"] == len(expected) - 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--input", "missing-folder", "--entry-script", "score.py"], "input path missing-folder"),
        (["--input", "data", "--entry-script", "nope.py"], "entry script nope.py does not exist"),
        (["--input", "data", "--model-dir", "data"], "holds no MLflow model"),
        (["--input", "data"], "give --entry-script"),
        (["--input", "data", "--entry-script", "score.py", "--mini-batch-size", "0"], ">= 1"),
    ],
)
def test_bad_arguments_exit_2(
    pkg: Path, data: Path, tmp_path: Path, args: list[str], message: str
) -> None:
    (tmp_path / "score.py").write_text("def run(mini_batch):\n    return mini_batch\n")
    result = run_driver(pkg, tmp_path, "--output", "out", *args)
    assert result.returncode == 2
    assert message in result.stderr
