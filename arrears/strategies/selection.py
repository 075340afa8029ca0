"""The one selection a run and a preview share: which accounts each step fires on, in SQL.

`account_rows(org, run_on)` is a subquery of every account of the organisation with what the
rules need, computed in the database: the balance (net of the payments its report has not taken
in, as arrears.payments.balances counts them), days past due (a book account's: the run date
minus its report date, plus the age of its oldest non-zero bucket after current — as
`book_days_past_due`; a loan's: days since its oldest unpaid level instalment fell due — as
`loan_days_past_due`), its oldest overdue bucket, its customer's fields and its strategy state.

An account follows the first strategy (by priority, the default last) whose segment it matches:
`member(plan)` is "in this segment and in no earlier one". `due(plan, step)` is the step's
firing rule (see arrears.strategies.models.StrategyStep); `active()` leaves out accounts that are
out of their strategy (promised, disputed, …) and paused accounts, which the preview counts as
excluded, with the reason `leave_reason()`.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Date,
    String,
    and_,
    bindparam,
    case,
    cast,
    false,
    func,
    literal,
    not_,
    or_,
    select,
    true,
)
from sqlalchemy.sql import Subquery

from arrears.accounts.models import Account
from arrears.customers.models import Customer, Loan
from arrears.debtors.models import DebtorAccount
from arrears.payments.models import Payment
from arrears.strategies.models import LEAVING_STATUSES, Strategy, StrategyAccountState, StrategyStep
from arrears.strategies.sqlparts import MASK24, MIX_A, MIX_B, add_months, days_between, floor_int, hex6
from arrears.strategies.sqlparts import mix24 as mix24_sql

# Customer fields a segment may test, by the name a strategy uses.
CUSTOMER_FIELDS: dict[str, Any] = {
    "name": Customer.name, "customerCode": Customer.customer_code, "city": Customer.city,
    "state": Customer.state, "pincode": Customer.pincode, "email": Customer.email,
    "phone": Customer.phone_e164, "contactPerson": Customer.contact_person,
    "addressLine1": Customer.address_line_1, "addressLine2": Customer.address_line_2,
    "assignedCollectionOfficerId": Customer.assigned_collection_officer_id,
}
CONDITION_OPS = ("eq", "ne", "in", "prefix", "empty", "present")
_BOOK_AGES = (("d180", 180), ("d150", 150), ("d120", 120), ("d90", 90), ("d60", 60), ("d30", 30))


@dataclass
class Plan:
    """One strategy, its steps in firing order, and the strategies before it (which take the
    accounts of their segments first)."""

    strategy: Strategy
    steps: list[StrategyStep]
    earlier: list[Strategy] = field(default_factory=list)

    def sequence(self, variant: str) -> list[StrategyStep]:
        return [s for s in self.steps if s.variant in (None, variant)]


def ordered(strategies: list[Strategy]) -> list[Strategy]:
    """Firing order: by priority, then name; the default strategy last."""
    return sorted(strategies, key=lambda s: (s.is_default, s.priority, s.name.lower(), str(s.id)))


def salt(strategy_id: uuid.UUID) -> int:
    return int(hashlib.sha256(str(strategy_id).encode()).hexdigest()[:6], 16)


def mix24(x: int) -> int:  # the SQL is sqlparts.mix24 (mix24_sql here)
    """sqlparts.mix24 in Python: consecutive ids (a book's accounts are numbered in its order) land
    far apart, and each strategy's salt gives its own split."""
    h = (x * MIX_A) & MASK24
    h = ((h ^ (h >> 12)) * MIX_B) & MASK24
    return h ^ (h >> 11)


def bucket_of(strategy_id: uuid.UUID, account_id: uuid.UUID) -> int:
    """0 … 99, stable per (strategy, account) — what `variant_expr` computes in SQL."""
    tail = int(str(account_id).replace("-", "")[-6:], 16)
    return mix24(tail ^ salt(strategy_id)) * 100 >> 24


def variant_of(strategy_id: uuid.UUID, account_id: uuid.UUID, challenger_percent: int) -> str:
    """The variant a stable hash of (strategy, account) picks — what `variant_expr` computes in SQL."""
    return "B" if bucket_of(strategy_id, account_id) < challenger_percent else "A"


def _paid(org_id: int) -> Subquery:
    cut = func.coalesce(DebtorAccount.latest_report_date, func.date(DebtorAccount.latest_report_at))
    return (select(Payment.account_id.label("account_id"), func.sum(Payment.amount).label("paid"))
            .join(Account, Account.id == Payment.account_id)
            .outerjoin(DebtorAccount, DebtorAccount.id == Account.debtor_account_id)
            .where(Payment.org_id == org_id, Payment.status == "recorded",
                   or_(Account.kind == "loan", cut.is_(None), Payment.paid_on > cut))
            .group_by(Payment.account_id).subquery("paid"))


def account_rows(org_id: int, run_on: date) -> Subquery:
    """Every account of the organisation, with its balance, days past due, oldest bucket, customer
    and strategy state (see the module's text)."""
    day = bindparam("run_on", run_on, type_=Date)
    paid_q = _paid(org_id)
    paid = func.coalesce(paid_q.c.paid, 0)
    d = DebtorAccount
    cut = func.coalesce(d.latest_report_date, func.date(d.latest_report_at))
    bound = case(*[(getattr(d, name) > 0, literal(age)) for name, age in _BOOK_AGES], else_=None)
    since = days_between(day, cut)
    # No bucket after current: 0; no report date or a date not yet past: the bucket's bound; else
    # bound + days since. Written with the bucket's CASE once (the selection is flattened into
    # the statements that read it: each mention is worked out again for every row).
    book_dpd = func.coalesce(bound + case((since > 0, since), else_=0), 0)
    each = func.round(Loan.principal_amount / func.nullif(Loan.tenure_months, 0), 2)
    covered = floor_int(paid / func.nullif(each, 0))
    unpaid = case((covered >= Loan.tenure_months - 1, Loan.tenure_months - 1), else_=covered)
    due_on = add_months(Loan.loan_date, unpaid + 1)
    late = days_between(day, due_on)
    loan_dpd = case((or_(Loan.tenure_months < 1, paid >= Loan.principal_amount), 0), (late > 0, late), else_=0)
    dpd = case((Account.kind == "loan", loan_dpd), else_=book_dpd)
    balance = case((Account.kind == "loan", Loan.principal_amount - paid), else_=d.total_balance - paid)
    book_oldest = case(*[(getattr(d, name) > 0, literal(name, String)) for name, _ in _BOOK_AGES],
                       (d.current > 0, literal("current", String)), else_=None)
    loan_oldest = case(*[(loan_dpd >= age, literal(name, String)) for name, age in _BOOK_AGES],
                       (Loan.principal_amount - paid > 0, literal("current", String)), else_=None)
    s = StrategyAccountState
    return (select(
        Account.id.label("account_id"), Account.kind, Account.status, Account.customer_id,
        Account.debtor_account_id, Account.loan_id,
        Customer.name.label("customer_name"), Customer.customer_code, Customer.city, Customer.state,
        Customer.pincode, Customer.email.label("customer_email"), Customer.phone_e164,
        Customer.contact_person, Customer.address_line_1, Customer.address_line_2,
        Customer.assigned_collection_officer_id.label("officer_id"),
        d.account_code, d.current, d.d30, d.d60, d.d90, d.d120, d.d150, d.d180, d.total_balance,
        d.telephone, d.phone_valid, d.email.label("book_email"), d.contact, Loan.loan_account_number,
        balance.label("balance"), dpd.label("dpd"),
        case((Account.kind == "loan", loan_oldest), else_=book_oldest).label("oldest"),
        s.strategy_id.label("s_strategy_id"), s.variant.label("s_variant"), s.position.label("s_position"),
        s.last_fired_on.label("s_last_fired_on"), s.next_due_on.label("s_next_due_on"),
        func.coalesce(s.paused, false()).label("s_paused"))
        .join(Customer, Customer.id == Account.customer_id)
        .outerjoin(d, d.id == Account.debtor_account_id)
        .outerjoin(Loan, Loan.id == Account.loan_id)
        .outerjoin(paid_q, paid_q.c.account_id == Account.id)
        .outerjoin(s, s.account_id == Account.id)
        .where(Account.org_id == org_id)
        .subquery("acct"))


def _condition(acct: Subquery, cond: dict[str, Any]) -> ColumnElement[bool]:
    name = {"phone": "phone_e164", "email": "customer_email", "assignedCollectionOfficerId": "officer_id",
            "customerCode": "customer_code", "contactPerson": "contact_person", "addressLine1": "address_line_1",
            "addressLine2": "address_line_2", "name": "customer_name"}.get(cond["field"], cond["field"])
    col = acct.c[name]
    op, value = cond["op"], cond.get("value")
    values: list[Any] = value if isinstance(value, list) else [value]
    if cond["field"] == "assignedCollectionOfficerId":
        if op == "empty":
            return col.is_(None)
        if op == "present":
            return col.is_not(None)
        ids = [int(v) for v in values]
        return col.in_(ids) if op in ("eq", "in") else or_(col.is_(None), col.not_in(ids))
    text = func.lower(func.coalesce(col, ""))
    if op == "empty":
        return text == ""
    if op == "present":
        return text != ""
    if op == "in":
        return text.in_([str(v).lower() for v in values])
    if op == "prefix":
        escaped = str(value).lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        return text.like(escaped + "%", escape="\\")
    if op == "ne":
        return text != str(value).lower()
    return text == str(value).lower()


def segment(acct: Subquery, st: Strategy) -> ColumnElement[bool]:
    """The strategy's segment: balance range, oldest overdue bucket, kind, customer fields."""
    conds: list[ColumnElement[bool]] = []
    if st.min_balance is not None:
        conds.append(acct.c.balance >= st.min_balance)
    if st.max_balance is not None:
        conds.append(acct.c.balance <= st.max_balance)
    if st.oldest_buckets:
        conds.append(acct.c.oldest.in_(list(st.oldest_buckets)))
    if st.account_kind:
        conds.append(acct.c.kind == st.account_kind)
    conds.extend(_condition(acct, c) for c in st.customer_conditions or [])
    return and_(true(), *conds)


def member(acct: Subquery, plan: Plan) -> ColumnElement[bool]:
    """In this strategy's segment and in no earlier strategy's."""
    earlier = [segment(acct, e) for e in plan.earlier]
    mine = segment(acct, plan.strategy)
    return and_(mine, not_(or_(*earlier))) if earlier else mine


def same_strategy(acct: Subquery, plan: Plan) -> ColumnElement[bool]:
    return and_(acct.c.s_strategy_id.is_not(None), acct.c.s_strategy_id == plan.strategy.id)


def _hashed_variant(acct: Subquery, plan: Plan) -> ColumnElement[Any]:
    """The variant the stable hash of (strategy, account) picks (a constant "A" without a challenger)."""
    st = plan.strategy
    if st.challenger_percent <= 0:
        return literal("A", String)
    mixed = cast(mix24_sql(hex6(acct.c.account_id), literal(salt(st.id), BigInteger)), BigInteger) * 100 // (1 << 24)
    return case((mixed < st.challenger_percent, literal("B", String)), else_=literal("A", String))


def variant_expr(acct: Subquery, plan: Plan) -> ColumnElement[Any]:
    """The account's variant: the one it has in this strategy, else the stable hash's; without a
    challenger every account follows the champion, also one that was in B before the split ended."""
    if plan.strategy.challenger_percent <= 0:
        return literal("A", String)
    hashed = _hashed_variant(acct, plan)
    return case((and_(same_strategy(acct, plan), acct.c.s_variant.is_not(None)), acct.c.s_variant), else_=hashed)


def _entry(acct: Subquery, step: StrategyStep) -> ColumnElement[bool]:
    # Days past due are never negative (a book account's and a loan's both stop at 0): a step from
    # day 0 needs no test of them, which spares every row the oldest bucket's or the schedule's CASE.
    conds = [acct.c.dpd >= step.min_days_past_due] if step.min_days_past_due > 0 else []
    if step.min_balance is not None:
        conds.append(acct.c.balance >= step.min_balance)
    else:
        conds.append(acct.c.balance > 0)
    return and_(*conds)


def due(acct: Subquery, plan: Plan, step: StrategyStep, run_on: date) -> ColumnElement[bool]:
    """The step fires on the account today: it is the next step of the account's variant after the
    one it last had (its entry rule holding, the wait over), or the step it last had, which repeats
    every `repeat_days` while the next step is not yet due.

    Written as two cases, so that each row works out only its own: an account with a state in this
    strategy (its variant, position, wait and last firing), and one without (the stable hash's
    variant, no step yet, no wait, nothing to repeat: only a first step can fire, on its entry rule).
    """
    st = plan.strategy
    hashed = _hashed_variant(acct, plan)
    # Without a challenger every account follows the champion's steps (one that was in B goes on
    # from its position in A's sequence), as variant_expr says.
    variant = func.coalesce(acct.c.s_variant, hashed) if st.challenger_percent > 0 else literal("A", String)
    pos = func.coalesce(acct.c.s_position, 0)
    wait_over = or_(acct.c.s_next_due_on.is_(None), acct.c.s_next_due_on <= run_on)
    with_state: list[ColumnElement[bool]] = []
    without: list[ColumnElement[bool]] = []
    for v in ("A", "B") if st.challenger_percent > 0 else ("A",):
        seq = plan.sequence(v)
        if step not in seq:
            continue
        k = seq.index(step)
        before = seq[k - 1].position if k > 0 else 0
        with_state.append(and_(variant == v, pos >= before, pos < step.position, _entry(acct, step), wait_over))
        if before <= 0 < step.position:
            # Without a challenger the hash picks "A" for every account.
            picked = (true() if v == "A" else false()) if st.challenger_percent <= 0 else hashed == v
            without.append(and_(picked, _entry(acct, step)))
        if step.repeat_days:
            nxt = seq[k + 1] if k + 1 < len(seq) else None
            next_due = and_(_entry(acct, nxt), wait_over) if nxt is not None else false()
            with_state.append(and_(variant == v, acct.c.s_position == step.position,
                                   acct.c.s_last_fired_on <= run_on - timedelta(days=step.repeat_days),
                                   _entry(acct, step), not_(next_due)))
    if not with_state:
        return false()
    return case((same_strategy(acct, plan), or_(*with_state)), else_=or_(false(), *without))


def active(acct: Subquery) -> ColumnElement[bool]:
    """In its strategy today: active (not promised, disputed, …) and not paused."""
    return and_(acct.c.status == "active", acct.c.s_paused == false())


def leave_reason(acct: Subquery) -> ColumnElement[Any]:
    """Why a due account is left out: `paused`, or its status (promised, disputed, …)."""
    return case((acct.c.s_paused == true(), literal("paused", String)),
                (acct.c.status != "active", acct.c.status), else_=None)


def step_select(org_id: int, plan: Plan, step: StrategyStep, run_on: date, *, only_active: bool = True
                ) -> Any:
    """SELECT of the accounts the step fires on today (with the variant each follows)."""
    acct = account_rows(org_id, run_on)
    where = and_(member(acct, plan), due(acct, plan, step, run_on))
    if only_active:
        where = and_(where, active(acct))
    return acct, where


# What a run reads of each due account: the message's values and recipients, the execution's
# balance and days past due, the task's officer (the selection's other columns serve its rules).
FETCHED = ("account_id", "customer_id", "debtor_account_id", "customer_name", "customer_email", "phone_e164",
           "contact_person", "officer_id", "account_code", "current", "d30", "d60", "d90", "d120", "d150", "d180",
           "telephone", "phone_valid", "book_email", "contact", "loan_account_number", "balance", "dpd")


async def fetch_due(session: Any, org_id: int, plan: Plan, step: StrategyStep, run_on: date,
                    columns: Sequence[str] = FETCHED) -> list[Any]:
    """The due rows of one step (`columns`, FETCHED unless the caller needs fewer, and the
    variant), by account id."""
    acct, where = step_select(org_id, plan, step, run_on)
    q = (select(*[acct.c[name] for name in columns], variant_expr(acct, plan).label("variant")).where(where)
         .order_by(acct.c.account_id))
    # Core rows, not the ORM's: a run reads thousands, and the ORM's row loading cost more than the query.
    return list((await (await session.connection()).execute(q)).all())


async def left_out(session: Any, org_id: int, plan: Plan, step: StrategyStep, run_on: date) -> dict[str, int]:
    """How many accounts the step would fire on but for their status or a pause, by reason."""
    acct, where = step_select(org_id, plan, step, run_on, only_active=False)
    reason = leave_reason(acct)
    q = (select(reason.label("reason"), func.count()).where(where, not_(active(acct)))
         .group_by(reason))
    return {str(r[0]): int(r[1]) for r in (await session.execute(q)).all() if r[0] is not None}


async def segment_count(session: Any, org_id: int, plan: Plan, run_on: date) -> int:
    acct = account_rows(org_id, run_on)
    return int(await session.scalar(select(func.count()).select_from(acct).where(member(acct, plan))) or 0)


LEAVING = LEAVING_STATUSES
ZERO = Decimal("0")
