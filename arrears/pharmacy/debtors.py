"""The pharmacy face's debtors: the book's accounts of a pharmacy that its newest report lists
(settled ones are kept for their history but not listed), with the spec's filters.

The book keeps `d120` as 120 days and older (the AAMA's 120+ bracket) with `d150`/`d180` split
out beside it; the pharmacy's `d120` is the 120-day bucket alone, so it is `d120 - d150 - d180`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from arrears import paging
from arrears.debtors.book import in_book
from arrears.debtors.models import DebtorAccount
from arrears.identity.caller import Caller
from arrears.paging import Page, PageRule

A = DebtorAccount
BUCKETS = ("current", "d30", "d60", "d90", "d120", "d150", "d180")
ARREARS_BUCKETS = ("d60", "d90", "d120", "d150", "d180")  # "60+ day arrears", the default for amounts
# The spec lists `balance` beside the buckets: naming it means the whole balance.
SELECTABLE = (*BUCKETS, "balance")
DEFAULT_PER_PAGE = 100
MAX_PER_PAGE = 1000
# The pharmacy face's paging: page, per_page (default 100, at most 1000).
PAGES = PageRule(DEFAULT_PER_PAGE, MAX_PER_PAGE)
MAX_SEARCH = 200
ZERO = Decimal("0.00")
# The largest amount a money column holds (Numeric(14, 2)); beyond it a filter is out of range.
MONEY_LIMIT = Decimal("1000000000000")

# Each bucket as SQL over the book's columns.
BUCKET_SQL: dict[str, Any] = {
    "current": A.current, "d30": A.d30, "d60": A.d60, "d90": A.d90,
    "d120": A.d120 - A.d150 - A.d180, "d150": A.d150, "d180": A.d180, "balance": A.total_balance,
}


def amount_sql(buckets: tuple[str, ...]) -> Any:
    """The amount a selection of buckets stands for: their sum, or the balance when it is named."""
    if "balance" in buckets:
        return A.total_balance
    return sum((BUCKET_SQL[b] for b in buckets[1:]), BUCKET_SQL[buckets[0]])


def amount_of(amounts: dict[str, Decimal], buckets: tuple[str, ...]) -> Decimal:
    """amount_sql over a debtor already read (bucket_amounts or debtor_view)."""
    if "balance" in buckets:
        return amounts["balance"]
    return sum((amounts[b] for b in buckets), ZERO)


# What debtor_view reads: enough to select plain rows instead of ORM objects for big answers.
VIEW_COLUMNS = (A.id, A.org_id, A.latest_report_id, A.account_code, A.customer_name, A.current, A.d30, A.d60,
                A.d90, A.d120, A.d150, A.d180, A.total_balance, A.email, A.telephone_raw, A.telephone,
                A.is_medical_aid_control, A.created_at, A.updated_at)


def bucket_amounts(account: Any) -> dict[str, Decimal]:
    return {"current": account.current, "d30": account.d30, "d60": account.d60, "d90": account.d90,
            "d120": account.d120 - account.d150 - account.d180, "d150": account.d150, "d180": account.d180,
            "balance": account.total_balance}


def debtor_view(account: Any) -> dict[str, Any]:
    """The spec's Debtor object of an account (or a row of VIEW_COLUMNS); amounts as Decimal,
    times as datetimes: the face writes them."""
    return {
        "id": account.id, "pharmacy_id": account.org_id, "report_id": account.latest_report_id,
        "acc_no": account.account_code, "name": account.customer_name, **bucket_amounts(account),
        "email": account.email or None,
        "phone": account.telephone_raw or (f"+{account.telephone}" if account.telephone else None),
        "is_medical_aid_control": bool(account.is_medical_aid_control),
        "created_at": account.created_at, "updated_at": account.updated_at,
    }


# ------------------------------------------------------------------ the filter


@dataclass(frozen=True)
class DebtorFilter:
    min_balance: Decimal | None = None  # on the 60+ day arrears, or the sum of `ageing_buckets`
    ageing_buckets: tuple[str, ...] | None = None
    has_email: bool | None = None
    has_phone: bool | None = None
    search: str | None = None
    exclude_medical_aid: bool = True
    debtor_ids: tuple[int, ...] | None = None

    @property
    def amount_buckets(self) -> tuple[str, ...]:
        return self.ageing_buckets or ARREARS_BUCKETS


def _like(term: str) -> str:
    escaped = term.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _blank(column: Any) -> ColumnElement[bool]:
    return or_(column.is_(None), column == "")


def listed(org_id: int) -> ColumnElement[bool]:
    """The pharmacy's current debtors: the organisation's one book (arrears.debtors.book)."""
    return in_book(org_id)


def chosen(org_id: int, ids: tuple[int, ...]) -> ColumnElement[bool]:
    """Debtors named by id (a download's selection): any of the pharmacy's book, settled and
    medical-aid control accounts included — the person asked for exactly these."""
    return and_(A.org_id == org_id, A.latest_report_id.is_not(None),
                A.id.in_(ids) if ids else A.id.is_(None))


def conditions(org_id: int, f: DebtorFilter) -> list[ColumnElement[bool]]:
    # By ids, `exclude_medical_aid` does not apply (it is for choosing by filters); the amount
    # filters sent with the ids still do, as the spec's example sends them.
    where = [listed(org_id) if f.debtor_ids is None else chosen(org_id, f.debtor_ids)]
    if f.exclude_medical_aid and f.debtor_ids is None:
        where.append(A.is_medical_aid_control.is_(False))
    if f.min_balance is not None:
        where.append(amount_sql(f.amount_buckets) >= f.min_balance)
    if f.ageing_buckets:
        where.append(or_(*[BUCKET_SQL[b] > 0 for b in f.ageing_buckets]))
    if f.has_email is not None:
        where.append(~_blank(A.email) if f.has_email else _blank(A.email))
    if f.has_phone is not None:
        no_phone = and_(_blank(A.telephone_raw), _blank(A.telephone))
        where.append(~no_phone if f.has_phone else no_phone)
    if f.search:
        pattern = _like(f.search)
        where.append(or_(*[func.lower(c).like(pattern, escape="\\")
                           for c in (A.account_code, A.customer_name, A.email, A.telephone_raw, A.telephone)]))
    return where


async def list_debtors(session: AsyncSession, caller: Caller, f: DebtorFilter, *, page: int = 1,
                       per_page: int = DEFAULT_PER_PAGE) -> Page[DebtorAccount]:
    req = PAGES.check(page, per_page)
    where = conditions(caller.org_id, f)
    total = await session.scalar(select(func.count()).select_from(A).where(*where)) or 0
    return await paging.fetch(session, select(A).where(*where).order_by(A.account_code, A.id), req,
                              total=int(total))


async def export_rows(session: AsyncSession, caller: Caller, f: DebtorFilter) -> list[dict[str, Any]]:
    """Every debtor the filter keeps, in the list's order, in the spec's shape (for downloads)."""
    rows = (await session.execute(select(*VIEW_COLUMNS).where(*conditions(caller.org_id, f))
                                  .order_by(A.account_code, A.id))).all()
    return [debtor_view(a) for a in rows]


async def statistics(session: AsyncSession, caller: Caller, *, exclude_medical_aid: bool = True
                     ) -> dict[str, Any]:
    f = DebtorFilter(exclude_medical_aid=exclude_medical_aid)
    columns: list[ColumnElement[Any]] = [func.count(A.id), func.coalesce(func.sum(A.total_balance), 0),
               *[func.coalesce(func.sum(BUCKET_SQL[b]), 0) for b in BUCKETS]]
    row = (await session.execute(select(*columns).where(*conditions(caller.org_id, f)))).one()
    return {"total_accounts": int(row[0]), "total_outstanding": _money(row[1]),
            **{b: _money(v) for b, v in zip(BUCKETS, row[2:], strict=True)}}


def totals_of(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The statistics' shape over rows already read (a download's totals)."""
    out: dict[str, Any] = {"total_accounts": len(rows),
                           "total_outstanding": sum((r["balance"] for r in rows), ZERO)}
    for b in BUCKETS:
        out[b] = sum((r[b] for r in rows), ZERO)
    return out


def _money(value: Any) -> Decimal:
    return Decimal(str(value)).quantize(Decimal("0.01"))


async def get_accounts(session: AsyncSession, org_id: int, ids: Sequence[int]) -> dict[int, DebtorAccount]:
    """The pharmacy's accounts (settled ones too) among `ids`; others' ids are left out."""
    found: dict[int, DebtorAccount] = {}
    for i in range(0, len(ids), 900):
        rows = await session.scalars(select(A).where(A.org_id == org_id, A.id.in_(ids[i:i + 900])))
        found.update({a.id: a for a in rows})
    return found
