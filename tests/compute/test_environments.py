"""Job environments: real virtualenvs built by uv from PyPI, cached by key, built once."""

from __future__ import annotations

import fcntl
import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from forgeml.compute.environments import (
    READY_MARKER,
    EnvironmentBuildError,
    EnvironmentCache,
    conda_requirement,
    environment_key,
    python_request,
    requirements,
)
from forgeml.core.specs import Environment

SIX = "six==1.16.0"


def conda_env(*pip: str, python: str = "3.11", extra: tuple[str, ...] = ()) -> Environment:
    deps: list[object] = [f"python={python}", "pip", *extra]
    if pip:
        deps.append({"pip": list(pip)})
    return Environment(image="python:3.11", conda_file={"dependencies": deps})


def run_in(python: Path, code: str) -> str:
    done = subprocess.run(
        [str(python), "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    return done.stdout.strip()


def test_a_conda_pip_section_becomes_a_venv_with_the_pinned_package(tmp_path: Path) -> None:
    cache = EnvironmentCache(tmp_path / "envs")
    lines: list[str] = []
    env = conda_env(SIX)
    realized = cache.realize(env, log=lines.append)

    assert realized.built
    assert realized.venv == tmp_path.resolve() / "envs" / environment_key(env)
    out = run_in(realized.python, "import sys, six; print(sys.prefix); print(six.__version__)")
    assert out.splitlines() == [str(realized.venv), "1.16.0"]
    # pip is there too, so that `pip install` in a command lands in the job's venv
    assert (realized.venv / "bin" / "pip").exists()
    assert any("six==1.16.0" in line for line in lines)  # uv's own output reaches the log
    assert realized.warnings == ()


def test_the_second_realization_reuses_the_cached_venv(tmp_path: Path) -> None:
    cache = EnvironmentCache(tmp_path / "envs")
    env = conda_env(SIX)
    first = cache.realize(env)
    marker = first.venv / READY_MARKER  # type: ignore[operator]
    stamp = marker.stat().st_mtime_ns

    lines: list[str] = []
    started = time.monotonic()
    again = EnvironmentCache(tmp_path / "envs").realize(env, log=lines.append)
    assert time.monotonic() - started < 0.5
    assert not again.built and again.python == first.python
    assert marker.stat().st_mtime_ns == stamp
    assert lines == [f"environment {again.key[:12]} is cached at {again.venv}; reusing it"]


def test_name_and_version_do_not_change_the_key_but_the_packages_do() -> None:
    a = conda_env(SIX)
    b = a.model_copy(update={"name": "other", "version": "7", "tags": {"t": "1"}})
    assert environment_key(a) == environment_key(b)
    assert environment_key(a) != environment_key(conda_env("six==1.15.0"))


_CONCURRENT = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    from forgeml.compute.environments import EnvironmentCache
    from forgeml.core.specs import Environment

    env = Environment(image="python:3.11", conda_file={"dependencies": [{"pip": ["six==1.16.0"]}]})
    lines = []

    def log(line):
        lines.append(line)
        print(json.dumps({"line": line}), flush=True)

    realized = EnvironmentCache(Path(sys.argv[1])).realize(env, log=log)
    print(json.dumps({"built": realized.built, "python": str(realized.python), "lines": lines}))
    """
)


def test_two_jobs_needing_the_same_new_environment_build_it_once(tmp_path: Path) -> None:
    script = tmp_path / "realize.py"
    script.write_text(_CONCURRENT)
    envs = tmp_path / "envs"
    envs.mkdir()
    key = environment_key(
        Environment(image="python:3.11", conda_file={"dependencies": [{"pip": [SIX]}]})
    )
    # hold the build lock until both jobs are waiting on it, so that they surely race
    with (envs / f"{key}.lock").open("a+") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        procs = [
            subprocess.Popen(
                [sys.executable, str(script), str(envs)],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(2)
        ]
        for proc in procs:
            assert proc.stdout is not None
            first = json.loads(proc.stdout.readline())
            assert first["line"].startswith("another job is building environment")
        fcntl.flock(held, fcntl.LOCK_UN)
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=240)
        assert proc.returncode == 0, err
        results.append(json.loads(out.splitlines()[-1]))

    assert sorted(r["built"] for r in results) == [False, True]
    assert results[0]["python"] == results[1]["python"]
    builder = next(r for r in results if r["built"])
    waiter = next(r for r in results if not r["built"])
    assert sum(line.startswith("building environment") for line in builder["lines"]) == 1
    assert not any(line.startswith("building environment") for line in waiter["lines"])
    assert "was built by another job; reusing it" in waiter["lines"][-1]
    assert len(list(envs.glob("*/bin/python"))) == 1


def test_a_failed_build_shows_the_installer_error_and_leaves_no_environment(
    tmp_path: Path,
) -> None:
    cache = EnvironmentCache(tmp_path / "envs")
    env = conda_env("forgeml-no-such-package-zzz==1.0")
    lines: list[str] = []
    with pytest.raises(EnvironmentBuildError) as caught:
        cache.realize(env, log=lines.append)

    message = caught.value.message
    assert "uv pip install exited with code" in message
    assert "forgeml-no-such-package-zzz" in message
    key = environment_key(env)
    assert cache.ready(key) is None
    assert not (tmp_path / "envs" / key).exists()
    # the next job tries again rather than trusting a broken folder
    with pytest.raises(EnvironmentBuildError):
        cache.realize(env)


def test_an_interrupted_build_is_redone(tmp_path: Path) -> None:
    cache = EnvironmentCache(tmp_path / "envs")
    env = conda_env(SIX)
    leftover = tmp_path / "envs" / environment_key(env)
    (leftover / "bin").mkdir(parents=True)
    (leftover / "bin" / "python").write_text("half a venv")

    lines: list[str] = []
    realized = cache.realize(env, log=lines.append)
    assert realized.built
    assert any("removing an unfinished build" in line for line in lines)
    assert run_in(realized.python, "import six; print(six.__version__)") == "1.16.0"


def test_an_image_only_environment_runs_on_the_workspace_python_with_a_warning(
    tmp_path: Path,
) -> None:
    cache = EnvironmentCache(tmp_path / "envs")
    env = Environment(image="mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04")
    realized = cache.realize(env)
    assert realized.venv is None
    assert realized.python == Path(sys.executable)
    assert realized.warnings == (
        "environment has only an image (mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04); "
        "no container runtime here, so the job ran on the workspace's Python",
    )
    assert not (tmp_path / "envs").exists()  # nothing built, nothing cached
    applied = realized.apply({"PATH": "/usr/bin"})
    assert applied["PATH"].split(":")[0] == str(Path(sys.executable).parent)


def test_a_build_context_requirements_file_is_installed(tmp_path: Path) -> None:
    env = Environment(build={"path": "forgeml://content/" + "a" * 64})
    asked: list[tuple[str, str]] = []

    def fetch(uri: str, name: str) -> str | None:
        asked.append((uri, name))
        return f"# pinned\n{SIX}\n"

    realized = EnvironmentCache(tmp_path / "envs").realize(env, fetch_build_file=fetch)
    assert asked == [("forgeml://content/" + "a" * 64, "requirements.txt")]
    assert run_in(realized.python, "import six; print(six.__version__)") == "1.16.0"

    bare = EnvironmentCache(tmp_path / "envs").realize(env, fetch_build_file=lambda u, n: None)
    assert bare.venv is None and "no requirements.txt" in bare.warnings[0]


def test_a_python_version_that_is_not_installed_falls_back_with_a_warning(
    tmp_path: Path,
) -> None:
    realized = EnvironmentCache(tmp_path / "envs").realize(conda_env(python="3.5"))
    host = ".".join(str(x) for x in sys.version_info[:3])
    assert run_in(realized.python, "import platform; print(platform.python_version())") == host
    assert realized.warnings and "asks for Python 3.5" in realized.warnings[0]


@pytest.mark.parametrize(
    ("conda", "pip"),
    [
        ("numpy", "numpy"),
        ("numpy=1.26", "numpy==1.26.*"),
        ("numpy=1.26.4", "numpy==1.26.4"),
        ("numpy=1.26.4=py311h64a7726_0", "numpy==1.26.4"),
        ("numpy>=1.26", "numpy>=1.26"),
        ("conda-forge::scikit-learn==1.5.2", "scikit-learn==1.5.2"),
        ("pytorch=2.13", "torch==2.13.*"),
        ("numpy 1.26.*", "numpy==1.26.*"),
        ("pip", None),
        ("python=3.11", None),
        ("cudatoolkit=11.8", None),
    ],
)
def test_conda_packages_are_asked_of_pypi(conda: str, pip: str | None) -> None:
    assert conda_requirement(conda) == pip


def test_requirements_and_python_version_of_a_conda_file() -> None:
    env = conda_env(
        "mlflow-skinny",
        "--extra-index-url https://example.invalid/simple",
        python="3.10",
        extra=("scipy=1.11",),
    )
    assert requirements(env, "six\n# note\n\n") == [
        "scipy==1.11.*",
        "mlflow-skinny",
        "--extra-index-url https://example.invalid/simple",
        "six",
    ]
    assert python_request(env) == "3.10"
    assert python_request(conda_env(python="3.10.4")) == "3.10.4"
    ranged = Environment(image="x", conda_file={"dependencies": ["python>=3.8"]})
    assert python_request(ranged) is None
