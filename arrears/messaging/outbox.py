"""The durable outbox: claim due messages, pace them per provider account, send them, record what
happened, and settle the calls a dead worker left behind.

A message goes through these commits, each its own transaction:

1. **queued** — the request that wants it writes the row (`pending`, due at `next_attempt_at`) and
   a `messaging.drain` job, in the request's transaction.
2. **claimed** — a drain takes a few seconds' worth of due rows for one provider account
   (`claimed_by`, `claim_until`; still `pending`). A claimed row whose worker dies is claimed
   again when the claim runs out; nothing was sent.
3. **attempt recorded** — when the account's pacer gives the batch its slot, the rows move to
   `sending` (attempts + 1, `attempt_started_at`, a claim covering the call), unless they were
   opted out or fell outside permitted hours meanwhile. Only the rows this update returns are
   sent; the provider gets our reference (the message UUID) with each message.
4. **answer recorded** — `sent` (with the provider's id), `pending` again with backoff (a
   transient failure, until `max_retries`), or `failed` with the provider's reason.

A worker killed between 3 and 4 leaves a row `sending` under an expired claim. `reconcile`
settles it by the provider's rules (`Provider.recovery`): the simulation and the gateway (which
gets an Idempotency-Key) send it again; SMSPortal and SendGrid wait up to
MESSAGING_RECONCILE_AFTER for a delivery report or event naming our reference (which settles
it: the receipt moves it to delivered/failed); then, and at once for SMTP, which reports
nothing, MESSAGING_UNKNOWN_OUTCOME decides: `fail` (default: at most once — the message is
failed with OUTCOME_UNKNOWN and never sent twice; a receipt arriving later still marks it
delivered) or `resend` (at least once).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import random
import socket
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, and_, bindparam, case, delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from arrears import events
from arrears.db import transaction, utcnow
from arrears.identity.models import Organisation
from arrears.jobs import queue
from arrears.jobs.models import Job
from arrears.messaging import attachments, rules
from arrears.messaging.errors import MessagingErrorCode
from arrears.messaging.models import Message
from arrears.messaging.providers import Provider, ProviderNotConfigured, rate_for, resolve
from arrears.messaging.providers.base import Outbound, SendResult
from arrears.messaging.ratelimit import pacer
from arrears.messaging.settings import MessagingSettings, messaging_settings

log = logging.getLogger("arrears.messaging.outbox")

DRAIN_JOB = "messaging.drain"
RECEIPT_JOB = "messaging.simulated_receipt"
RECONCILING = "reconcile"  # claimed_by of a row waiting for a receipt after an interrupted call
OUTCOME_UNKNOWN = "OUTCOME_UNKNOWN"
PROVIDER_REJECTED = "PROVIDER_REJECTED"
RETRIES_EXHAUSTED = "RETRIES_EXHAUSTED"
NOT_CONFIGURED = MessagingErrorCode.PROVIDER_NOT_CONFIGURED
MAX_DELAY = 6 * 3600.0
MAX_RETRY_AFTER = 24 * 3600.0
WATCHDOG_EVERY = 2.0  # seconds between pushes of the drain's watchdog job
WATCHDOG_AHEAD = 6.0  # the watchdog runs this long after the last push (a killed drain's successor)


def worker_name() -> str:
    return f"{socket.gethostname()[:30]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


# ---------------------------------------------------------------- scheduling drains


async def request_drain(session: AsyncSession, at: datetime | None = None) -> None:
    """A drain job in the caller's transaction (so it exists exactly when the messages do)."""
    key = "arrears_messaging_drain"
    if session.info.get(key) and at is None:
        return
    session.info[key] = True
    await queue.enqueue(session, DRAIN_JOB, {}, run_at=at, max_attempts=25)


async def schedule_drain(s: AsyncSession, at: datetime) -> None:
    """A drain at `at`, rounded up to the whole second: one job per second, which runs after
    every row that falls due within that second."""
    second = math.ceil(at.timestamp())
    key = f"{DRAIN_JOB}@{second}"
    if await s.scalar(select(Job.id).where(Job.dedupe_key == key)) is None:
        try:
            async with s.begin_nested():
                await queue.enqueue(s, DRAIN_JOB, {}, run_at=datetime.fromtimestamp(second, UTC),
                                    dedupe_key=key, max_attempts=25)
        except IntegrityError:  # another drain scheduled the same second: that job serves both
            pass


# ---------------------------------------------------------------- lanes: one per provider account


@dataclass
class OrgRules:
    org: Organisation
    hours: Any  # ContactHours


@dataclass
class Lane:
    provider: Provider
    rate: float
    groups: set[tuple[int, str]] = field(default_factory=set)  # (org_id, channel)

    @property
    def account(self) -> str:
        return self.provider.account

    def batch_size(self) -> int:
        # Batches span at most ~0.2 s of the rate, so pacing stays smooth at any rate.
        return max(1, min(self.provider.max_batch, int(self.rate * 0.2)))

    def prefetch(self) -> int:
        return max(self.batch_size(), min(500, math.ceil(self.rate * 2)))


@dataclass
class DrainStats:
    claimed: int = 0
    sent: int = 0
    failed: int = 0
    retried: int = 0
    deferred: int = 0
    skipped: int = 0
    reconciled: int = 0

    def add(self, other: DrainStats) -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))


def _due(now: datetime, me: str | None = None) -> list[Any]:
    """Pending rows that are due and not claimed (or claimed by `me`: the synchronous dispatch)."""
    free = [Message.claim_until.is_(None), Message.claim_until < now]
    if me is not None:
        free.append(Message.claimed_by == me)
    return [Message.status == "pending", Message.next_attempt_at <= now, or_(*free)]


async def _org_rules(session: AsyncSession, org_ids: set[int], settings: MessagingSettings) -> dict[int, OrgRules]:
    if not org_ids:
        return {}
    orgs = (await session.scalars(select(Organisation).where(Organisation.id.in_(org_ids)))).all()
    return {o.id: OrgRules(o, rules.contact_hours(o, settings)) for o in orgs}


async def _lanes(settings: MessagingSettings, engine: AsyncEngine | None, only: set[int] | None = None,
                 me: str | None = None) -> tuple[list[Lane], dict[int, OrgRules]]:
    now = utcnow()
    async with transaction(engine=engine, readonly=True) as s:
        q = select(Message.org_id, Message.channel).where(*_due(now, me)).distinct()
        if only is not None:
            q = q.where(Message.id.in_(only))
        groups = [(r[0], r[1]) for r in (await s.execute(q)).all()]
        org_rules = await _org_rules(s, {g[0] for g in groups}, settings)
    lanes: dict[str, Lane] = {}
    broken: list[tuple[int, str, str]] = []
    for org_id, channel in groups:
        rule = org_rules.get(org_id)
        try:
            provider = resolve(rule.org if rule else None, channel, settings)
        except ProviderNotConfigured as exc:
            broken.append((org_id, channel, exc.message))
            continue
        lane = lanes.get(provider.account)
        if lane is None:
            lane = lanes[provider.account] = Lane(provider, rate_for(rule.org if rule else None, provider, settings))
        lane.groups.add((org_id, channel))
    for org_id, channel, reason in broken:
        await _fail_unconfigured(org_id, channel, reason, engine, only, me)
    return list(lanes.values()), org_rules


async def _fail_unconfigured(org_id: int, channel: str, reason: str, engine: AsyncEngine | None,
                             only: set[int] | None, me: str | None = None) -> None:
    """Due messages of an organisation whose provider went away: failed with the reason."""
    now = utcnow()
    async with transaction(engine=engine) as s:
        q = select(Message).where(*_due(now, me), Message.org_id == org_id, Message.channel == channel)
        if only is not None:
            q = q.where(Message.id.in_(only))
        for m in (await s.scalars(q.limit(1000))).all():
            await _fail(s, m, NOT_CONFIGURED, reason, now)


# ---------------------------------------------------------------- claim, check, mark sending


@dataclass(frozen=True)
class Claimed:
    id: int
    ref: str
    org_id: int
    channel: str
    recipient: str
    content: str
    subject: str | None
    html: str | None
    customer_id: int | None
    attempts: int  # before this attempt


async def claim(lane: Lane, me: str, limit: int, settings: MessagingSettings, *,
                engine: AsyncEngine | None = None, only: set[int] | None = None,
                mine: bool = False) -> list[Claimed]:
    """Take up to `limit` due rows of the lane (still pending), leased to `me` (with `mine`,
    rows `me` holds already are taken too)."""
    now = utcnow()
    conds = [or_(*[and_(Message.org_id == o, Message.channel == c) for o, c in lane.groups])]
    if only is not None:
        conds.append(Message.id.in_(only))
    # Claimed rows wait in memory for their turn: this batch of rows and the one ahead of it.
    lease = settings.lease + timedelta(seconds=2 * limit / lane.rate)
    async with transaction(engine=engine) as s:
        q = (select(Message.id, Message.uuid, Message.org_id, Message.channel, Message.recipient,
                    Message.content, Message.subject, Message.html, Message.customer_id, Message.attempts)
             .where(*_due(now, me if mine else None), *conds)
             .order_by(Message.next_attempt_at, Message.id).limit(limit))
        if s.get_bind().dialect.name == "postgresql":
            q = q.with_for_update(skip_locked=True)
        rows = (await s.execute(q)).all()
        if not rows:
            return []
        await s.execute(update(Message).where(Message.id.in_([r.id for r in rows]))
                        .values(claimed_by=me, claim_until=now + lease, updated_at=now))
    return [Claimed(r.id, str(r.uuid), r.org_id, r.channel, r.recipient, r.content, r.subject, r.html,
                    r.customer_id, r.attempts) for r in rows]


async def mark_sending(lane: Lane, batch: Sequence[Claimed], me: str, org_rules: dict[int, OrgRules],
                       settings: MessagingSettings, stats: DrainStats, *,
                       engine: AsyncEngine | None = None) -> list[Claimed]:
    """Record the attempt (its own commit, before the call) for the rows that may go now;
    opted-out rows fail, rows outside permitted hours wait for the next permitted minute."""
    now = utcnow()
    async with transaction(engine=engine) as s:
        keep: list[Claimed] = []
        by_org: dict[tuple[int, str], list[Claimed]] = defaultdict(list)
        for c in batch:
            by_org[(c.org_id, c.channel)].append(c)
        for (org_id, channel), items in by_org.items():
            out = await rules.opted_out(s, org_id, channel, [(c.customer_id, c.recipient) for c in items])
            rule = org_rules.get(org_id)
            for i, c in enumerate(items):
                if i in out:
                    m = await s.get(Message, c.id)
                    if m is not None and m.status == "pending" and m.claimed_by == me:
                        await _fail(s, m, rules.OPTED_OUT, opt_out_text(channel), now)
                        stats.skipped += 1
                    continue
                if rule is not None and not rule.hours.is_permitted(now):
                    await s.execute(update(Message).where(Message.id == c.id, Message.claimed_by == me,
                                                          Message.status == "pending").values(
                        claimed_by=None, claim_until=None, next_attempt_at=rule.hours.next_permitted(now),
                        updated_at=now))
                    stats.deferred += 1
                    continue
                keep.append(c)
        if not keep:
            return []
        call_lease = timedelta(seconds=settings.timeout) + settings.lease
        result = await s.execute(
            update(Message).where(Message.id.in_([c.id for c in keep]), Message.claimed_by == me,
                                  Message.status == "pending")
            .values(status="sending", attempts=Message.attempts + 1, attempt_started_at=now,
                    claim_until=now + call_lease, provider=lane.provider.name,
                    provider_account=lane.account, updated_at=now)
            .returning(Message.id))
        ours = {r[0] for r in result.all()}
    return [c for c in keep if c.id in ours]


def opt_out_text(channel: str) -> str:
    return f"Not sent: the customer opted out of {'SMS' if channel == 'sms' else 'e-mail'} messages"


# ---------------------------------------------------------------- recording answers

_t = cast(Table, Message.__table__)  # typed FromClause by SQLAlchemy; a model's is a Table
_SENT = (update(_t).where(_t.c.id == bindparam("b_id"), _t.c.claimed_by == bindparam("b_me"),
                          _t.c.attempts == bindparam("b_attempt"))
         .values(status=case((_t.c.status == "sending", "sent"), else_=_t.c.status),
                 external_id=func.coalesce(_t.c.external_id, bindparam("b_ext")),
                 sent_at=func.coalesce(_t.c.sent_at, bindparam("b_now")),
                 # A receipt that came first (UNDELIV before our answer was written) keeps its reason.
                 response=case((_t.c.status == "failed", _t.c.response), else_=bindparam("b_response")),
                 error_code=case((_t.c.status == "failed", _t.c.error_code), else_=None),
                 claimed_by=None, claim_until=None, updated_at=bindparam("b_now")))


def retry_delay(settings: MessagingSettings, retry_number: int, retry_after: float | None) -> float:
    """MESSAGING_RETRY_DELAY doubled per retry (5 s, 10 s, 20 s …) with up to 10 % jitter; never
    sooner than the provider's Retry-After."""
    base = settings.retry_delay * (2 ** max(0, retry_number - 1))
    delay = min(MAX_DELAY, base) * random.uniform(1.0, 1.1)
    if retry_after is not None:
        delay = max(delay, min(retry_after, MAX_RETRY_AFTER))
    return delay


def message_event_data(m: Message) -> dict[str, Any]:
    return {"id": str(m.uuid), "status": m.status, "channel": m.channel, "recipient": m.recipient,
            "external_id": m.external_id, "source": m.source,
            "upload_id": str(m.upload_id) if m.upload_id else None,
            "account_id": str(m.account_id) if m.account_id else None,
            "debtor_account_id": m.debtor_account_id, "customer_id": m.customer_id,
            "error_code": m.error_code, "reason": m.response if m.status == "failed" else None}


async def _fail(s: AsyncSession, m: Message, code: str, reason: str, now: datetime, actor: str = "system") -> None:
    m.status = "failed"
    m.error_code = code
    m.response = reason
    m.failed_at = now
    m.claimed_by = None
    m.claim_until = None
    m.updated_at = now
    await s.flush()
    await events.record(s, org_id=m.org_id, type="message.failed", actor=actor, subject_type="message",
                        subject_id=m.uuid, data=message_event_data(m))


async def record(lane: Lane, batch: Sequence[Claimed], results: Sequence[SendResult], me: str,
                 settings: MessagingSettings, stats: DrainStats, *, engine: AsyncEngine | None = None) -> None:
    """Write the answers of one call (only over the attempt we recorded)."""
    now = utcnow()
    by_id = {c.id: c for c in batch}
    sent_params: list[dict[str, Any]] = []
    later: dict[tuple[str, float], list[str]] = defaultdict(list)
    others: list[tuple[Claimed, SendResult]] = []
    penalty = 0.0
    for r in results:
        c = by_id.get(r.message_id)
        if c is None:
            continue
        if r.outcome == "sent":
            sent_params.append({"b_id": c.id, "b_me": me, "b_attempt": c.attempts + 1, "b_ext": r.external_id,
                                "b_now": now, "b_response": r.response or "Message sent successfully"})
            for status, delay in r.later:
                later[(status, delay)].append(c.ref)
        else:
            others.append((c, r))
            if r.outcome == "transient" and r.retry_after:
                penalty = max(penalty, min(r.retry_after, MAX_RETRY_AFTER))
    async with transaction(engine=engine) as s:
        if sent_params:
            # sending → sent; a receipt that came first (delivered, read) is kept.
            await s.execute(_SENT, sent_params)
            stats.sent += len(sent_params)
        for c, r in others:
            m = await s.get(Message, c.id)
            if m is None or m.claimed_by != me or m.attempts != c.attempts + 1 or m.status != "sending":
                continue  # settled meanwhile (a receipt, or a reconcile after a stall)
            if r.outcome == "transient" and m.retry_count < m.max_retries:
                m.retry_count += 1
                m.status = "pending"
                m.next_attempt_at = now + timedelta(seconds=retry_delay(settings, m.retry_count, r.retry_after))
                m.response = f"{r.response} (retry {m.retry_count} of {m.max_retries})"
                m.claimed_by = None
                m.claim_until = None
                m.updated_at = now
                stats.retried += 1
            elif r.outcome == "transient":
                await _fail(s, m, RETRIES_EXHAUSTED,
                            f"{r.response} (gave up after {m.max_retries} "
                            f"retr{'y' if m.max_retries == 1 else 'ies'})", now)
                stats.failed += 1
            else:
                await _fail(s, m, PROVIDER_REJECTED, r.response or "Rejected by the provider", now)
                stats.failed += 1
        for (status, delay), refs in later.items():
            await queue.enqueue(s, RECEIPT_JOB, {"refs": refs, "status": status, "provider": lane.provider.name},
                                run_at=now + timedelta(seconds=delay), max_attempts=5)
    if penalty:
        await pacer().penalise(lane.account, penalty)


# ---------------------------------------------------------------- reconcile interrupted calls


async def reconcile(settings: MessagingSettings, *, engine: AsyncEngine | None = None,
                    limit: int = 500) -> int:
    """Settle rows left `sending` under an expired claim (their worker died mid-call)."""
    now = utcnow()
    settled = 0
    async with transaction(engine=engine) as s:
        q = (select(Message).where(Message.status == "sending", Message.claim_until < now)
             .order_by(Message.claim_until).limit(limit))
        if s.get_bind().dialect.name == "postgresql":
            q = q.with_for_update(skip_locked=True)
        rows = (await s.scalars(q)).all()
        for m in rows:
            recovery = RECOVERY.get(m.provider or "", "policy")
            waited = m.claimed_by == RECONCILING
            if recovery == "receipt" and not waited:
                started = m.attempt_started_at or now
                until = max(started + settings.reconcile_after, now + timedelta(seconds=1))
                m.claimed_by = RECONCILING
                m.claim_until = until
                m.response = ("Outcome unknown: the worker stopped during the call to "
                              f"{m.provider}; waiting for its delivery report until "
                              f"{until.strftime('%Y-%m-%dT%H:%M:%SZ')}")
                m.updated_at = now
                await schedule_drain(s, until + timedelta(seconds=1))
                continue
            resend = recovery == "resend" or settings.messaging_unknown_outcome == "resend"
            if resend and m.attempts <= m.max_retries + 2:
                m.status = "pending"
                m.next_attempt_at = now
                m.claimed_by = None
                m.claim_until = None
                m.response = (f"Sending again: the worker stopped during the call to {m.provider} "
                              f"({'the provider de-duplicates on our reference' if recovery == 'resend' else 'MESSAGING_UNKNOWN_OUTCOME=resend'})")
                m.updated_at = now
            else:
                await _fail(s, m, OUTCOME_UNKNOWN,
                            f"Outcome unknown: the worker stopped during the call to {m.provider} and no "
                            "delivery report arrived; not sent again, so that it is never sent twice "
                            "(MESSAGING_UNKNOWN_OUTCOME=fail)", now)
            settled += 1
        if settled:
            await request_drain(s)
    return settled


def _recovery_table() -> dict[str, str]:
    from arrears.messaging.providers.http_gateway import HttpGatewayProvider
    from arrears.messaging.providers.sendgrid import SendGridProvider
    from arrears.messaging.providers.simulation import SimulationProvider
    from arrears.messaging.providers.smsportal import SMSPortalProvider
    from arrears.messaging.providers.smtp import SmtpProvider

    return {p.name: p.recovery for p in (SimulationProvider, SMSPortalProvider, SendGridProvider, SmtpProvider,
                                         HttpGatewayProvider)}


RECOVERY = _recovery_table()


# ---------------------------------------------------------------- the drain


async def _send_batch(lane: Lane, batch: list[Claimed], me: str, settings: MessagingSettings,
                      stats: DrainStats, engine: AsyncEngine | None) -> None:
    files = await attachments.attachments_for([c.id for c in batch if c.channel == "email"], engine=engine)
    outbound = [Outbound(c.id, c.ref, c.org_id, c.channel, c.recipient, c.content, c.subject, c.html,
                         attempt=c.attempts + 1, attachments=files.get(c.id, ())) for c in batch]
    try:
        results = await lane.provider.send(outbound)
    except Exception as exc:  # a provider bug must not lose the batch: treat as transient
        log.exception("provider %s raised", lane.provider.name)
        results = [SendResult(c.id, "transient", response=f"{type(exc).__name__}: {exc}"[:500]) for c in batch]
    await record(lane, batch, results, me, settings, stats, engine=engine)


async def _mark_and_send(lane: Lane, chunk: list[Claimed], me: str, org_rules: dict[int, OrgRules],
                         settings: MessagingSettings, stats: DrainStats, engine: AsyncEngine | None) -> None:
    ready = await mark_sending(lane, chunk, me, org_rules, settings, stats, engine=engine)
    if ready:
        await _send_batch(lane, ready, me, settings, stats, engine)


async def run_lane(lane: Lane, me: str, org_rules: dict[int, OrgRules], settings: MessagingSettings, *,
                   engine: AsyncEngine | None = None, only: set[int] | None = None, mine: bool = False,
                   deadline: float | None = None) -> DrainStats:
    """Send everything due on one provider account, paced, with bounded calls in flight.

    The loop only waits for the pacer: the next rows are claimed while the current ones go, and
    each batch records its attempt and calls the provider in a task of its own, so a slow commit
    delays one batch, never the rate."""
    stats = DrainStats()
    loop = asyncio.get_running_loop()
    slots = asyncio.Semaphore(settings.messaging_concurrency)
    inflight: set[asyncio.Task[None]] = set()
    size = lane.batch_size()

    def next_claim() -> asyncio.Task[list[Claimed]]:
        return asyncio.create_task(claim(lane, me, lane.prefetch(), settings, engine=engine, only=only, mine=mine))

    ahead: asyncio.Task[list[Claimed]] | None = next_claim()
    try:
        while ahead is not None:
            claimed = await ahead
            ahead = None
            if not claimed:
                break
            stats.claimed += len(claimed)
            more = deadline is None or loop.time() < deadline
            if more and only is None:
                ahead = next_claim()
            for i in range(0, len(claimed), size):
                chunk = claimed[i:i + size]
                await pacer().acquire(lane.account, len(chunk), lane.rate)
                await slots.acquire()
                task = asyncio.create_task(_mark_and_send(lane, chunk, me, org_rules, settings, stats, engine))
                inflight.add(task)
                task.add_done_callback(inflight.discard)
                task.add_done_callback(lambda _t: slots.release())
            if more and only is not None:
                # The synchronous dispatch holds its rows already (`mine`): claim again only once
                # these have been marked, so that no row is taken twice.
                if inflight:
                    await asyncio.gather(*inflight)
                ahead = next_claim()
        if inflight:
            await asyncio.gather(*inflight)
    finally:
        if ahead is not None and not ahead.done():
            ahead.cancel()
        for t in inflight:
            if not t.done():
                t.cancel()
        pending = [t for t in (*inflight, *([ahead] if ahead else [])) if t is not None]
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
    return stats


async def _watchdog(job_key: str, engine: AsyncEngine | None, stop: asyncio.Event) -> None:
    """Keep a drain job queued a few seconds ahead while this drain runs: if the process is killed
    the job falls due and another worker carries on (instead of waiting for the job lease).

    It ends when `stop` is set, between two transactions: cancelling it inside one would
    invalidate the connection, and on aiosqlite a second cancellation of that close (the event
    loop's shutdown) leaves its thread stopped and the close waiting forever."""
    while not stop.is_set():
        at = utcnow() + timedelta(seconds=WATCHDOG_AHEAD)
        async with transaction(engine=engine) as s:
            job = await s.scalar(select(Job).where(Job.dedupe_key == job_key))
            if job is None:
                await queue.enqueue(s, DRAIN_JOB, {"watchdog": True}, run_at=at, dedupe_key=job_key,
                                    max_attempts=25)
            elif job.status == "queued":
                job.run_at = at
            else:
                return  # it ran already: its own drain carries on
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), WATCHDOG_EVERY)


async def settle(settings: MessagingSettings, *, engine: AsyncEngine | None = None) -> bool:
    """After a pass: True when nothing is due now (a drain is scheduled for the next due row)."""
    now = utcnow()
    async with transaction(engine=engine) as s:
        if await s.scalar(select(Message.id).where(*_due(now)).limit(1)) is not None:
            return False
        if await s.scalar(select(Message.id).where(Message.status == "sending",
                                                   Message.claim_until < now).limit(1)) is not None:
            return False
        nxt = await s.scalar(select(func.min(Message.next_attempt_at)).where(Message.status == "pending"))
        lease = await s.scalar(select(func.min(Message.claim_until)).where(
            Message.status.in_(("pending", "sending")), Message.claim_until.is_not(None)))
        times = [t for t in (nxt, lease) if t is not None]
        if times:
            at = min(aware(t) for t in times)
            await schedule_drain(s, max(at, now + timedelta(seconds=1)))
        return True


def aware(value: Any) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


async def drain(*, engine: AsyncEngine | None = None, settings: MessagingSettings | None = None,
                me: str | None = None, max_seconds: float | None = None) -> DrainStats:
    """Send everything due (including what falls due meanwhile), then schedule the next drain."""
    settings = settings or messaging_settings()
    me = me or worker_name()
    total = DrainStats()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + max_seconds if max_seconds else None
    watch_key = f"{DRAIN_JOB}.watchdog:{me}"
    stop_watchdog = asyncio.Event()
    watchdog = asyncio.create_task(_watchdog(watch_key, engine, stop_watchdog))
    try:
        while True:
            total.reconciled += await reconcile(settings, engine=engine)
            lanes, org_rules = await _lanes(settings, engine)
            if lanes:
                results = await asyncio.gather(*(run_lane(lane, me, org_rules, settings, engine=engine,
                                                          deadline=deadline) for lane in lanes))
                for r in results:
                    total.add(r)
            if deadline is not None and loop.time() >= deadline:
                async with transaction(engine=engine) as s:
                    await request_drain(s)
                break
            if await settle(settings, engine=engine):
                break
            if not lanes:
                await asyncio.sleep(0.2)  # only claims of live workers are ahead: let them work
    finally:
        await _stop_watchdog(watchdog, stop_watchdog)
        with contextlib.suppress(Exception):
            async with transaction(engine=engine) as s:
                await s.execute(delete(Job).where(Job.dedupe_key == watch_key, Job.status == "queued"))
    return total


async def _stop_watchdog(watchdog: asyncio.Task[None], stop: asyncio.Event) -> None:
    """Let the watchdog finish its transaction and end. If this drain is cancelled meanwhile, the
    watchdog is cancelled too and the cancellation goes on to the caller (never swallowed)."""
    stop.set()
    try:
        await asyncio.shield(watchdog)
    except asyncio.CancelledError:
        if not watchdog.done():
            watchdog.cancel()
        raise
    except Exception:
        log.exception("messaging: the drain's watchdog failed")


async def send_now(ids: set[int], me: str, *, engine: AsyncEngine | None = None,
                   settings: MessagingSettings | None = None) -> DrainStats:
    """Send these messages at once, in this task (the synchronous dispatch): the same claims,
    pacing, attempts and answers as the drain, limited to `ids`."""
    settings = settings or messaging_settings()
    total = DrainStats()
    lanes, org_rules = await _lanes(settings, engine, only=ids, me=me)
    results = await asyncio.gather(*(run_lane(lane, me, org_rules, settings, engine=engine, only=ids, mine=True)
                                     for lane in lanes))
    for r in results:
        total.add(r)
    return total
