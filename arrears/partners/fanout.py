"""Domain events → webhook delivery rows, in the event's own transaction.

For every event of an organisation whose type is a webhook event, one PENDING delivery is written
per ACTIVE subscription (of an ACTIVE client of that organisation) that lists the type, and one
drain job is made sure to run after the commit (`partners.webhooks.drain`, see delivery.py).

Making sure without a job per event: a transaction that adds deliveries looks for a queued drain
job that is already due and enqueues one only when there is none. A drain job that finds nothing
more to do checks once more while no such transaction is open (SQLite: its write lock; PostgreSQL:
an advisory lock that producers hold shared until they commit), so no delivery written by a
transaction that relied on it is left behind."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event as sa_event
from sqlalchemy import insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, SessionTransaction

from arrears.db import isoz, utcnow
from arrears.events import DomainEvent
from arrears.jobs import queue
from arrears.jobs.models import Job
from arrears.partners.catalogue import WEBHOOK_EVENT_SET
from arrears.partners.models import ApiClient, WebhookDelivery, WebhookSubscription

DRAIN_JOB = "partners.webhooks.drain"
DRAIN_LOCK = 0x50415254  # PostgreSQL advisory lock id ("PART")
_SUBS = "arrears_partner_subscriptions"
_DRAIN = "arrears_partner_drain_requested"


@dataclass(frozen=True)
class _Sub:
    id: uuid.UUID
    events: frozenset[str]
    attempt_limit: int


def payload_of(ev: DomainEvent) -> dict[str, Any]:
    """The body every receiver gets: {"type", "timestamp", "data"}."""
    data = ev.data or {"subjectType": ev.subject_type, "subjectId": ev.subject_id, "after": ev.after}
    return {"type": ev.type, "timestamp": isoz(ev.created_at), "data": data}


async def _subscriptions(session: AsyncSession, org_id: int) -> list[_Sub]:
    """Active subscriptions of the organisation, read once per transaction."""
    cache: dict[int, list[_Sub]] = session.info.setdefault(_SUBS, {})
    if org_id not in cache:
        rows = await session.execute(
            select(WebhookSubscription.id, WebhookSubscription.events, WebhookSubscription.max_retries)
            .join(ApiClient, ApiClient.id == WebhookSubscription.client_id)
            .where(WebhookSubscription.org_id == org_id, WebhookSubscription.status == "ACTIVE",
                   ApiClient.status == "ACTIVE"))
        cache[org_id] = [_Sub(r[0], frozenset(r[1] or ()), int(r[2]) + 1) for r in rows]
    return cache[org_id]


def forget_subscriptions(session: AsyncSession) -> None:
    """Call after changing subscriptions or clients inside a transaction."""
    session.info.pop(_SUBS, None)


async def wants(session: AsyncSession, org_id: int, types: frozenset[str]) -> bool:
    """Whether an active subscription of the organisation takes any of these types (events written
    in bulk are read back for `on_event` only then)."""
    if not types & WEBHOOK_EVENT_SET:
        return False
    return any(s.events & types for s in await _subscriptions(session, org_id))


async def on_event(session: AsyncSession, ev: DomainEvent) -> None:
    if ev.org_id is None or ev.type not in WEBHOOK_EVENT_SET:
        return
    matched = [s for s in await _subscriptions(session, ev.org_id) if ev.type in s.events]
    if not matched:
        return
    payload = payload_of(ev)
    now = utcnow()
    await session.execute(insert(WebhookDelivery), [
        {"id": uuid.uuid4(), "org_id": ev.org_id, "subscription_id": s.id, "event_id": ev.uuid,
         "event_type": ev.type, "payload": payload, "status": "PENDING", "attempt_count": 0,
         "attempt_limit": s.attempt_limit, "scheduled_for": now, "created_at": now, "updated_at": now}
        for s in matched])
    await request_drain(session)


async def request_drain(session: AsyncSession) -> None:
    """Make sure a drain job runs after this transaction commits (once per transaction)."""
    if session.info.get(_DRAIN):
        return
    session.info[_DRAIN] = True
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock_shared(:k)"), {"k": DRAIN_LOCK})
    due = await session.scalar(select(Job.id).where(Job.kind == DRAIN_JOB, Job.status == "queued",
                                                    Job.run_at <= utcnow()).limit(1))
    if due is None:
        await queue.enqueue(session, DRAIN_JOB, {}, max_attempts=20)
    else:
        # The same flag enqueue() sets: wake in-process workers once this commits.
        session.sync_session.info["arrears_wake_workers"] = True


def _forget(session: Session, transaction: SessionTransaction) -> None:
    session.info.pop(_SUBS, None)
    session.info.pop(_DRAIN, None)


def install_session_hooks() -> None:
    """Drop the per-transaction caches when a transaction ends (called by wiring)."""
    if not sa_event.contains(Session, "after_transaction_end", _forget):
        sa_event.listen(Session, "after_transaction_end", _forget)
