"""The RepaySync API log (§8): every request on that face, with secrets redacted."""

from __future__ import annotations

import json
import logging
import re
import time
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from arrears import request_logs
from arrears.db import utcnow
from arrears.identity.caller import Caller
from arrears.identity.models import RequestLog

LOG = request_logs.RequestLog("RepaySync API", RequestLog.__table__)
MAX_PAYLOAD = 4000
REDACTED = "[REDACTED]"
log = logging.getLogger("arrears.request_log")
_SECRET_KEY = re.compile(r"pass|token|secret|access|refresh|authorization|api[_-]?key|^key$", re.I)


def redact(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: (REDACTED if _SECRET_KEY.search(str(k)) else redact(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v) for v in value]
    if isinstance(value, str) and re.search(r"\b(pct|ins)_[A-Za-z0-9_-]{12,}|eyJ[\w-]+\.[\w-]+\.[\w-]+",
                                            value):
        return REDACTED
    return value


def payload_text(body: bytes, content_type: str) -> str:
    if not body:
        return ""
    if "json" in content_type:
        try:
            text = json.dumps(redact(json.loads(body)), ensure_ascii=False)
        except (ValueError, UnicodeDecodeError, RecursionError):  # nested past the parser: not logged
            text = "<unparseable JSON body>"
    elif "multipart" in content_type:
        text = f"<multipart body, {len(body)} bytes>"
    else:
        text = f"<{content_type or 'body'}, {len(body)} bytes>"
    return text if len(text) <= MAX_PAYLOAD else text[:MAX_PAYLOAD] + "…"


class RequestLogMiddleware:
    """Captures method, path, payloads and status of requests under the given prefixes."""

    def __init__(self, app: ASGIApp, prefixes: tuple[str, ...]) -> None:
        self.app = app
        self.prefixes = prefixes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(self.prefixes):
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        req_body = bytearray()
        resp_body = bytearray()
        status = 500
        headers = {k.decode().lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}

        async def recv() -> Message:
            msg = await receive()
            if msg["type"] == "http.request" and len(req_body) < 64 * 1024:
                req_body.extend(msg.get("body", b"")[: 64 * 1024])
            return msg

        async def snd(msg: Message) -> None:
            nonlocal status
            if msg["type"] == "http.response.start":
                status = msg["status"]
            elif msg["type"] == "http.response.body" and len(resp_body) < 64 * 1024:
                resp_body.extend(msg.get("body", b"")[: 64 * 1024])
            await send(msg)

        try:
            await self.app(scope, recv, snd)
        finally:
            state = scope.get("state", {})
            await request_logs.record(LOG, {
                "org_id": state.get("org_id"), "user_id": state.get("user_id"), "method": scope["method"],
                "endpoint": scope["path"],
                "request_payload": payload_text(bytes(req_body), headers.get("content-type", "")),
                "response_payload": payload_text(bytes(resp_body), "application/json"),
                "status_code": status, "duration_ms": int((time.perf_counter() - started) * 1000),
                "created_at": utcnow()})


async def list_logs(session: AsyncSession, caller: Caller, limit: int = 1000) -> list[RequestLog]:
    q = (select(RequestLog).where(RequestLog.org_id == caller.org_id)
         .order_by(RequestLog.id.desc()).limit(limit))
    return list((await session.scalars(q)).all())
