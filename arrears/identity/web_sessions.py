"""The web UI's sessions, server-side: sign-in makes a record, sign-out ends it, and each request
checks it, so a cookie copied before sign-out is refused afterwards. The session is named by a
random token of the signed cookie (made afresh at each sign-in); the table holds its SHA-256."""

from __future__ import annotations

import hashlib
from datetime import timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from arrears.db import utcnow
from arrears.identity.models import WebSessionRecord

KEEP_ENDED = timedelta(days=2)  # ended and stale records are swept after this (longer than any cookie)


def _key(sid: str) -> str:
    return hashlib.sha256(sid.encode()).hexdigest()


async def start(db: AsyncSession, user_id: int, sid: str) -> None:
    """Record a new session of the user, named `sid` (the signed cookie's fresh token)."""
    db.add(WebSessionRecord(id=_key(sid), user_id=user_id))
    await db.execute(delete(WebSessionRecord).where(WebSessionRecord.created_at < utcnow() - KEEP_ENDED))
    await db.flush()


async def end(db: AsyncSession, sid: str | None) -> None:
    if sid:
        await db.execute(update(WebSessionRecord).where(WebSessionRecord.id == _key(sid),
                                                        WebSessionRecord.ended_at.is_(None))
                         .values(ended_at=utcnow()))
        await db.flush()


async def is_live(db: AsyncSession, sid: str | None, user_id: int) -> bool:
    """The session was started for this user and has not been ended."""
    if not sid:
        return False
    row = (await db.execute(select(WebSessionRecord.ended_at).where(
        WebSessionRecord.id == _key(sid), WebSessionRecord.user_id == user_id))).first()
    return row is not None and row[0] is None
