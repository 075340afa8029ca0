"""`/ws`: the spec's WebSocket. The client's first message is `{"type": "auth", "token": …}` (a
user's JWT, or a pct_ API key with `webhooks:receive`); then it receives `collection_updated` and
`policy_updated` messages of its own cell captive, and a `ping` when the line has been idle.

Close codes: 4001 authentication failed (or no auth message within ARREARS_WS_AUTH_TIMEOUT seconds),
4003 not permitted (missing permission, inactive captive), 1008 too many connections for the
captive (10) or for one user (3 of them; an API key may hold all 10), 1013 the client reads too slowly.

Every RECHECK_SECONDS the socket's credentials are checked again: a revoked or expired API key,
a deactivated user, a user taken out of the captive or a captive made inactive closes it (4001 or
4003) within seconds, not when the client next reconnects. Every close is preceded by
`{"type": "error", "error": {"message", "code"}}`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from starlette.types import Message
from starlette.websockets import WebSocketState

from arrears.config import get_settings
from arrears.db import isoz, transaction, utcnow
from arrears.errors import DomainError
from arrears.faces.premium.errors import CODES
from arrears.identity import service as identity
from arrears.identity.errors import IdentityErrorCode
from arrears.identity.models import ApiKey, Organisation
from arrears.premiums.errors import PremiumErrorCode
from arrears.realtime.hub import (
    MAX_CONNECTIONS_PER_HOLDER,
    MAX_CONNECTIONS_PER_ORG,
    Connection,
    HolderFull,
    hub,
)

router = APIRouter(tags=["Premium collections: WebSocket"])

RECHECK_SECONDS = 5.0  # how soon a revoked key or deactivated user loses its socket
RECEIVE_SCOPE = "webhooks:receive"
_JWT_CODES = {IdentityErrorCode.TOKEN_INVALID, IdentityErrorCode.TOKEN_EXPIRED, IdentityErrorCode.USER_INACTIVE}


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


@dataclass(frozen=True)
class _Who:
    org_id: int
    user_id: int | None
    key_id: Any  # the API key's id (a UUID), for a key

    @property
    def holder(self) -> str:
        """Whose share of the captive's sockets this one counts against: a user's (at most 3 of
        the 10, so browser tabs cannot lock the bank integration out); a key's has no share."""
        return f"user:{self.user_id}" if self.user_id is not None else ""


async def _authenticate(ws: WebSocket) -> _Who:
    """Who sent a good auth message; raises _Refused otherwise."""
    timeout = get_settings().premium.ws_auth_timeout
    try:
        first = _decode(await asyncio.wait_for(ws.receive(), timeout))
    except TimeoutError:
        raise _Refused(PremiumErrorCode.AUTH_TIMEOUT, f"Send {{\"type\": \"auth\", \"token\": …}} within "
                       f"{timeout:g} seconds", 4001) from None
    if not isinstance(first, dict) or first.get("type") != "auth":
        raise _Refused(PremiumErrorCode.AUTH_REQUIRED, 'The first message must be {"type": "auth", "token": …}', 4001)
    token = first.get("token")
    if not isinstance(token, str) or not token.strip():
        raise _Refused(PremiumErrorCode.MISSING_API_KEY, "The auth message has no token: send a JWT or a pct_ API key",
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
            raise _Refused(IdentityErrorCode.INVALID_API_KEY, "Use a cell captive's pct_ API key or a user's JWT", 4001)
        org = await s.get(Organisation, caller.org_id)
        if org is None or org.status != "active":
            raise _Refused(PremiumErrorCode.CAPTIVE_INACTIVE, "Cell captive account is inactive", 4003)
        if not caller.has_scope(RECEIVE_SCOPE):
            raise _Refused(PremiumErrorCode.INSUFFICIENT_PERMISSIONS,
                           f"This API key lacks the {RECEIVE_SCOPE} permission", 4003)
        return _Who(caller.org_id, caller.user_id, caller.api_key.id if caller.api_key is not None else None)


async def _still_allowed(who: _Who) -> None:
    """The socket's credentials, checked again: raises _Refused when they no longer hold."""
    async with transaction(readonly=True) as s:
        if who.key_id is not None:
            key = await s.get(ApiKey, who.key_id)
            now = utcnow()
            if key is None or key.revoked_at is not None or (key.expires_at is not None and key.expires_at <= now):
                raise _Refused(IdentityErrorCode.INVALID_API_KEY, "The API key was revoked or has expired", 4001)
        else:
            assert who.user_id is not None
            try:
                await identity.caller_for_user(s, who.user_id, who.org_id)
            except DomainError as exc:
                raise _Refused(exc.code, exc.message, 4001 if exc.status == 401 else 4003) from None
        org = await s.get(Organisation, who.org_id)
        if org is None or org.status != "active":
            raise _Refused(PremiumErrorCode.CAPTIVE_INACTIVE, "Cell captive account is inactive", 4003)


async def _recheck_loop(who: _Who) -> _Refused:
    """Returns (ending the socket) the refusal once the credentials no longer hold."""
    while True:
        await asyncio.sleep(RECHECK_SECONDS)
        try:
            await _still_allowed(who)
        except _Refused as refused:
            return refused
        except Exception:  # noqa: BLE001, S112 - the database away: keep the socket, check again later
            continue


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
            conn.offer({"type": "error", "error": {"code": PremiumErrorCode.UNKNOWN_MESSAGE, "message":
                        'Messages understood after auth: {"type": "ping"}'}})


async def _ping_loop(conn: Connection) -> None:
    while True:
        await asyncio.sleep(get_settings().premium.ws_ping_interval)
        conn.offer({"type": "ping", "timestamp": _now()})
        await hub().heartbeat(conn)


@router.websocket("/ws")
async def websocket_endpoint(ws: WebSocket) -> None:
    await ws.accept()
    try:
        who = await _authenticate(ws)
    except _Refused as refused:
        await _refuse(ws, refused)
        return
    except WebSocketDisconnect:
        return
    try:
        conn = await hub().connect(who.org_id, who.holder)
    except HolderFull:
        await _refuse(ws, _Refused(PremiumErrorCode.TOO_MANY_CONNECTIONS,
                                   f"Too many connections: at most {MAX_CONNECTIONS_PER_HOLDER} concurrent "
                                   "WebSocket connections per user", 1008))
        return
    if conn is None:
        await _refuse(ws, _Refused(PremiumErrorCode.TOO_MANY_CONNECTIONS,
                                   f"Too many connections: at most {MAX_CONNECTIONS_PER_ORG} concurrent "
                                   "WebSocket connections per cell captive", 1008))
        return
    tasks: list[asyncio.Task[Any]] = []
    try:
        await ws.send_json({"type": "auth_success"})
        tasks = [asyncio.create_task(_send_loop(ws, conn)), asyncio.create_task(_receive_loop(ws, conn)),
                 asyncio.create_task(_ping_loop(conn)),
                 asyncio.create_task(_wait_overflow(conn)), asyncio.create_task(_recheck_loop(who))]
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        if tasks[3] in done:
            await _refuse(ws, _Refused(PremiumErrorCode.TOO_SLOW, "Messages were not read fast enough", 1013))
        elif tasks[4] in done and not tasks[4].cancelled() and tasks[4].exception() is None:
            await _refuse(ws, tasks[4].result())
    except WebSocketDisconnect:
        pass
    finally:
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(BaseException):
                await t
        await hub().disconnect(conn)
        if ws.application_state == WebSocketState.CONNECTED and ws.client_state == WebSocketState.CONNECTED:
            with contextlib.suppress(Exception):
                await ws.close(code=1000)


async def _wait_overflow(conn: Connection) -> None:
    await conn.overflowed.wait()
