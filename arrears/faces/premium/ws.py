"""`/ws`: the spec's WebSocket. The client's first message is `{"type": "auth", "token": …}` (a
user's JWT, or a pct_ API key with `webhooks:receive`); then it receives `collection_updated` and
`policy_updated` messages of its own cell captive, and a `ping` when the line has been idle.

Close codes: 4001 authentication failed (or no auth message within AUTH_TIMEOUT seconds),
4003 not permitted (missing permission, inactive captive), 1008 too many connections for the
captive, 1013 the client reads too slowly. Every close is preceded by
`{"type": "error", "error": {"message", "code"}}`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from starlette.types import Message
from starlette.websockets import WebSocketState

from arrears.db import isoz, transaction, utcnow
from arrears.errors import DomainError
from arrears.faces.premium.errors import CODES
from arrears.identity import service as identity
from arrears.identity.models import Organisation
from arrears.realtime.hub import MAX_CONNECTIONS_PER_ORG, Connection, hub

router = APIRouter(tags=["Premium collections: WebSocket"])

AUTH_TIMEOUT = 10.0
PING_INTERVAL = 25.0
RECEIVE_SCOPE = "webhooks:receive"
_JWT_CODES = {"TOKEN_INVALID", "TOKEN_EXPIRED", "USER_INACTIVE"}


class _Refused(Exception):
    def __init__(self, code: str, message: str, close_code: int) -> None:
        super().__init__(message)
        self.code, self.message, self.close_code = code, message, close_code


def _now() -> str:
    return isoz(utcnow()) or ""


async def _refuse(ws: WebSocket, r: _Refused) -> None:
    with contextlib.suppress(Exception):
        await ws.send_json({"type": "error", "error": {"message": r.message, "code": r.code}})
    with contextlib.suppress(Exception):
        await ws.close(code=r.close_code, reason=r.message[:120])


def _decode(message: Message) -> Any:
    if message["type"] == "websocket.disconnect":
        raise WebSocketDisconnect(message.get("code", 1000))
    text = message.get("text")
    if text is None and message.get("bytes") is not None:
        text = message["bytes"].decode("utf-8", "replace")
    try:
        return json.loads(text or "")
    except ValueError:
        return None


async def _authenticate(ws: WebSocket) -> int:
    """The organisation of a good auth message; raises _Refused otherwise."""
    try:
        first = _decode(await asyncio.wait_for(ws.receive(), AUTH_TIMEOUT))
    except TimeoutError:
        raise _Refused("AUTH_TIMEOUT", f"Send {{\"type\": \"auth\", \"token\": …}} within "
                       f"{AUTH_TIMEOUT:g} seconds", 4001) from None
    if not isinstance(first, dict) or first.get("type") != "auth":
        raise _Refused("AUTH_REQUIRED", 'The first message must be {"type": "auth", "token": …}', 4001)
    token = first.get("token")
    if not isinstance(token, str) or not token.strip():
        raise _Refused("MISSING_API_KEY", "The auth message has no token: send a JWT or a pct_ API key",
                       4001)
    async with transaction() as s:
        try:
            caller = await identity.resolve(s, token.strip())
        except DomainError as exc:
            if exc.code in _JWT_CODES:
                raise _Refused(exc.code, exc.message, 4001) from None
            code, message = CODES.get(exc.code, (exc.code, None))
            raise _Refused(code, message or exc.message, 4003 if exc.status == 403 else 4001) from None
        if caller.api_key is not None and caller.api_key.kind != "pct":
            raise _Refused("INVALID_API_KEY", "Use a cell captive's pct_ API key or a user's JWT", 4001)
        org = await s.get(Organisation, caller.org_id)
        if org is None or org.status != "active":
            raise _Refused("CAPTIVE_INACTIVE", "Cell captive account is inactive", 4003)
        if not caller.has_scope(RECEIVE_SCOPE):
            raise _Refused("INSUFFICIENT_PERMISSIONS",
                           f"This API key lacks the {RECEIVE_SCOPE} permission", 4003)
        return caller.org_id


async def _send_loop(ws: WebSocket, conn: Connection) -> None:
    while True:
        await ws.send_json(await conn.queue.get())


async def _receive_loop(ws: WebSocket, conn: Connection) -> None:
    while True:
        msg = _decode(await ws.receive())
        kind = msg.get("type") if isinstance(msg, dict) else None
        if kind == "ping":
            conn.offer({"type": "pong", "timestamp": _now()})
        elif kind == "pong":
            continue
        else:
            conn.offer({"type": "error", "error": {"code": "UNKNOWN_MESSAGE", "message":
                        'Messages understood after auth: {"type": "ping"}'}})


async def _ping_loop(conn: Connection) -> None:
    while True:
        await asyncio.sleep(PING_INTERVAL)
        conn.offer({"type": "ping", "timestamp": _now()})
        await hub.heartbeat(conn)


@router.websocket("/ws")
async def websocket_endpoint(ws: WebSocket) -> None:
    await ws.accept()
    try:
        org_id = await _authenticate(ws)
    except _Refused as refused:
        await _refuse(ws, refused)
        return
    except WebSocketDisconnect:
        return
    conn = await hub.connect(org_id)
    if conn is None:
        await _refuse(ws, _Refused("TOO_MANY_CONNECTIONS",
                                   f"Too many connections: at most {MAX_CONNECTIONS_PER_ORG} concurrent "
                                   "WebSocket connections per cell captive", 1008))
        return
    tasks: list[asyncio.Task[None]] = []
    try:
        await ws.send_json({"type": "auth_success"})
        tasks = [asyncio.create_task(_send_loop(ws, conn)), asyncio.create_task(_receive_loop(ws, conn)),
                 asyncio.create_task(_ping_loop(conn)),
                 asyncio.create_task(_wait_overflow(conn))]
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        if tasks[3] in done:
            await _refuse(ws, _Refused("TOO_SLOW", "Messages were not read fast enough", 1013))
    except WebSocketDisconnect:
        pass
    finally:
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(BaseException):
                await t
        await hub.disconnect(conn)
        if ws.application_state == WebSocketState.CONNECTED and ws.client_state == WebSocketState.CONNECTED:
            with contextlib.suppress(Exception):
                await ws.close(code=1000)


async def _wait_overflow(conn: Connection) -> None:
    await conn.overflowed.wait()
