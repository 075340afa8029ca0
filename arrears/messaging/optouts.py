"""Opt-outs: a customer (or a bare number/address) who asked not to be contacted on a channel.

Recorded from the API, the CLI (`arrears opt-out …`), an inbound STOP reply, or a provider's
unsubscribe/spam-report event. Messages to an opted-out customer are not sent: at queueing they
are written `failed` with OPTED_OUT and a clear reason, and a message already queued is stopped
when its turn comes.
"""

from __future__ import annotations

import uuid

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from arrears import events
from arrears.customers.models import Customer
from arrears.db import utcnow
from arrears.errors import Forbidden, NotFound, ValidationFailed
from arrears.identity.caller import Caller
from arrears.messaging import rules
from arrears.messaging.models import CHANNELS, OPT_OUT_SOURCES, OptOut
from arrears.messaging.rules import org_region

ALL = "all"


def channels_of(channel: str) -> tuple[str, ...]:
    channel = (channel or "").strip().lower()
    if channel == ALL:
        return CHANNELS
    if channel not in CHANNELS:
        raise ValidationFailed("channel must be sms, email or all",
                               field_errors={"channel": ["Must be sms, email or all."]})
    return (channel,)


async def add(session: AsyncSession, caller: Caller, *, channel: str, customer_id: int | None = None,
              recipient: str | None = None, source: str = "api", reason: str | None = None) -> list[OptOut]:
    """Opt out on one channel or all, in the caller's organisation; idempotent (an existing
    opt-out is returned as it is). Anyone with write access (an API key: opt-outs:write); a STOP
    reply or a provider's unsubscribe comes as the system caller (`provider:<name>`)."""
    _require_opt_out_writer(caller)
    org_id, actor = caller.org_id, caller.actor
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
    region = await org_region(session, org_id)
    if customer_id is None:
        targets = _targets(channel, recipient, region)
    else:  # the customer opts out; a number/address given too is kept on its own channel's row
        targets = [(ch, rules.normalise_recipient(ch, recipient, region)
                    if recipient and rules.recipient_channel(recipient) == ch else None)
                   for ch in channels_of(channel)]
    out: list[OptOut] = []
    for ch, norm in targets:
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


def _require_opt_out_writer(caller: Caller) -> None:
    caller.require_write()
    if not caller.has_scope("opt-outs:write"):
        raise Forbidden("This API key lacks the opt-outs:write scope")


async def opt_out(session: AsyncSession, caller: Caller, *, channel: str, customer_id: int | None = None,
                  recipient: str | None = None, reason: str | None = None) -> list[OptOut]:
    """A person of the organisation (or an API key) records an opt-out: `add` from the API."""
    return await add(session, caller, channel=channel, customer_id=customer_id, recipient=recipient,
                     source="api", reason=reason)


async def opt_in(session: AsyncSession, caller: Caller, opt_out_id: int | str) -> None:
    """Remove an opt-out of the caller's organisation (`remove`)."""
    await remove(session, caller, opt_out_id)


def _targets(channel: str, recipient: str | None, region: str) -> list[tuple[str, str | None]]:
    """(channel, normalised recipient) pairs to record. A bare recipient is stored in the one
    form sends compare (rules.normalise_recipient: E.164 digits, or a lower-cased address), and
    `all` means the channels the recipient can be reached on: a number is SMS, an address e-mail."""
    channels = channels_of(channel)
    if not recipient:
        return [(ch, None) for ch in channels]
    kind = rules.recipient_channel(recipient)
    if kind not in channels:
        raise ValidationFailed(f"{recipient!r} is not an {'e-mail address' if channel == 'email' else 'SMS number'}",
                               field_errors={"recipient": [f"Not valid for {channel}."]})
    norm = rules.normalise_recipient(kind, recipient, region)
    if not norm:
        what = "phone number" if kind == "sms" else "e-mail address"
        raise ValidationFailed(f"recipient is not a valid {what}",
                               field_errors={"recipient": [f"Not a valid {what}."]})
    return [(kind, norm)]


async def remove(session: AsyncSession, caller: Caller, opt_out_id: int | str) -> None:
    """Remove an opt-out of the caller's organisation (another's is not found), authorised as
    `add` is."""
    _require_opt_out_writer(caller)
    org_id, actor = caller.org_id, caller.actor
    row = await get(session, org_id, opt_out_id)
    await session.execute(delete(OptOut).where(OptOut.id == row.id))
    await events.record(session, org_id=org_id, type="customer.opted_in", actor=actor,
                        subject_type="customer" if row.customer_id else "recipient",
                        subject_id=row.customer_id if row.customer_id is not None else row.recipient,
                        data={"channel": row.channel})


async def remove_for(session: AsyncSession, caller: Caller, *, channel: str, customer_id: int | None = None,
                     recipient: str | None = None) -> int:
    """Remove the caller's organisation's opt-outs of a customer or a number/address on a channel
    (or all); how many went."""
    _require_opt_out_writer(caller)
    org_id = caller.org_id
    count = 0
    region = await org_region(session, org_id)
    for ch, norm in _targets(channel, None if customer_id is not None else recipient, region):
        q = select(OptOut).where(OptOut.org_id == org_id, OptOut.channel == ch)
        if customer_id is not None:
            q = q.where(OptOut.customer_id == customer_id)
        else:
            q = q.where(OptOut.recipient == norm)
        for row in (await session.scalars(q)).all():
            await remove(session, caller, row.id)
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


async def customer_ref(session: AsyncSession, org_id: int, value: int | str | None) -> int | None:
    """The organisation's customer named by an integer id or a UUID (404 for another tenant's)."""
    if value is None:
        return None
    q = select(Customer.id).where(Customer.org_id == org_id)
    if isinstance(value, int) or (isinstance(value, str) and value.isdigit()):
        ident = int(value)
        if ident >= 2**31:
            raise NotFound(f"Customer {value} not found")
        q = q.where(Customer.id == ident)
    else:
        try:
            q = q.where(Customer.uuid == uuid.UUID(str(value)))
        except ValueError:
            raise NotFound(f"Customer {value} not found") from None
    found = await session.scalar(q)
    if found is None:
        raise NotFound(f"Customer {value} not found")
    return int(found)


async def customer_uuids(session: AsyncSession, org_id: int, rows: list[OptOut]) -> dict[int, str]:
    """The UUIDs of the organisation's customers these opt-outs name, by integer id."""
    ids = {r.customer_id for r in rows if r.customer_id is not None}
    if not ids:
        return {}
    found = await session.execute(select(Customer.id, Customer.uuid)
                                  .where(Customer.org_id == org_id, Customer.id.in_(ids)))
    return {r[0]: str(r[1]) for r in found}


async def customers_with_phone(session: AsyncSession, org_id: int, number: str) -> list[int]:
    """Customers of the organisation whose number is this one (in any form: 27821234567,
    082 123 4567)."""
    digits = rules.phone_key(number, await org_region(session, org_id))
    if digits is None:
        return []
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
