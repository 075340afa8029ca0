"""Synchronous dispatch: send now and say per recipient what happened (the pharmacy face's
send-email / send-sms). The same rows, rules, providers, pacing, attempts and retries as the
outbox; only the waiting is different.

    results = await dispatch_now(caller, channel="sms", recipients=[
        Recipient(ref=debtor.id, to=debtor.phone, content=text, customer_id=…, debtor_account_id=…),
    ], idempotency_key=request_key)

Each result is `sent` (with the provider's `external_id`), `pending` (it will go later: held
outside permitted contact hours — `error_code` OUTSIDE_CONTACT_HOURS with the reason in `error` —
or the provider is busy and the worker retries it; `scheduled_for` says when) or `failed` (with
the provider's or the contact rule's reason in `error` and its code in `error_code`).

Transactions: the rows must be committed before the provider is called (so that a crash can
never send a message that has no row), so `dispatch_now` commits on its own and takes no
session. Call it outside a write transaction: on SQLite a request that holds the write lock
would wait for itself. A face route does this by resolving its caller with a read-only session
(see the pharmacy face), or by calling it after its own transaction has committed.

Idempotency: with an `idempotency_key`, each recipient's message is keyed
`{key}:{channel}:{ref}`; calling again with the same key (even at the same time: the unique key
decides) sends nothing new and answers with the state of the messages the first call wrote.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from arrears.customers.phones import parse_email, region_or_default
from arrears.db import isoz, transaction, utcnow
from arrears.errors import ValidationFailed
from arrears.identity.caller import Caller
from arrears.identity.service import get_org, org_setting
from arrears.messaging import outbox, rules
from arrears.messaging.models import CHANNELS, Message
from arrears.messaging.service import (
    Draft,
    check_retries,
    queue_messages,
    require_cap_override,
    require_status_override,
)
from arrears.messaging.settings import messaging_settings

INLINE_RETRY_WINDOW = 6.0  # seconds: a retry due sooner than this is made before answering
INLINE_RETRIES = 2


@dataclass
class Recipient:
    ref: Any  # the caller's key for this recipient (a pharmacy debtor id), echoed in the result
    to: str | None  # a phone number (any common format) for SMS, an address for e-mail
    content: str  # the SMS text, or the e-mail's plain part
    subject: str | None = None
    html: str | None = None
    template: str | None = None
    customer_id: int | None = None
    debtor_account_id: int | None = None  # the book's account (DebtorAccount.id)
    account_id: uuid.UUID | None = None  # the report row (DebtorSnapshot.uuid)
    upload_id: uuid.UUID | None = None  # the report (DebtorReport.uuid)
    problem: str | None = None  # set by the caller when it knows it cannot be sent ("No email address")


@dataclass
class DispatchResult:
    ref: Any
    to: str | None  # as given
    status: str  # sent | pending | failed
    message_id: str | None = None
    external_id: str | None = None
    error: str | None = None  # why it failed, or why it waits (pending)
    error_code: str | None = None  # OPTED_OUT, CAP_REACHED, INVALID_RECIPIENT, OUTSIDE_CONTACT_HOURS, …
    scheduled_for: datetime | None = None  # pending: when it goes

    @property
    def reason(self) -> str | None:
        """What a face shows next to a recipient that was not sent (yet)."""
        return None if self.status == "sent" else self.error


def _draft(r: Recipient, channel: str, region: str, key: str | None) -> Draft:
    problem: tuple[str, str] | None = (rules.NO_RECIPIENT, r.problem) if r.problem else None
    recipient = None
    if problem is None:
        if not r.to or not str(r.to).strip():
            problem = (rules.NO_RECIPIENT, "No phone number" if channel == "sms" else "No email address")
        elif channel == "sms":
            recipient = rules.phone_key(str(r.to), region)
            if recipient is None:
                problem = (rules.INVALID_RECIPIENT, f"Invalid phone number: {r.to}")
        else:
            try:
                recipient = parse_email(str(r.to)).lower()
            except ValueError:
                problem = (rules.INVALID_RECIPIENT, f"Invalid email address: {r.to}")
    return Draft(channel, recipient, r.content, subject=r.subject, html=r.html, template=r.template,
                 customer_id=r.customer_id, debtor_account_id=r.debtor_account_id, account_id=r.account_id,
                 upload_id=r.upload_id, idempotency_key=f"{key}:{channel}:{r.ref}"[:200] if key else None, problem=problem, ref=r.ref)


def _result(r: Recipient, m: Message | None) -> DispatchResult:
    if m is None:
        return DispatchResult(r.ref, r.to, "failed", error="Not recorded")
    status = m.status
    if status in ("sent", "delivered", "read"):
        return DispatchResult(r.ref, r.to, "sent", str(m.uuid), m.external_id)
    if status == "failed":
        return DispatchResult(r.ref, r.to, "failed", str(m.uuid), m.external_id, m.response or "Failed",
                              m.error_code)
    due = outbox.aware(m.next_attempt_at)
    if m.attempts == 0 and due > outbox.aware(m.created_at):
        # Held by the contact rules (outside permitted hours): it goes by itself at `due`.
        return DispatchResult(r.ref, r.to, "pending", str(m.uuid), None,
                              f"Held: outside permitted contact hours; it will be sent at {isoz(due)}",
                              rules.OUTSIDE_HOURS, due)
    return DispatchResult(r.ref, r.to, "pending", str(m.uuid), m.external_id, m.response,
                          m.error_code, scheduled_for=due)


async def dispatch_now(caller: Caller, *, channel: str, recipients: Sequence[Recipient], source: str = "pharmacy",
                       idempotency_key: str | None = None, override_cap: bool = False,
                       max_retries: int | None = None, engine: AsyncEngine | None = None,
                       override_status: bool = False) -> list[DispatchResult]:
    """Write the messages, send them at once through the organisation's provider, and answer per
    recipient (in the order given). A recipient whose book account is disputed, handed over or
    written off is refused (`ACCOUNT_ON_HOLD`) unless `override_status` (managers and admins).
    Raises ProviderNotConfigured (400) before writing anything when the channel has no provider."""
    if channel not in CHANNELS:
        raise ValidationFailed("channel must be sms or email", field_errors={"channel": ["Must be sms or email."]})
    caller.require_write()
    if override_cap:
        require_cap_override(caller)
    if override_status:
        require_status_override(caller)
    s = messaging_settings()
    retries = check_retries(max_retries, s)
    me = outbox.worker_name()
    try:
        drafts, existing, fresh, queued = await _write(caller, channel, recipients, source, idempotency_key,
                                                       override_cap, retries, s, me, engine, override_status)
    except IntegrityError:
        if not idempotency_key:
            raise
        # A concurrent call with the same key wrote its rows first: answer with those.
        drafts, existing, fresh, queued = await _write(caller, channel, recipients, source, idempotency_key,
                                                       override_cap, retries, s, me, engine, override_status)
    new_ids = set(queued.ids) if queued else set()
    if new_ids:
        if await _due_now(new_ids, utcnow(), engine):
            await outbox.send_now(new_ids, me, engine=engine, settings=s)
        for _ in range(INLINE_RETRIES):
            soon = await _retry_soon(new_ids, engine)
            if not soon:
                break
            await asyncio.sleep(max(0.0, (soon[1] - utcnow()).total_seconds()))
            await outbox.send_now(soon[0], me, engine=engine, settings=s)
        async with transaction(engine=engine) as session:
            # What is left (outside permitted hours, or still busy) is the worker's.
            await session.execute(update(Message).where(Message.id.in_(new_ids), Message.claimed_by == me,
                                                        Message.status == "pending")
                                  .values(claimed_by=None, claim_until=None))
            left = await session.scalar(select(Message.id).where(Message.id.in_(new_ids),
                                                                 Message.status == "pending").limit(1))
            if left is not None:
                await outbox.request_drain(session)
    async with transaction(engine=engine, readonly=True) as session:
        ids_by_key = {d.idempotency_key: d for d in drafts if d.idempotency_key}
        rows = {}
        if queued:
            found = (await session.scalars(select(Message).where(Message.id.in_(queued.ids)))).all()
            by_id = {m.id: m for m in found}
            for d, mid in zip(fresh, queued.ids, strict=True):
                rows[id(d)] = by_id.get(mid)
        if existing:
            found = (await session.scalars(select(Message).where(Message.id.in_([m.id for m in existing.values()]))
                                           )).all()
            by_key = {m.idempotency_key: m for m in found}
            for key in existing:
                d = ids_by_key[key]
                rows[id(d)] = by_key.get(key)
    return [_result(r, rows.get(id(d))) for r, d in zip(recipients, drafts, strict=True)]


async def _write(caller: Caller, channel: str, recipients: Sequence[Recipient], source: str, key: str | None,
                 override_cap: bool, retries: int, s: Any, me: str, engine: AsyncEngine | None,
                 override_status: bool = False) -> tuple[list[Draft], dict[str, Message], list[Draft], Any]:
    """Write the rows (one commit), skipping those an earlier call with the same key wrote, and
    claim the new ones for this call so that no worker takes them meanwhile."""
    async with transaction(engine=engine) as session:
        org = await get_org(session, caller.org_id)
        region = region_or_default(org_setting(org, "default_region"))
        drafts = [_draft(r, channel, region, key) for r in recipients]
        seen: set[str] = set()
        for d in drafts:  # the same ref twice under one key would be one message: the second is refused
            if d.idempotency_key in seen:
                d.idempotency_key = None
                d.problem = (rules.DUPLICATE, "Not sent: listed twice in this request")
            elif d.idempotency_key:
                seen.add(d.idempotency_key)
        existing: dict[str, Message] = {}
        keys = [d.idempotency_key for d in drafts if d.idempotency_key]
        if keys:
            rows = (await session.scalars(select(Message).where(Message.org_id == org.id,
                                                                Message.idempotency_key.in_(keys)))).all()
            existing = {m.idempotency_key: m for m in rows if m.idempotency_key}
        fresh = [d for d in drafts if not (d.idempotency_key and d.idempotency_key in existing)]
        queued = None
        if fresh:
            queued = await queue_messages(session, caller, org, fresh, source=source, max_retries=retries,
                                          override_cap=override_cap, settings=s, drain=False,
                                          override_status=override_status)
            if queued.ids:
                await session.execute(update(Message).where(Message.id.in_(queued.ids), Message.status == "pending")
                                      .values(claimed_by=me, claim_until=utcnow() + s.lease))
    return drafts, existing, fresh, queued


async def _due_now(ids: set[int], now: datetime, engine: AsyncEngine | None) -> set[int]:
    async with transaction(engine=engine, readonly=True) as session:
        rows = await session.scalars(select(Message.id).where(Message.id.in_(ids), Message.status == "pending",
                                                              Message.next_attempt_at <= now))
        return set(rows)


async def _retry_soon(ids: set[int], engine: AsyncEngine | None) -> tuple[set[int], datetime] | None:
    """Messages of this call that failed transiently and fall due again within the window."""
    limit = utcnow() + timedelta(seconds=INLINE_RETRY_WINDOW)
    async with transaction(engine=engine, readonly=True) as session:
        rows = (await session.execute(select(Message.id, Message.next_attempt_at).where(
            Message.id.in_(ids), Message.status == "pending", Message.attempts > 0,
            Message.next_attempt_at <= limit))).all()
    if not rows:
        return None
    return {r[0] for r in rows}, max(outbox.aware(r[1]) for r in rows)
