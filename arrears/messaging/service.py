"""The rules of messaging: queueing messages (with the contact rules), message logs and
summaries, and a debtor's or customer's communications.

Services take a session and the caller, flush and never commit: a message row and its drain job
are written in the request's transaction, so they exist exactly when the request succeeded. The
worker sends them (outbox.py). Every message of every face is one row of `messages`. The
organisation's own templates are managed in template_store.py.
"""

from __future__ import annotations

import math
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from arrears import events, paging
from arrears.accounts import service as accounts
from arrears.db import advisory_lock, utcnow
from arrears.errors import Forbidden, NotFound, ValidationFailed
from arrears.identity.caller import Caller
from arrears.identity.models import Organisation, User
from arrears.messaging import locks, outbox, rules
from arrears.messaging.models import SENT_STATUSES, Message
from arrears.messaging.providers import Provider, rate_for, resolve
from arrears.messaging.ratelimit import pacer
from arrears.messaging.segments import count_segments
from arrears.messaging.settings import MessagingSettings, messaging_settings
from arrears.messaging.template_store import (  # noqa: F401 (the faces' and pages' names, re-exported)
    TEMPLATE_MANAGERS,
    TemplateView,
    available_templates,
    create_template,
    delete_template,
    get_template,
    list_templates,
    may_manage_templates,
    parse_uuid,
    update_template,
    validate_template_parts,
)
from arrears.messaging.templates import (
    MAX_TEMPLATE_LENGTH,
    render_email,
)
from arrears.paging import Page

MAX_RETRIES_LIMIT = 10
CAP_OVERRIDERS = ("admin", "manager")
INSERT_CHUNK = 1000


def shown_status(status: str) -> str:
    """The spec's statuses: an attempt in flight is still `pending` to the outside."""
    return "pending" if status == "sending" else status


# ------------------------------------------------------------------ queueing messages


@dataclass
class Draft:
    """One message to queue. `recipient` is digits (27821234567) for SMS, an address for e-mail;
    `problem` says why it cannot be sent (it is then written failed, with that reason)."""

    channel: str
    recipient: str | None
    content: str
    subject: str | None = None
    html: str | None = None
    template: str | None = None
    customer_id: int | None = None
    debtor_account_id: int | None = None
    account_id: uuid.UUID | None = None
    upload_id: uuid.UUID | None = None
    idempotency_key: str | None = None
    problem: tuple[str, str] | None = None  # (error_code, reason)
    ref: Any = None  # the caller's own key for this recipient (e.g. a pharmacy debtor id)


@dataclass
class Queued:
    batch_id: uuid.UUID
    ids: list[int]  # message ids, in the order of the drafts
    refs: list[Any]
    queued: int  # pending: will be sent
    skipped: int  # written failed at once (opt-out, cap, invalid recipient)
    scheduled_for: datetime | None  # when the first can go (outside permitted hours: later)
    estimated_seconds: float
    provider: Provider | None = None
    reasons: Counter[str] = field(default_factory=Counter)


def _cap_text(channel: str, per_window: int, window: timedelta) -> str:
    what = "SMS" if channel == "sms" else "e-mail"
    hours = window.total_seconds() / 3600
    span = f"{hours:g} hours" if hours != 1 else "hour"
    return (f"Not sent: the customer already had {per_window} {what} message"
            f"{'s' if per_window != 1 else ''} in the last {span} (contact cap); a manager can override")


async def queue_messages(session: AsyncSession, caller: Caller, org: Organisation, drafts: Sequence[Draft], *,
                         source: str, max_retries: int | None = None,
                         override_cap: bool = False, settings: MessagingSettings | None = None,
                         batch_id: uuid.UUID | None = None, drain: bool = True,
                         override_status: bool = False) -> Queued:
    """Write one message row per draft, applying the contact rules; pending rows get a drain job.
    The caller needs write access; `org` (loaded by the caller, its settings are the rules') must
    be the caller's organisation (another is not found). The rows name the caller's user, the
    events its actor. A draft for a book account that is disputed, handed over or written off is
    refused (failed, `ACCOUNT_ON_HOLD`) unless `override_status` (a manager's, checked by the
    caller). Raises ProviderNotConfigured (400) when a channel has no provider, before writing
    anything."""
    caller.require_write()
    if org.id != caller.org_id:
        raise NotFound("Organisation not found")
    actor, user_id = caller.actor, caller.user_id
    s = settings or messaging_settings()
    batch_id = batch_id or uuid.uuid4()
    retries = s.messaging_max_retries if max_retries is None else max_retries
    providers = {ch: resolve(org, ch, s) for ch in {d.channel for d in drafts}}
    hours = rules.contact_hours(org, s)
    cap = rules.cap(org, s)
    now = utcnow()
    due = hours.next_permitted(now)
    reasons: Counter[str] = Counter()
    problems: dict[int, tuple[str, str]] = {}
    region = rules.region_or_default(rules.org_setting(org, "default_region"))
    holds = {} if override_status else await accounts.collection_holds(
        session, org.id, [d.debtor_account_id for d in drafts if d.debtor_account_id is not None])
    for channel in providers:
        idx = [i for i, d in enumerate(drafts) if d.channel == channel]
        for i in idx:
            d = drafts[i]
            if d.problem is not None:
                problems[i] = d.problem
            elif d.debtor_account_id is not None and d.debtor_account_id in holds:
                problems[i] = (rules.ACCOUNT_ON_HOLD, accounts.hold_text(*holds[d.debtor_account_id]))
            elif not d.recipient:
                problems[i] = (rules.NO_RECIPIENT, "Not sent: no " + ("mobile number" if channel == "sms"
                                                                      else "e-mail address"))
            else:
                # One form of a number for every row (E.164 digits), the form opt-outs, the cap
                # and receipts compare; an address goes out as written (compared lower-cased).
                norm = (rules.phone_key(d.recipient, region) if channel == "sms"
                        else d.recipient.strip() or None)
                if norm is None:
                    problems[i] = (rules.INVALID_RECIPIENT, f"Not sent: {d.recipient} is not a valid "
                                   + ("mobile number" if channel == "sms" else "e-mail address"))
                else:
                    d.recipient = norm
        live = [i for i in idx if i not in problems]
        out = await rules.opted_out(session, org.id, channel, [(drafts[i].customer_id, drafts[i].recipient)
                                                               for i in live])
        for j in out:
            problems[live[j]] = (rules.OPTED_OUT, outbox.opt_out_text(channel))
        live = [i for i in live if i not in problems]
        if cap.per_window and not override_cap and live:
            # Count and write under the organisation's cap lock: two sends at once to the same
            # customer must not both see the other's message missing.
            await advisory_lock(session, locks.CONTACT_CAP, org.id)
            by_c, by_r = await rules.recent_counts(
                session, org.id, channel, now - cap.window,
                [cid for i in live if (cid := drafts[i].customer_id) is not None],
                [drafts[i].recipient or "" for i in live if drafts[i].customer_id is None])
            # One tally: customer ids (int) and recipients (str) never collide.
            counts: dict[int | str, int] = dict([*by_c.items(), *by_r.items()])
            for i in live:
                d = drafts[i]
                key = d.customer_id if d.customer_id is not None else d.recipient or ""
                if counts.get(key, 0) >= cap.per_window:
                    problems[i] = (rules.CAP_REACHED, _cap_text(channel, cap.per_window, cap.window))
                else:
                    counts[key] = counts.get(key, 0) + 1
    rows: list[dict[str, Any]] = []
    for i, d in enumerate(drafts):
        problem = problems.get(i)
        rows.append({
            "uuid": uuid.uuid4(), "org_id": org.id, "channel": d.channel, "source": source, "batch_id": batch_id,
            "upload_id": d.upload_id, "account_id": d.account_id, "debtor_account_id": d.debtor_account_id,
            "customer_id": d.customer_id, "user_id": user_id, "recipient": d.recipient or "",
            "template": d.template, "subject": d.subject, "content": d.content, "html": d.html,
            "segments": count_segments(d.content).segments if d.channel == "sms" else None,
            "status": "failed" if problem else "pending", "error_code": problem[0] if problem else None,
            "response": problem[1] if problem else None, "retry_count": 0, "max_retries": retries, "attempts": 0,
            "next_attempt_at": due, "failed_at": now if problem else None,
            "cap_override_by": user_id if override_cap and not problem else None,
            "idempotency_key": d.idempotency_key, "created_at": now, "updated_at": now})
        if problem:
            reasons[problem[0]] += 1
    ids: list[int] = []
    for start in range(0, len(rows), INSERT_CHUNK):
        chunk = rows[start:start + INSERT_CHUNK]
        result = await session.execute(insert(Message).returning(Message.id, sort_by_parameter_order=True), chunk)
        ids.extend(r[0] for r in result.all())
    for row in (rows[i] for i in sorted(problems)):
        data = {"id": str(row["uuid"]), "status": "failed", "channel": row["channel"],
                "recipient": row["recipient"], "external_id": None, "source": source,
                "upload_id": str(row["upload_id"]) if row["upload_id"] else None,
                "account_id": str(row["account_id"]) if row["account_id"] else None,
                "debtor_account_id": row["debtor_account_id"], "customer_id": row["customer_id"],
                "error_code": row["error_code"], "reason": row["response"]}
        await events.record(session, org_id=org.id, type="message.failed", actor=actor, subject_type="message",
                            subject_id=row["uuid"], data=data)
    queued = len(drafts) - len(problems)
    if queued and drain:
        await outbox.request_drain(session, at=due if due > now else None)
    provider = next(iter(providers.values()), None)
    seconds = await estimate_seconds(session, org, providers, queued, due, now, s)
    return Queued(batch_id, ids, [d.ref for d in drafts], queued, len(problems), due if queued else None,
                  seconds, provider, reasons)


async def estimate_seconds(session: AsyncSession, org: Organisation, providers: dict[str, Provider], count: int,
                           due: datetime, now: datetime, s: MessagingSettings) -> float:
    """How long until these messages are sent: the wait for permitted hours, the messages queued
    ahead on the same provider account, and ours, at the account's rate."""
    if not count or not providers:
        return 0.0
    provider = next(iter(providers.values()))
    rate = rate_for(org, provider, s)
    ahead = await session.scalar(select(func.count()).select_from(Message).where(
        Message.org_id == org.id, Message.status.in_(("pending", "sending")),
        Message.next_attempt_at <= max(due, now))) or 0
    ahead = max(0, int(ahead) - count)  # ours were flushed already
    backlog = 0.0
    try:
        backlog = await pacer().backlog(provider.account)
    except Exception:  # an estimate must never fail a send
        backlog = 0.0
    wait = max(0.0, (due - now).total_seconds())
    return wait + backlog + (ahead + count) / rate


def humanise_seconds(seconds: float) -> str:
    """6 → "6 seconds"; 100 → "1 minute 40 seconds"; 7500 → "2 hours 5 minutes"."""
    total = max(0, math.ceil(seconds))
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)

    def unit(n: int, word: str) -> str:
        return f"{n} {word}{'' if n == 1 else 's'}"

    if days:
        return unit(days, "day") + (f" {unit(hours, 'hour')}" if hours else "")
    if hours:
        return unit(hours, "hour") + (f" {unit(minutes, 'minute')}" if minutes else "")
    if minutes:
        return unit(minutes, "minute") + (f" {unit(secs, 'second')}" if secs else "")
    return unit(secs, "second")


# ------------------------------------------------------------------ checks shared by the sends


def check_retries(max_retries: Any, s: MessagingSettings) -> int:
    if max_retries is None:
        return s.messaging_max_retries
    if isinstance(max_retries, bool) or not isinstance(max_retries, int) or not 0 <= max_retries <= MAX_RETRIES_LIMIT:
        raise ValidationFailed(f"max_retries must be a whole number from 0 to {MAX_RETRIES_LIMIT}",
                               field_errors={"max_retries": [f"Must be 0 to {MAX_RETRIES_LIMIT}."]})
    return max_retries


def may_override_cap(caller: Caller) -> bool:
    """Whether the caller may send past the contact cap (managers and admins)."""
    return caller.role in CAP_OVERRIDERS


def require_cap_override(caller: Caller) -> None:
    if not may_override_cap(caller):
        raise Forbidden("Only managers and admins may override the contact cap")


def require_status_override(caller: Caller) -> None:
    """Messaging a disputed, handed-over or written-off account: managers and admins only."""
    if not may_override_cap(caller):
        raise Forbidden("Only managers and admins may message a disputed, handed-over or written-off account")


# ------------------------------------------------------------------ logs and summaries


# An upload's message log is paged as its accounts are: items are (message, the sender's user uuid).
LogPage = Page[tuple[Message, "str | None"]]


async def upload_logs(session: AsyncSession, caller: Caller, upload_id: Any, *, page: int = 1,
                      per_page: int = 20) -> LogPage:
    from arrears.debtors import service as debtors

    req = debtors.PAGES.check(page, per_page)
    report = await debtors.get_report(session, caller, upload_id)
    base = select(Message).where(Message.org_id == caller.org_id, Message.upload_id == report.uuid)
    total = await paging.count(session, base)
    rows = (await session.execute(
        select(Message, User.uuid).outerjoin(User, User.id == Message.user_id)
        .where(Message.org_id == caller.org_id, Message.upload_id == report.uuid)
        .order_by(Message.created_at, Message.id).offset(req.offset).limit(req.size))).all()
    return LogPage([(r[0], str(r[1]) if r[1] else None) for r in rows], total, req.page, req.size)


@dataclass
class Summary:
    upload_id: uuid.UUID
    total_messages: int
    sent_messages: int
    failed_messages: int
    delivered_messages: int
    pending_messages: int
    read_messages: int
    first_sent_at: datetime | None
    last_sent_at: datetime | None


async def upload_summary(session: AsyncSession, caller: Caller, upload_id: Any) -> Summary:
    """Counts by status: delivered and read count as sent, so sent + failed = total once every
    message is final; pending (and in flight) is the rest."""
    from arrears.debtors import service as debtors

    report = await debtors.get_report(session, caller, upload_id)
    where = (Message.org_id == caller.org_id, Message.upload_id == report.uuid)
    counts = dict((await session.execute(select(Message.status, func.count()).where(*where)
                                         .group_by(Message.status))).all())
    first, last = (await session.execute(select(func.min(Message.sent_at), func.max(Message.sent_at))
                                         .where(*where))).one()
    total = sum(int(v) for v in counts.values())
    sent = sum(int(counts.get(k, 0)) for k in SENT_STATUSES)
    return Summary(report.uuid, total, sent, int(counts.get("failed", 0)),
                   int(counts.get("delivered", 0)) + int(counts.get("read", 0)),
                   int(counts.get("pending", 0)) + int(counts.get("sending", 0)), int(counts.get("read", 0)),
                   outbox.aware(first) if first else None, outbox.aware(last) if last else None)


async def communications(session: AsyncSession, caller: Caller, debtor_id: Any, *,
                         channel: str | None = None) -> list[Message]:
    """Every message about one debtor (any face), newest first. `debtor_id` is the pharmacy
    face's debtor (a snapshot's integer id, or its UUID): the messages of every report's row of
    that account count, so the history survives the next import. 404 for one the caller cannot
    see (another organisation's, or a report it may not read)."""
    from arrears.debtors import service as debtors
    from arrears.debtors.models import DebtorAccount

    snapshot = await debtors.get_snapshot(session, caller, debtor_id)
    account_id = await session.scalar(select(DebtorAccount.id).where(
        DebtorAccount.org_id == caller.org_id, DebtorAccount.account_code == snapshot.account_code))
    about = Message.account_id == snapshot.uuid
    if account_id is not None:
        about = or_(about, Message.debtor_account_id == account_id)
    q = select(Message).where(Message.org_id == caller.org_id, about)
    if channel:
        q = q.where(Message.channel == channel)
    return list((await session.scalars(q.order_by(Message.created_at.desc(), Message.id.desc()))).all())


async def customer_messages(session: AsyncSession, org_id: int, customer_id: int) -> list[Message]:
    q = (select(Message).where(Message.org_id == org_id, Message.customer_id == customer_id)
         .order_by(Message.created_at.desc(), Message.id.desc()))
    return list((await session.scalars(q)).all())


async def get_message(session: AsyncSession, caller: Caller, message_id: Any) -> Message:
    mid = parse_uuid(message_id, "Message")
    m = await session.scalar(select(Message).where(Message.uuid == mid, Message.org_id == caller.org_id))
    if m is None:
        raise NotFound("Message not found")
    return m


def counts_by_status(messages: Iterable[Message]) -> dict[str, int]:
    out: dict[str, int] = defaultdict(int)
    for m in messages:
        out[shown_status(m.status)] += 1
    return dict(out)


# ------------------------------------------------------------------ the customer timeline


async def _timeline_entries(session: AsyncSession, caller: Caller, customer: Any) -> list[Any]:
    from arrears.customers.schemas import TimelineEntry

    entries = []
    for m in await customer_messages(session, caller.org_id, customer.id):
        what = "SMS" if m.channel == "sms" else "E-mail"
        status = shown_status(m.status)
        summary = f"{what} to {m.recipient or 'nobody'}: {status}"
        if m.status == "failed" and m.response:
            summary += f" ({m.response})"
        entries.append(TimelineEntry(f"message.{m.channel}", m.sent_at or m.created_at, summary, {
            "id": str(m.uuid), "channel": m.channel, "status": status, "recipient": m.recipient,
            "subject": m.subject, "content": m.content, "source": m.source, "external_id": m.external_id,
            "error_code": m.error_code, "reason": m.response if m.status == "failed" else None,
            "upload_id": str(m.upload_id) if m.upload_id else None,
            "account_id": str(m.account_id) if m.account_id else None,
            "sent_at": m.sent_at, "delivered_at": m.delivered_at, "created_at": m.created_at}))
    return entries



__all__ = [
    "Draft", "Queued", "Summary", "available_templates", "communications", "create_template",
    "customer_messages", "delete_template", "get_message", "get_template", "humanise_seconds", "list_templates",
    "queue_messages", "render_email", "shown_status", "update_template", "upload_logs",
    "upload_summary", "validate_template_parts", "MAX_TEMPLATE_LENGTH",
]
