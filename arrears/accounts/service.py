"""The rules of accounts owed: which exist (set-based, from the book and the loans), who sees
which, what each owes and how late it is, and who may change its collection status.

Visibility: a user sees the accounts of the customers they may see (the RepaySync rules of
customers.service.customer_scope); a partner `ins_` key sees its organisation's accounts (its
scopes are the face's check). Another organisation's account is a 404.

Collection status: `promised` and `paid_up` follow from promises and balances; the others are
set by people:
- `disputed` (a reason is required): anyone with write access who sees the customer;
- lifting a dispute (back to `active`), `handed_over` (reason: to whom) and `written_off`
  (amount and reason), and taking an account back from hand-over or write-off: admins and
  managers only (never an API key).
Every change is one history row and one `account.status_changed` event (from, to, why), which
is also the audit trail (before/after).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    bindparam,
    func,
    insert,
    literal,
    literal_column,
    select,
    text,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from arrears import events
from arrears.accounts.ageing import book_days_past_due, loan_days_past_due
from arrears.accounts.errors import AccountErrorCode
from arrears.accounts.models import STATUSES, Account, AccountStatusChange
from arrears.customers.interactions import AccountRef
from arrears.customers.models import Customer, Loan
from arrears.customers.service import customer_scope
from arrears.db import UTCDateTime, new_uuid_sql, utcnow
from arrears.debtors.book import local_today, zone_of
from arrears.debtors.bulk import uuid7_prefix
from arrears.debtors.hooks import FreshBook
from arrears.debtors.models import DebtorAccount, DebtorReport
from arrears.debtors.service import lock_book
from arrears.errors import Conflict, Forbidden, ValidationFailed
from arrears.identity.caller import Caller
from arrears.identity.models import Organisation
from arrears.validation import clean_amount, clean_text
from arrears.visible import get_visible, parse_uuid

STATUS_EVENT = "account.status_changed"
MAX_REASON = 2000

# ------------------------------------------------------------------ creation (set-based)

# The conflict targets name the partial unique indexes of migration 0027 (PostgreSQL: over the
# rows that have a book account or a loan); SQLite's full constraints match them as well. The book's
# accounts are inserted under the book's lock (sync_book_accounts), the only writer of book
# accounts, after the anti-join: on PostgreSQL the insert goes without ON CONFLICT, whose
# speculative insertion (an arbiter probe and a confirmation per row) cost a fresh book of 200,000
# accounts about a fifth of the insert's server CPU (1.4-1.5 s against 1.05-1.25 s, at load 14).
#
# A new account whose balance is nothing or less is paid up from the start (its history row and
# event, active → paid_up, are written with the other moves by settle_book_statuses): a first
# report of 200,000 accounts no longer updates thousands of rows it has just inserted.
_INSERT_BOOK = """
INSERT INTO accounts (id, org_id, customer_id, kind, debtor_account_id, status, status_changed_at,
                      created_at, updated_at)
SELECT {uuid}, d.org_id, d.customer_id, 'book', d.id,
       CASE WHEN d.total_balance <= 0 THEN 'paid_up' ELSE 'active' END,
       CASE WHEN d.total_balance <= 0 THEN :now END, :now, :now
FROM debtor_accounts d
WHERE d.org_id = :org AND d.customer_id IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM accounts a WHERE a.debtor_account_id = d.id)
ORDER BY d.id
{conflict}
"""
_BOOK_CONFLICT = "ON CONFLICT (debtor_account_id) WHERE debtor_account_id IS NOT NULL DO NOTHING"

_PG_ORDERED_UUID = "CAST(:uuid_prefix || lpad(to_hex(d.id % 4294967296), 8, '0') AS uuid)"

# A book account whose customer changed (the upsert of bulk.link_book re-links it) moves with it.
_RELINK_BOOK = """
UPDATE accounts SET customer_id = d.customer_id, updated_at = :now
FROM debtor_accounts d
WHERE accounts.debtor_account_id = d.id AND accounts.org_id = :org
  AND d.customer_id IS NOT NULL AND accounts.customer_id <> d.customer_id
"""

_INSERT_LOANS = """
INSERT INTO accounts (id, org_id, customer_id, kind, loan_id, status, created_at, updated_at)
SELECT {uuid}, l.org_id, l.customer_id, 'loan', l.id, 'active', :now, :now
FROM loans l
WHERE l.org_id = :org {only}
  AND NOT EXISTS (SELECT 1 FROM accounts a WHERE a.loan_id = l.id)
ORDER BY l.id
ON CONFLICT (loan_id) WHERE loan_id IS NOT NULL DO NOTHING
"""

_RELINK_LOANS = """
UPDATE accounts SET customer_id = l.customer_id, updated_at = :now
FROM loans l
WHERE accounts.loan_id = l.id AND accounts.org_id = :org {only} AND accounts.customer_id <> l.customer_id
"""


def _rowcount(result: Any) -> int:
    return max(int(getattr(result, "rowcount", 0) or 0), 0)


async def sync_book_accounts(session: AsyncSession, caller: Caller) -> int:
    """An account for every debtor-book account of the caller's organisation (write access) that
    has a customer (AAMA uploads and pharmacy reports alike), its customer kept in step, and
    `paid_up`/`active` following the balances (moves the audit trail names `system`, as
    settle_book_statuses'). Idempotent; a few statements whatever the book's size. Returns how
    many accounts were created."""
    caller.require_write()
    org_id = caller.org_id
    # The book's jobs of two uploads take turns here too (a paid_up settled twice would be two
    # history rows); re-entrant where the caller already holds it (pharmacy uploads).
    await lock_book(session, org_id)
    now = utcnow()
    params: dict[str, Any] = {"org": org_id, "now": now}
    uuid_sql, conflict = new_uuid_sql(session), _BOOK_CONFLICT
    if session.get_bind().dialect.name == "postgresql":
        # Version 7 ids in the book's order (the prefix this sync's, the counter the book account's
        # id): the primary key takes 200,000 new accounts at its right edge instead of all over it.
        uuid_sql, params["uuid_prefix"], conflict = _PG_ORDERED_UUID, uuid7_prefix(now), ""
        # The new accounts' sort (by book account) spills to disk in the default 4 MB.
        await session.execute(text("SET LOCAL work_mem = '64MB'"))
    # A first report (no book account yet): nothing to relink or to settle but what is created now.
    existing = await session.scalar(select(Account.id).where(Account.org_id == org_id, Account.kind == "book")
                                    .limit(1)) is not None
    if existing:
        # Relinked before the new accounts exist: those take their customer from the book already.
        await session.execute(text(_RELINK_BOOK), {"org": org_id, "now": now})
    # `now` typed: the paid-up ones' status_changed_at is compared with it afterwards, on both engines.
    created = await session.execute(text(_INSERT_BOOK.format(uuid=uuid_sql, conflict=conflict))
                                    .bindparams(bindparam("now", type_=UTCDateTime)), params)
    await _settle(session, org_id, now, existing=existing)
    return _rowcount(created)


# A fresh book's accounts owed from the report's snapshots, numbered as the book's job numbers the
# book (debtors.hooks.FreshBook): written beside the book's own transaction, before its rows exist.
_FRESH_ACCOUNT = "(:account_first + s.id - :snapshot_first)"
_INSERT_FRESH_BOOK = f"""
INSERT INTO accounts (id, org_id, customer_id, kind, debtor_account_id, status, status_changed_at,
                      created_at, updated_at)
SELECT CAST(:uuid_prefix || lpad(to_hex({_FRESH_ACCOUNT} % 4294967296), 8, '0') AS uuid), s.org_id,
       :customer_first + s.id - :snapshot_first, 'book', {_FRESH_ACCOUNT},
       CASE WHEN s.total_balance <= 0 THEN 'paid_up' ELSE 'active' END,
       CASE WHEN s.total_balance <= 0 THEN :now END, :now, :now
FROM debtor_snapshots s
WHERE s.report_id = :rid
ORDER BY s.id
"""


async def prepare_fresh_book(session: AsyncSession, book: FreshBook) -> Callable[[AsyncSession], Awaitable[int]]:
    """sync_book_accounts for a fresh book (PostgreSQL), beside the book's transaction (the book's
    job holds the lock): the same accounts owed as the sync makes once the book is there — one per
    book account (each has a customer), paid up when its balance is nothing or less, its id version
    7 in the book's order — inserted from the snapshots with the book's reserved ids, then the
    history rows and events of those created paid up. Those events' in-transaction subscribers
    (arrears.wiring: the loans' accounts, the tasks, the partners' webhooks) read the events and
    their own tables, not the book, which this transaction does not see yet; they are published
    after this transaction commits, after the book's. Returns what is left for after the book's
    commit: nothing."""
    now = utcnow()
    await session.execute(text("SET LOCAL work_mem = '64MB'"))
    await session.execute(text(_INSERT_FRESH_BOOK).bindparams(bindparam("now", type_=UTCDateTime)), {
        "uuid_prefix": uuid7_prefix(now), "now": now, "rid": book.report_id, "snapshot_first": book.snapshot_first,
        "customer_first": book.customer_first, "account_first": book.account_first})
    moved = await _settle(session, book.org_id, now, existing=False)

    async def finish(session: AsyncSession) -> int:
        return moved

    return finish


async def on_book_updated(session: AsyncSession, org_id: int) -> None:
    """The book hook (arrears.debtors.hooks, wired in arrears.wiring): the book's job acts as the system."""
    await sync_book_accounts(session, Caller.system(org_id))


async def sync_loan_accounts(session: AsyncSession, caller: Caller, loan_id: int | None = None) -> int:
    """An account for every loan of the caller's organisation (write access; or just `loan_id`, if
    it is one of them), its customer kept in step."""
    caller.require_write()
    org_id = caller.org_id
    only = "AND l.id = :loan" if loan_id is not None else ""
    params: dict[str, Any] = {"org": org_id, "now": utcnow()} | ({"loan": loan_id} if loan_id is not None else {})
    created = await session.execute(text(_INSERT_LOANS.format(uuid=new_uuid_sql(session), only=only)), params)
    await session.execute(text(_RELINK_LOANS.format(only=only)), params)
    return _rowcount(created)


async def on_event(session: AsyncSession, ev: Any) -> None:
    """In-transaction subscriber (wired in arrears.wiring): a new loan gets its account at once, and
    a loan moved to another customer takes its account along."""
    if ev.org_id is None or ev.type not in ("loan.created", "loan.updated"):
        return
    if ev.type == "loan.updated" and "customer_id" not in (ev.data or {}).get("changed", []):
        return
    await sync_loan_accounts(session, Caller.system(ev.org_id), int(ev.subject_id))  # follows from the loan


async def settle_book_statuses(session: AsyncSession, caller: Caller) -> int:
    """`paid_up` for an active book account whose balance is nothing or less, `active` again for a
    paid-up one that owes again, net of the payments its report has not taken in, in the caller's
    organisation (write access). The moves follow from the balances, not from whoever asks, so the
    audit trail names them `system` as the book's sync does.

    Active → paid_up is one UPDATE … FROM the book (payments only lower a balance, so the report
    alone decides it; it finds and changes them at once, so a person's change meanwhile is never
    overwritten); its history rows and events are one INSERT … SELECT each, over every book account
    moved to paid_up at `now` — those of this UPDATE and those `sync_book_accounts` created paid up
    at the same `now`. A first report of 200,000 accounts moves thousands: one ORM object per
    event was most of the accounts' sync. Paid_up → active looks at the few paid-up accounts
    whose report shows a balance, and keeps those that payments dated after the report cover."""
    caller.require_write()
    return await _settle(session, caller.org_id, utcnow())


async def _settle(session: AsyncSession, org_id: int, now: datetime, *, existing: bool = True) -> int:
    """settle_book_statuses at `now`; `existing` false when the book's accounts were all created at
    `now` (paid up or active as their balances say): only their history rows and events are left."""
    if not existing:
        return await _record_moved(session, org_id, and_(
            Account.org_id == org_id, Account.kind == "book", Account.status == "paid_up",
            Account.status_changed_at == now), "active", "paid_up", DERIVED_WHY["paid_up"], now)
    await session.execute(
        update(Account)
        .where(Account.org_id == org_id, Account.kind == "book", Account.status == "active",
               DebtorAccount.id == Account.debtor_account_id, DebtorAccount.total_balance <= 0)
        .values(status="paid_up", status_reason=None, status_changed_at=now, updated_at=now)
        .execution_options(synchronize_session=False))
    moved = await _record_moved(session, org_id, and_(
        Account.org_id == org_id, Account.kind == "book", Account.status == "paid_up",
        Account.status_changed_at == now), "active", "paid_up", DERIVED_WHY["paid_up"], now)
    rows = (await session.execute(
        select(Account.id, DebtorAccount.total_balance)
        .join(DebtorAccount, DebtorAccount.id == Account.debtor_account_id)
        .where(Account.org_id == org_id, Account.kind == "book", Account.status == "paid_up",
               DebtorAccount.total_balance > 0)
        .order_by(Account.id))).all()
    if not rows:
        return moved
    paid = await net_payments(session, [r.id for r in rows]) if _payments_sources else {}
    wanted = [(r.id, "paid_up", "active") for r in rows if r.total_balance - paid.get(r.id, Decimal("0")) > 0]
    return moved + await apply_derived(session, Caller.system(org_id), wanted)


DERIVED_WHY = {"paid_up": "The balance is nothing or less.", "active": "The balance is owed again."}


async def _record_moved(session: AsyncSession, org_id: int, moved: ColumnElement[bool], old: str, new: str,
                        why: str, now: datetime, actor: str = "system") -> int:
    """The history rows and `account.status_changed` events of the accounts `moved` selects (all
    moved from `old` to `new` at `now`), in account order: one INSERT … SELECT each, whatever their
    number. Returns how many."""
    from arrears import sqljson

    written = await session.execute(insert(AccountStatusChange).from_select(
        ["org_id", "account_id", "from_status", "to_status", "reason", "actor", "created_at"],
        select(Account.org_id, Account.id, literal(old), literal(new), literal(why), literal(actor),
               literal(now, Account.status_changed_at.type)).where(moved).order_by(Account.id)))
    count = _rowcount(written)
    if not count:
        return 0
    key = sqljson.text(session, Account.id)
    await events.record_select(session, org_id, select(
        literal(STATUS_EVENT).label("type"), literal(actor).label("actor"), literal("account").label("subject_type"),
        key.label("subject_id"),
        sqljson.obj(session, status=literal_column(f"'{old}'")).label("before"),
        sqljson.obj(session, status=literal_column(f"'{new}'")).label("after"),
        sqljson.obj(session, accountId=key, **{"from": literal_column(f"'{old}'"), "to": literal_column(f"'{new}'"),
                                              "why": literal_column(f"'{why}'")}).label("data"),
    ).where(moved).order_by(Account.id), [STATUS_EVENT])
    return count


async def apply_derived(session: AsyncSession, caller: Caller,
                        wanted: Sequence[tuple[uuid.UUID, str, str]]) -> int:
    """Move each (account, from, to) of the caller's organisation (write access; another's are left
    as they are) that is still `from` between the derived statuses (`paid_up`, `active`), as the
    caller: the history rows and the events as one batch (the payments domain settles with it too)."""
    caller.require_write()
    org_id, actor = caller.org_id, caller.actor
    if not wanted:
        return 0
    now = utcnow()
    changes: list[tuple[uuid.UUID, str, str]] = []
    for old, new in sorted({(a, b) for _, a, b in wanted}):
        ids = [i for i, a, b in wanted if (a, b) == (old, new)]
        # Only what this statement changed (a person may have changed one meanwhile).
        done = await session.scalars(update(Account)
                                     .where(Account.id.in_(ids), Account.org_id == org_id, Account.status == old)
                                     .values(status=new, status_reason=None, status_changed_at=now, updated_at=now)
                                     .returning(Account.id).execution_options(synchronize_session=False))
        changes.extend((i, old, new) for i in sorted(done.all()))
    return await _record_derived(session, org_id, changes, now, actor)


async def _record_derived(session: AsyncSession, org_id: int, changes: Sequence[tuple[uuid.UUID, str, str]],
                          now: datetime, actor: str = "system") -> int:
    """The history rows (one bulk insert) and the `account.status_changed` events of derived moves."""
    if not changes:
        return 0
    why = DERIVED_WHY
    await session.execute(insert(AccountStatusChange), [
        {"org_id": org_id, "account_id": i, "from_status": a, "to_status": b, "reason": why[b], "actor": actor,
         "created_at": now} for i, a, b in changes])
    await events.record_many(session, [
        {"org_id": org_id, "type": STATUS_EVENT, "actor": actor, "subject_type": "account", "subject_id": i,
         "before": {"status": a}, "after": {"status": b},
         "data": {"accountId": str(i), "from": a, "to": b, "why": why[b]}} for i, a, b in changes])
    return len(changes)


# ------------------------------------------------------------------ `promised` (set by the promises domain)

PROMISED_WHY = {"promised": "A promise to pay is open.", "active": "No promise to pay is open."}


async def follow_promises(session: AsyncSession, caller: Caller, among: Any, with_open_promise: Any) -> int:
    """`promised` for the active accounts among `among` (a SELECT of account ids, or ids) that are
    in `with_open_promise` (another SELECT), `active` again for the promised ones that are not, in
    the caller's organisation (write access; another's accounts are left as they are), as the caller:
    the promises domain (above this one) says which accounts have an open promise, this one keeps
    the status machinery. Set-based whatever the number of accounts: per direction one UPDATE, one
    INSERT … SELECT of history rows and one of `account.status_changed` events. Returns how many
    changed."""
    from arrears import sqljson

    caller.require_write()
    org_id, actor = caller.org_id, caller.actor
    among_q = among if isinstance(among, Select) else select(Account.id).where(Account.id.in_(list(among)))
    now = utcnow()
    changed = 0
    # IN (… EXCEPT …), not NOT IN: a large NOT IN subquery is rescanned row by row on PostgreSQL.
    for old, new, which in (("active", "promised", among_q.intersect(with_open_promise)),
                            ("promised", "active", among_q.except_(with_open_promise))):
        done = await session.execute(
            update(Account).where(Account.org_id == org_id, Account.status == old, Account.id.in_(which))
            .values(status=new, status_reason=None, status_changed_at=now, updated_at=now)
            .execution_options(synchronize_session=False))
        if not _rowcount(done):
            continue
        changed += _rowcount(done)
        moved = and_(Account.org_id == org_id, Account.status == new, Account.status_changed_at == now)
        why = PROMISED_WHY[new]
        await session.execute(insert(AccountStatusChange).from_select(
            ["org_id", "account_id", "from_status", "to_status", "reason", "actor", "created_at"],
            select(Account.org_id, Account.id, literal(old), literal(new), literal(why), literal(actor),
                   literal(now, Account.status_changed_at.type)).where(moved).order_by(Account.id)))
        key = sqljson.text(session, Account.id)
        # before and after are constants of the statement; data's one value per row is the id
        # (sqljson.plain: no json_build_object per row).
        await events.record_select(session, org_id, select(
            literal(STATUS_EVENT).label("type"), literal(actor).label("actor"), literal("account").label("subject_type"),
            key.label("subject_id"),
            sqljson.plain(session, status=old).label("before"), sqljson.plain(session, status=new).label("after"),
            sqljson.plain(session, accountId=sqljson.Word(key), **{"from": old, "to": new, "why": why}).label("data"),
        ).where(moved).order_by(Account.id), [STATUS_EVENT])
    return changed


async def wants_events(session: AsyncSession, org_id: int, types: frozenset[str]) -> bool:
    """`on_event` needs to see only loan events (for events written in bulk)."""
    return bool(types & {"loan.created", "loan.updated"})


# ------------------------------------------------------------------ the payments seam

# Net payments per account that its balance has not taken in yet, from the payments domain (it
# registers one source through arrears.wiring): a loan's recorded payments, a book account's
# recorded payments dated after its report's report date (those on or before it are in the report
# already). Until one is registered a loan owes its whole principal.
PaymentsSource = Callable[[AsyncSession, Sequence[uuid.UUID]], Awaitable[Mapping[uuid.UUID, Decimal]]]
_payments_sources: list[PaymentsSource] = []


def register_payments_source(source: PaymentsSource) -> None:
    if source not in _payments_sources:
        _payments_sources.append(source)


def unregister_payments_source(source: PaymentsSource) -> None:
    if source in _payments_sources:
        _payments_sources.remove(source)


async def net_payments(session: AsyncSession, account_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Decimal]:
    out = {i: Decimal("0") for i in account_ids}
    for source in _payments_sources:
        for key, amount in (await source(session, account_ids)).items():
            out[key] = out.get(key, Decimal("0")) + amount
    return out


# ------------------------------------------------------------------ reading


def account_scope(caller: Caller) -> ColumnElement[bool]:
    """The accounts this caller may see: a user's through their customers, a key's in its organisation."""
    org = Account.org_id == caller.org_id
    if caller.kind == "api_key":
        return org
    return and_(org, Account.customer_id.in_(select(Customer.id).where(customer_scope(caller))))


parse_account_id = parse_uuid  # the name the other domains call it by


async def get_account(session: AsyncSession, caller: Caller, account_id: Any, *, for_update: bool = False) -> Account:
    """The account if the caller may see it (404 otherwise, also for another organisation's);
    `for_update` locks it, then reads it again."""
    return await get_visible(session, Account, account_id, account_scope(caller), "Account", for_update=for_update)


@dataclass(frozen=True)
class AccountFigures:
    """What an account owes and how late it is, as of `today`."""

    account: Account
    customer: Customer
    reference: str  # the book's account code or the loan's account number
    balance: Decimal
    days_past_due: int
    report_date: date | None  # book accounts: the date their balances are as of


def report_date_of(report: DebtorReport | None, fallback: datetime | None) -> date | None:
    """The date a report states balances as of: its `report_date` where reports have one, else the
    day it was uploaded."""
    if report is not None:
        stated = getattr(report, "report_date", None)
        if stated is not None:
            return stated if isinstance(stated, date) and not isinstance(stated, datetime) else stated.date()
        return report.created_at.date()
    return fallback.date() if fallback is not None else None


async def figures(session: AsyncSession, account: Account, today: date | None = None) -> AccountFigures:
    """As of `today`, by default the organisation's today (its time zone: just after midnight in
    Johannesburg it is already tomorrow there, and a day later past due)."""
    if today is None:
        today = local_today(zone_of(await session.get(Organisation, account.org_id)))
    customer = await session.get(Customer, account.customer_id)
    assert customer is not None  # the foreign key cascades
    if account.kind == "loan":
        loan = await session.get(Loan, account.loan_id)
        assert loan is not None
        paid = (await net_payments(session, [account.id]))[account.id]
        return AccountFigures(account, customer, loan.loan_account_number, loan.principal_amount - paid,
                              loan_days_past_due(loan.principal_amount, loan.tenure_months, loan.loan_date, paid, today),
                              None)
    book = await session.get(DebtorAccount, account.debtor_account_id)
    assert book is not None
    report = await session.get(DebtorReport, book.latest_report_id) if book.latest_report_id else None
    as_of = report_date_of(report, book.latest_report_at)
    paid = (await net_payments(session, [account.id]))[account.id]
    buckets = {name: getattr(book, name) for name in ("d30", "d60", "d90", "d120", "d150", "d180")}
    return AccountFigures(account, customer, book.account_code, book.total_balance - paid,
                          book_days_past_due(buckets, as_of, today), as_of)


async def status_history(session: AsyncSession, account: Account) -> list[AccountStatusChange]:
    return list(await session.scalars(select(AccountStatusChange).where(AccountStatusChange.account_id == account.id)
                                      .order_by(AccountStatusChange.id)))


async def account_refs(session: AsyncSession, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, tuple[str, str]]:
    """Each account's kind and reference (the book's account code or the loan's number), for lists."""
    if not ids:
        return {}
    rows = await session.execute(
        select(Account.id, Account.kind, func.coalesce(DebtorAccount.account_code, Loan.loan_account_number))
        .outerjoin(DebtorAccount, DebtorAccount.id == Account.debtor_account_id)
        .outerjoin(Loan, Loan.id == Account.loan_id).where(Account.id.in_(list(ids))))
    return {r[0]: (r[1], r[2] or "") for r in rows}


async def accounts_of_customer(session: AsyncSession, caller: Caller, customer_id: int
                               ) -> list[tuple[Account, str]]:
    """The customer's accounts the caller sees, each with its reference (the book's account code or
    the loan's number), loans first then book accounts, by reference (for pickers in the web UI)."""
    rows = await session.execute(
        select(Account, func.coalesce(DebtorAccount.account_code, Loan.loan_account_number))
        .outerjoin(DebtorAccount, DebtorAccount.id == Account.debtor_account_id)
        .outerjoin(Loan, Loan.id == Account.loan_id)
        .where(Account.customer_id == customer_id, account_scope(caller)))
    return sorted(((a, ref or "") for a, ref in rows.all()), key=lambda ar: (ar[0].kind != "loan", ar[1]))


async def accounts_of_loans(session: AsyncSession, caller: Caller, loan_ids: Sequence[int]) -> dict[int, uuid.UUID]:
    """The accounts of these loans that the caller sees: {loan id: account id}."""
    wanted = sorted(set(loan_ids))
    out: dict[int, uuid.UUID] = {}
    for i in range(0, len(wanted), 500):
        rows = await session.execute(select(Account.loan_id, Account.id)
                                     .where(Account.loan_id.in_(wanted[i:i + 500]), account_scope(caller)))
        out.update({r[0]: r[1] for r in rows if r[0] is not None})
    return out


# ------------------------------------------------------------------ collection status

# Who may move an account to each status, and from which.
MANUAL_TARGETS: dict[str, tuple[str, ...]] = {
    "disputed": ("active", "promised", "paid_up"),
    "active": ("disputed", "handed_over", "written_off"),
    "handed_over": ("active", "promised", "disputed"),
    "written_off": ("active", "promised", "disputed", "handed_over", "paid_up"),
}
DERIVED = ("promised", "paid_up")


def _check_caller(caller: Caller, account: Account, to: str) -> None:
    if to == "disputed" and account.status in ("active", "promised", "paid_up"):
        return  # anyone with write access who sees the customer
    if caller.kind != "user" or not caller.is_manager_or_admin:
        what = {"active": "lift a dispute or take an account back", "handed_over": "hand an account over",
                "written_off": "write an account off", "disputed": "change this account's status"}[to]
        raise Forbidden(f"Only admins and managers may {what}.")


async def change_status(session: AsyncSession, caller: Caller, account_id: Any, to: Any, *,
                        reason: Any = None, amount: Any = None) -> Account:
    """Move an account to `to` (a status people set), with its reason (and amount for a write-off)."""
    caller.require_write()
    account = await get_account(session, caller, account_id, for_update=True)
    errors: dict[str, list[str]] = {}
    if not isinstance(to, str) or to not in STATUSES:
        errors["status"] = [f"Must be one of {', '.join(MANUAL_TARGETS)}."]
    elif to in DERIVED:
        errors["status"] = [f"{to} follows from the account's promises and balance; it is not set by hand."]
    clean_reason: str | None = None
    written_off: Decimal | None = None
    if not errors:
        try:
            clean_reason = clean_text(reason, MAX_REASON,
                                      required="A reason is required." if to != "active" else None)
        except ValueError as exc:
            errors["reason"] = [str(exc)]
        if to == "written_off":
            try:
                written_off = clean_amount(amount)
            except ValueError as exc:
                errors["amount"] = [str(exc)]
        elif amount is not None:
            errors["amount"] = ["Only a write-off takes an amount."]
    if errors:
        raise ValidationFailed("Invalid status change: " + ", ".join(errors), field_errors=errors)
    assert isinstance(to, str)
    if account.status == to or account.status not in MANUAL_TARGETS[to]:
        raise Conflict(f"An account that is {account.status} cannot become {to}.",
                       code=AccountErrorCode.STATUS_CHANGE_REFUSED)
    _check_caller(caller, account, to)
    before = {"status": account.status, "reason": account.status_reason,
              "writtenOffAmount": account.written_off_amount}
    now = utcnow()
    from_status = account.status
    account.status, account.status_reason, account.status_changed_at = to, clean_reason, now
    account.written_off_amount = written_off if to == "written_off" else None
    session.add(AccountStatusChange(org_id=account.org_id, account_id=account.id, from_status=from_status,
                                    to_status=to, reason=clean_reason, amount=written_off, actor=caller.actor,
                                    created_at=now))
    await session.flush()
    after = {"status": to, "reason": clean_reason, "writtenOffAmount": account.written_off_amount}
    await events.record(session, org_id=account.org_id, type=STATUS_EVENT, actor=caller.actor,
                        subject_type="account", subject_id=account.id, before=before, after=after,
                        data={"accountId": str(account.id), "from": from_status, "to": to, "why": clean_reason,
                              "amount": written_off})
    return account


async def interaction_refs(session: AsyncSession, caller: Caller, values: Sequence[str]) -> dict[str, AccountRef]:
    """The accounts among `values` the caller may record an interaction on (registered with the
    customers domain by arrears.wiring), by the value given."""
    keys = {v: k for v in values if (k := parse_account_id(v)) is not None}
    if not keys:
        return {}
    found: dict[uuid.UUID, AccountRef] = {}
    wanted = sorted(set(keys.values()))
    for i in range(0, len(wanted), 500):
        rows = await session.execute(select(Account.id, Account.loan_id)
                                     .where(Account.id.in_(wanted[i:i + 500]), account_scope(caller)))
        found.update({r.id: AccountRef(r.id, r.loan_id) for r in rows})
    return {v: found[k] for v, k in keys.items() if k in found}


# ------------------------------------------------------------------ messaging holds

# Statuses under which no collection message goes out unless a manager overrides.
NO_COLLECTION = ("disputed", "handed_over", "written_off")


async def collection_holds(session: AsyncSession, org_id: int, debtor_account_ids: Sequence[int]
                           ) -> dict[int, tuple[str, str | None]]:
    """The book accounts among these (debtor_accounts ids) whose account is disputed, handed over
    or written off: {debtor account id: (status, reason)}."""
    wanted = sorted({i for i in debtor_account_ids if i is not None})
    out: dict[int, tuple[str, str | None]] = {}
    for start in range(0, len(wanted), 500):
        rows = await session.execute(
            select(Account.debtor_account_id, Account.status, Account.status_reason)
            .where(Account.org_id == org_id, Account.debtor_account_id.in_(wanted[start:start + 500]),
                   Account.status.in_(NO_COLLECTION)))
        out.update({r[0]: (r[1], r[2]) for r in rows if r[0] is not None})
    return out


def hold_text(status: str, reason: str | None) -> str:
    what = {"disputed": "disputed", "handed_over": "handed over", "written_off": "written off"}[status]
    return (f"Not sent: the account is {what}" + (f" ({reason[:200]})" if reason else "")
            + "; a manager can override")
