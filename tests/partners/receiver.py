"""A real HTTP/1.1 webhook receiver on 127.0.0.1 (asyncio streams, keep-alive), scriptable per
request: status, headers, body and delay."""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from dataclasses import dataclass, field

from tests.loopback_http import read_request, write_response


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
            while (got := await read_request(reader)) is not None:
                self.requests.append(Received(*got))
                self.arrived.set()
                r = self.script.popleft() if self.script else self.default
                self.in_flight += 1
                self.max_in_flight = max(self.max_in_flight, self.in_flight)
                try:
                    if r.delay:
                        await asyncio.sleep(r.delay)
                finally:
                    self.in_flight -= 1
                await write_response(writer, r.status, r.body, "text/plain", r.headers)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass
        finally:
            self._writers.discard(writer)
            writer.close()
