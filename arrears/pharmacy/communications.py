"""Every e-mail and SMS to one pharmacy debtor, from any face, newest first.

A debtor is a book account (its id stays across reports), so its history is every message
written for that account, plus those written for any report row of the same account number.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from arrears.debtors.models import DebtorAccount, DebtorSnapshot
from arrears.errors import NotFound
from arrears.identity.caller import Caller
from arrears.messaging.models import SENT_STATUSES, Message


def shown_status(status: str) -> str:
    """The spec's three: delivered and read messages were sent; an attempt in flight is pending."""
    if status in SENT_STATUSES:
        return "sent"
    return "failed" if status == "failed" else "pending"


async def get_debtor(session: AsyncSession, caller: Caller, debtor_id: int) -> DebtorAccount:
    account = await session.scalar(select(DebtorAccount).where(DebtorAccount.id == debtor_id,
                                                               DebtorAccount.org_id == caller.org_id))
    if account is None:
        raise NotFound("Debtor not found")
    return account


async def communications(session: AsyncSession, caller: Caller, debtor_id: int) -> list[dict[str, Any]]:
    account = await get_debtor(session, caller, debtor_id)
    rows = select(DebtorSnapshot.uuid).where(DebtorSnapshot.org_id == caller.org_id,
                                             DebtorSnapshot.account_code == account.account_code)
    messages = (await session.scalars(
        select(Message).where(Message.org_id == caller.org_id,
                              or_(Message.debtor_account_id == account.id, Message.account_id.in_(rows)))
        .order_by(Message.created_at.desc(), Message.id.desc()))).all()
    return [log_view(m, account) for m in messages]


def log_view(m: Message, account: DebtorAccount) -> dict[str, Any]:
    status = shown_status(m.status)
    return {
        "id": m.id, "pharmacy_id": m.org_id, "debtor_id": account.id, "communication_type": m.channel,
        "recipient": m.recipient, "subject": m.subject if m.channel == "email" else None,
        "message": (m.html or m.content) if m.channel == "email" else m.content,
        "status": status, "external_id": m.external_id,
        "error_message": (m.response or "Failed") if status == "failed" else None,
        "sent_at": m.sent_at, "created_at": m.created_at,
    }
