"""The outbox for many messages at once (a strategy run's chunk of thousands): the contact rules
of `service.queue_messages`, applied the same way and in the same order, with the rows written
set-based — on PostgreSQL a COPY into a temporary table and one INSERT … SELECT … ON CONFLICT DO
NOTHING on the idempotency key; on SQLite one executemany.

Every draft must carry an idempotency key: a draft whose key is already in `messages` (an earlier
attempt that committed) is left alone, so writing the same batch twice sends each message once.
Refused drafts are written `failed` with the reason, with their `message.failed` events, as
queue_messages writes them. What this does not do that queue_messages does: the cap override, the
status override, and the send-time estimate (a run has nobody waiting for it).
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ARRAY, Integer, String, any_, bindparam, cast, or_, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from arrears import events
from arrears.accounts import service as accounts
from arrears.accounts.models import Account
from arrears.db import advisory_lock, pg_array, pg_text_array, utcnow
from arrears.errors import NotFound
from arrears.identity.caller import Caller
from arrears.identity.models import Organisation
from arrears.messaging import locks, outbox, rules
from arrears.messaging.models import Message, OptOut
from arrears.messaging.providers import resolve
from arrears.messaging.segments import count_segments
from arrears.messaging.service import Draft
from arrears.messaging.settings import MessagingSettings, messaging_settings

TEMP = "tmp_bulk_messages"
# The columns a bulk row fills (the others keep their defaults: NULL, or set by the sender).
COLUMNS = ("uuid", "org_id", "channel", "source", "batch_id", "account_id", "debtor_account_id", "customer_id",
           "recipient", "template", "subject", "content", "html", "segments", "status", "error_code", "response",
           "retry_count", "max_retries", "attempts", "next_attempt_at", "failed_at", "idempotency_key",
           "created_at", "updated_at")
PARAMS_PER_QUERY = 5000  # a query's parameters are bounded (32,767 on PostgreSQL)


@dataclass
class BulkQueued:
    batch_id: uuid.UUID
    queued: int  # pending rows written: will be sent
    failed: int  # refused rows written failed
    reasons: Counter[str] = field(default_factory=Counter)


def _cap_text(channel: str, per_window: int, window: timedelta) -> str:
    what = "SMS" if channel == "sms" else "e-mail"
    hours = window.total_seconds() / 3600
    span = f"{hours:g} hours" if hours != 1 else "hour"
    return (f"Not sent: the customer already had {per_window} {what} message"
            f"{'s' if per_window != 1 else ''} in the last {span} (contact cap); a manager can override")


def _in(session: AsyncSession, column: Any, values: Sequence[Any], kind: Any) -> Any:
    """`column IN values`: on PostgreSQL one array parameter (`= ANY($1)`), which is prepared
    once whatever the length, rather than one parameter per value."""
    if session.get_bind().dialect.name == "postgresql":  # as an array literal: db.pg_array says why
        listed = pg_text_array(values) if isinstance(kind, String) else pg_array(values)
        return column == any_(cast(bindparam(None, listed, type_=String()), ARRAY(kind)))
    return column.in_(list(values))


async def holds(session: AsyncSession, org_id: int, debtor_account_ids: Sequence[int]
                ) -> dict[int, tuple[str, str | None]]:
    """accounts.collection_holds in one query per PARAMS_PER_QUERY ids: the book accounts among
    these whose account is disputed, handed over or written off."""
    wanted = sorted(set(debtor_account_ids))
    out: dict[int, tuple[str, str | None]] = {}
    for start in range(0, len(wanted), PARAMS_PER_QUERY):
        rows = await session.execute(
            select(Account.debtor_account_id, Account.status, Account.status_reason)
            .where(Account.org_id == org_id, _in(session, Account.debtor_account_id,
                                                 wanted[start:start + PARAMS_PER_QUERY], Integer()),
                   Account.status.in_(accounts.NO_COLLECTION)))
        out.update({r[0]: (r[1], r[2]) for r in rows if r[0] is not None})
    return out


async def opted_out(session: AsyncSession, org_id: int, channel: str,
                    people: Sequence[tuple[int | None, str | None]]) -> set[int]:
    """rules.opted_out with array parameters: indexes of `people` ((customer_id, recipient)
    pairs) who opted out of the channel."""
    if channel == "email":  # addresses are stored lower-cased in opt-outs
        people = [(c, r.lower() if r else r) for c, r in people]
    customers = sorted({c for c, _ in people if c is not None})
    recipients = sorted({r for _, r in people if r})
    out_customers: set[int] = set()
    out_recipients: set[str] = set()
    for start in range(0, max(len(customers), len(recipients)), PARAMS_PER_QUERY):
        conds = []
        if customers[start:start + PARAMS_PER_QUERY]:
            conds.append(_in(session, OptOut.customer_id, customers[start:start + PARAMS_PER_QUERY], Integer()))
        if recipients[start:start + PARAMS_PER_QUERY]:
            conds.append(_in(session, OptOut.recipient, recipients[start:start + PARAMS_PER_QUERY], String()))
        for c, r in await session.execute(select(OptOut.customer_id, OptOut.recipient).where(
                OptOut.org_id == org_id, OptOut.channel == channel, or_(*conds))):
            if c is not None:
                out_customers.add(c)
            if r is not None:
                out_recipients.add(r)
    return {i for i, (c, r) in enumerate(people)
            if (c is not None and c in out_customers) or (r is not None and r in out_recipients)}


async def refusals(session: AsyncSession, org: Organisation, drafts: Sequence[Draft], now: datetime,
                   s: MessagingSettings, normalised: Sequence[bool] | None = None) -> dict[int, tuple[str, str]]:
    """index → (error code, reason) for the drafts the contact rules refuse: the draft's own
    problem, an account on hold, no recipient, an invalid one, opted out, the cap (counted under
    the organisation's cap lock, as queue_messages does). Recipients are normalised in place,
    except those `normalised` says the caller has normalised already (as rules.phone_key, or an
    address stripped, for the same organisation)."""
    problems: dict[int, tuple[str, str]] = {}
    region = rules.region_or_default(rules.org_setting(org, "default_region"))
    held = await holds(session, org.id, [d.debtor_account_id for d in drafts if d.debtor_account_id is not None])
    cap = rules.cap(org, s)
    for channel in sorted({d.channel for d in drafts}):
        idx = [i for i, d in enumerate(drafts) if d.channel == channel]
        what = "mobile number" if channel == "sms" else "e-mail address"
        for i in idx:
            d = drafts[i]
            if d.problem is not None:
                problems[i] = d.problem
            elif d.debtor_account_id is not None and d.debtor_account_id in held:
                problems[i] = (rules.ACCOUNT_ON_HOLD, accounts.hold_text(*held[d.debtor_account_id]))
            elif not d.recipient:
                problems[i] = (rules.NO_RECIPIENT, f"Not sent: no {what}")
            elif normalised is None or not normalised[i]:
                norm = rules.phone_key(d.recipient, region) if channel == "sms" else d.recipient.strip() or None
                if norm is None:
                    problems[i] = (rules.INVALID_RECIPIENT, f"Not sent: {d.recipient} is not a valid {what}")
                else:
                    d.recipient = norm
        live = [i for i in idx if i not in problems]
        for j in await opted_out(session, org.id, channel, [(drafts[i].customer_id, drafts[i].recipient)
                                                            for i in live]):
            problems[live[j]] = (rules.OPTED_OUT, outbox.opt_out_text(channel))
        live = [i for i in live if i not in problems]
        if cap.per_window and live:
            await advisory_lock(session, locks.CONTACT_CAP, org.id)
            counts: dict[int | str, int] = {}
            for start in range(0, len(live), PARAMS_PER_QUERY):
                part = live[start:start + PARAMS_PER_QUERY]
                by_c, by_r = await rules.recent_counts(
                    session, org.id, channel, now - cap.window,
                    [cid for i in part if (cid := drafts[i].customer_id) is not None],
                    [drafts[i].recipient or "" for i in part if drafts[i].customer_id is None])
                counts.update(by_c.items())
                counts.update(by_r.items())
            for i in live:
                d = drafts[i]
                key = d.customer_id if d.customer_id is not None else d.recipient or ""
                if counts.get(key, 0) >= cap.per_window:
                    problems[i] = (rules.CAP_REACHED, _cap_text(channel, cap.per_window, cap.window))
                else:
                    counts[key] = counts.get(key, 0) + 1
    return problems


# A pending message's status, error code, response and failure time.
_PENDING: tuple[str, None, None, None] = ("pending", None, None, None)


async def queue_bulk(session: AsyncSession, caller: Caller, org: Organisation, drafts: Sequence[Draft], *,
                     source: str, segments: Sequence[int | None] | None = None, fresh_keys: bool = False,
                     normalised: Sequence[bool] | None = None, settings: MessagingSettings | None = None,
                     batch_id: uuid.UUID | None = None) -> BulkQueued:
    """As queue_messages: the caller needs write access, `org` must be the caller's organisation
    (another is not found), the events name the caller. One message row per draft (each with an
    idempotency key; keys already written are skipped), the contact rules applied; outside the
    permitted contact hours the pending rows wait for the next permitted time; a drain job when any
    is pending. `segments`, when given, is each SMS draft's segment count already worked out (None:
    count it here). `fresh_keys`: the caller knows that none of the keys is in `messages` (it holds
    them, as a strategy run holds the executions it has just claimed in this transaction), so on
    PostgreSQL the pending rows are COPYed straight into the table; should one be there after all,
    the unique index refuses the COPY and the transaction fails: never a second message.
    `normalised`, when given, says per draft that its recipient is normalised already (a strategy
    run normalised them when it planned the step): those are not parsed a second time. Raises
    ProviderNotConfigured, before writing anything, when a channel has no provider."""
    caller.require_write()
    if org.id != caller.org_id:
        raise NotFound("Organisation not found")
    actor = caller.actor
    s = settings or messaging_settings()
    batch_id = batch_id or uuid.uuid4()
    if not drafts:
        return BulkQueued(batch_id, 0, 0)
    if any(d.idempotency_key is None for d in drafts):
        raise ValueError("queue_bulk needs an idempotency key on every draft")
    for channel in {d.channel for d in drafts}:
        resolve(org, channel, s)
    now = utcnow()
    due = rules.contact_hours(org, s).next_permitted(now)
    problems = await refusals(session, org, drafts, now, s, normalised)
    # Version 7 UUIDs, one prefix for the batch and the row's number after it: the unique index
    # on them takes a batch at its right edge instead of on random pages.
    first = uuid.UUID(events._uuid7_prefix(now) + "00000000").int
    pending: list[tuple[Any, ...]] = []
    failed: list[dict[str, Any]] = []
    reasons: Counter[str] = Counter()
    org_id, retries, new_uuid = org.id, s.messaging_max_retries, uuid.UUID
    for i, d in enumerate(drafts):
        problem = problems.get(i)
        n = (segments[i] if segments is not None else None) if d.channel == "sms" else None
        if d.channel == "sms" and n is None:
            n = count_segments(d.content).segments
        status, code, response, failed_at = ("failed", *problem, now) if problem else _PENDING
        record = (new_uuid(int=first + i), org_id, d.channel, source, batch_id, d.account_id, d.debtor_account_id,
                  d.customer_id, d.recipient or "", d.template, d.subject, d.content, d.html, n, status, code,
                  response, 0, retries, 0, due, failed_at, d.idempotency_key, now, now)  # in COLUMNS' order
        if problem:
            failed.append(dict(zip(COLUMNS, record, strict=True)))
            reasons[problem[0]] += 1
        else:
            pending.append(record)
    queued = await _write_pending(session, pending, fresh_keys)
    written_failed = await _write_failed(session, failed, actor, source)
    if queued:
        await outbox.request_drain(session, at=due if due > now else None)
    return BulkQueued(batch_id, queued, written_failed, reasons)


async def _write_pending(session: AsyncSession, records: list[tuple[Any, ...]], fresh_keys: bool) -> int:
    """The pending rows (tuples in COLUMNS' order), keys already in `messages` skipped; how many
    were written."""
    if not records:
        return 0
    if session.get_bind().dialect.name != "postgresql":
        rows = [dict(zip(COLUMNS, r, strict=True)) for r in records]
        stmt = (sqlite.insert(Message).on_conflict_do_nothing(index_elements=["org_id", "idempotency_key"])
                .returning(Message.id))
        written = 0
        for start in range(0, len(rows), 1000):
            written += len((await session.execute(stmt, rows[start:start + 1000])).all())
        return written
    conn = await session.connection()
    driver: Any = (await conn.get_raw_connection()).driver_connection
    if fresh_keys:
        await driver.copy_records_to_table("messages", records=records, columns=list(COLUMNS))
        return len(records)
    cols = ", ".join(COLUMNS)
    await session.execute(text(f"CREATE TEMP TABLE IF NOT EXISTS {TEMP} ON COMMIT DROP AS "
                               f"SELECT {cols} FROM messages WITH NO DATA"))
    await driver.copy_records_to_table(TEMP, records=records, columns=list(COLUMNS))
    result = await session.execute(text(
        f"INSERT INTO messages ({cols}) SELECT {cols} FROM {TEMP} "
        "ON CONFLICT (org_id, idempotency_key) DO NOTHING"))
    await session.execute(text(f"DROP TABLE {TEMP}"))  # a second batch in this transaction starts afresh
    return max(int(getattr(result, "rowcount", 0) or 0), 0)


async def _write_failed(session: AsyncSession, rows: list[dict[str, Any]], actor: str, source: str) -> int:
    """The refused rows (few, as a rule) and a `message.failed` event for each one written."""
    if not rows:
        return 0
    make = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    stmt = (make(Message).on_conflict_do_nothing(index_elements=["org_id", "idempotency_key"])
            .returning(Message.uuid, sort_by_parameter_order=True))
    written: set[uuid.UUID] = set()
    for start in range(0, len(rows), 1000):
        written.update(u for (u,) in (await session.execute(stmt, rows[start:start + 1000])).all())
    await events.record_many(session, [
        {"org_id": r["org_id"], "type": "message.failed", "actor": actor, "subject_type": "message",
         "subject_id": r["uuid"],
         "data": {"id": str(r["uuid"]), "status": "failed", "channel": r["channel"], "recipient": r["recipient"],
                  "external_id": None, "source": source, "upload_id": None,
                  "account_id": str(r["account_id"]) if r["account_id"] else None,
                  "debtor_account_id": r["debtor_account_id"], "customer_id": r["customer_id"],
                  "error_code": r["error_code"], "reason": r["response"]}}
        for r in rows if r["uuid"] in written])
    return len(written)
