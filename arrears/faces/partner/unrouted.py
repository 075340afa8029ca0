"""X-RateLimit-* on the partner face's answers that no partner route made: a path under /api/v1
that matches no route (404), a method a path does not take (405). Such a caller was never
identified, so it is counted per client address at the lowest tier, like refused credentials;
over that limit the answer becomes the spec's 429."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from arrears.db import isoz
from arrears.faces.errors import face_of
from arrears.partners import ratelimits

LIMIT_HEADER = b"x-ratelimit-limit"


def _headers(st: ratelimits.Status) -> list[tuple[bytes, bytes]]:
    reset = isoz(datetime.fromtimestamp(st.reset_epoch(), UTC)) or ""
    return [(b"x-ratelimit-limit", str(st.limit).encode()),
            (b"x-ratelimit-remaining", str(max(0, st.remaining)).encode()),
            (b"x-ratelimit-reset", reset.encode())]


class UnroutedRateHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or face_of(scope.get("path", "")) != "partner":
            await self.app(scope, receive, send)
            return
        refused = False

        async def send_with_headers(message: Message) -> None:
            nonlocal refused
            if refused:
                return  # the original body of an answer replaced by the 429
            if message["type"] == "http.response.start":
                headers: list[Any] = list(message.get("headers", []))
                if not any(k.lower() == LIMIT_HEADER for k, _ in headers):
                    client = scope.get("client")
                    st = await ratelimits.hit_unidentified(client[0] if client else "unknown")
                    if not st.allowed:
                        refused = True
                        await _send_429(send, st)
                        return
                    message = dict(message)
                    message["headers"] = headers + _headers(st)
            await send(message)

        await self.app(scope, receive, send_with_headers)


async def _send_429(send: Send, st: ratelimits.Status) -> None:
    body = json.dumps({"error": "RATE_LIMIT_EXCEEDED", "message": "API rate limit exceeded",
                       "retryAfter": st.retry_after}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
               (b"retry-after", str(st.retry_after).encode()), *_headers(st)]
    await send({"type": "http.response.start", "status": 429, "headers": headers})
    await send({"type": "http.response.body", "body": body})
