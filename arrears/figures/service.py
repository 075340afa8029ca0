"""Figures of the collections workflow, read only and set-based (a few grouped statements, whatever
the number of promises, payments or accounts), on SQLite and PostgreSQL alike.

Visibility: every figure is over the accounts the caller may see (accounts.service.account_scope):
a user's through the customers they see (admins, managers, calling agents and field officers the
organisation's; collection officers their assigned customers'), an `ins_` key its organisation's.

- **Promises** (`promise_figures`), per agent (`promises.agent_id`; none for a promise a key
  recorded) and per month of `made_on`: made (every promise), kept, broken, open, cancelled, the
  kept rate `kept / (kept + broken)` as a percentage (none while nothing is kept or broken), and the
  amount promised against the amount paid (`amount`, `paid_amount`) of the promises not cancelled.
- **Collected** (`collected`), per month:
  * `payments`: recorded payments (status `recorded`; reversed and unmatched ones count nowhere)
    by the month of `paid_on`;
  * `book`: what the debtor book shows was paid that no payment explains. For each book account,
    its balances in consecutive completed reports (ordered by `report_date`, then upload time; an
    account a whole-book report no longer lists — settled — stands at zero at that report) make
    steps; a step whose balance fell (previous balance − next balance > 0) counts, in the month of
    the later report's `report_date`, the fall minus the account's recorded payments dated after
    the earlier report's `report_date` and on or before the later one's, never below zero. A
    payment is therefore counted once: in `payments`, and it lowers the book's fall it explains.
    `bookFalls` (the falls) and `paymentsInFalls` (what the payments explained) show the working.
  * `collected = payments + book`.
- **Collection effectiveness index** (`cei`) between two completed reports, standard form:
  (beginning receivables + credit sales − ending total receivables) /
  (beginning receivables + credit sales − ending current receivables) × 100, where beginning = the
  earlier report's total balance, ending = the later report's total balance and current bucket, and
  "credit sales" = the later report's `current` bucket (a debtor book carries no sales ledger: what
  is current in the later report is what was newly invoiced). With that choice the denominator is
  the beginning receivables, and the index is how much of what was owed at the start no longer sits
  overdue at the end. Each report counts the accounts it lists (a partial report lists only some):
  all of them for a caller who sees the organisation's accounts, else those the caller sees.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import Date, case, func, literal, select, true, union_all
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from arrears.accounts.models import MONEY, Account
from arrears.accounts.service import account_scope
from arrears.customers.service import SEE_ALL_CUSTOMERS
from arrears.debtors.book import local_today, zone_of
from arrears.debtors.models import DebtorAccount, DebtorReport, DebtorSnapshot
from arrears.debtors.summary import money
from arrears.errors import NotFound, ValidationFailed
from arrears.identity import service as identity
from arrears.identity.caller import Caller
from arrears.identity.models import User
from arrears.payments.models import Payment
from arrears.promises.models import Promise

ZERO = Decimal("0.00")
DEFAULT_MONTHS = 12
MAX_MONTHS = 120
MIN_YEAR, MAX_YEAR = 1900, 2999  # a month's arithmetic stays within what `date` holds

# ------------------------------------------------------------------ the period


@dataclass(frozen=True)
class Period:
    """Days `date_from` to `date_to`, both included, and the months they touch ("YYYY-MM")."""

    date_from: date
    date_to: date

    @property
    def months(self) -> list[str]:
        out, (y, m) = [], (self.date_from.year, self.date_from.month)
        while (y, m) <= (self.date_to.year, self.date_to.month):
            out.append(f"{y:04d}-{m:02d}")
            y, m = (y + 1, 1) if m == 12 else (y, m + 1)
        return out


def _month_start(day: date, back: int = 0) -> date:
    index = day.year * 12 + day.month - 1 - back
    return date(index // 12, index % 12 + 1, 1)


def _month_end(day: date) -> date:
    return _month_start(day, -1) - timedelta(days=1)


def _parse_day(name: str, raw: Any, *, end: bool) -> date | None:
    """YYYY-MM-DD, or YYYY-MM (its first day, or its last for the end of a range)."""
    if raw is None or isinstance(raw, date):
        return raw
    text_ = str(raw).strip()
    if not text_:
        return None
    try:
        day = date.fromisoformat(text_ + "-01" if len(text_) == 7 else text_)
    except ValueError:
        day = None
    if day is None or not MIN_YEAR <= day.year <= MAX_YEAR:
        raise ValidationFailed(f"Invalid {name}", field_errors={
            name: [f"Not a valid date (YYYY-MM-DD or YYYY-MM, years {MIN_YEAR} to {MAX_YEAR})."]})
    return _month_end(day) if end and len(text_) == 7 else day


def period(date_from: Any = None, date_to: Any = None, *, today: date) -> Period:
    """The months asked for: by default the last 12 months, this one included (the 1st of the month
    eleven months ago to today); `dateFrom`/`dateTo` (inclusive) change either end."""
    end = _parse_day("dateTo", date_to, end=True) or today
    start = _parse_day("dateFrom", date_from, end=False) or _month_start(end, DEFAULT_MONTHS - 1)
    if start > end:
        raise ValidationFailed("Invalid period: dateFrom is after dateTo",
                               field_errors={"dateFrom": ["Must be on or before dateTo."]})
    span = Period(start, end)
    if len(span.months) > MAX_MONTHS:
        raise ValidationFailed("Invalid period: too long",
                               field_errors={"dateFrom": [f"The period may span at most {MAX_MONTHS} months."]})
    return span


async def org_today(session: AsyncSession, org_id: int) -> date:
    """Today in the organisation's time zone (the months are the organisation's)."""
    return local_today(zone_of(await identity.get_org(session, org_id)))


# ------------------------------------------------------------------ helpers


def _month(session: AsyncSession, column: Any) -> ColumnElement[str]:
    if session.get_bind().dialect.name == "postgresql":
        return func.to_char(column, "YYYY-MM")
    return func.strftime("%Y-%m", column)


def _whole_org(caller: Caller) -> bool:
    """A key, or a role that sees every customer, sees every account of the organisation (each
    account has a customer of its own organisation): its figures need no visibility subquery."""
    return caller.kind == "api_key" or caller.role in SEE_ALL_CUSTOMERS


def _accounts_seen(caller: Caller) -> ColumnElement[bool]:
    """On a statement joined to `accounts`: the rows of accounts this caller sees."""
    return Account.org_id == caller.org_id if _whole_org(caller) else account_scope(caller)


def _of_accounts_seen(column: Any, caller: Caller) -> ColumnElement[bool]:
    """On a statement of rows naming an account (`column`, already within the organisation)."""
    return true() if _whole_org(caller) else column.in_(select(Account.id).where(account_scope(caller)))


def rate(part: int, whole: int) -> Decimal | None:
    """A percentage to two decimals; none when there is nothing to divide by."""
    if not whole:
        return None
    return (Decimal(part) * 100 / Decimal(whole)).quantize(Decimal("0.01"), ROUND_HALF_UP)


# ------------------------------------------------------------------ promises


@dataclass(frozen=True)
class PromiseFigures:
    agent_id: int | None
    agent: str | None  # the agent's username
    month: str | None  # "YYYY-MM"; None in an agent's totals
    made: int
    kept: int
    broken: int
    open: int
    cancelled: int
    promised: Decimal  # promises not cancelled
    paid: Decimal

    @property
    def kept_rate(self) -> Decimal | None:
        return rate(self.kept, self.kept + self.broken)


async def promise_figures(session: AsyncSession, caller: Caller, span: Period) -> list[PromiseFigures]:
    """Per agent and month of `made_on`, in one grouped statement; agents by name, months in order."""
    month = _month(session, Promise.made_on).label("month")
    live = Promise.status != "cancelled"

    def count(status: str) -> Any:
        return func.sum(case((Promise.status == status, 1), else_=0))

    rows = (await session.execute(
        select(Promise.agent_id, month, func.count(), count("kept"), count("broken"), count("open"),
               count("cancelled"), func.sum(case((live, Promise.amount), else_=0)),
               func.sum(case((live, Promise.paid_amount), else_=0)))
        .where(Promise.org_id == caller.org_id, _of_accounts_seen(Promise.account_id, caller),
               Promise.made_on >= span.date_from, Promise.made_on <= span.date_to)
        .group_by(Promise.agent_id, month))).all()
    names = await _agent_names(session, [r[0] for r in rows if r[0] is not None])
    out = [PromiseFigures(r[0], names.get(r[0]) if r[0] is not None else None, r[1], int(r[2]), int(r[3] or 0),
                          int(r[4] or 0), int(r[5] or 0), int(r[6] or 0), money(r[7]), money(r[8])) for r in rows]
    return sorted(out, key=lambda f: ((f.agent or "~").lower(), f.agent_id or 0, f.month or ""))


async def _agent_names(session: AsyncSession, ids: Sequence[int]) -> dict[int, str]:
    if not ids:
        return {}
    return dict((await session.execute(select(User.id, User.username).where(User.id.in_(sorted(set(ids)))))).all())


def agent_totals(rows: Sequence[PromiseFigures]) -> list[PromiseFigures]:
    """Each agent's months added up (the rows are already grouped: a handful per agent)."""
    out: dict[int | None, PromiseFigures] = {}
    for r in rows:
        t = out.get(r.agent_id)
        out[r.agent_id] = r if t is None else PromiseFigures(
            r.agent_id, r.agent, None, t.made + r.made, t.kept + r.kept, t.broken + r.broken, t.open + r.open,
            t.cancelled + r.cancelled, t.promised + r.promised, t.paid + r.paid)
    return [PromiseFigures(t.agent_id, t.agent, None, t.made, t.kept, t.broken, t.open, t.cancelled, t.promised,
                           t.paid) for t in out.values()]


def month_totals(rows: Sequence[PromiseFigures], span: Period) -> list[PromiseFigures]:
    """All agents together, per month of the period (months without promises included)."""
    out = {m: PromiseFigures(None, None, m, 0, 0, 0, 0, 0, ZERO, ZERO) for m in span.months}
    for r in rows:
        t = out.get(r.month or "")
        if t is not None:
            out[t.month or ""] = PromiseFigures(None, None, t.month, t.made + r.made, t.kept + r.kept,
                                                t.broken + r.broken, t.open + r.open, t.cancelled + r.cancelled,
                                                t.promised + r.promised, t.paid + r.paid)
    return list(out.values())


# ------------------------------------------------------------------ collected


@dataclass(frozen=True)
class Collected:
    month: str
    payments: Decimal  # recorded payments dated in the month
    book_falls: Decimal  # the book's falls in balance at reports dated in the month
    payments_in_falls: Decimal  # the part of those falls the payments between the reports explain
    book: Decimal  # book_falls − payments_in_falls: paid, but through no recorded payment

    @property
    def collected(self) -> Decimal:
        return self.payments + self.book


async def collected(session: AsyncSession, caller: Caller, span: Period) -> list[Collected]:
    """Collected per month of the period (every month, none left out); see the module's docstring."""
    month = _month(session, Payment.paid_on).label("month")
    paid = dict((await session.execute(
        select(month, func.sum(Payment.amount))
        .where(Payment.org_id == caller.org_id, Payment.status == "recorded",
               _of_accounts_seen(Payment.account_id, caller),
               Payment.paid_on >= span.date_from, Payment.paid_on <= span.date_to)
        .group_by(month))).all())
    falls = {r[0]: (money(r[1]), money(r[2])) for r in await _book_falls(session, caller, span)}
    out = []
    for m in span.months:
        fall, explained = falls.get(m, (ZERO, ZERO))
        out.append(Collected(m, money(paid.get(m)), fall, explained, fall - explained))
    return out


async def _book_falls(session: AsyncSession, caller: Caller, span: Period) -> list[Any]:
    """(month, falls, payments explaining them) per month of the later report's date: one statement
    (the accounts' observations, their steps by a window function, the payments between)."""
    org = caller.org_id
    # Reports after the period cannot make a step in it (reports before it can: a step's start).
    listed = (select(Account.id.label("account_id"), DebtorSnapshot.total_balance.label("balance"),
                     DebtorReport.report_date.label("as_of"), DebtorReport.created_at.label("made_at"),
                     DebtorReport.id.label("report_id"))
              .select_from(DebtorSnapshot)
              .join(DebtorReport, DebtorReport.id == DebtorSnapshot.report_id)
              .join(DebtorAccount, (DebtorAccount.org_id == DebtorSnapshot.org_id)
                    & (DebtorAccount.account_code == DebtorSnapshot.account_code))
              .join(Account, Account.debtor_account_id == DebtorAccount.id)
              .where(DebtorSnapshot.org_id == org, DebtorReport.org_id == org, DebtorReport.status == "completed",
                     DebtorReport.report_date <= span.date_to, _accounts_seen(caller)))
    # An account a whole-book report no longer lists is settled by it: zero from that report on.
    settled = (select(Account.id, literal(ZERO, MONEY), DebtorReport.report_date, DebtorReport.created_at,
                      DebtorReport.id)
               .select_from(DebtorAccount)
               .join(DebtorReport, DebtorReport.id == DebtorAccount.settled_by_report_id)
               .join(Account, Account.debtor_account_id == DebtorAccount.id)
               .where(DebtorAccount.org_id == org, DebtorAccount.settled_at.is_not(None),
                      DebtorReport.status == "completed", DebtorReport.report_date <= span.date_to,
                      _accounts_seen(caller)))
    obs = union_all(listed, settled).cte("observations")
    by, order = obs.c.account_id, (obs.c.as_of, obs.c.made_at, obs.c.report_id)
    steps = select(obs.c.account_id, obs.c.as_of, obs.c.balance,
                   func.lag(obs.c.balance, type_=MONEY).over(partition_by=by, order_by=order).label("before"),
                   func.lag(obs.c.as_of, type_=Date).over(partition_by=by, order_by=order).label("before_as_of")).cte("steps")
    between = (select(func.coalesce(func.sum(Payment.amount), 0))
               .where(Payment.account_id == steps.c.account_id, Payment.status == "recorded",
                      Payment.paid_on > steps.c.before_as_of, Payment.paid_on <= steps.c.as_of)
               .scalar_subquery())
    falls = (select(steps.c.as_of, (steps.c.before - steps.c.balance).label("fall"), between.label("paid"))
             .where(steps.c.before > steps.c.balance, steps.c.as_of >= span.date_from,
                    steps.c.as_of <= span.date_to)).subquery("falls")
    month = _month(session, falls.c.as_of).label("month")
    explained = case((falls.c.paid < falls.c.fall, falls.c.paid), else_=falls.c.fall)
    return list((await session.execute(
        select(month, func.sum(falls.c.fall), func.sum(explained)).group_by(month))).all())


# ------------------------------------------------------------------ collection effectiveness index


@dataclass(frozen=True)
class Cei:
    earlier: DebtorReport
    later: DebtorReport
    beginning: Decimal  # the earlier report's total balance
    credit_sales: Decimal  # the later report's current bucket
    ending: Decimal  # the later report's total balance
    ending_current: Decimal  # the later report's current bucket

    @property
    def index(self) -> Decimal | None:
        denominator = self.beginning + self.credit_sales - self.ending_current
        if denominator <= 0:
            return None
        value = (self.beginning + self.credit_sales - self.ending) * 100 / denominator
        return value.quantize(Decimal("0.01"), ROUND_HALF_UP)


def _newest_first() -> tuple[Any, ...]:
    return (DebtorReport.report_date.desc(), DebtorReport.created_at.desc(), DebtorReport.id.desc())


async def _report(session: AsyncSession, caller: Caller, name: str, value: Any) -> DebtorReport:
    try:
        key = value if isinstance(value, uuid.UUID) else uuid.UUID(str(value).strip())
    except ValueError:
        raise ValidationFailed(f"Invalid {name}", field_errors={name: ["Not a report id (a UUID)."]}) from None
    report = await session.scalar(select(DebtorReport).where(DebtorReport.uuid == key,
                                                             DebtorReport.org_id == caller.org_id))
    if report is None:
        raise NotFound(f"Report {key} not found.")
    if report.status != "completed" or report.report_date is None:
        raise ValidationFailed(f"Invalid {name}", field_errors={name: ["The report has not completed."]})
    return report


async def cei(session: AsyncSession, caller: Caller, from_report: Any = None, to_report: Any = None) -> Cei | None:
    """The index between two reports (ids: their UUIDs); by default the two newest completed
    reports. None when the organisation has fewer than two."""
    if (from_report is None) != (to_report is None):
        name = "toReport" if to_report is None else "fromReport"
        raise ValidationFailed(f"Invalid {name}", field_errors={name: ["Give both reports, or neither."]})
    if from_report is None:
        newest = list(await session.scalars(
            select(DebtorReport).where(DebtorReport.org_id == caller.org_id, DebtorReport.status == "completed",
                                       DebtorReport.report_date.is_not(None))
            .order_by(*_newest_first()).limit(2)))
        if len(newest) < 2:
            return None
        later, earlier = newest
    else:
        earlier = await _report(session, caller, "fromReport", from_report)
        later = await _report(session, caller, "toReport", to_report)
        if (earlier.report_date, earlier.created_at, earlier.id) >= (later.report_date, later.created_at, later.id):
            raise ValidationFailed("Invalid fromReport", field_errors={
                "fromReport": ["Must be an earlier report than toReport (by report date, then upload time)."]})
    sums = (select(DebtorSnapshot.report_id, func.sum(DebtorSnapshot.total_balance), func.sum(DebtorSnapshot.current))
            .where(DebtorSnapshot.org_id == caller.org_id, DebtorSnapshot.report_id.in_([earlier.id, later.id]))
            .group_by(DebtorSnapshot.report_id))
    if not _whole_org(caller):
        # Only the accounts this person sees; whoever sees the organisation's reads the reports whole.
        sums = (sums.join(DebtorAccount, (DebtorAccount.org_id == DebtorSnapshot.org_id)
                          & (DebtorAccount.account_code == DebtorSnapshot.account_code))
                .join(Account, Account.debtor_account_id == DebtorAccount.id).where(account_scope(caller)))
    totals = dict((r[0], (money(r[1]), money(r[2]))) for r in (await session.execute(sums)).all())
    begin, _ = totals.get(earlier.id, (ZERO, ZERO))
    end, end_current = totals.get(later.id, (ZERO, ZERO))
    return Cei(earlier, later, begin, end_current, end, end_current)
