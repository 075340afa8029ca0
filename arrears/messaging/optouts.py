"""Opt-outs: a customer (or a bare number/address) who asked not to be contacted on a channel.

Recorded from the API, the CLI (`arrears opt-out …`), an inbound STOP reply, or a provider's
unsubscribe/spam-report event. Messages to an opted-out customer are not sent: at queueing they
are written `failed` with OPTED_OUT and a clear reason, and a message already queued is stopped
when its turn comes.
"""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from arrears import events
from arrears.customers.models import Customer
from arrears.db import utcnow
from arrears.errors import NotFound, ValidationFailed
from arrears.messaging.models import CHANNELS, OPT_OUT_SOURCES, OptOut
from arrears.messaging.rules import normalise_recipient

ALL = "all"


def channels_of(channel: str) -> tuple[str, ...]:
    channel = (channel or "").strip().lower()
    if channel == ALL:
        return CHANNELS
    if channel not in CHANNELS:
        raise ValidationFailed("channel must be sms, email or all",
                               field_errors={"channel": ["Must be sms, email or all."]})
    return (channel,)


async def add(session: AsyncSession, org_id: int, *, channel: str, customer_id: int | None = None,
              recipient: str | None = None, source: str = "api", reason: str | None = None,
              actor: str = "system") -> list[OptOut]:
    """Opt out on one channel or all; idempotent (an existing opt-out is returned as it is)."""
    if source not in OPT_OUT_SOURCES:
        raise ValidationFailed(f"source must be one of {', '.join(OPT_OUT_SOURCES)}")
    if customer_id is None and not recipient:
        raise ValidationFailed("Name the customer (or the number/address) that opts out",
                               field_errors={"customer": ["Required when no recipient is given."]})
    if customer_id is not None:
        found = await session.scalar(select(Customer.id).where(Customer.id == customer_id,
                                                               Customer.org_id == org_id))
        if found is None:
            raise NotFound(f"Customer {customer_id} not found")
    out: list[OptOut] = []
    for ch in channels_of(channel):
        norm = normalise_recipient(ch, recipient) if recipient else None
        if recipient and not norm:
            raise ValidationFailed("recipient is not a phone number or an e-mail address",
                                   field_errors={"recipient": ["Not a phone number or an address."]})
        q = select(OptOut).where(OptOut.org_id == org_id, OptOut.channel == ch)
        q = q.where(OptOut.customer_id == customer_id) if customer_id is not None else q.where(
            OptOut.customer_id.is_(None), OptOut.recipient == norm)
        existing = await session.scalar(q)
        if existing is not None:
            out.append(existing)
            continue
        row = OptOut(org_id=org_id, channel=ch, customer_id=customer_id, recipient=norm, source=source,
                     reason=(reason or "").strip()[:2000] or None, created_by=actor, created_at=utcnow())
        try:
            async with session.begin_nested():
                session.add(row)
                await session.flush()
        except IntegrityError:  # a concurrent opt-out of the same person: theirs stands
            existing = await session.scalar(q)
            if existing is not None:
                out.append(existing)
            continue
        await events.record(session, org_id=org_id, type="customer.opted_out", actor=actor,
                            subject_type="customer" if customer_id else "recipient",
                            subject_id=customer_id if customer_id is not None else norm,
                            data={"channel": ch, "source": source, "reason": row.reason})
        out.append(row)
    return out


async def remove(session: AsyncSession, org_id: int, opt_out_id: int | str, actor: str = "system") -> None:
    row = await get(session, org_id, opt_out_id)
    await session.execute(delete(OptOut).where(OptOut.id == row.id))
    await events.record(session, org_id=org_id, type="customer.opted_in", actor=actor,
                        subject_type="customer" if row.customer_id else "recipient",
                        subject_id=row.customer_id if row.customer_id is not None else row.recipient,
                        data={"channel": row.channel})


async def remove_for(session: AsyncSession, org_id: int, *, channel: str, customer_id: int | None = None,
                     recipient: str | None = None, actor: str = "system") -> int:
    count = 0
    for ch in channels_of(channel):
        q = select(OptOut).where(OptOut.org_id == org_id, OptOut.channel == ch)
        if customer_id is not None:
            q = q.where(OptOut.customer_id == customer_id)
        else:
            q = q.where(OptOut.recipient == normalise_recipient(ch, recipient))
        for row in (await session.scalars(q)).all():
            await remove(session, org_id, row.id, actor)
            count += 1
    return count


async def get(session: AsyncSession, org_id: int, opt_out_id: int | str) -> OptOut:
    import uuid as _uuid

    row = None
    try:
        row = await session.scalar(select(OptOut).where(OptOut.uuid == _uuid.UUID(str(opt_out_id)),
                                                        OptOut.org_id == org_id))
    except ValueError:
        if str(opt_out_id).isdigit() and int(opt_out_id) < 2**31:
            row = await session.scalar(select(OptOut).where(OptOut.id == int(opt_out_id),
                                                            OptOut.org_id == org_id))
    if row is None:
        raise NotFound(f"Opt-out {opt_out_id} not found")
    return row


async def list_for(session: AsyncSession, org_id: int, *, channel: str | None = None,
                   customer_id: int | None = None, offset: int = 0, limit: int = 100
                   ) -> tuple[list[OptOut], int]:
    from sqlalchemy import func

    q = select(OptOut).where(OptOut.org_id == org_id)
    if channel:
        q = q.where(OptOut.channel.in_(channels_of(channel)))
    if customer_id is not None:
        q = q.where(OptOut.customer_id == customer_id)
    total = await session.scalar(select(func.count()).select_from(q.subquery())) or 0
    rows = (await session.scalars(q.order_by(OptOut.created_at.desc(), OptOut.id.desc())
                                  .offset(offset).limit(limit))).all()
    return list(rows), int(total)


async def customers_with_phone(session: AsyncSession, org_id: int, digits: str) -> list[int]:
    """Customers of the organisation whose number is this one (27821234567)."""
    rows = await session.scalars(select(Customer.id).where(Customer.org_id == org_id,
                                                           Customer.phone_e164 == "+" + digits))
    return list(rows)


async def customers_with_email(session: AsyncSession, org_id: int, address: str) -> list[int]:
    from sqlalchemy import func

    rows = await session.scalars(select(Customer.id).where(Customer.org_id == org_id,
                                                           func.lower(Customer.email) == address.lower()))
    return list(rows)


def describe(row: OptOut) -> dict[str, object]:
    return {"id": str(row.uuid), "channel": row.channel, "customer_id": row.customer_id,
            "recipient": row.recipient, "source": row.source, "reason": row.reason,
            "created_by": row.created_by, "created_at": row.created_at}
