"""The message log as lists and counts for people: every message of an organisation (from any
face), filtered and newest first, and how many are in each status since a moment."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from arrears.identity.caller import Caller
from arrears.messaging.models import Message


def _like(text: str) -> str:
    esc = text.strip().lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{esc}%"


def message_log(caller: Caller, *, status: str | None = None, channel: str | None = None,
                upload_id: Any = None, search: str | None = None) -> Select[Any]:
    """The organisation's messages, newest first; `status="pending"` includes those sending."""
    q = select(Message).where(Message.org_id == caller.org_id)
    if status == "pending":
        q = q.where(Message.status.in_(("pending", "sending")))
    elif status:
        q = q.where(Message.status == status)
    if channel:
        q = q.where(Message.channel == channel)
    if upload_id is not None:
        q = q.where(Message.upload_id == upload_id)
    if search and search.strip():
        p = _like(search)
        q = q.where(or_(func.lower(Message.recipient).like(p, escape="\\"),
                        func.lower(Message.content).like(p, escape="\\")))
    return q.order_by(Message.created_at.desc(), Message.id.desc())


async def counts_since(session: AsyncSession, caller: Caller, since: datetime) -> dict[str, int]:
    """Messages of the organisation created since `since`, by status."""
    rows = await session.execute(select(Message.status, func.count()).where(
        Message.org_id == caller.org_id, Message.created_at >= since).group_by(Message.status))
    return {status: int(n) for status, n in rows.all()}
