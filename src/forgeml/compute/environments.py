"""Job environments realised as cached virtual environments, built once with uv.

An environment spec (a conda file's Python version, conda and pip packages, or a build context's
`requirements.txt`) becomes a virtualenv under `<cache>/<key>/`, where the key is the sha256 of
the spec. The first job that needs it builds it while holding an exclusive `flock` on
`<cache>/<key>.lock`; a marker file written atomically last says the build is whole, so a later
job (or one that waited on the lock) reuses it at once, and a build that failed or was killed
leaves no marker and is redone from scratch next time. An environment with only an `image`
cannot be honoured without a container runtime: it runs on the workspace's own interpreter, with
a warning for the job. Nothing is added to what the spec asks for (no implicit `mlflow`): the
curated environments already list `mlflow-skinny`, as Azure ML's curated images ship mlflow.
"""

from __future__ import annotations

import configparser
import contextlib
import fcntl
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from forgeml.core.errors import SpecError, UserError
from forgeml.core.specs import Environment
from forgeml.core.specs.job import environment_key

ENV_CACHE_VAR = "FORGEML_ENV_CACHE"
READY_MARKER = ".forgeml-ready.json"
REQUIREMENTS_FILE = ".forgeml-requirements.txt"
_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}$")

Log = Callable[[str], None]
#: (build context URI, file name) -> the file's text, or None when the context lacks it
FetchBuildFile = Callable[[str, str], "str | None"]

# conda packages with no PyPI counterpart (toolchains, system libraries) are skipped; a few
# others are published on PyPI under another name
_CONDA_SKIP = frozenset(
    {
        "python",
        "pip",
        "cudatoolkit",
        "cuda-toolkit",
        "cudnn",
        "nccl",
        "cpuonly",
        "pytorch-cuda",
        "mkl",
        "mkl-service",
        "blas",
        "libblas",
        "openblas",
        "libgcc",
        "libgcc-ng",
        "libstdcxx-ng",
        "_libgcc_mutex",
        "openssl",
        "ca-certificates",
        "certifi",
        "gxx_linux-64",
        "gcc_linux-64",
        "make",
        "cmake",
        "git",
        "conda",
    }
)
_CONDA_TO_PYPI = {
    "pytorch": "torch",
    "py-xgboost": "xgboost",
    "py-lightgbm": "lightgbm",
    "matplotlib-base": "matplotlib",
    "pytorch-lightning": "lightning",
}


class EnvironmentBuildError(UserError):
    """uv could not build the environment; the message carries the installer's own words."""


def default_cache_root() -> Path:
    """`FORGEML_ENV_CACHE`, else `FORGEML_HOME/envs` (`~/.forgeml/envs`)."""
    explicit = os.environ.get(ENV_CACHE_VAR)
    if explicit:
        return Path(explicit).expanduser()
    home = os.environ.get("FORGEML_HOME")
    return (Path(home) if home else Path.home() / ".forgeml").expanduser() / "envs"


def find_uv() -> str:
    import uv

    return str(uv.find_uv_bin())


def conda_requirement(dep: str) -> str | None:
    """A conda match spec (`numpy=1.26`, `conda-forge::scipy>=1.11`) as a pip requirement."""
    text = dep.strip().split("::")[-1].strip()
    match = re.match(r"^([A-Za-z0-9_.\-]+)\s*(.*)$", text)
    if not match:
        return None
    name, spec = match.group(1).lower(), match.group(2).strip()
    if name in _CONDA_SKIP or name.startswith("_"):
        return None
    name = _CONDA_TO_PYPI.get(name, name)
    if not spec:
        return name
    if spec[0] == "=" and not spec.startswith("=="):
        # conda's single `=` is a prefix match; a second `=` starts a build string
        version = spec[1:].split("=")[0]
        if "*" not in version and version.count(".") < 2:
            version += ".*"
        return f"{name}=={version}"
    if spec[0].isdigit():  # `numpy 1.26.*`
        return f"{name}=={spec.split()[0]}"
    return f"{name}{spec.split()[0]}"


def requirements(env: Environment, build_requirements: str | None = None) -> list[str]:
    """Every requirement line an environment asks for: conda packages, pip section, build."""
    reqs: list[str] = []
    conda = env.conda_file if isinstance(env.conda_file, dict) else None
    for dep in (conda or {}).get("dependencies") or []:
        if isinstance(dep, str):
            converted = conda_requirement(dep)
            if converted:
                reqs.append(converted)
        elif isinstance(dep, dict) and isinstance(dep.get("pip"), list):
            reqs.extend(str(x).strip() for x in dep["pip"] if str(x).strip())
    if build_requirements:
        for line in build_requirements.splitlines():
            line = line.strip()
            if line and not line.startswith("#"):
                reqs.append(line)
    return reqs


def python_request(env: Environment) -> str | None:
    """The Python version a conda file pins (`python=3.10` -> "3.10"), if any."""
    conda = env.conda_file if isinstance(env.conda_file, dict) else None
    for dep in (conda or {}).get("dependencies") or []:
        if isinstance(dep, str):
            # only an exact pin picks an interpreter; a range is met by the host's
            match = re.match(r"^\s*python\s*(?:==?|\s)\s*([0-9][0-9.]*)\*?\s*$", dep)
            if match:
                return match.group(1).rstrip(".")
    return None


def pip_find_links() -> list[str]:
    """pip's `find-links` from its environment and config files, so uv sees the same wheels."""
    found: list[str] = []
    if os.environ.get("PIP_FIND_LINKS"):
        found.extend(os.environ["PIP_FIND_LINKS"].split())
    files = [
        "/etc/pip.conf",
        "/etc/xdg/pip/pip.conf",
        str(Path.home() / ".config/pip/pip.conf"),
        str(Path.home() / ".pip/pip.conf"),
    ]
    if os.environ.get("PIP_CONFIG_FILE"):
        files.append(os.environ["PIP_CONFIG_FILE"])
    for name in files:
        parser = configparser.ConfigParser(interpolation=None)
        with contextlib.suppress(OSError, configparser.Error):
            parser.read(name)
            for section in ("global", "install"):
                if parser.has_option(section, "find-links"):
                    found.extend(parser.get(section, "find-links").split())
    return list(dict.fromkeys(found))


@dataclass(frozen=True)
class RealizedEnvironment:
    """Where a job's Python lives and what to tell the job about it."""

    key: str
    python: Path
    venv: Path | None
    warnings: tuple[str, ...] = ()
    built: bool = False

    @property
    def bin_dir(self) -> Path:
        return self.venv / "bin" if self.venv else self.python.parent

    def apply(self, env: dict[str, str]) -> dict[str, str]:
        """The process environment of a command that runs in this environment."""
        out = dict(env)
        out["PATH"] = os.pathsep.join([str(self.bin_dir), env.get("PATH", os.defpath)])
        out.pop("PYTHONHOME", None)
        out.pop("VIRTUAL_ENV", None)
        if self.venv:
            out["VIRTUAL_ENV"] = str(self.venv)
        elif sys.prefix != sys.base_prefix:
            out["VIRTUAL_ENV"] = sys.prefix
        return out


class EnvironmentCache:
    """Realises environments as virtualenvs under one cache folder."""

    def __init__(self, root: Path | None = None, *, uv: str | None = None) -> None:
        self.root = (root or default_cache_root()).expanduser().resolve()
        self._uv = uv

    @property
    def uv(self) -> str:
        if self._uv is None:
            self._uv = find_uv()
        return self._uv

    def path(self, key: str) -> Path:
        if not _KEY.match(key):
            raise SpecError(f"'{key}' is not a valid environment key.", field="environment_key")
        return self.root / key

    def ready(self, key: str) -> RealizedEnvironment | None:
        """The environment if a whole build of it is cached, else None."""
        venv = self.path(key)
        try:
            info = json.loads((venv / READY_MARKER).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        python = venv / "bin" / "python"
        if not python.exists():
            return None
        return RealizedEnvironment(key, python, venv, tuple(info.get("warnings") or ()))

    def realize(
        self,
        env: Environment,
        key: str | None = None,
        *,
        log: Log | None = None,
        fetch_build_file: FetchBuildFile | None = None,
    ) -> RealizedEnvironment:
        """The environment ready to run in: from the cache, or built now (once, under a lock)."""
        key = key or environment_key(env)
        say: Log = log or (lambda _line: None)
        build_reqs = None
        if env.build is not None and fetch_build_file is not None:
            build_reqs = fetch_build_file(env.build.path, "requirements.txt")
        if env.conda_file is None and build_reqs is None:
            return self._host(env, key, say)
        cached = self.ready(key)
        if cached is not None:
            say(f"environment {key[:12]} is cached at {cached.venv}; reusing it")
            return cached
        self.root.mkdir(parents=True, exist_ok=True)
        with self._locked(key, say):
            cached = self.ready(key)  # another job may have built it while we waited
            if cached is not None:
                say(f"environment {key[:12]} was built by another job; reusing it")
                return cached
            return self._build(env, key, requirements(env, build_reqs), say)

    # -------------------------------------------------------------------------- internals

    def _host(self, env: Environment, key: str, say: Log) -> RealizedEnvironment:
        if env.build is not None:
            what = f"a build context ({env.build.path}) with no requirements.txt"
        else:
            what = f"only an image ({env.image})"
        warning = (
            f"environment has {what}; no container runtime here, so the job ran on the "
            "workspace's Python"
        )
        say(warning)
        return RealizedEnvironment(key, Path(sys.executable), None, (warning,))

    @contextlib.contextmanager
    def _locked(self, key: str, say: Log) -> Iterator[None]:
        lock_path = self.root / f"{key}.lock"
        with lock_path.open("a+") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                say(f"another job is building environment {key[:12]}; waiting for it")
                fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _build(self, env: Environment, key: str, reqs: list[str], say: Log) -> RealizedEnvironment:
        venv = self.path(key)
        if venv.exists():  # the remains of a build that failed or was killed
            say(f"removing an unfinished build of environment {key[:12]}")
            shutil.rmtree(venv)
        started = time.monotonic()
        warnings: list[str] = []
        python = self._base_python(python_request(env), say, warnings)
        say(f"building environment {key[:12]} at {venv} with uv (Python {python[1]})")
        try:
            self._run([self.uv, "venv", "--seed", "--python", python[0], str(venv)], say)
            if reqs:
                req_file = venv / REQUIREMENTS_FILE
                req_file.write_text("\n".join(reqs) + "\n", encoding="utf-8")
                say("installing: " + ", ".join(reqs))
                cmd = [self.uv, "pip", "install", "--python", str(venv / "bin" / "python")]
                for link in pip_find_links():
                    cmd += ["--find-links", link]
                self._run([*cmd, "-r", str(req_file)], say)
        except BaseException:
            # no marker is written, and the half-built folder goes now or on the next try
            shutil.rmtree(venv, ignore_errors=True)
            raise
        marker = {"key": key, "requirements": reqs, "python": python[1], "warnings": warnings}
        tmp = venv / f"{READY_MARKER}.tmp"
        tmp.write_text(json.dumps(marker), encoding="utf-8")
        os.replace(tmp, venv / READY_MARKER)
        say(f"environment {key[:12]} ready in {time.monotonic() - started:.1f} s")
        return RealizedEnvironment(key, venv / "bin" / "python", venv, tuple(warnings), True)

    def _base_python(self, wanted: str | None, say: Log, warnings: list[str]) -> tuple[str, str]:
        """The interpreter to base the venv on, and its version: the one asked for, if present."""
        host = ".".join(str(x) for x in sys.version_info[:3])
        if not wanted or host == wanted or host.startswith(wanted + "."):
            return sys.executable, host
        done = subprocess.run(
            [self.uv, "python", "find", "--no-python-downloads", wanted],
            capture_output=True,
            text=True,
            check=False,
            env={**os.environ, "NO_COLOR": "1"},
        )
        path = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""
        if done.returncode == 0 and path:
            return path, wanted
        warning = (
            f"the environment asks for Python {wanted}, which is not installed here (uv python "
            f"install {wanted} adds it); the job ran on Python {host}"
        )
        say(warning)
        warnings.append(warning)
        return sys.executable, host

    def _run(self, cmd: list[str], say: Log) -> None:
        env = {**os.environ, "NO_COLOR": "1", "UV_NO_PROGRESS": "1"}
        env.pop("VIRTUAL_ENV", None)
        tail: deque[str] = deque(maxlen=40)
        with subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env
        ) as proc:
            try:
                assert proc.stdout is not None
                _pump(proc.stdout, say, tail)
                code = proc.wait()
            except BaseException:
                # a cancel (signal) lands here: the build must not outlive the job
                proc.kill()
                raise
        if code != 0:
            step = "uv pip install" if cmd[1] == "pip" else f"uv {cmd[1]}"
            raise EnvironmentBuildError(
                f"the environment could not be built: {step} exited with code {code}:\n"
                + "\n".join(tail)
            )


def _pump(stream: IO[bytes], say: Log, tail: deque[str]) -> None:
    for raw in stream:
        line = raw.decode("utf-8", "replace").rstrip()
        if line:
            tail.append(line)
            say(line)


__all__ = [
    "ENV_CACHE_VAR",
    "EnvironmentBuildError",
    "EnvironmentCache",
    "RealizedEnvironment",
    "default_cache_root",
    "environment_key",
    "requirements",
]
