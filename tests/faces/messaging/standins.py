"""Stand-ins on 127.0.0.1 for the providers: real HTTP/1.1 servers (asyncio streams, keep-alive)
that check what they are sent and answer as the provider documents, plus an aiosmtpd SMTP server.

Each keeps everything it received, so a test checks exactly what went out."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import socket
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message as EmailMessage
from typing import Any

from tests.loopback_http import read_request, write_response


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    at: float = field(default_factory=time.monotonic)

    def json(self) -> Any:
        return json.loads(self.body or b"null")


@dataclass
class Reply:
    status: int = 200
    body: Any = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0

    def encoded(self) -> bytes:
        if isinstance(self.body, bytes):
            return self.body
        if isinstance(self.body, str):
            return self.body.encode()
        return json.dumps(self.body).encode()


Handler = Callable[[Request], Awaitable[Reply]]


class LoopbackHTTP:
    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.requests: list[Request] = []
        self._server: asyncio.AbstractServer | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self.port = 0

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self, port: int = 0) -> LoopbackHTTP:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", port, backlog=512)
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
                req = Request(*got)
                self.requests.append(req)
                reply = await self.handler(req)
                if reply.delay:
                    await asyncio.sleep(reply.delay)
                await write_response(writer, reply.status, reply.encoded(), "application/json",
                                     reply.headers)
        except (ConnectionError, asyncio.IncompleteReadError, ValueError):
            pass
        finally:
            self._writers.discard(writer)
            writer.close()


def _basic(headers: dict[str, str]) -> tuple[str, str] | None:
    auth = headers.get("authorization", "")
    if not auth.lower().startswith("basic "):
        return None
    user, _, pw = base64.b64decode(auth[6:]).decode().partition(":")
    return user, pw


class SMSPortalStandIn:
    """POST /v1/bulkmessages as SMSPortal documents it: basic auth, up to 100 messages, an
    EventId per call, faults for numbers it refuses. `script` holds replies to give first
    (503, 429 …); `invalid` numbers come back as faults; `delay` is the answer time.

    `accepted` counts each message taken, by our reference (CustomerId); `duplicates` counts a
    reference taken twice. `on_accept` (async, optional) is called with each accepted message
    after the answer, e.g. to post delivery reports back."""

    def __init__(self, client_id: str = "client-1", secret: str = "s3cret", delay: float = 0.0) -> None:
        self.client_id, self.secret, self.delay = client_id, secret, delay
        self.script: deque[Reply] = deque()
        self.invalid: set[str] = set()
        self.accepted: dict[str, dict[str, Any]] = {}
        self.accept_times: list[float] = []
        self.clock: Callable[[], float] = time.monotonic  # a test may stamp with its own clock
        self.duplicates = 0
        self.calls = 0
        self.events = itertools.count(1001)
        self.on_accept: Callable[[dict[str, Any], int], Awaitable[None]] | None = None
        self.http = LoopbackHTTP(self.handle)
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def url(self) -> str:
        return self.http.base + "/v1"

    @property
    def requests(self) -> list[Request]:
        return self.http.requests

    async def start(self, port: int = 0) -> SMSPortalStandIn:
        await self.http.start(port)
        return self

    async def stop(self) -> None:
        """Let the delivery reports in flight finish (they write to the database: one cancelled
        inside its transaction would leave its connection to the loop's shutdown), then stop."""
        if self._tasks:
            _done, late = await asyncio.wait(set(self._tasks), timeout=10)
            for t in late:
                t.cancel()
            await asyncio.gather(*late, return_exceptions=True)
        await self.http.stop()

    async def handle(self, req: Request) -> Reply:
        if req.method != "POST" or req.path.rstrip("/").lower() != "/v1/bulkmessages":
            return Reply(404, {"errors": [{"errorMessage": "Not found"}]})
        self.calls += 1
        if _basic(req.headers) != (self.client_id, self.secret):
            return Reply(401, {"errors": [{"errorCode": 401, "errorMessage": "Invalid credentials"}]})
        if self.script:
            return self.script.popleft()
        body = req.json()
        messages = body.get("Messages") or []
        if not 1 <= len(messages) <= 100:
            return Reply(400, {"errors": [{"errorMessage": "Between 1 and 100 messages per request"}]})
        event = next(self.events)
        faults = []
        taken = []
        for m in messages:
            number = str(m.get("Destination"))
            if number in self.invalid or not number.isdigit():
                faults.append({"Destination": number, "CustomerId": m.get("CustomerId"),
                               "Reason": "Invalid destination number"})
                continue
            taken.append(m)
        now = self.clock()
        for m in taken:
            ref = str(m.get("CustomerId"))
            if ref in self.accepted:
                self.duplicates += 1
            self.accepted[ref] = {"content": m.get("Content"), "destination": m.get("Destination"),
                                  "event": event}
            self.accept_times.append(now)
        if self.on_accept is not None:
            for m in taken:
                task = asyncio.create_task(self._later(m, event))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
        return Reply(200, {"Cost": len(taken), "RemainingBalance": 1000, "EventId": event, "Sample": "",
                           "Messages": len(taken), "Parts": len(taken),
                           "ErrorReport": {"NoNetwork": 0, "Duplicates": 0, "OptedOuts": 0, "Faults": faults}},
                     delay=self.delay)

    async def _later(self, m: dict[str, Any], event: int) -> None:
        await asyncio.sleep(self.delay + 0.05)
        assert self.on_accept is not None
        with contextlib.suppress(Exception):
            await self.on_accept(m, event)


class SendGridStandIn:
    """POST /v3/mail/send: bearer key, 202 with X-Message-Id."""

    def __init__(self, api_key: str = "SG.test-key") -> None:
        self.api_key = api_key
        self.script: deque[Reply] = deque()
        self.sent: list[dict[str, Any]] = []
        self.http = LoopbackHTTP(self.handle)

    @property
    def url(self) -> str:
        return self.http.base + "/v3"

    async def start(self) -> SendGridStandIn:
        await self.http.start()
        return self

    async def stop(self) -> None:
        await self.http.stop()

    async def handle(self, req: Request) -> Reply:
        if req.method != "POST" or req.path != "/v3/mail/send":
            return Reply(404, {"errors": [{"message": "not found"}]})
        if req.headers.get("authorization") != f"Bearer {self.api_key}":
            return Reply(401, {"errors": [{"message": "The provided authorization grant is invalid, expired, "
                                                      "or revoked", "field": None, "help": None}]})
        if self.script:
            return self.script.popleft()
        body = req.json()
        msg_id = uuid.uuid4().hex[:22]
        self.sent.append(body | {"_x_message_id": msg_id})
        return Reply(202, b"", {"X-Message-Id": msg_id})


class GatewayStandIn:
    """A generic gateway: POST /send with a bearer key; de-duplicates on Idempotency-Key."""

    def __init__(self, api_key: str = "gw-key") -> None:
        self.api_key = api_key
        self.script: deque[Reply] = deque()
        self.sent: dict[str, dict[str, Any]] = {}
        self.http = LoopbackHTTP(self.handle)

    @property
    def url(self) -> str:
        return self.http.base + "/send"

    async def start(self) -> GatewayStandIn:
        await self.http.start()
        return self

    async def stop(self) -> None:
        await self.http.stop()

    async def handle(self, req: Request) -> Reply:
        if req.headers.get("authorization") != f"Bearer {self.api_key}":
            return Reply(401, {"error": "bad key"})
        if self.script:
            return self.script.popleft()
        key = req.headers.get("idempotency-key", "")
        if key not in self.sent:
            self.sent[key] = req.json() | {"_id": f"gw_{len(self.sent) + 1}"}
        return Reply(200, {"id": self.sent[key]["_id"], "status": "queued"})


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SMTPStandIn:
    """aiosmtpd on loopback; `refuse` maps an address to an SMTP code (550, 451) for RCPT."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], EmailMessage]] = []
        self.refuse: dict[str, int] = {}
        self.port = free_port()
        self.controller: Any = None

    async def start(self) -> SMTPStandIn:
        from aiosmtpd.controller import Controller

        outer = self

        class Handler:
            async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                                  rcpt_options: Any) -> str:
                code = outer.refuse.get(address.lower())
                if code:
                    return f"{code} {'5.1.1 No such user' if code >= 500 else '4.2.0 Try again later'}"
                envelope.rcpt_tos.append(address)
                return "250 OK"

            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
                outer.messages.append((envelope.mail_from, list(envelope.rcpt_tos),
                                       message_from_bytes(envelope.original_content or envelope.content)))
                return "250 2.0.0 Message accepted for delivery"

        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)
        await asyncio.to_thread(self.controller.start)
        return self

    async def stop(self) -> None:
        if self.controller is not None:
            await asyncio.to_thread(self.controller.stop)
