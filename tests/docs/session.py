"""Running a document's code the way a reader would, in a scratch folder with a copy of samples/.

A document gets its own workspace (`forgeml up` on a free port) and a shell-like session: `export`
and `cd` change the session, `forgeml ...` runs the real executable, `ls`/`cat`/`mkdir`/`cp` run
as such, and `make <target>` checks that the Makefile has the target (`make test` would run this
very suite). Anything else is refused, so documents stay simple enough to be tested.

What a reader's machine has and a test machine cannot share is substituted, in the code only:
`127.0.0.1:8080` (the default address) becomes the document's workspace; a port that a document
gives `forgeml up` (`--port P` or `FORGEML_PORT=P`) becomes a free port, and so does one that
FORGEML_URL names without a server behind it; a PostgreSQL URL becomes
a fresh database on the test server; an `s3://` bucket and `FORGEML_S3_ENDPOINT_URL` become the
test's S3-compatible server. A `forgeml up` command starts a server in the background and waits
until it answers; it is stopped when the document ends. `ray start` runs the project's Ray with a
temp folder of the document's own (its ports, too, become free ones), and `ray stop` stops only
that cluster, as does the end of the document. In python blocks, warnings that mlflow
raises about itself are ignored; any other warning fails the test, as everywhere.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from tests.cli.live import REPO, Server, clean_env, forgeml_executable, free_port, start_server
from tests.docs.markdown import (
    RUNNABLE,
    SHOWN_ONLY,
    Block,
    Command,
    bash_commands,
    console_commands,
    output_matches,
)

PG_URL = re.compile(r"postgres(?:ql)?://[^\s'\"`]+")
S3_BUCKET = re.compile(r"s3://([a-z0-9][a-z0-9.\-]+)")
S3_ENDPOINT = re.compile(r"(FORGEML_S3_ENDPOINT_URL=)(\S+)")
UP_PORT = re.compile(r"(?:--port[ =]|FORGEML_PORT=)(\d+)")
CLIENT_PORT = re.compile(r"FORGEML_URL=http://127\.0\.0\.1:(\d+)")
#: the ports a document gives `ray start` besides `--port`: each becomes a free port
RAY_PORT = re.compile(r"--(?:dashboard-port|ray-client-server-port)[ =](\d+)")
PLAIN_COMMANDS = ("ls", "cat", "mkdir", "cp")
#: what third-party libraries warn about themselves (mlflow about its own type hints on import)
#: is not a document's to fix; forgeml's warnings and the document's own still fail the test
THIRD_PARTY_WARNINGS = r"mlflow(\.|$)"

# MLflow 3 reports usage to its makers unless told not to: nothing leaves this machine (the
# workspaces the documents start, and the jobs and scripts they run, inherit this)
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "true")


def runnable_text(blocks: list[Block]) -> str:
    return "\n".join(b.text for b in blocks if b.lang in RUNNABLE)


class DocSession:
    def __init__(
        self,
        doc: Path,
        root: Path,
        server: Server,
        *,
        pg_database: Callable[[], str] | None = None,
        s3: tuple[str, str] | None = None,
    ) -> None:
        self.doc = doc
        self.cwd = root / "work"
        self.cwd.mkdir(parents=True)
        _copy_samples(self.cwd / "samples")
        self.root = root
        self.env = clean_env(FORGEML_URL=server.url, FORGEML_HOME=str(root / "default-home"))
        self.server = server
        self.pg_database = pg_database
        self.s3 = s3  # (endpoint, bucket)
        self.subs: list[tuple[re.Pattern[str], Callable[[re.Match[str]], str]]] = []
        self.started: list[Server] = []
        self.namespace: dict[str, Any] = {"__name__": "__main__"}
        self.ray_temp: Path | None = None

    # ---------------------------------------------------------------- substitutions
    def prepare(self, blocks: list[Block]) -> None:
        text = runnable_text(blocks)
        port = self.server.url.rsplit(":", 1)[1]
        self._sub(r"(?:127\.0\.0\.1|localhost):8080\b", lambda m: f"127.0.0.1:{port}")
        for up_port in dict.fromkeys(UP_PORT.findall(text) + RAY_PORT.findall(text)):
            new = str(free_port())
            self._sub(
                rf"((?:127\.0\.0\.1|localhost):|--(?:[a-z-]+-)?port[ =]|FORGEML_PORT=){up_port}\b",
                lambda m, new=new: f"{m[1]}{new}",
            )
        # a workspace a document only points at (to show what happens when none answers)
        up_ports = set(UP_PORT.findall(text)) | {"8080"}
        for url_port in dict.fromkeys(CLIENT_PORT.findall(text)):
            if url_port not in up_ports:
                new = str(free_port())
                self._sub(rf"(127\.0\.0\.1:){url_port}\b", lambda m, new=new: f"{m[1]}{new}")
        databases: dict[str, str] = {}
        for url in dict.fromkeys(PG_URL.findall(text)):
            assert self.pg_database is not None, f"{self.doc} uses PostgreSQL: mark it"
            databases[url] = self.pg_database()
        if databases:
            self._sub(PG_URL.pattern, lambda m: databases.get(m[0], m[0]))
        if self.s3 is not None:
            endpoint, bucket = self.s3
            self._sub(S3_BUCKET.pattern, lambda m: f"s3://{bucket}")
            self._sub(S3_ENDPOINT.pattern, lambda m: f"{m[1]}{endpoint}")

    def _sub(self, pattern: str, repl: Callable[[re.Match[str]], str]) -> None:
        self.subs.append((re.compile(pattern), repl))

    def substitute(self, text: str) -> str:
        for pattern, repl in self.subs:
            text = pattern.sub(repl, text)
        return text

    # ------------------------------------------------------------------------- run
    def run_block(self, block: Block) -> None:
        where = f"{self.doc.name} {block.where}"
        if block.lang == "console":
            for cmd in console_commands(block.text):
                self.run_command(cmd, where)
        elif block.lang == "bash":
            for cmd in bash_commands(block.text):
                self.run_command(cmd, where)
        elif block.lang == "python":
            self.run_python(block, where)
        elif block.lang == "yaml":
            self.yaml_block(block, where)
        elif block.lang == "json":
            import json

            json.loads(block.text)
        elif block.lang not in SHOWN_ONLY:
            raise AssertionError(
                f"{where}: the docs tests cannot run a '{block.lang or 'plain'}' block; use one "
                f"of {', '.join(RUNNABLE + SHOWN_ONLY)}"
            )

    def yaml_block(self, block: Block, where: str) -> None:
        YAML(typ="safe").load(block.text)
        first, _, rest = block.text.partition("\n")
        match = re.match(r"^#\s*([\w./\-]+)\s*$", first)
        if not match:
            return
        target = self.cwd / match[1]
        if target.exists():
            assert rest == target.read_text(encoding="utf-8"), (
                f"{where} shows {match[1]}, but the file's content differs; copy it again"
            )
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            # a file the reader writes holds addresses of their machine, too
            target.write_text(self.substitute(block.text), encoding="utf-8")

    def run_python(self, block: Block, where: str) -> None:
        source = self.substitute(block.text)
        saved_env, saved_cwd = dict(os.environ), os.getcwd()
        os.environ.clear()
        os.environ.update(self.env)
        os.chdir(self.cwd)
        try:
            code = compile("\n" * (block.line) + source, f"{self.doc.name}", "exec")
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", module=THIRD_PARTY_WARNINGS)
                exec(code, self.namespace)
        finally:
            os.chdir(saved_cwd)
            os.environ.clear()
            os.environ.update(saved_env)

    def run_command(self, cmd: Command, where: str) -> None:
        text = self.substitute(cmd.text)
        argv = shlex.split(text.replace("\\\n", " "))
        assert argv, f"{where}: an empty command"
        head = argv[0]
        if head == "export":
            for pair in argv[1:]:
                key, _, value = pair.partition("=")
                self.env[key] = os.path.expandvars(value)
            return
        if head == "cd":
            self.cwd = (self.cwd / argv[1]).resolve()
            return
        if head == "make":
            targets = re.findall(r"^([\w-]+):", (REPO / "Makefile").read_text(), re.MULTILINE)
            for target in argv[1:]:
                assert target in targets, f"{where}: the Makefile has no target '{target}'"
            return
        if head == "forgeml" and argv[1:2] == ["up"]:
            self.start(argv[2:], where)
            return
        if head == "ray":
            if argv[1:2] == ["stop"]:
                self.stop_ray()  # only this document's cluster, not every Ray of the machine
                return
            argv[0] = str(Path(sys.executable).with_name("ray"))
        elif head == "forgeml":
            argv[0] = forgeml_executable()
        elif head not in PLAIN_COMMANDS:
            raise AssertionError(f"{where}: the docs tests do not run '{head}' commands")
        env = self.env if head != "ray" else self.ray_env()
        done = subprocess.run(
            argv, cwd=self.cwd, env=env, capture_output=True, text=True, timeout=180
        )
        shown = done.stdout + done.stderr
        if cmd.must_fail:
            assert done.returncode != 0, f"{where}: `{text}` should have failed:\n{shown}"
        else:
            assert done.returncode == 0, f"{where}: `{text}` failed:\n{shown}"
        missing = output_matches([self.substitute(x) for x in cmd.expected], shown)
        assert missing is None, (
            f"{where}: `{text}` did not print a line like\n  {missing}\nIt printed:\n{shown}"
        )

    def start(self, args: list[str], where: str) -> None:
        given = re.search(r"--port[ =](\d+)", " ".join(args))
        if given:
            port = int(given[1])
        elif "FORGEML_PORT" in self.env:
            port = int(self.env["FORGEML_PORT"])
        else:  # the default port is the reader's, not ours
            port = free_port()
            args = [*args, "--port", str(port)]
        try:
            server = start_server(
                args,
                port=port,
                log=self.root / f"up-{port}.log",
                env=self.env,
                cwd=self.cwd,
            )
        except RuntimeError as exc:
            raise AssertionError(f"{where}: {exc}") from None
        self.started.append(server)

    def ray_env(self) -> dict[str, str]:
        """A `ray start` of the document's: its own short temp folder (socket paths are short),
        and this virtualenv first on PATH, so the nodes' `python` has forgeml."""
        if self.ray_temp is None:
            self.ray_temp = Path(tempfile.mkdtemp(prefix="dray", dir="/tmp"))
        env = {k: v for k, v in self.env.items() if not k.startswith("RAY_")}
        env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
        env["RAY_TMPDIR"] = str(self.ray_temp)
        return env

    def stop_ray(self) -> None:
        if self.ray_temp is None:
            return
        from tests.ray.conftest import stop_ray

        stop_ray(self.ray_temp)
        shutil.rmtree(self.ray_temp, ignore_errors=True)
        self.ray_temp = None

    def close(self) -> None:
        self.stop_ray()
        for server in self.started:
            server.stop()


def _copy_samples(target: Path) -> None:
    import shutil

    shutil.copytree(REPO / "samples", target, ignore=shutil.ignore_patterns("__pycache__"))
