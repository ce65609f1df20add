"""The online scoring host: one deployment's scoring code behind HTTP, in its own environment.

``python -m forgeml_scoring.online --bind HOST:PORT|unix:/path.sock --ready-file PATH
[--entry-script PATH] [--model-dir DIR] [--max-concurrent-requests N] [--name LABEL]`` loads the
scorer (a custom entry script's ``init()``, or an MLflow model with no script) before it binds;
if that fails it prints ``init() failed: <ExcType>: <message>`` and the traceback to stderr and
exits 3. Then it binds (port 0 picks a free port), writes ``{"address", "pid"}`` to the ready
file atomically and prints ``scoring host ready on <address>``. It serves ``GET /``,
``/liveness``, ``/readiness``, ``/swagger.json`` and ``POST /score`` with ``http.server`` on a
thread per connection (HTTP/1.1 keep-alive, TCP_NODELAY, no access log: the router logs
requests), lets at most N requests score at once (429 after ``--max-queue-wait`` seconds), and
on SIGTERM stops accepting, lets in-flight requests finish with readiness at 503, and exits 0.
"""

from __future__ import annotations

import argparse
import hmac
import json
import os
import signal
import socket
import socketserver
import sys
import threading
import traceback
import uuid
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from types import FrameType
from typing import Any

from . import scoring

EXIT_INIT_FAILED = 3
EXIT_BIND_FAILED = 4
MAX_BODY_BYTES = 256 * 1024 * 1024
_JSON = "application/json"
_TEXT = "text/plain; charset=utf-8"
_ROUTES = "GET /, /liveness, /readiness, /swagger.json; POST /score"
#: the environment variable that hands the host its secret, and the header that carries it
SECRET_VAR = "FORGEML_SCORING_SECRET"
SECRET_HEADER = "x-forgeml-instance-key"


class HostState:
    """What every request handler shares: the scorer, the slots and the in-flight count."""

    def __init__(self, scorer: scoring.Scorer, label: str, slots: int, queue_wait: float) -> None:
        self.scorer = scorer
        self.label = label
        self.slots = threading.BoundedSemaphore(slots)
        self.slot_count = slots
        self.queue_wait = queue_wait
        self.draining = False
        self._inflight = 0
        self._idle = threading.Condition()
        self._swagger: bytes | None = None
        # set by the serving worker: only its router, which sends it, may score (a host on a
        # cluster node listens beyond loopback)
        self.secret: bytes | None = None

    def admits(self, given: str | None) -> bool:
        if self.secret is None:
            return True
        return given is not None and hmac.compare_digest(given.encode(), self.secret)

    def enter(self) -> None:
        with self._idle:
            self._inflight += 1

    def leave(self) -> None:
        with self._idle:
            self._inflight -= 1
            if self._inflight == 0:
                self._idle.notify_all()

    def wait_idle(self, timeout: float) -> int:
        """Wait until no request is in flight; the number still in flight at the timeout."""
        with self._idle:
            self._idle.wait_for(lambda: self._inflight == 0, timeout)
            return self._inflight

    def swagger(self) -> bytes:
        if self._swagger is None:
            self._swagger = json.dumps(self.scorer.openapi(f"{self.label} scoring")).encode()
        return self._swagger


def _error(code: str, message: str, error_id: str | None = None) -> bytes:
    error: dict[str, str] = {"code": code, "message": message}
    if error_id is not None:
        error["error_id"] = error_id
    return json.dumps({"error": error}).encode()


class ScoringHandler(BaseHTTPRequestHandler):
    """Routes one connection's requests; the response goes out in one write."""

    protocol_version = "HTTP/1.1"
    server_version = "forgeml-scoring"
    # an idle keep-alive connection is closed after an hour, so threads do not pile up
    timeout = 3600
    state: HostState

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the router logs requests; the host logs only errors

    def _send(self, status: int, body: bytes, content_type: str = _JSON) -> None:
        reason = self.responses.get(status, ("",))[0]
        head = (
            f"HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\n"
            f"Content-Length: {len(body)}\r\n"
        )
        request_id = self.headers.get("x-request-id") if hasattr(self, "headers") else None
        if request_id:
            head += f"x-request-id: {request_id[:200]}\r\n"
        if self.close_connection or self.state.draining:
            self.close_connection = True
            head += "Connection: close\r\n"
        self.wfile.write(head.encode("latin-1") + b"\r\n" + body)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        # malformed requests (bad request line, oversized headers): JSON, then close
        self.close_connection = True
        reason = self.responses.get(code, ("Error",))[0]
        self._send(code, _error(reason.replace(" ", ""), message or explain or reason))

    def _path(self) -> str:
        return self.path.split("?", 1)[0]

    def do_GET(self) -> None:
        path = self._path()
        if path in ("/", "/liveness"):
            self._send(200, b"Healthy", _TEXT)
        elif path == "/readiness":
            if self.state.draining:
                self._send(503, b"Draining", _TEXT)
            else:
                self._send(200, b"Ready", _TEXT)
        elif path == "/swagger.json":
            if self.state.admits(self.headers.get(SECRET_HEADER)):
                self._send(200, self.state.swagger())
            else:
                self._forbidden()
        else:
            self._send(404, _error("NotFound", f"no route GET {path}; routes: {_ROUTES}"))

    def _forbidden(self) -> None:
        self.close_connection = True
        self._send(403, _error("Forbidden", "score through the workspace's endpoint URL"))

    def do_POST(self) -> None:
        state = self.state
        if not state.admits(self.headers.get(SECRET_HEADER)):
            self._forbidden()
            return
        state.enter()
        try:
            body = self._read_body()
            if body is None:
                return
            path = self._path()
            if path != "/score":
                self._send(404, _error("NotFound", f"no route POST {path}; routes: {_ROUTES}"))
                return
            if not state.slots.acquire(timeout=state.queue_wait):
                message = (
                    f"all {state.slot_count} scoring slot(s) stayed busy for "
                    f"{state.queue_wait:g} s; retry later, or raise the deployment's "
                    "max_concurrent_requests_per_instance"
                )
                self._send(429, _error("TooManyRequests", message))
                return
            try:
                status, out = self._score(body)
            finally:
                state.slots.release()
            self._send(status, out)
        finally:
            state.leave()

    def _score(self, body: bytes) -> tuple[int, bytes]:
        scorer = self.state.scorer
        try:
            return 200, scorer.score(body, self.headers.get("Content-Type", _JSON))
        except scoring.BadRequest as exc:
            message = str(exc)
            self._log(f"bad request: {message.splitlines()[0] if message else ''}"[:500])
            return 400, _error("BadRequest", message)
        except BaseException as exc:
            # user code failing must not take the host down: a 500 the user can look up by id
            error_id = uuid.uuid4().hex[:12]
            if isinstance(exc, scoring.OutputError):
                message = f"{exc}; error id {error_id}"
            else:
                message = f"{scorer.call_name} raised {type(exc).__name__}; error id {error_id}"
            trace = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
            self._log(f"{message}\n{trace}", prefix=f"[error {error_id}] ")
            return 500, _error("ScoringError", message, error_id)

    def _log(self, text: str, prefix: str = "") -> None:
        request_id = self.headers.get("x-request-id")
        where = f"POST /score (request id {request_id})" if request_id else "POST /score"
        lines = f"{where}: {text}".rstrip("\n").split("\n")
        sys.stderr.write("".join(f"{prefix}{line}\n" for line in lines))
        sys.stderr.flush()

    def _read_body(self) -> bytes | None:
        """The request body, or None once an error has been answered (the connection closes)."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked()
        length_text = self.headers.get("Content-Length")
        if length_text is None:
            return b""
        try:
            length = int(length_text)
            if length < 0:
                raise ValueError(length_text)
        except ValueError:
            self.close_connection = True
            self._send(400, _error("BadRequest", f"invalid Content-Length {length_text!r}"))
            return None
        if length > MAX_BODY_BYTES:
            self.close_connection = True
            message = f"the request body ({length} bytes) is over the {MAX_BODY_BYTES} byte limit"
            self._send(413, _error("PayloadTooLarge", message))
            return None
        return self.rfile.read(length)

    def _read_chunked(self) -> bytes | None:
        parts: list[bytes] = []
        total = 0
        while True:
            line = self.rfile.readline(1024)
            try:
                size = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                self.close_connection = True
                self._send(400, _error("BadRequest", "malformed chunked request body"))
                return None
            if size == 0:
                while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return b"".join(parts)
            total += size
            if total > MAX_BODY_BYTES:
                self.close_connection = True
                message = f"the request body is over the {MAX_BODY_BYTES} byte limit"
                self._send(413, _error("PayloadTooLarge", message))
                return None
            parts.append(self.rfile.read(size))
            self.rfile.readline(1024)


class _TCPHandler(ScoringHandler):
    disable_nagle_algorithm = True


class _TCPServer(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    # a burst of new connections must not overflow the listen backlog (SYN retries cost 1 s)
    request_queue_size = 1024


class _TCP6Server(_TCPServer):
    address_family = socket.AF_INET6


class _UnixServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = 1024


def parse_bind(text: str) -> tuple[str, int] | str:
    """`HOST:PORT` (IPv6 as `[::1]:PORT`) as a (host, port) pair, or `unix:/path` as a path."""
    if text.startswith("unix:"):
        path = text[len("unix:") :]
        if not path:
            raise ValueError("unix: needs a socket path, as in unix:/run/score.sock")
        return path
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError(f"--bind {text!r}: expected HOST:PORT or unix:/path.sock")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    return (host or "127.0.0.1", int(port))


def make_server(bind: tuple[str, int] | str, state: HostState) -> tuple[Any, str]:
    """A bound, listening server and the address a client should use to reach it."""
    handler: type[ScoringHandler]
    if isinstance(bind, str):
        handler = type("UnixHandler", (ScoringHandler,), {"state": state})
        with_socket = Path(bind)
        if with_socket.is_socket():
            with_socket.unlink()  # left by a host that was killed
        with_socket.parent.mkdir(parents=True, exist_ok=True)
        unix_server = _UnixServer(bind, handler)
        return unix_server, f"unix:{bind}"
    host, port = bind
    handler = type("TCPHandler", (_TCPHandler,), {"state": state})
    server_class = _TCP6Server if ":" in host else _TCPServer
    tcp_server = server_class((host, port), handler)
    real_port = tcp_server.server_address[1]
    if host in ("", "0.0.0.0"):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    shown = f"[{host}]" if ":" in host else host
    return tcp_server, f"http://{shown}:{real_port}"


def write_ready_file(path: Path, address: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps({"address": address, "pid": os.getpid()}))
    os.replace(tmp, path)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m forgeml_scoring.online",
        description="Serve one online deployment's scoring code over HTTP.",
    )
    parser.add_argument("--bind", required=True, help="HOST:PORT (port 0: any) or unix:/path.sock")
    parser.add_argument("--ready-file", required=True, type=Path, help="JSON written when ready")
    parser.add_argument("--entry-script", type=Path, help="a scoring script with init() and run()")
    parser.add_argument(
        "--model-dir", type=Path, help="the model folder (alone: an MLflow model, no-code)"
    )
    parser.add_argument("--max-concurrent-requests", type=int, default=1, metavar="N")
    parser.add_argument(
        "--max-queue-wait",
        type=float,
        default=5.0,
        metavar="SECONDS",
        help="how long a request may wait for a scoring slot before a 429 (default 5)",
    )
    parser.add_argument(
        "--drain-timeout",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="how long SIGTERM waits for in-flight requests (default 30)",
    )
    parser.add_argument("--name", help="the deployment label shown in swagger.json")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    # out of the environment before the scoring script (and anything it starts) can read it
    secret = os.environ.pop(SECRET_VAR, "")
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.entry_script is None and args.model_dir is None:
        parser.error("give --entry-script (custom scoring) or --model-dir (an MLflow model)")
    if args.max_concurrent_requests < 1:
        parser.error("--max-concurrent-requests must be at least 1")
    try:
        bind = parse_bind(args.bind)
    except ValueError as exc:
        parser.error(str(exc))
    label = args.name or (args.entry_script or args.model_dir).resolve().stem

    try:
        scorer = scoring.load_scorer(args.entry_script, args.model_dir)
    except BaseException as exc:
        # a script's sys.exit() in init() is a failed init too; the host never binds
        if isinstance(exc, KeyboardInterrupt):
            raise
        trace = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        sys.stderr.write(f"init() failed: {type(exc).__name__}: {exc}\n{trace}")
        sys.stderr.flush()
        return EXIT_INIT_FAILED

    state = HostState(scorer, label, args.max_concurrent_requests, args.max_queue_wait)
    state.secret = secret.encode() if secret else None
    try:
        server, address = make_server(bind, state)
    except OSError as exc:
        sys.stderr.write(f"cannot bind {args.bind}: {exc}\n")
        sys.stderr.flush()
        return EXIT_BIND_FAILED

    def drain(signum: int, frame: FrameType | None) -> None:
        if not state.draining:
            state.draining = True
            # shutdown() waits for serve_forever, which runs on this (the main) thread
            threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, drain)
    signal.signal(signal.SIGINT, drain)
    write_ready_file(args.ready_file, address)
    print(f"scoring host ready on {address}", flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
        if isinstance(bind, str):
            Path(bind).unlink(missing_ok=True)
    left = state.wait_idle(args.drain_timeout)
    if left:
        sys.stderr.write(f"drain: {left} request(s) still in flight after {args.drain_timeout}s\n")
    return 0


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    # user code may have left non-daemon threads behind; they must not keep the host alive
    os._exit(code)
