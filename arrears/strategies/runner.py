"""Runs and previews: what each step does today, worked out once (`plan_step`) and then either
reported (the preview) or done (the run) — so a run does what its preview said when nothing
changed in between.

A run, per strategy (firing order) and step (position order):
1. the due accounts in SQL (arrears.strategies.selection), set-based;
2. what would happen to each: the message drafts and the contact rules' verdicts (no number or
   address, invalid, opted out, the daily cap: the same checks, in the same order, as
   arrears.messaging.service.queue_messages), the tasks' assignees (the customer's collection
   officer, else round-robin among the calling agents or field officers), letters, hand-overs;
3. in chunks, each its own transaction when the caller gives a `checkpoint`, each written
   set-based: check and lock the step, the run and the chunk's accounts once (what foreign keys
   checked row by row: `_hold`), claim the step executions (on PostgreSQL one INSERT … SELECT FROM
   unnest(arrays) … ON CONFLICT (account, step, day) DO NOTHING RETURNING), then act for the
   claimed accounts only — messages through the bulk outbox (arrears.messaging.bulk_outbox: the
   contact rules again at write time, idempotency key `strategy:<step>:<account>:<day>`; outside
   contact hours they wait there), tasks, letters, hand-overs — move their strategy state on (one
   upsert from the claimed executions), and raise `strategy.step_executed` (one INSERT … SELECT
   from them, arrears.events.record_select). On PostgreSQL, when no subscriber or publisher reads
   the step's events back (arrears.events.wanted), the states and events are written by the
   claim's own statement instead (data-modifying CTEs over the rows it inserted: CHAINED_SQL).
   A run killed half-way and started again finds the claimed accounts claimed: nobody gets a
   step twice. On PostgreSQL, committing chunk by chunk, a message step's chunks go in two
   sessions taken in turn (`_fire_in_lanes`): one chunk's statements execute in one backend while
   the next chunk is drafted, checked and sent in the other — each still its own transaction.

An SMS step whose template has only simple placeholders reads only the columns they print (and
the recipient's, the keys', the balance and days past due) and renders each message straight
from the row; the recipients are normalised once, when the step is planned, and the outbox
trusts them at write time. The cyclic garbage collector is paused during a run.

A step with a message refused by the contact rules still executes (outcome `skipped`): the
account moves on to the next step. At most one step fires per account and day: the next may fire
`wait_days` (at least one) after.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    ARRAY,
    JSON,
    Date,
    Integer,
    String,
    Uuid,
    and_,
    any_,
    bindparam,
    cast,
    false,
    func,
    insert,
    literal,
    null,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from arrears import events, sqljson
from arrears.accounts.models import Account, AccountStatusChange
from arrears.accounts.service import STATUS_EVENT
from arrears.config import get_settings
from arrears.customers.phones import DEFAULT_REGION
from arrears.db import UTCDateTime, dialect_insert, pg_array, pg_text_array, utcnow
from arrears.debtors.gcpause import collector_paused
from arrears.identity.caller import Caller
from arrears.identity.models import Membership, Organisation, User
from arrears.identity.service import caller_for_user
from arrears.messaging import rules
from arrears.messaging.bulk_outbox import opted_out, queue_bulk
from arrears.messaging.compiled import CompiledTemplate, segments
from arrears.messaging.models import MessageTemplate
from arrears.messaging.service import Draft
from arrears.messaging.settings import MessagingSettings, messaging_settings
from arrears.messaging.templates import TemplateContext, format_amount, render_email, render_template
from arrears.promises.calendar import org_today
from arrears.strategies import letter_step
from arrears.strategies.models import (
    LEAVING_STATUSES,
    StrategyAccountState,
    StrategyRun,
    StrategyStep,
    StrategyStepExecution,
    message_key_parts,
)
from arrears.strategies.preview import _strategy_summary, _totals
from arrears.strategies.preview import preview_org as preview
from arrears.strategies.selection import FETCHED, Plan, fetch_due, left_out
from arrears.strategies.service import get_strategy, list_strategies, owner_allowed, require_writer, steps_of
from arrears.tasks.models import Task
from arrears.tasks.service import open_tasks

EVENT = "strategy.step_executed"
ZERO = Decimal("0")
# The contact rules' refusals, as the preview and the executions name them.
REASONS = {rules.NO_RECIPIENT: "no_contact", rules.INVALID_RECIPIENT: "invalid_contact",
           rules.OPTED_OUT: "opted_out", rules.CAP_REACHED: "cap_reached"}
TASK_KINDS = {"call_task": ("call", "calling_agent"), "visit_task": ("visit", "field_officer")}
Progress = Callable[[str, int, int], None]
Checkpoint = Callable[[], Awaitable[None]]


def actor_of(strategy_id: uuid.UUID) -> str:
    return f"strategy:{strategy_id}"


async def load_plans(session: AsyncSession, org_id: int, strategy_id: uuid.UUID | None = None) -> list[Plan]:
    """The organisation's strategies in firing order, each with the ones before it; paused ones
    keep their accounts (they are not passed on to a later strategy) but do not fire."""
    strategies = await list_strategies(session, org_id)
    steps = await steps_of(session, [s.id for s in strategies])
    plans = [Plan(st, steps[st.id], strategies[:i]) for i, st in enumerate(strategies)]
    return [p for p in plans if strategy_id is None or p.strategy.id == strategy_id]


# ------------------------------------------------------------------ the contact rules, as the outbox applies them


class CapTally:
    """Messages per customer (or recipient) in the cap's window, loaded once per person and counted
    up as the run (or preview) goes: what queue_messages would find in the messages table."""

    def __init__(self) -> None:
        self.counts: dict[tuple[str, int | str], int] = {}

    async def load(self, session: AsyncSession, org_id: int, channel: str, since: datetime,
                   keys: Sequence[int | str]) -> None:
        todo = [k for k in dict.fromkeys(keys) if (channel, k) not in self.counts]
        if not todo:
            return
        customers = [k for k in todo if isinstance(k, int)]
        recipients = [k for k in todo if isinstance(k, str)]
        for start in range(0, max(len(customers), len(recipients)), 500):
            by_c, by_r = await rules.recent_counts(session, org_id, channel, since, customers[start:start + 500],
                                                   recipients[start:start + 500])
            for c in customers[start:start + 500]:
                self.counts[(channel, c)] = by_c.get(c, 0)
            for r in recipients[start:start + 500]:
                self.counts[(channel, r)] = by_r.get(r, 0)


def _context(row: Any) -> TemplateContext:
    return TemplateContext(
        customer_name=row.customer_name or "", account_code=row.account_code or row.loan_account_number or "",
        total_balance=row.balance if row.balance is not None else ZERO,
        current=row.current or ZERO, d30=row.d30 or ZERO, d60=row.d60 or ZERO, d90=row.d90 or ZERO,
        d120=row.d120 or ZERO, d150=row.d150 or ZERO, d180=row.d180 or ZERO,
        contact_person=row.contact or row.contact_person or "", telephone=row.telephone or row.phone_e164 or "")


def _draft(step: StrategyStep, template: MessageTemplate, row: Any, day: date,
           render: Callable[[Any], str] | None = None) -> Draft:
    """The account's message; `render` is the step's SMS template, compiled once, as a function of
    the selection's row (`_sms_renderer`)."""
    return _drafts(step, template, [row], day, render)[0]


def _drafts(step: StrategyStep, template: MessageTemplate, rows: Sequence[Any], day: date,
            render: Callable[[Any], str] | None = None) -> list[Draft]:
    """_draft for each row: what is the same for all of them (the step's and template's values,
    the key's parts) worked out once."""
    name, (prefix, suffix) = template.name, message_key_parts(step.id, day)
    if step.action == "sms":
        if render is None:
            body = template.body
            render = lambda row: render_template(body, _context(row))  # noqa: E731
        return [Draft("sms", r.phone_e164 or r.telephone, render(r), template=name, customer_id=r.customer_id,
                      debtor_account_id=r.debtor_account_id, idempotency_key=f"{prefix}{r.account_id}{suffix}")
                for r in rows]
    out = []
    for r in rows:
        mail = render_email(template.subject or "", template.body, _context(r))
        out.append(Draft("email", r.customer_email or r.book_email, mail.text, subject=mail.subject, html=mail.html,
                         template=name, customer_id=r.customer_id, debtor_account_id=r.debtor_account_id,
                         idempotency_key=f"{prefix}{r.account_id}{suffix}"))
    return out


# A simple SMS placeholder (compiled.SIMPLE) printed straight from the selection's row — what
# _context puts in the TemplateContext and CompiledTemplate prints from it — with the columns it
# reads: a step whose template has only these reads only those columns (and SMS_COLUMNS).
_ROW_VALUES: dict[str, tuple[tuple[str, ...], Callable[[Any], str]]] = {
    "CustomerName": (("customer_name",), lambda r: r.customer_name or ""),
    "AccountCode": (("account_code", "loan_account_number"), lambda r: r.account_code or r.loan_account_number or ""),
    "TotalBalance": (("balance",), lambda r: format_amount(r.balance if r.balance is not None else ZERO)),
    "Current": (("current",), lambda r: format_amount(r.current or ZERO)),
    "30Days": (("d30",), lambda r: format_amount(r.d30 or ZERO)),
    "60Days": (("d60",), lambda r: format_amount(r.d60 or ZERO)),
    "90Days": (("d90",), lambda r: format_amount(r.d90 or ZERO)),
    "ContactPerson": (("contact", "contact_person"), lambda r: r.contact or r.contact_person or ""),
    "Telephone": (("telephone", "phone_e164"), lambda r: r.telephone or r.phone_e164 or ""),
}
# What an SMS step reads of each row besides its template's values: the draft's recipient and
# keys, the execution's balance and days past due (and whether the import found the book's number
# valid: `booked`).
SMS_COLUMNS = ("account_id", "customer_id", "debtor_account_id", "phone_e164", "telephone", "phone_valid", "balance",
               "dpd")


def _sms_renderer(body: str) -> tuple[Callable[[Any], str], tuple[str, ...]]:
    """The step's SMS template compiled once: a function of the selection's row, and the columns
    it needs (selection.FETCHED, unless every placeholder is a simple one)."""
    sms = CompiledTemplate(body)
    if not sms.simple:
        return (lambda row: sms.render(_context(row))), FETCHED
    wanted = dict.fromkeys(SMS_COLUMNS)
    for name in sorted(sms.placeholders):
        wanted.update(dict.fromkeys(_ROW_VALUES[name][0]))
    return sms.bind({name: _ROW_VALUES[name][1] for name in sms.placeholders}), tuple(wanted)


def booked(row: Any, recipient: str | None) -> str | None:
    """The recipient as rules.phone_key normalises it, without asking phonenumbers, when it is the
    book's own number that the import found a valid South African one (27 and nine digits:
    `debtor_accounts.phone_valid`), as written there or behind the customer's `+` — the usual
    case, which the preview settles the same way; else None (phone_key decides)."""
    tel = row.telephone
    if row.phone_valid and tel and len(tel) == 11 and tel.startswith("27") and (recipient == tel or
                                                                               recipient == "+" + tel):
        return str(tel)
    return None


def _cap_key(d: Draft) -> int | str:
    """Whom the cap counts: the customer, else the recipient (as queue_messages does)."""
    return d.customer_id if d.customer_id is not None else d.recipient or ""


async def check_drafts(session: AsyncSession, org: Organisation, drafts: list[Draft], tally: CapTally,
                       settings: MessagingSettings, known: Sequence[str | None] | None = None) -> dict[int, str]:
    """Which drafts the outbox would refuse, and why (index → reason code): queue_messages' checks
    in its order — no recipient, invalid, opted out, the cap — without writing anything. The
    drafts' recipients are normalised as it does; `known` (SMS), per draft, its recipient already
    normalised where the import vouches for it (`booked`: phone_key's result, only in the default
    region, as the import reads numbers), else None."""
    if not drafts:
        return {}
    problems = _recipients(org, drafts, known)
    await _held_back(session, org, drafts, problems, tally, settings)
    return problems


def _recipients(org: Organisation, drafts: list[Draft], known: Sequence[str | None] | None) -> dict[int, str]:
    """check_drafts' first checks, which need no database (a run does them for its next chunk while
    the database writes this one): no recipient, invalid; the others normalised in place."""
    problems: dict[int, str] = {}
    if not drafts:
        return problems
    channel = drafts[0].channel
    region = rules.region_or_default(rules.org_setting(org, "default_region"))
    if channel != "sms" or region != DEFAULT_REGION:
        known = None
    for i, d in enumerate(drafts):
        if not d.recipient:
            problems[i] = rules.NO_RECIPIENT
            continue
        if known is not None and (norm := known[i]) is not None:
            d.recipient = norm
            continue
        norm = rules.phone_key(d.recipient, region) if channel == "sms" else d.recipient.strip() or None
        if norm is None:
            problems[i] = rules.INVALID_RECIPIENT
        else:
            d.recipient = norm
    return problems


async def _held_back(session: AsyncSession, org: Organisation, drafts: list[Draft], problems: dict[int, str],
                     tally: CapTally, settings: MessagingSettings) -> None:
    """check_drafts' checks that read the database, after _recipients' (`problems`, added to):
    opted out, the cap (counted up on the tally in the drafts' order)."""
    if not drafts:
        return
    channel = drafts[0].channel
    live = [i for i in range(len(drafts)) if i not in problems]
    for j in await opted_out(session, org.id, channel, [(drafts[i].customer_id, drafts[i].recipient) for i in live]):
        problems[live[j]] = rules.OPTED_OUT
    live = [i for i in live if i not in problems]
    cap = rules.cap(org, settings)
    if cap.per_window and live:
        keys: list[int | str] = [_cap_key(drafts[i]) for i in live]
        await tally.load(session, org.id, channel, utcnow() - cap.window, keys)
        for i, key in zip(live, keys, strict=True):
            n = tally.counts.get((channel, key), 0)
            if n >= cap.per_window:
                problems[i] = rules.CAP_REACHED
            else:
                tally.counts[(channel, key)] = n + 1


# ------------------------------------------------------------------ tasks


async def assignees(session: AsyncSession, org_id: int, action: str, rows: Sequence[Any]) -> dict[uuid.UUID, int | None]:
    """The customer's collection officer, else the next calling agent (call) or field officer
    (visit) of the organisation in turn, continuing from the strategy tasks of that kind so far."""
    kind, role = TASK_KINDS[action]
    agents = list(await session.scalars(
        select(User.id).join(Membership, Membership.user_id == User.id)
        .where(Membership.org_id == org_id, User.role == role, User.is_active.is_(True)).order_by(User.id)))
    turn = int(await session.scalar(select(func.count()).select_from(Task).where(
        Task.org_id == org_id, Task.kind == kind, Task.source == "strategy")) or 0)
    out: dict[uuid.UUID, int | None] = {}
    for row in rows:
        if row.officer_id is not None:
            out[row.account_id] = row.officer_id
        elif agents:
            out[row.account_id] = agents[turn % len(agents)]
            turn += 1
        else:
            out[row.account_id] = None
    return out


# ------------------------------------------------------------------ one step's work


@dataclass
class StepWork:
    """What one step does today: the accounts it fires on (`rows`), per account its outcome, the
    message draft or task assignee, and who is left out and why."""

    plan: Plan
    step: StrategyStep
    rows: list[Any] = field(default_factory=list)
    outcome: dict[uuid.UUID, str] = field(default_factory=dict)
    drafts: dict[uuid.UUID, Draft] = field(default_factory=dict)
    assignee: dict[uuid.UUID, int | None] = field(default_factory=dict)
    segments: dict[uuid.UUID, int] = field(default_factory=dict)  # an SMS's segments, counted once
    excluded: Counter[str] = field(default_factory=Counter)
    settings: MessagingSettings | None = None  # read once per run, not again per chunk by the outbox
    staged: MessageDrafts | None = None  # a message step planned chunk by chunk as the run goes (plan_step)

    def summary(self, only: set[uuid.UUID] | None = None) -> dict[str, Any]:
        """Counts (of the accounts in `only`, when given: what a run did): the preview's shape."""
        rows = [r for r in self.rows if only is None or r.account_id in only]
        excluded = Counter(self.excluded)
        sms = emails = segments = letters = handovers = 0
        tasks: Counter[int | None] = Counter()
        outcome, is_sms = self.outcome, self.step.action == "sms"  # an ORM attribute: read once, not per row
        for r in rows:
            o = outcome[r.account_id]
            if o.startswith("skipped:"):
                excluded[o.split(":", 1)[1]] += 1
            elif o == "queued" and is_sms:
                sms += 1
                segments += self.segments[r.account_id]
            elif o == "queued":
                emails += 1
            elif o == "letter":
                letters += 1
            elif o == "task":
                tasks[self.assignee.get(r.account_id)] += 1
            elif o == "handed_over":
                handovers += 1
        return {"stepId": str(self.step.id), "position": self.step.position, "name": self.step.name,
                "action": self.step.action, "variant": self.step.variant, "accounts": len(rows),
                "variants": dict(sorted(Counter(r.variant for r in rows).items())),
                "sms": sms, "smsSegments": segments, "emails": emails, "letters": letters,
                "tasks": [{"assigneeId": a, "count": n} for a, n in sorted(tasks.items(), key=lambda x: (x[0] is None,
                                                                                                         x[0] or 0))],
                "handOvers": handovers, "excluded": dict(sorted(excluded.items()))}


# Rows a slice of a chunk's drafts: between two slices the event loop gives the other lane's
# statements their turn (_fire_in_lanes).
SLICE = 500


@dataclass
class Drafted:
    """Some rows' drafts, as _recipients left them (`problems` by index among these rows), with
    each SMS's segments counted (None for an e-mail or a draft already refused)."""

    drafts: list[Draft]
    problems: dict[int, str]
    counted: list[int | None]


class MessageDrafts:
    """A message step's drafts and contact rules, in two parts: `draft` (no database: the drafts
    rendered, recipients normalised, segments counted) and `settle` (the checks that read the
    database, and the rows' outcomes). A run does both chunk by chunk, the next chunk's while the
    database writes the one before (_fire_in_lanes); settled in the rows' order on the run's
    tally, the outcomes are the ones the whole step planned at once would have."""

    def __init__(self, work: StepWork, org: Organisation, template: MessageTemplate, day: date,
                 render: Callable[[Any], str] | None, settings: MessagingSettings) -> None:
        self.work, self.org, self.template, self.day, self.render = work, org, template, day, render
        self.settings = settings
        self.is_sms = work.step.action == "sms"  # an ORM attribute: read once, not per row

    def draft(self, rows: Sequence[Any]) -> Drafted:
        drafts = _drafts(self.work.step, self.template, rows, self.day, self.render)
        known = [booked(r, d.recipient) for r, d in zip(rows, drafts, strict=True)] if self.is_sms else None
        problems = _recipients(self.org, drafts, known)
        counted = [None if not self.is_sms or i in problems else segments(d.content) for i, d in enumerate(drafts)]
        return Drafted(drafts, problems, counted)

    def ahead(self, rows: Sequence[Any], into: list[Drafted]) -> Iterator[None]:
        """`draft` slice by slice, each appended to `into`; yields between slices."""
        for start in range(0, len(rows), SLICE):
            into.append(self.draft(rows[start:start + SLICE]))
            yield

    async def settle(self, session: AsyncSession, rows: Sequence[Any], parts: list[Drafted], tally: CapTally) -> None:
        """The rows' drafts (`ahead`'s, every slice done) through the checks that read the database;
        their outcomes, drafts and segments into the step's work."""
        drafts: list[Draft] = []
        problems: dict[int, str] = {}
        counted: list[int | None] = []
        for part in parts:
            problems.update((len(drafts) + i, p) for i, p in part.problems.items())
            drafts.extend(part.drafts)
            counted.extend(part.counted)
        assert len(drafts) == len(rows)
        await _held_back(session, self.org, drafts, problems, tally, self.settings)
        work = self.work
        out, kept, segs = work.outcome, work.drafts, work.segments
        for i, (r, d) in enumerate(zip(rows, drafts, strict=True)):
            key = r.account_id
            kept[key] = d
            if i in problems:
                out[key] = f"skipped:{REASONS[problems[i]]}"
            else:
                out[key] = "queued"
                if self.is_sms:
                    segs[key] = counted[i]  # type: ignore[assignment]  # counted: not refused by _recipients


async def plan_step(session: AsyncSession, org: Organisation, plan: Plan, step: StrategyStep, day: date,
                    tally: CapTally, settings: MessagingSettings, staged: bool = False) -> StepWork:
    """What the step would do today (nothing is written): the preview's and the run's one source.
    `staged` (the run): a message step's drafts and contact rules are left to _fire, which works
    them out chunk by chunk, in the rows' order, on the same tally (`work.staged`)."""
    work = StepWork(plan, step, settings=settings)
    work.excluded.update(await left_out(session, org.id, plan, step, day))
    template = None
    if step.action in ("sms", "email") and step.message_template_id:
        template = await session.get(MessageTemplate, step.message_template_id)
    render: Callable[[Any], str] | None = None
    columns: tuple[str, ...] = FETCHED
    if step.action == "sms" and template is not None and template.org_id == org.id:
        render, columns = _sms_renderer(template.body)
    rows = await fetch_due(session, org.id, plan, step, day, columns)
    blocked = None
    if step.action in ("hand_over", "letter") and not await owner_allowed(session, org.id, plan.strategy.owner_id):
        blocked = "owner_not_allowed"  # the owner lends the step its rights: a manager or admin
    if step.action in ("sms", "email") and (template is None or template.org_id != org.id):
        blocked = "no_template"
    if blocked:
        work.excluded[blocked] += len(rows)
        return work
    work.rows = rows
    if step.action in ("sms", "email"):
        assert template is not None
        messages = MessageDrafts(work, org, template, day, render, settings)
        if staged:  # _fire drafts them chunk by chunk, each while the database writes the one before
            work.staged = messages
        else:
            await messages.settle(session, rows, [messages.draft(rows)], tally)
    elif step.action in TASK_KINDS:
        work.assignee = await assignees(session, org.id, step.action, rows)
        work.outcome = {r.account_id: "task" for r in rows}
    else:
        work.outcome = {r.account_id: "letter" if step.action == "letter" else "handed_over" for r in rows}
        if step.action == "letter":
            # The letters' e-mails count towards the cap as the outbox will count them when they are
            # sent, so a later step's message to the same person today is planned as refused.
            await letter_step.deliveries(org, step, rows, day,
                                         lambda drafts: check_drafts(session, org, drafts, tally, settings), settings)
    return work


# ------------------------------------------------------------------ doing it


def _detail(work: StepWork, account_id: uuid.UUID) -> dict[str, Any] | None:
    outcome, step = work.outcome[account_id], work.step
    if outcome.startswith("skipped:"):
        return {"reason": outcome.split(":", 1)[1]}
    if step.action in TASK_KINDS:
        return {"assigneeId": work.assignee.get(account_id)}
    return {"handOverTo": step.hand_over_to} if step.action == "hand_over" else None


async def _claim(session: AsyncSession, work: StepWork, rows: list[Any], day: date, run_id: uuid.UUID,
                 chained: bool = False) -> tuple[set[uuid.UUID], int, int]:
    """Insert the step executions; only those that were not there yet come back, with the lowest
    and highest execution id this claim wrote (the chunk's rows, for the set-based steps after).
    `chained` (PostgreSQL): the claimed accounts' states and events are written by the same
    statement (CHAINED_SQL), so _move_on and _announce are not needed."""
    st, step = work.plan.strategy, work.step
    now = utcnow()
    if _pg(session):
        got = await _claim_arrays(session, work, rows, day, run_id, now, chained)
    else:
        values = [{"org_id": st.org_id, "strategy_id": st.id, "step_id": step.id, "account_id": r.account_id,
                   "run_id": run_id, "run_on": day, "variant": r.variant, "position": step.position,
                   "action": step.action, "outcome": work.outcome[r.account_id].split(":")[0],
                   "balance": r.balance, "days_past_due": r.dpd, "detail": _detail(work, r.account_id),
                   "created_at": now} for r in rows]
        stmt = (dialect_insert(session, StrategyStepExecution)
                .on_conflict_do_nothing(index_elements=["account_id", "step_id", "run_on"])
                .returning(StrategyStepExecution.id, StrategyStepExecution.account_id))
        got = []
        for start in range(0, len(values), 1000):
            got.extend((await session.execute(stmt, values[start:start + 1000])).all())
    ids = [i for i, _ in got]
    return {a for _, a in got}, min(ids, default=0), max(ids, default=-1)


# PostgreSQL: what differs row by row travels as one array per column; what the chunk's rows share
# (organisation, strategy, step, run, day, position, action, time) as single parameters. The
# arrays but the details go as array literals (text the server parses, db.pg_array): asyncpg's
# encoding of a list checks each element against abstract base classes, a few microseconds a value.
CLAIM_SQL = """
INSERT INTO strategy_step_executions (org_id, strategy_id, step_id, run_id, run_on, position, action, created_at,
                                      account_id, variant, outcome, balance, days_past_due, detail)
SELECT $1::int, $2::uuid, $3::uuid, $4::uuid, $5::date, $6::int, $7::text, $8::timestamptz,
       u.account_id, u.variant, u.outcome, u.balance, u.dpd, u.detail::json
FROM unnest($9::text::uuid[], $10::text::text[], $11::text::text[], $12::text::numeric[], $13::text::int[],
            $14::text[])
     WITH ORDINALITY AS u(account_id, variant, outcome, balance, dpd, detail, n)
ORDER BY u.n
ON CONFLICT (account_id, step_id, run_on) DO NOTHING RETURNING id, account_id
"""


# The claim with what follows it when nobody reads the step's events back (events.wanted): the
# states moved on and one `strategy.step_executed` per claimed account, from the claimed rows, in
# the same statement (data-modifying CTEs: each sees the rows the claim inserted, and only those).
# What _move_on and _announce write, the same columns and values.
CHAINED_SQL = """
WITH claimed AS (""" + CLAIM_SQL.strip() + """, variant, outcome, position, step_id, run_on, org_id, strategy_id
), moved AS (
    INSERT INTO strategy_account_states (account_id, org_id, strategy_id, variant, position, step_id, last_fired_on,
                                         next_due_on, paused, left_at_position, left_status, left_on, updated_at)
    SELECT account_id, org_id, strategy_id, variant, position, step_id, run_on, $15::date, false, NULL, NULL, NULL,
           $8::timestamptz
    FROM claimed
    ON CONFLICT (account_id) DO UPDATE SET strategy_id = excluded.strategy_id, variant = excluded.variant,
        position = excluded.position, step_id = excluded.step_id, last_fired_on = excluded.last_fired_on,
        next_due_on = excluded.next_due_on, left_at_position = excluded.left_at_position,
        left_status = excluded.left_status, left_on = excluded.left_on, updated_at = excluded.updated_at
), announced AS (
    INSERT INTO domain_events (uuid, org_id, type, actor, subject_type, subject_id, before, after, data, created_at)
    SELECT CAST($16::text || lpad(to_hex(id), 8, '0') AS uuid), org_id,
           'strategy.step_executed', $17::text, 'account', CAST(account_id AS text), NULL, NULL,
           CAST($18::text || CAST(account_id AS text) || '", "variant": ' || CAST(to_json(variant) AS text)
                || $19::text || CAST(to_json(outcome) AS text) || '}' AS json),
           $8::timestamptz
    FROM claimed ORDER BY id
)
SELECT id, account_id FROM claimed
"""


async def _claim_arrays(session: AsyncSession, work: StepWork, rows: list[Any], day: date, run_id: uuid.UUID,
                        now: datetime, chained: bool = False) -> list[Any]:
    """PostgreSQL: one INSERT … SELECT … FROM unnest(arrays) … ON CONFLICT DO NOTHING RETURNING (the
    unique index on account, step and day decides): no temporary table, no row of fourteen values
    built per account."""
    st, step = work.plan.strategy, work.step
    outcome = work.outcome
    kinds: list[str] = []
    details: list[str | None] = []
    for r in rows:
        o = outcome[r.account_id]
        if o == "queued":  # a message queued (most rows): no detail, no need to ask _detail
            kinds.append(o)
            details.append(None)
            continue
        kinds.append(o.split(":")[0])
        d = _detail(work, r.account_id)
        details.append(json.dumps(d) if d is not None else None)
    conn = await session.connection()
    driver: Any = (await conn.get_raw_connection()).driver_connection
    args = [st.org_id, st.id, step.id, run_id, day, step.position, step.action, now,
            pg_array(r.account_id for r in rows), pg_text_array(r.variant for r in rows), pg_text_array(kinds),
            pg_array(r.balance for r in rows), pg_array(r.dpd for r in rows),
            details if any(d is not None for d in details) else []]  # unnest pads a shorter array with NULLs
    if not chained:
        return list(await driver.fetch(CLAIM_SQL, *args))
    head, tail = _event_data_parts(work, day, run_id)
    return list(await driver.fetch(CHAINED_SQL, *args, day + timedelta(days=max(step.wait_days, 1)),
                                   events._uuid7_prefix(now), actor_of(st.id), head, tail))


def _event_data_parts(work: StepWork, day: date, run_id: uuid.UUID) -> tuple[str, str]:
    """The `strategy.step_executed` data as CHAINED_SQL writes it: what is the same for the whole
    chunk printed here once, around the account, variant and outcome the statement fills in — the
    keys, in their order, and values of _announce's object (json_build_object worked out the
    constant keys and values, their types and their escaping again for every row)."""
    st, step = work.plan.strategy, work.step
    head = json.dumps({"strategyId": str(st.id), "stepId": str(step.id), "position": step.position,
                       "action": step.action})[:-1] + ', "accountId": "'
    tail = ", " + json.dumps({"day": day.isoformat(), "runId": str(run_id)})[1:-1] + ', "outcome": '
    return head, tail


def _pg(session: AsyncSession) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _claimed(work: StepWork, run_id: uuid.UUID, lo: int, hi: int) -> Any:
    """The executions this chunk's claim wrote: a range of ids of this run's step (set-based
    statements read them rather than a list of accounts)."""
    e = StrategyStepExecution
    return and_(e.run_id == run_id, e.step_id == work.step.id, e.id >= lo, e.id <= hi)


async def _move_on(session: AsyncSession, work: StepWork, day: date, run_id: uuid.UUID, lo: int, hi: int) -> None:
    """The claimed accounts' states: at this step, the next due after its wait (one upsert)."""
    step = work.step
    e = StrategyStepExecution
    next_due = day + timedelta(days=max(step.wait_days, 1))
    cols = ("account_id", "org_id", "strategy_id", "variant", "position", "step_id", "last_fired_on", "next_due_on",
            "paused", "left_at_position", "left_status", "left_on", "updated_at")
    source = select(e.account_id, e.org_id, e.strategy_id, e.variant, e.position, e.step_id, e.run_on,
                    literal(next_due, Date), false(), null(), null(), null(), literal(utcnow(), UTCDateTime)
                    ).where(_claimed(work, run_id, lo, hi))
    ins = dialect_insert(session, StrategyAccountState).from_select(cols, source)
    await session.execute(ins.on_conflict_do_update(index_elements=["account_id"], set_={
        k: ins.excluded[k] for k in ("strategy_id", "variant", "position", "step_id", "last_fired_on", "next_due_on",
                                     "left_at_position", "left_status", "left_on", "updated_at")}))


async def _hand_over(session: AsyncSession, caller: Caller, ids: list[uuid.UUID], to: str) -> list[uuid.UUID]:
    """`handed_over` (reason: to whom) for the still-active accounts among `ids` of the caller's
    organisation (write access; another's are left as they are), with history and
    `account.status_changed` events by the caller, set-based."""
    caller.require_write()
    org_id, actor = caller.org_id, caller.actor
    now = utcnow()
    done: list[uuid.UUID] = []
    for start in range(0, len(ids), 500):
        result = await session.scalars(
            update(Account).where(Account.id.in_(ids[start:start + 500]), Account.org_id == org_id,
                                  Account.status == "active")
            .values(status="handed_over", status_reason=to, status_changed_at=now, updated_at=now)
            .returning(Account.id).execution_options(synchronize_session=False))
        done.extend(result.all())
    done.sort()
    if done:
        await session.execute(insert(AccountStatusChange), [
            {"org_id": org_id, "account_id": i, "from_status": "active", "to_status": "handed_over", "reason": to,
             "actor": actor, "created_at": now} for i in done])
        await events.record_many(session, [
            {"org_id": org_id, "type": STATUS_EVENT, "actor": actor, "subject_type": "account", "subject_id": i,
             "before": {"status": "active"}, "after": {"status": "handed_over", "reason": to},
             "data": {"accountId": str(i), "from": "active", "to": "handed_over", "why": to}} for i in done])
    return done


async def _act(session: AsyncSession, org: Organisation, work: StepWork, rows: list[Any], day: date) -> None:
    st, step = work.plan.strategy, work.step
    actor = actor_of(st.id)
    ids = [r.account_id for r in rows]
    if step.action in ("sms", "email"):
        drafts = [work.drafts[i] for i in ids]
        if drafts:  # set-based: the same contact rules as queue_messages, the rows in bulk
            # fresh_keys: the keys are this step's, claimed just now in this transaction
            # normalised: check_drafts normalised the recipients when the step was planned (an
            # invalid one was left as it was: the outbox tries it again and refuses it)
            await queue_bulk(session, Caller.system(org.id, actor), org, drafts, source="strategy",
                             segments=[work.segments.get(i) for i in ids], fresh_keys=True,
                             normalised=[work.outcome[i] != "skipped:invalid_contact" for i in ids],
                             settings=work.settings)
    elif step.action in TASK_KINDS:
        kind = TASK_KINDS[step.action][0]
        # The run acts as the system, named as the strategy (the tasks' created_by and events as before).
        await open_tasks(session, Caller.system(org.id, actor), [(i, work.assignee.get(i)) for i in ids], kind=kind,
                         due_date=day, source="strategy", note=step.name or f"{st.name}: step {step.position}")
    elif step.action == "letter":
        assert st.owner_id is not None and step.letter_template_id is not None
        owner = await caller_for_user(session, st.owner_id, org.id)
        await letter_step.send_letters(session, org, owner, step, ids, day)  # e-mailed, else printed
    elif step.action == "hand_over":
        await _hand_over(session, Caller.system(org.id, actor), ids, step.hand_over_to or "")  # as the strategy


async def _announce(session: AsyncSession, work: StepWork, day: date, run_id: uuid.UUID, lo: int, hi: int) -> None:
    """One `strategy.step_executed` per claimed account, written by one INSERT … SELECT from the
    executions (the webhook fan-out sees each event as before; arrears.events.record_select)."""
    st, step = work.plan.strategy, work.step
    e = StrategyStepExecution

    def lit(value: str) -> Any:
        return literal(value, String)

    data = sqljson.obj(session, strategyId=lit(str(st.id)), stepId=lit(str(step.id)),
                       position=literal(step.position, Integer), action=lit(step.action),
                       accountId=sqljson.text(session, e.account_id), variant=e.variant, day=lit(day.isoformat()),
                       runId=lit(str(run_id)), outcome=e.outcome)
    await events.record_select(session, st.org_id, select(
        lit(EVENT).label("type"), lit(actor_of(st.id)).label("actor"), lit("account").label("subject_type"),
        sqljson.text(session, e.account_id).label("subject_id"), cast(null(), JSON).label("before"), cast(null(), JSON).label("after"),
        data.label("data")).where(_claimed(work, run_id, lo, hi)).order_by(e.id), [EVENT])


class StepGone(LookupError):
    """The step (its strategy, its organisation) or the run was deleted while the run went on."""


async def _hold(session: AsyncSession, step_id: uuid.UUID, run_id: uuid.UUID, rows: list[Any]) -> list[Any]:
    """What foreign keys checked row by row on the executions and states, checked once for the
    chunk (arrears/strategies/models.py): the step and the run still there, and the chunk's
    accounts — each locked against deletion until the chunk commits (FOR KEY SHARE, the lock a key
    check takes; deleting the organisation or strategy deletes the step, so it waits too, and the
    triggers of migration 0026 then take the chunk's rows). Returns the rows whose account is still
    there: one deleted since the selection has nothing more to be done."""
    found = await session.execute(
        select(StrategyStep.id, StrategyRun.id).join(StrategyRun, StrategyRun.id == run_id)
        .where(StrategyStep.id == step_id).with_for_update(read=True, key_share=True))
    if found.first() is None:
        raise StepGone(f"strategy step {step_id} or run {run_id} was deleted during the run")
    ids = [r.account_id for r in rows]
    present: set[uuid.UUID] = set()
    if _pg(session):  # one array parameter, however long the chunk
        listed = cast(bindparam("ids", pg_array(ids), type_=String()), ARRAY(Uuid()))  # db.pg_array: why
        locked = (select(Account.id).where(Account.id == any_(listed))
                  .with_for_update(read=True, key_share=True).subquery())
        # counted rather than read back: as a rule every account is still there
        if await session.scalar(select(func.count()).select_from(locked)) == len(ids):
            return rows
        present.update(await session.scalars(select(Account.id).where(Account.id == any_(listed))))
    else:
        for start in range(0, len(ids), 500):
            present.update(await session.scalars(select(Account.id).where(Account.id.in_(ids[start:start + 500]))))
    return rows if len(present) == len(rows) else [r for r in rows if r.account_id in present]


async def _write(session: AsyncSession, org: Organisation, work: StepWork, chunk: list[Any], day: date,
                 run_id: uuid.UUID) -> set[uuid.UUID]:
    """One chunk, in the session's transaction (its caller commits it): the accounts held, their
    executions claimed, and for the claimed ones the step's action, states and events. Returns
    the claimed accounts."""
    chunk = await _hold(session, work.step.id, run_id, chunk)
    # the states and events in the claim's statement, unless someone reads the events back
    chained = _pg(session) and not await events.wanted(session, org.id, [EVENT])
    if chained:  # the events' organisation, held as `record_select` would (migration 0030)
        await events.hold_organisation(session, org.id)
    claimed, lo, hi = await _claim(session, work, chunk, day, run_id, chained)
    mine = [r for r in chunk if r.account_id in claimed]
    if mine:
        await _act(session, org, work, mine, day)
        if not chained:
            await _move_on(session, work, day, run_id, lo, hi)
            await _announce(session, work, day, run_id, lo, hi)
    return claimed


async def _fire(session: AsyncSession, org: Organisation, work: StepWork, day: date, run_id: uuid.UUID,
                checkpoint: Checkpoint | None, progress: Progress | None, label: str,
                tally: CapTally | None = None, lane: AsyncSession | None = None) -> set[uuid.UUID]:
    """The step's rows chunk by chunk, each its own transaction when there is a checkpoint. A
    message step planned `staged` is drafted and settled chunk by chunk, in the rows' order; with
    a `lane` (a second session) and a checkpoint its chunks go in two lanes (_fire_in_lanes)."""
    total = len(work.rows)
    limits = get_settings().limits  # ARREARS_STRATEGY_CHUNK (5,000) and, for tests, _THROTTLE
    size, throttle = limits.arrears_strategy_chunk, limits.arrears_strategy_throttle
    staged = work.staged
    assert staged is None or tally is not None
    chunks = [work.rows[start:start + size] for start in range(0, total, size)]
    if staged is not None and lane is not None and checkpoint is not None and len(chunks) > 1:
        assert tally is not None
        return await _fire_in_lanes(session, lane, org, work, staged, chunks, day, run_id, checkpoint, progress,
                                    label, tally)
    fired: set[uuid.UUID] = set()
    for n, chunk in enumerate(chunks):
        if staged is not None:
            assert tally is not None
            await staged.settle(session, chunk, [staged.draft(chunk)], tally)
        fired |= await _write(session, org, work, chunk, day, run_id)
        if checkpoint is not None:
            await checkpoint()
        if progress is not None:
            progress(label, min(n * size + size, total), total)
        if throttle:
            await asyncio.sleep(throttle)
    return fired


async def _fire_in_lanes(session: AsyncSession, lane: AsyncSession, org: Organisation, work: StepWork,
                         staged: MessageDrafts, chunks: list[list[Any]], day: date, run_id: uuid.UUID,
                         checkpoint: Checkpoint, progress: Progress | None, label: str,
                         tally: CapTally) -> set[uuid.UUID]:
    """A message step's chunks, each still its own transaction, in two sessions taken in turn:
    while one chunk's statements execute in one backend, the next chunk is drafted, settled and
    sent in the other (two backends and Python on the machine's cores rather than one at a time).
    Each chunk claims, writes and commits its own accounts whole, as in one lane: a run killed at
    any line leaves whole chunks (possibly one without the one before it) and the run again claims
    the rest. The contact rules are settled chunk after chunk, in the rows' order, on the run's
    tally; the cap's lock (bulk_outbox.refusals) makes a chunk count the other's messages once it
    commits. Chunks are reported (progress, throttle) in order."""
    await checkpoint()  # what the run wrote before (the leavers noted) committed: no lane waits on it
    limits = get_settings().limits
    size, throttle = limits.arrears_strategy_chunk, limits.arrears_strategy_throttle
    total = sum(len(c) for c in chunks)
    commits: tuple[Checkpoint, Checkpoint] = (checkpoint, lane.commit)
    sessions = (session, lane)
    fired: set[uuid.UUID] = set()

    async def write(n: int, chunk: list[Any]) -> set[uuid.UUID]:
        claimed = await _write(sessions[n % 2], org, work, chunk, day, run_id)
        await commits[n % 2]()
        return claimed

    async def done(n: int, task: asyncio.Future[set[uuid.UUID]]) -> None:
        fired.update(await task)
        if progress is not None:
            progress(label, min(n * size + size, total), total)
        if throttle:
            await asyncio.sleep(throttle)

    inflight: list[asyncio.Future[set[uuid.UUID]]] = []
    try:
        for n, chunk in enumerate(chunks):
            parts: list[Drafted] = []
            for _ in staged.ahead(chunk, parts):
                await asyncio.sleep(0)  # a turn for the other lane's statements between slices
            # this chunk's session is free: its last chunk (n - 2) was awaited below
            await staged.settle(sessions[n % 2], chunk, parts, tally)
            inflight.append(asyncio.ensure_future(write(n, chunk)))
            if len(inflight) == 2:
                await done(n - 1, inflight.pop(0))
        if inflight:
            await done(len(chunks) - 1, inflight.pop(0))
    except BaseException:
        # the other lane's chunk ends (commits or fails) before anything is raised: no session is
        # left mid-statement
        await asyncio.gather(*inflight, return_exceptions=True)
        raise
    return fired


async def _note_leavers(session: AsyncSession, org_id: int, day: date) -> None:
    """Where accounts left their strategy (promised, disputed, …), and that they came back."""
    status = select(Account.status).where(Account.id == StrategyAccountState.account_id).scalar_subquery()
    await session.execute(
        update(StrategyAccountState)
        .where(StrategyAccountState.org_id == org_id, StrategyAccountState.left_status.is_(None),
               StrategyAccountState.account_id.in_(select(Account.id).where(
                   Account.org_id == org_id, Account.status.in_(LEAVING_STATUSES))))
        .values(left_at_position=StrategyAccountState.position, left_status=status, left_on=day)
        .execution_options(synchronize_session=False))
    await session.execute(
        update(StrategyAccountState)
        .where(StrategyAccountState.org_id == org_id, StrategyAccountState.left_status.is_not(None),
               StrategyAccountState.account_id.in_(select(Account.id).where(
                   and_(Account.org_id == org_id, Account.status == "active"))))
        .values(left_at_position=None, left_status=None, left_on=None)
        .execution_options(synchronize_session=False))


# ------------------------------------------------------------------ entry points


@asynccontextmanager
async def _lane(session: AsyncSession, checkpoint: Checkpoint | None) -> AsyncIterator[AsyncSession | None]:
    """A second session on the run's database for _fire_in_lanes, when the run commits chunk by
    chunk (a checkpoint) on PostgreSQL from an engine (not from a connection the caller holds);
    closed (whatever it left uncommitted rolled back) when the run ends."""
    bind = session.bind
    if checkpoint is None or not _pg(session) or not isinstance(bind, AsyncEngine):
        yield None
        return
    async with AsyncSession(bind=bind, expire_on_commit=False, autoflush=True) as lane:
        yield lane


async def start_run(session: AsyncSession, caller: Caller, *, strategy_id: uuid.UUID | None, trigger: str,
                    dry_run: bool = False, status: str = "running", day: date | None = None) -> StrategyRun:
    """The run's row in the caller's organisation, started by the caller (`strategies.require_writer`;
    the system's jobs and the CLI pass theirs); a strategy of another organisation is not found.
    `day` (tests, back-dated runs) defaults to the organisation's local today."""
    require_writer(caller)
    org_id, actor = caller.org_id, caller.actor
    if strategy_id is not None:
        await get_strategy(session, caller, strategy_id)
    run = StrategyRun(id=uuid.uuid4(), org_id=org_id, strategy_id=strategy_id,
                      run_on=day or await org_today(session, org_id),
                      trigger=trigger, dry_run=dry_run, status=status, started_by=actor, started_at=utcnow())
    session.add(run)
    await session.flush()
    return run


async def execute(session: AsyncSession, run: StrategyRun, *, checkpoint: Checkpoint | None = None,
                  progress: Progress | None = None, settings: MessagingSettings | None = None) -> StrategyRun:
    """Do the run (or, for a dry run, record its preview). With a `checkpoint` (a commit) each
    chunk of each step is its own transaction; without one the caller's transaction holds it all."""
    org = await session.get(Organisation, run.org_id)
    assert org is not None
    day = run.run_on
    s = settings or messaging_settings()
    run.status = "running"
    if run.dry_run:
        summary = await preview(session, run.org_id, run.strategy_id, day=day, settings=s)
    else:
        # The cyclic collector paused (as an import's reading is, arrears.debtors.gcpause): a run
        # holds a step's rows, drafts and records — hundreds of thousands of objects, none in a
        # reference cycle — and the collector's full passes over them cost about a quarter of the
        # run's own Python time for nothing. Reference counting frees them as usual.
        with collector_paused():
            await _note_leavers(session, run.org_id, day)
            tally = CapTally()
            out = []
            async with _lane(session, checkpoint) as lane:
                for plan in await load_plans(session, run.org_id, run.strategy_id):
                    steps = []
                    if not plan.strategy.paused:
                        for step in plan.steps:
                            work = await plan_step(session, org, plan, step, day, tally, s, staged=True)
                            label = f"{plan.strategy.name}: step {step.position} ({step.action})"
                            fired = await _fire(session, org, work, day, run.id, checkpoint, progress, label, tally,
                                                lane)
                            steps.append(work.summary(only=fired))
                    out.append(_strategy_summary(plan, steps))
        summary = {"day": day.isoformat(), "strategies": out, **_totals(out)}
    run.counts = summary
    run.accounts, run.messages, run.letters = summary["accounts"], summary["messages"], summary["letters"]
    run.tasks, run.handed_over, run.excluded = summary["tasks"], summary["handedOver"], summary["excluded"]
    run.status, run.finished_at = "completed", utcnow()
    await session.flush()
    return run


async def run_now(session: AsyncSession, caller: Caller, *, strategy_id: uuid.UUID | None = None, trigger: str,
                  dry_run: bool = False, checkpoint: Checkpoint | None = None,
                  progress: Progress | None = None, day: date | None = None) -> StrategyRun:
    run = await start_run(session, caller, strategy_id=strategy_id, trigger=trigger, dry_run=dry_run, day=day)
    if checkpoint is not None:
        await checkpoint()
    return await execute(session, run, checkpoint=checkpoint, progress=progress)
