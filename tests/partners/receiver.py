"""A real HTTP/1.1 webhook receiver on 127.0.0.1 (asyncio streams, keep-alive), scriptable per
request: status, headers, body and delay."""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from dataclasses import dataclass, field


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Reply:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b"ok"
    delay: float = 0.0


REASONS = {200: "OK", 204: "No Content", 302: "Found", 400: "Bad Request", 410: "Gone",
           429: "Too Many Requests", 500: "Internal Server Error", 503: "Service Unavailable"}


class Receiver:
    def __init__(self) -> None:
        self.requests: list[Received] = []
        self.script: deque[Reply] = deque()
        self.default = Reply()
        self._server: asyncio.AbstractServer | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self.port = 0
        self.arrived = asyncio.Event()
        self.in_flight = 0
        self.max_in_flight = 0  # the most requests it was answering at once

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks"

    def reply(self, *replies: Reply) -> None:
        self.script.extend(replies)

    async def start(self) -> Receiver:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            for w in list(self._writers):
                w.close()
            with contextlib.suppress(Exception):
                await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            while True:
                line = await reader.readline()
                if not line:
                    break
                method, path, _ = line.decode().split(" ", 2)
                headers: dict[str, str] = {}
                while True:
                    h = await reader.readline()
                    if h in (b"\r\n", b"\n", b""):
                        break
                    k, _, v = h.decode().partition(":")
                    headers[k.strip().lower()] = v.strip()
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                self.requests.append(Received(method, path, headers, body))
                self.arrived.set()
                r = self.script.popleft() if self.script else self.default
                self.in_flight += 1
                self.max_in_flight = max(self.max_in_flight, self.in_flight)
                try:
                    if r.delay:
                        await asyncio.sleep(r.delay)
                finally:
                    self.in_flight -= 1
                head = [f"HTTP/1.1 {r.status} {REASONS.get(r.status, 'Status')}",
                        f"content-length: {len(r.body)}", "content-type: text/plain"]
                head += [f"{k}: {v}" for k, v in r.headers.items()]
                writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + r.body)
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass
        finally:
            self._writers.discard(writer)
            writer.close()
