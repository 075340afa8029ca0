"""The preview (dry run): per strategy and step, how many accounts, SMS (and their segments),
e-mails, letters, tasks by assignee, hand-overs, and who is left out and why — counted in SQL.

What a run does per account (arrears.strategies.runner: render each message, apply the outbox's
contact rules, pick each task's assignee), the preview counts with GROUP BY over the same selection
(arrears.strategies.selection), so it reads a few numbers instead of every account:

- left out for their status or a pause: grouped by reason;
- letters and hand-overs: counted by variant; tasks: by variant and collection officer, the
  accounts without one shared round-robin as `runner.assignees` shares them;
- messages: the recipient as the outbox normalises it, opt-outs and the SMS segments
  (arrears.messaging.sql_segments) in SQL, grouped. Python takes over, row by row, only where SQL
  cannot say what the outbox would: a phone number that is not one of the usual South African
  shapes (or any number when the organisation's region is not ZA, and every number on SQLite,
  which has no regex), an address with spaces or non-ASCII characters at its ends or inside, and
  an SMS whose segments depend on where its 2-unit characters fall. With a contact cap the
  messages that pass the other rules are read (ids, customer, segments, messages already in the
  cap's window) and counted against the cap in account order, one tally for the whole preview, as
  the run's does.
- letters: which way each goes (`lettersEmailed`, `lettersPrinted`, `lettersPrintedWhy`), from
  arrears.strategies.letter_step.deliveries over the step's accounts in account order, with the
  outbox's checks as runner.check_drafts applies them, on the same tally: a letter's e-mail counts
  towards the cap after the earlier steps' messages, as the outbox will count it in the run.

Who may preview (`preview`, the service): admins, managers, calling agents and field officers see
every account of the organisation, as they see every customer; a collection officer sees the
preview of their own customers' accounts only (the counts are then exactly those of their accounts
in the full preview: the cap counts per customer and their accounts' tasks are theirs); an `ins_`
key needs `strategies:read` (or `:write`). Another organisation's strategy is 404.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    String,
    and_,
    case,
    false,
    func,
    literal,
    literal_column,
    not_,
    or_,
    select,
    text,
    true,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import Subquery

from arrears.customers.service import SEE_ALL_CUSTOMERS
from arrears.db import utcnow
from arrears.debtors.reading.phones import _SA_VALID, _SA_VALID_SHAPE, DEFAULT_REGION
from arrears.errors import Forbidden
from arrears.identity.caller import Caller
from arrears.identity.models import Membership, Organisation, User
from arrears.messaging import rules
from arrears.messaging.bulk_outbox import opted_out
from arrears.messaging.models import Message, MessageTemplate, OptOut
from arrears.messaging.segments import count_segments
from arrears.messaging.service import Draft
from arrears.messaging.settings import MessagingSettings, messaging_settings
from arrears.messaging.sql_segments import SqlValues, segment_parts_of, segments_of, value_columns
from arrears.messaging.templates import TemplateContext, render_template
from arrears.promises.calendar import org_today
from arrears.strategies import letter_step
from arrears.strategies.models import StrategyStep
from arrears.strategies.selection import Plan, account_rows, due, leave_reason, member, variant_expr
from arrears.strategies.service import get_strategy, list_strategies, owner_allowed, steps_of
from arrears.tasks.models import Task

ZERO = Decimal("0")
# The contact rules' refusals, as the preview and the executions name them (runner.REASONS).
REASONS = {rules.NO_RECIPIENT: "no_contact", rules.INVALID_RECIPIENT: "invalid_contact",
           rules.OPTED_OUT: "opted_out", rules.CAP_REACHED: "cap_reached"}
TASK_KINDS = {"call_task": ("call", "calling_agent"), "visit_task": ("visit", "field_officer")}
# An SMS number phone_key reads as 27 + its last nine digits (its fast path for the ZA region):
# _SA_VALID_SHAPE, split in two for PostgreSQL's regex engine (slow on lookaheads) — a prefix and
# nine digits, and the nine digits a valid ZA national number (its general and type patterns).
_GENERAL_HEAD, _GENERAL_TAIL = "(?=(?:", r")\Z)"
_SA_VALID_GENERAL, _SA_VALID_TYPES = _SA_VALID.pattern[len(_GENERAL_HEAD):].split(_GENERAL_TAIL, 1)
assert _SA_VALID.pattern == _GENERAL_HEAD + _SA_VALID_GENERAL + _GENERAL_TAIL + _SA_VALID_TYPES
assert _SA_VALID_SHAPE.pattern.endswith(_SA_VALID.pattern)
_ZA_SHAPE = r"^(?:\+270|\+27|0027|27|0)?[0-9]{9}$"
_ZA_NATIONAL_GENERAL = "^(?:" + _SA_VALID_GENERAL + ")$"
_ZA_NATIONAL_TYPES = "^(?:" + _SA_VALID_TYPES + ")$"
# An address `strip()` leaves alone and `lower()` lowers as SQL does: printable ASCII, no space at either end.
_PLAIN_ADDRESS_PG = "^[!-~]([ -~]*[!-~])?$"


# ------------------------------------------------------------------ the service


def visible_officer(caller: Caller) -> int | None:
    """Whose accounts the caller's preview counts: None for all of the organisation's, else the
    collection officer's own. Forbidden for a caller who sees no accounts."""
    if caller.kind == "api_key":
        if not (caller.has_scope("strategies:read") or caller.has_scope("strategies:write")):
            raise Forbidden("This key needs the strategies:read scope.")
        return None
    if caller.kind == "system" or caller.role in SEE_ALL_CUSTOMERS:
        return None
    if caller.role == "collection_officer" and caller.user_id is not None:
        return caller.user_id
    raise Forbidden("Your role does not allow previewing strategies.")


async def preview(session: AsyncSession, caller: Caller, strategy_id: Any, *, day: date | None = None,
                  settings: MessagingSettings | None = None) -> dict[str, Any]:
    """The preview of one strategy as the caller may see it (see the module's text); `scope` in
    the answer says which accounts it counts: `organisation` or `own` (a collection officer's)."""
    officer = visible_officer(caller)
    st = await get_strategy(session, caller, strategy_id)
    out = await preview_org(session, caller.org_id, st.id, day=day, settings=settings, officer_id=officer)
    out["scope"] = "own" if officer is not None else "organisation"
    return out


# ------------------------------------------------------------------ the organisation's preview


@dataclass
class _Context:
    org: Organisation
    day: date
    dialect: str
    settings: MessagingSettings
    officer_id: int | None
    since: datetime
    # (channel, customer — else recipient) -> messages in the window, letters' e-mails included
    tally: dict[tuple[str, int | str], int] = field(default_factory=dict)


async def load_plans(session: AsyncSession, org_id: int, strategy_id: uuid.UUID | None = None) -> list[Plan]:
    """runner.load_plans: the strategies in firing order, each with the ones before it."""
    strategies = await list_strategies(session, org_id)
    steps = await steps_of(session, [s.id for s in strategies])
    plans = [Plan(st, steps[st.id], strategies[:i]) for i, st in enumerate(strategies)]
    return [p for p in plans if strategy_id is None or p.strategy.id == strategy_id]


async def preview_org(session: AsyncSession, org_id: int, strategy_id: uuid.UUID | None = None, *,
                      day: date | None = None, settings: MessagingSettings | None = None,
                      officer_id: int | None = None) -> dict[str, Any]:
    """Per strategy and step: what a run would do today (all accounts, or the collection officer's
    when `officer_id` is given). Writes nothing. A dry run records this."""
    org = await session.get(Organisation, org_id)
    assert org is not None
    day = day or await org_today(session, org_id)
    s = settings or messaging_settings()
    ctx = _Context(org, day, session.get_bind().dialect.name, s, officer_id, utcnow() - rules.cap(org, s).window)
    out = []
    async with _preview_settings(session, ctx.dialect):
        for plan in await load_plans(session, org_id, strategy_id):
            steps = []
            if not plan.strategy.paused:
                for step in plan.steps:
                    steps.append(await _step(session, ctx, plan, step))
            out.append(_strategy_summary(plan, steps))
    return {"day": day.isoformat(), "strategies": out, **_totals(out), **_letter_totals(out)}


# The preview's own settings for its statements (this transaction's, put back after):
# - JIT off: a preview of a large book is costed above `jit_above_cost`, and compiling its
#   expressions (in the leader and again in each parallel worker) cost more than it saved — 0.65 s
#   of JIT in a 2.95 s EXPLAIN ANALYZE of the SMS statement at 200,000 accounts — for a statement
#   that runs once;
# - `work_mem` at least 32MB: the selection hashes the book's accounts and customers (200,000 rows:
#   about 6 MB each), which at the default 4MB spill to temporary files in four batches — 11 % of
#   the SMS statement's CPU at 200,000 accounts.
PREVIEW_SETTINGS = {"jit": "off", "work_mem": "32MB"}


@asynccontextmanager
async def _preview_settings(session: AsyncSession, dialect: str) -> AsyncIterator[None]:
    """PREVIEW_SETTINGS for the preview's statements on PostgreSQL (`work_mem` only raised)."""
    if dialect != "postgresql":
        yield
        return
    jit, work_mem, low = (await session.execute(
        text("SELECT current_setting('jit'), current_setting('work_mem'), "
             "pg_size_bytes(current_setting('work_mem')) < pg_size_bytes(:w)"),
        {"w": PREVIEW_SETTINGS["work_mem"]})).one()
    was = {"jit": jit, "work_mem": work_mem}
    wanted = {k: v for k, v in PREVIEW_SETTINGS.items() if k != "work_mem" or low}
    for name, value in wanted.items():
        await session.execute(text("SELECT set_config(:n, :v, true)"), {"n": name, "v": value})
    yield
    # Put back for the rest of the transaction (after an error the transaction is rolled back,
    # which puts them back too).
    for name in wanted:
        await session.execute(text("SELECT set_config(:n, :v, true)"), {"n": name, "v": was[name]})


def _strategy_summary(plan: Plan, steps: list[dict[str, Any]]) -> dict[str, Any]:
    st = plan.strategy
    return {"strategyId": str(st.id), "name": st.name, "paused": st.paused, "steps": steps}


def _totals(strategies: list[dict[str, Any]]) -> dict[str, int]:
    steps = [s for st in strategies for s in st["steps"]]
    return {"accounts": sum(s["accounts"] for s in steps), "messages": sum(s["sms"] + s["emails"] for s in steps),
            "letters": sum(s["letters"] for s in steps), "tasks": sum(t["count"] for s in steps for t in s["tasks"]),
            "handedOver": sum(s["handOvers"] for s in steps),
            "excluded": sum(n for s in steps for n in s["excluded"].values())}


def _letter_totals(strategies: list[dict[str, Any]]) -> dict[str, int]:
    """The letters' split (the preview's only: a run notes it on each execution)."""
    steps = [s for st in strategies for s in st["steps"] if s["action"] == "letter"]
    return {"lettersEmailed": sum(s["lettersEmailed"] for s in steps),
            "lettersPrinted": sum(s["lettersPrinted"] for s in steps)}


# ------------------------------------------------------------------ one step


@dataclass
class _Counts:
    """A step's numbers, in the shape of runner.StepWork.summary."""

    variants: Counter[str] = field(default_factory=Counter)
    excluded: Counter[str] = field(default_factory=Counter)
    sms: int = 0
    emails: int = 0
    segments: int = 0
    letters: int = 0
    handovers: int = 0
    tasks: Counter[int | None] = field(default_factory=Counter)
    routes: dict[uuid.UUID, str] = field(default_factory=dict)  # a letter step's: letter_step.deliveries

    def summary(self, step: StrategyStep) -> dict[str, Any]:
        split = letter_step.letter_counts(self.routes) if step.action == "letter" else {}
        return {"stepId": str(step.id), "position": step.position, "name": step.name, "action": step.action,
                "variant": step.variant, "accounts": sum(self.variants.values()),
                "variants": dict(sorted((k, n) for k, n in self.variants.items() if n)),
                "sms": self.sms, "smsSegments": self.segments, "emails": self.emails, "letters": self.letters,
                "tasks": [{"assigneeId": a, "count": n} for a, n in sorted(self.tasks.items(), key=lambda x: (
                    x[0] is None, x[0] or 0))],
                "handOvers": self.handovers, "excluded": dict(sorted(self.excluded.items())), **split}


def _base(ctx: _Context, acct: Subquery, plan: Plan, step: StrategyStep) -> ColumnElement[bool]:
    where = and_(member(acct, plan), due(acct, plan, step, ctx.day))
    if ctx.officer_id is not None:
        where = and_(where, acct.c.officer_id == ctx.officer_id)
    return where


async def _grouped(session: AsyncSession, acct: Subquery, base: ColumnElement[bool], variant: ColumnElement[Any],
                   counts: _Counts, *extra: ColumnElement[Any]) -> list[tuple[Any, ...]]:
    """One scan of the step's due accounts, grouped: those left out for their status or a pause go
    to `excluded`; the rest come back as (variant, *extra, count)."""
    reason = leave_reason(acct)
    q = select(reason, variant, *extra, func.count()).where(base).group_by(reason, variant, *extra)
    rest = []
    for r in (await session.execute(q)).all():
        if r[0] is not None:
            counts.excluded[str(r[0])] += int(r[-1])
        else:
            rest.append(tuple(r[1:]))
    return rest


async def _step(session: AsyncSession, ctx: _Context, plan: Plan, step: StrategyStep) -> dict[str, Any]:
    org_id = ctx.org.id
    acct = account_rows(org_id, ctx.day)
    base = _base(ctx, acct, plan, step)
    counts = _Counts()
    variant = variant_expr(acct, plan)
    blocked = None
    if step.action in ("hand_over", "letter") and not await owner_allowed(session, org_id, plan.strategy.owner_id):
        blocked = "owner_not_allowed"  # the owner lends the step its rights: a manager or admin
    template = None
    if step.action in ("sms", "email"):
        template = await session.get(MessageTemplate, step.message_template_id) if step.message_template_id else None
        if template is None or template.org_id != org_id:
            blocked = "no_template"
    if blocked:
        counts.excluded[blocked] += sum(int(n) for _v, n in await _grouped(session, acct, base, variant, counts))
        return counts.summary(step)
    if step.action in ("sms", "email"):
        assert template is not None
        await _messages(session, ctx, acct, base, variant, step, template, counts)
    elif step.action in TASK_KINDS:
        await _tasks(session, ctx, acct, base, variant, step, counts)
    else:
        for v, n in await _grouped(session, acct, base, variant, counts):
            counts.variants[v] += int(n)
        if step.action == "letter":
            counts.letters = sum(counts.variants.values())
            counts.routes = await _letter_routes(session, ctx, acct, base, step)
        else:
            counts.handovers = sum(counts.variants.values())
    return counts.summary(step)


async def _letter_routes(session: AsyncSession, ctx: _Context, acct: Subquery, base: ColumnElement[bool],
                         step: StrategyStep) -> dict[uuid.UUID, str]:
    """Which way each letter goes (letter_step.deliveries): the accounts the step fires on, in
    account order as the run makes their letters, the outbox's checks with the preview's tally."""
    q = (select(acct.c.account_id, acct.c.customer_id, acct.c.debtor_account_id, acct.c.customer_email,
                acct.c.book_email).where(base, leave_reason(acct).is_(None)).order_by(acct.c.account_id))
    rows = (await session.execute(q)).all()

    async def check(drafts: list[Draft]) -> dict[int, str]:
        return await _outbox_refusals(session, ctx, drafts)

    return await letter_step.deliveries(ctx.org, step, rows, ctx.day, check, ctx.settings)


async def _outbox_refusals(session: AsyncSession, ctx: _Context, drafts: list[Draft]) -> dict[int, str]:
    """runner.check_drafts on the preview's tally (index -> reason): no recipient, invalid, opted
    out, then the cap in the drafts' order, each passing draft counted up as the outbox will."""
    problems: dict[int, str] = {}
    for i, d in enumerate(drafts):
        norm = d.recipient.strip() or None if d.recipient else None
        if norm is None:
            problems[i] = rules.NO_RECIPIENT if not d.recipient else rules.INVALID_RECIPIENT
        else:
            d.recipient = norm
    live = [i for i in range(len(drafts)) if i not in problems]
    for j in await opted_out(session, ctx.org.id, "email", [(drafts[i].customer_id, drafts[i].recipient)
                                                            for i in live]):
        problems[live[j]] = rules.OPTED_OUT
    live = [i for i in live if i not in problems]
    cap = rules.cap(ctx.org, ctx.settings)
    if not cap.per_window or not live:
        return problems
    keys: list[int | str] = [d.customer_id if d.customer_id is not None else d.recipient or ""
                             for d in (drafts[i] for i in live)]
    todo = [k for k in dict.fromkeys(keys) if ("email", k) not in ctx.tally]
    customers = [k for k in todo if isinstance(k, int)]
    recipients = [k for k in todo if isinstance(k, str)]
    for start in range(0, max(len(customers), len(recipients)), 500):
        by_c, by_r = await rules.recent_counts(session, ctx.org.id, "email", ctx.since, customers[start:start + 500],
                                               recipients[start:start + 500])
        for c in customers[start:start + 500]:
            ctx.tally[("email", c)] = by_c.get(c, 0)
        for r in recipients[start:start + 500]:
            ctx.tally[("email", r)] = by_r.get(r, 0)
    for i, key in zip(live, keys, strict=True):
        n = ctx.tally[("email", key)]
        if n >= cap.per_window:
            problems[i] = rules.CAP_REACHED
        else:
            ctx.tally[("email", key)] = n + 1
    return problems


async def _tasks(session: AsyncSession, ctx: _Context, acct: Subquery, base: ColumnElement[bool],
                 variant: ColumnElement[Any], step: StrategyStep, counts: _Counts) -> None:
    """The collection officer's, else round-robin among the calling agents (calls) or field
    officers (visits) in account order, from the strategy tasks of that kind so far."""
    kind, role = TASK_KINDS[step.action]
    unassigned = 0
    for v, officer, n in await _grouped(session, acct, base, variant, counts, acct.c.officer_id):
        counts.variants[v] += int(n)
        if officer is None:
            unassigned += int(n)
        else:
            counts.tasks[int(officer)] += int(n)
    if not unassigned:
        return
    agents = list(await session.scalars(
        select(User.id).join(Membership, Membership.user_id == User.id)
        .where(Membership.org_id == ctx.org.id, User.role == role, User.is_active.is_(True)).order_by(User.id)))
    if not agents:
        counts.tasks[None] += unassigned
        return
    turn = int(await session.scalar(select(func.count()).select_from(Task).where(
        Task.org_id == ctx.org.id, Task.kind == kind, Task.source == "strategy")) or 0)
    whole, rest = divmod(unassigned, len(agents))
    for k, agent in enumerate(agents):
        # The account j of the unassigned ones (in order) goes to agents[(turn + j) % len].
        extra = 1 if (k - turn) % len(agents) < rest else 0
        if whole + extra:
            counts.tasks[agent] += whole + extra


def _context(row: Any) -> TemplateContext:
    """runner._context: the values a message of this account is rendered with."""
    return TemplateContext(
        customer_name=row.customer_name or "", account_code=row.account_code or row.loan_account_number or "",
        total_balance=row.balance if row.balance is not None else ZERO,
        current=row.current or ZERO, d30=row.d30 or ZERO, d60=row.d60 or ZERO, d90=row.d90 or ZERO,
        d120=row.d120 or ZERO, d150=row.d150 or ZERO, d180=row.d180 or ZERO,
        contact_person=row.contact or row.contact_person or "", telephone=row.telephone or row.phone_e164 or "")


def _first(*cols: ColumnElement[Any]) -> ColumnElement[Any]:
    """Python's `a or b`: the first that is neither NULL nor empty (NULL when none is)."""
    return func.coalesce(*[func.nullif(c, "") for c in cols])


def _values(acct: Subquery) -> SqlValues:
    """runner._context's values, as SQL."""
    return SqlValues(customer_name=acct.c.customer_name,
                     account_code=_first(acct.c.account_code, acct.c.loan_account_number),
                     contact_person=_first(acct.c.contact, acct.c.contact_person),
                     telephone=_first(acct.c.telephone, acct.c.phone_e164), total_balance=acct.c.balance,
                     current=acct.c.current, d30=acct.c.d30, d60=acct.c.d60, d90=acct.c.d90, d120=acct.c.d120,
                     d150=acct.c.d150, d180=acct.c.d180)


def _recipient(ctx: _Context, acct: Subquery, channel: str) -> tuple[ColumnElement[Any], ColumnElement[Any]]:
    """(state: none | ok | py, the recipient as opt-outs store it when ok)."""
    pg = ctx.dialect == "postgresql"
    if channel == "sms":
        raw = _first(acct.c.phone_e164, acct.c.telephone)
        region = rules.region_or_default(rules.org_setting(ctx.org, "default_region"))
        known: ColumnElement[bool] = literal(False)
        if pg and region == DEFAULT_REGION:
            national = func.right(raw, 9)
            matches = and_(raw.op("~", is_comparison=True)(literal(_ZA_SHAPE, String)),
                           national.op("~", is_comparison=True)(literal(_ZA_NATIONAL_GENERAL, String)),
                           national.op("~", is_comparison=True)(literal(_ZA_NATIONAL_TYPES, String)))
            # The book's own number, which the import found a valid ZA number (27 and nine digits),
            # as the recipient or behind the customer's +27…: no need to ask the pattern again.
            tel = acct.c.telephone
            booked = and_(acct.c.phone_valid.is_(True), func.length(tel) == 11, tel.like("27%"),
                          or_(raw == tel, raw == literal("+", String) + tel))
            known = case((booked, true()), else_=matches)
        stored: ColumnElement[Any] = literal("27", String) + func.substr(raw, func.length(raw) - 8)
    else:
        raw = _first(acct.c.customer_email, acct.c.book_email)
        if pg:
            known = raw.op("~", is_comparison=True)(literal(_PLAIN_ADDRESS_PG, String))
        else:
            glob = raw.op("GLOB", is_comparison=True)
            known = and_(glob(literal("[!-~]*", String)), glob(literal("*[!-~]", String)),
                         not_(glob(literal("*[^ -~]*", String))))
        stored = func.lower(raw)
    state = case((raw.is_(None), literal("none", String)), (known, literal("ok", String)), else_=literal("py", String))
    return state, stored


def _stage(query: Select[Any], dialect: str) -> Select[Any]:
    """`query` as a stage the planner keeps whole (not flattened into the next, which would write its
    columns' expressions out wherever they are used). PostgreSQL: `OFFSET NULL`. Like `OFFSET 0` it
    keeps the subquery, but it is a constant the planner reads as "no offset", so the stages can run
    in parallel workers below a partial aggregate; an offset of a parameter (`OFFSET $1`) counts as
    a real one, and put the whole statement above the Gather, in one process."""
    return query.offset(literal_column("NULL") if dialect == "postgresql" else 0)


async def _messages(session: AsyncSession, ctx: _Context, acct: Subquery, base: ColumnElement[bool],
                    variant: ColumnElement[Any], step: StrategyStep, template: MessageTemplate,
                    counts: _Counts) -> None:
    channel = step.action
    org_id = ctx.org.id
    cap = rules.cap(ctx.org, ctx.settings)
    # Opted out: IN over the organisation's opt-outs of the channel (one hashed scan), not EXISTS per
    # row; and not at all for a kind of opt-out (by customer, by recipient) the organisation has none of.
    opt = OptOut
    of_channel = and_(opt.org_id == org_id, opt.channel == channel)
    by_customers = select(opt.customer_id).where(of_channel, opt.customer_id.is_not(None))
    by_recipients = select(opt.recipient).where(of_channel, opt.recipient.is_not(None))
    any_customer, any_recipient = (await session.execute(select(by_customers.exists(), by_recipients.exists()))).one()
    # In stages (subqueries PostgreSQL must not flatten: `_stage`), so that each expression is
    # worked out once per row: (0) the recipient's shape and the placeholders' values; (1) the
    # segments' parts; (2) opt-outs and segments, grouped.
    state, stored = _recipient(ctx, acct, channel)
    if not any_recipient:
        stored = literal(None, String)
    values = value_columns(template.body, _values(acct), ctx.dialect) if channel == "sms" else {}
    picked = (select(acct.c.account_id, acct.c.customer_id, leave_reason(acct).label("reason"),
                     variant.label("variant"), state.label("state"), stored.label("stored"),
                     *[c.label(k) for k, c in values.items()])
              .where(base))
    zero = _stage(picked, ctx.dialect).subquery("zero")
    parts = segment_parts_of(template.body, {k: zero.c[k] for k in values}, ctx.dialect) if channel == "sms" else {}
    one = _stage(select(zero.c.account_id, zero.c.customer_id, zero.c.reason, zero.c.variant, zero.c.state,
                        zero.c.stored, *[c.label(k) for k, c in parts.items()]), ctx.dialect).subquery("one")
    tests: list[ColumnElement[bool]] = []
    if any_customer:
        tests.append(func.coalesce(one.c.customer_id.in_(by_customers), false()))
    if any_recipient:
        tests.append(and_(one.c.state == "ok", func.coalesce(one.c.stored.in_(by_recipients), false())))
    opted = or_(false(), *tests)
    segments = segments_of(template.body, {k: one.c[k] for k in parts}) if channel == "sms" else literal(0, Integer)
    two = _stage(select(one.c.account_id, one.c.customer_id, one.c.reason, one.c.variant, one.c.state,
                        opted.label("opted"), segments.label("segments")), ctx.dialect).subquery("two")
    outcome = case((two.c.state == "none", literal("no_contact", String)),
                   (or_(two.c.state == "py", and_(not_(two.c.opted), two.c.segments.is_(None))),
                    literal("python", String)),
                   (two.c.opted, literal("opted_out", String)),
                   else_=literal("capped" if cap.per_window else "queued", String))
    three = (select(two.c.account_id, two.c.customer_id, two.c.reason, two.c.variant, two.c.segments,
                    outcome.label("outcome")).subquery("three"))
    # One scan, grouped by what decides each message's outcome (see `_outcome`, the same rule as
    # `outcome`, which the follow-up queries below filter on): what SQL settles (no recipient, opted
    # out, and without a cap the messages with their segments); how many are left to the cap and to Python.
    keys = (two.c.reason, two.c.variant, two.c.state, two.c.opted, two.c.segments)
    q = select(*keys, func.count()).group_by(*keys)
    todo: Counter[str] = Counter()
    for reason, v, st, out, seg, n in (await session.execute(q)).all():
        o = _outcome(st, bool(out), seg, bool(cap.per_window))
        if reason is not None:
            counts.excluded[str(reason)] += int(n)
        elif o in ("python", "capped"):
            todo[o] += int(n)
        else:
            counts.variants[v] += int(n)
            if o != "queued":
                counts.excluded[o] += int(n)
            elif channel == "sms":
                counts.sms += int(n)
                counts.segments += int(seg) * int(n)
            else:
                counts.emails += int(n)
    if not todo:
        return
    recent = (select(Message.customer_id.label("customer_id"), func.count().label("n"))
              .where(Message.org_id == org_id, Message.channel == channel, Message.status != "failed",
                     func.coalesce(Message.sent_at, Message.created_at) > ctx.since)
              .group_by(Message.customer_id).subquery("recent"))
    # With a cap, those that pass the other rules, with their customer's messages in the window.
    queued: list[tuple[uuid.UUID, int, int, int]] = []  # (account, customer, segments, in the window)
    if todo["capped"]:
        q2 = (select(three.c.account_id, three.c.customer_id, three.c.segments, func.coalesce(recent.c.n, 0),
                     three.c.variant)
              .select_from(three.outerjoin(recent, recent.c.customer_id == three.c.customer_id))
              .where(three.c.reason.is_(None), three.c.outcome == "capped"))
        for account_id, customer_id, seg, n, v in (await session.execute(q2)).all():
            counts.variants[v] += 1
            queued.append((account_id, customer_id, int(seg or 0), int(n)))
    # Row by row, as the outbox would: the rest.
    if todo["python"]:
        # Their ids first, then their rows by id (one query of both nests too deep for SQLite's parser).
        ids = list(await session.scalars(select(three.c.account_id).where(three.c.reason.is_(None),
                                                                          three.c.outcome == "python")))
        rows: list[Any] = []
        for start in range(0, len(ids), 1000):
            q3 = (select(acct, variant.label("variant"), func.coalesce(recent.c.n, 0).label("recent"))
                  .select_from(acct.outerjoin(recent, recent.c.customer_id == acct.c.customer_id))
                  .where(acct.c.account_id.in_(ids[start:start + 1000])))
            rows += (await session.execute(q3)).all()
        rows.sort(key=lambda r: r.account_id)
        queued += await _in_python(session, ctx, channel, template, rows, counts, bool(cap.per_window))
    if cap.per_window:
        _count_against_cap(ctx, channel, cap.per_window, queued, counts)


def _outcome(state: str, opted: bool, segments: int | None, capped: bool) -> str:
    """A message's outcome from its recipient's state (none | ok | py), opt-out and segments (None:
    only rendering can tell): `three.outcome` in _messages, in Python."""
    if state == "none":
        return "no_contact"
    if state == "py" or (not opted and segments is None):
        return "python"
    if opted:
        return "opted_out"
    return "capped" if capped else "queued"


async def _in_python(session: AsyncSession, ctx: _Context, channel: str, template: MessageTemplate, rows: list[Any],
                     counts: _Counts, capped: bool) -> list[tuple[uuid.UUID, int, int, int]]:
    """runner.check_drafts' rules for rows SQL could not settle: the recipient normalised, opt-outs,
    the message rendered for its segments. Those that pass go to the cap when there is one."""
    region = rules.region_or_default(rules.org_setting(ctx.org, "default_region"))
    people: list[tuple[Any, str]] = []
    for r in rows:
        counts.variants[r.variant] += 1
        raw = (r.phone_e164 or r.telephone) if channel == "sms" else (r.customer_email or r.book_email)
        if not raw:
            counts.excluded["no_contact"] += 1
            continue
        norm = rules.phone_key(raw, region) if channel == "sms" else raw.strip() or None
        if norm is None:
            counts.excluded["invalid_contact"] += 1
            continue
        people.append((r, norm))
    out: set[int] = set()
    for start in range(0, len(people), 5000):  # a query's parameters are bounded
        part = people[start:start + 5000]
        out |= {start + i for i in await rules.opted_out(session, ctx.org.id, channel,
                                                         [(r.customer_id, norm) for r, norm in part])}
    queued = []
    for i, (r, _norm) in enumerate(people):
        if i in out:
            counts.excluded["opted_out"] += 1
            continue
        seg = count_segments(render_template(template.body, _context(r))).segments if channel == "sms" else 0
        if capped:
            queued.append((r.account_id, r.customer_id, seg, int(r.recent)))
        elif channel == "sms":
            counts.sms += 1
            counts.segments += seg
        else:
            counts.emails += 1
    return queued


def _count_against_cap(ctx: _Context, channel: str, per_window: int, queued: list[tuple[uuid.UUID, int, int, int]],
                       counts: _Counts) -> None:
    """The cap in account order, one tally per customer for the whole preview (runner.CapTally)."""
    for _account, customer, seg, recent in sorted(queued, key=lambda q: q[0]):
        n = ctx.tally.setdefault((channel, customer), recent)
        if n >= per_window:
            counts.excluded["cap_reached"] += 1
            continue
        ctx.tally[(channel, customer)] = n + 1
        if channel == "sms":
            counts.sms += 1
            counts.segments += seg
        else:
            counts.emails += 1

