"""HTTP/1.1 to scoring hosts over kept-alive connections: the router's one upstream client.

The hosts always answer with a Content-Length, so a few dozen lines of asyncio streams do what
a general client would, at a fraction of its cost per request (the router's overhead is
benchmarked). Connections are pooled per address; a request goes to the address with the fewest
requests in flight.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from urllib.parse import urlsplit

Connection = tuple[asyncio.StreamReader, asyncio.StreamWriter]
#: kept connections per address; more are opened under load and closed after use
MAX_IDLE = 64


class UpstreamError(Exception):
    """The host could not be reached or broke the connection; `sent`: it may have acted."""

    def __init__(self, message: str, *, sent: bool) -> None:
        super().__init__(message)
        self.sent = sent


async def _open(address: str) -> Connection:
    try:
        if address.startswith("unix:"):
            return await asyncio.open_unix_connection(address[len("unix:") :])
        parts = urlsplit(address)
        return await asyncio.open_connection(parts.hostname, parts.port)
    except OSError as exc:
        raise UpstreamError(f"cannot connect to {address}: {exc}", sent=False) from None


def _close(conn: Connection) -> None:
    with contextlib.suppress(Exception):
        conn[1].close()


class ConnectionPool:
    def __init__(self) -> None:
        self.idle: dict[str, list[Connection]] = {}
        self.busy: dict[str, int] = {}

    def pick(self, addresses: list[str]) -> str:
        if len(addresses) == 1:
            return addresses[0]
        least = min(self.busy.get(a, 0) for a in addresses)
        return random.choice([a for a in addresses if self.busy.get(a, 0) == least])

    async def request(
        self,
        address: str,
        method: str,
        path: str,
        body: bytes,
        headers: list[tuple[bytes, bytes]],
    ) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        self.busy[address] = self.busy.get(address, 0) + 1
        try:
            idle = self.idle.get(address)
            if idle:
                conn = idle.pop()
                try:
                    return await self._exchange(address, conn, method, path, body, headers)
                except UpstreamError as exc:
                    if exc.sent:
                        raise
                    # the host closed the kept connection meanwhile: a fresh one, once
            conn = await _open(address)
            return await self._exchange(address, conn, method, path, body, headers)
        finally:
            self.busy[address] -= 1

    async def _exchange(
        self,
        address: str,
        conn: Connection,
        method: str,
        path: str,
        body: bytes,
        headers: list[tuple[bytes, bytes]],
    ) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        reader, writer = conn
        done = False
        try:
            head = [f"{method} {path} HTTP/1.1".encode(), b"host: scoring"]
            head += [k + b": " + v for k, v in headers]
            head.append(b"content-length: " + str(len(body)).encode())
            writer.write(b"\r\n".join(head) + b"\r\n\r\n" + body)
            try:
                await writer.drain()
                status_line = await reader.readline()
            except (ConnectionError, OSError) as exc:
                raise UpstreamError(f"{address}: {exc}", sent=False) from None
            if not status_line:
                raise UpstreamError(f"{address} closed the connection", sent=False)
            try:
                status = int(status_line.split(None, 2)[1])
                length, keep, out = 0, True, []
                while True:
                    line = await reader.readline()
                    if line in (b"\r\n", b"\n", b""):
                        break
                    key, _, value = line.partition(b":")
                    key, value = key.strip().lower(), value.strip()
                    if key == b"content-length":
                        length = int(value)
                    elif key == b"connection":
                        keep = value.lower() != b"close"
                    elif key == b"content-type":
                        out.append((key, value))
                payload = await reader.readexactly(length) if length else b""
            except (
                ConnectionError,
                OSError,
                ValueError,
                IndexError,
                asyncio.IncompleteReadError,
            ) as exc:
                raise UpstreamError(f"{address} broke off its answer: {exc}", sent=True) from None
            done = keep
            return status, out, payload
        finally:
            if done and len(self.idle.setdefault(address, [])) < MAX_IDLE:
                self.idle[address].append(conn)
            else:
                _close(conn)

    def forget(self, keep: set[str]) -> None:
        """Close the kept connections of addresses no longer routed to."""
        for address in [a for a in self.idle if a not in keep]:
            for conn in self.idle.pop(address):
                _close(conn)
