"""The ageing summary of a report, computed in SQL (aggregates, and the median by an ordered
offset), never by loading every row.

Figures that cannot change after the import (all accounts) are kept on the report: the import
gathers them from the accounts it stores (TotalsAccumulator), other writers compute them in SQL
(compute_totals); figures of the selected accounts are computed when asked (a partial index holds
the selected rows).
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from operator import neg
from typing import Any

from sqlalchemy import ColumnElement, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from arrears.debtors.models import DebtorReport, DebtorSnapshot, DebtorSnapshotRank

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
TOP_ACCOUNTS = 10


@dataclass(frozen=True)
class Bucket:
    key: str
    name: str
    days_range: str


# The AAMA's five brackets, youngest first (d120 holds 120 days and older).
BUCKETS: tuple[Bucket, ...] = (
    Bucket("current", "Current", "0 days"),
    Bucket("d30", "30 Days", "30-59 days"),
    Bucket("d60", "60 Days", "60-89 days"),
    Bucket("d90", "90 Days", "90-119 days"),
    Bucket("d120", "120+ Days", "120+ days"),
)


def money(value: Any) -> Decimal:
    """A sum from either engine as cents (SQLite sums REAL, PostgreSQL sums NUMERIC)."""
    if value is None:
        return ZERO
    if not isinstance(value, Decimal):
        value = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    return value.quantize(CENT, ROUND_HALF_UP)


def percent(part: Decimal | int, whole: Decimal | int) -> float:
    if not whole:
        return 0.0
    return float((Decimal(part) * 100 / Decimal(whole)).quantize(CENT, ROUND_HALF_UP))


def oldest_bucket_index(amounts: dict[str, Decimal]) -> int:
    """Index in BUCKETS of the oldest bracket holding a positive amount (0: Current; -1: none)."""
    for index in range(len(BUCKETS) - 1, -1, -1):
        if amounts[BUCKETS[index].key] > 0:
            return index
    return -1


def oldest_bucket(amounts: dict[str, Decimal]) -> str:
    index = oldest_bucket_index(amounts)
    return BUCKETS[max(index, 0)].days_range


def oldest_index_sql(table: Any = DebtorSnapshot) -> ColumnElement[int]:
    return case(
        (table.d120 > 0, 4), (table.d90 > 0, 3), (table.d60 > 0, 2), (table.d30 > 0, 1),
        (table.current > 0, 0), else_=-1)


def _positive(column: Any) -> Any:
    return func.sum(case((column > 0, 1), else_=0))


async def _aggregate(session: AsyncSession, report_id: int, selected: bool) -> dict[str, Any]:
    s = DebtorSnapshot
    columns = [
        func.count().label("accounts"),
        func.sum(s.total_balance).label("total_balance"),
        func.sum(s.overdue_amount).label("overdue_balance"),
        _positive(s.overdue_amount).label("overdue_accounts"),
        func.min(s.total_balance).label("smallest"),
        func.max(s.total_balance).label("largest"),
    ]
    for bucket in BUCKETS:
        column = getattr(s, bucket.key)
        columns += [func.sum(column).label(f"{bucket.key}_amount"),
                    _positive(column).label(f"{bucket.key}_accounts")]
    query = select(*columns).where(s.report_id == report_id)
    if selected:
        query = query.where(s.is_selected)  # `is_selected`, as the partial index's predicate
    row = (await session.execute(query)).one()._mapping
    accounts = int(row["accounts"] or 0)
    return {
        "accounts": accounts,
        "total_balance": money(row["total_balance"]),
        "overdue_balance": money(row["overdue_balance"]),
        "overdue_accounts": int(row["overdue_accounts"] or 0),
        "smallest_balance": money(row["smallest"]) if accounts else ZERO,
        "largest_balance": money(row["largest"]) if accounts else ZERO,
        "buckets": {b.key: {"amount": money(row[f"{b.key}_amount"]),
                            "accounts": int(row[f"{b.key}_accounts"] or 0)} for b in BUCKETS},
    }


async def median_balance(session: AsyncSession, report_id: int, count: int) -> Decimal:
    """The median total balance: the middle one or two rows of the report's balance index."""
    if count <= 0:
        return ZERO
    offset = (count - 1) // 2
    take = 1 if count % 2 else 2
    rows = (await session.scalars(
        select(DebtorSnapshot.total_balance).where(DebtorSnapshot.report_id == report_id)
        .order_by(DebtorSnapshot.total_balance).offset(offset).limit(take))).all()
    values = [money(v) for v in rows]
    return (sum(values, ZERO) / len(values)).quantize(CENT, ROUND_HALF_UP) if values else ZERO


def _to_json(figures: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in figures.items():
        if isinstance(value, Decimal):
            out[key] = str(value)
        elif isinstance(value, dict):
            out[key] = _to_json(value)
        else:
            out[key] = value
    return out


def _from_json(figures: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in figures.items():
        if isinstance(value, dict):
            out[key] = _from_json(value)
        elif isinstance(value, str) and key not in ("computed",):
            out[key] = Decimal(value)
        else:
            out[key] = value
    return out


async def compute_totals(session: AsyncSession, report_id: int) -> dict[str, Any]:
    """The report's figures over all its accounts, JSON-ready (money as strings), as kept on the
    report once the import commits."""
    figures = await _aggregate(session, report_id, selected=False)
    figures["median_balance"] = await median_balance(session, report_id, figures["accounts"])
    return _to_json(figures)


class TotalsAccumulator:
    """The figures compute_totals computes in SQL, gathered instead from the accounts an import
    stores while it stores them, so that the import ends without reading its rows back; kept in
    integer cents (exact). tests/debtors/test_import_totals.py holds the two to the same answers."""

    def __init__(self) -> None:
        self.accounts = 0
        self._sums = [0] * len(BUCKETS)
        self._positive = [0] * len(BUCKETS)
        self._total = self._overdue = self._overdue_accounts = 0
        self._balances: list[int] = []
        self._top: list[tuple[int, int, int]] = []  # (overdue, balance, -sheet row) of the leaders

    def add(self, cents: Sequence[Sequence[int]], overdue: Sequence[int], sheet_rows: Sequence[int]) -> None:
        """One batch (an AccountBlock's columns): `cents` the five buckets then the total balance,
        and each account's overdue amount, all in whole cents, and the accounts' sheet rows."""
        for index in range(len(BUCKETS)):
            self._sums[index] += sum(cents[index])
            self._positive[index] += sum(map(_POSITIVE, cents[index]))
        balances = cents[len(BUCKETS)]
        self.accounts += len(balances)
        self._total += sum(balances)
        self._overdue += sum(overdue)
        self._overdue_accounts += sum(map(_POSITIVE, overdue))
        self._balances.extend(balances)
        # The summary's top accounts, in its order: overdue, then balance, then file order.
        leaders = heapq.nlargest(TOP_ACCOUNTS, zip(overdue, balances, map(neg, sheet_rows), strict=True))
        self._top = heapq.nlargest(TOP_ACCOUNTS, [*self._top, *leaders])

    def figures(self) -> dict[str, Any]:
        """JSON-ready, as compute_totals gives them."""
        balances = sorted(self._balances)
        count = len(balances)
        if count:
            middle = balances[(count - 1) // 2: (count - 1) // 2 + (1 if count % 2 else 2)]
            median = (_money_of(sum(middle)) / len(middle)).quantize(CENT, ROUND_HALF_UP)
        else:
            median = ZERO
        return _to_json({
            "accounts": count,
            "total_balance": _money_of(self._total),
            "overdue_balance": _money_of(self._overdue),
            "overdue_accounts": self._overdue_accounts,
            "smallest_balance": _money_of(balances[0]) if count else ZERO,
            "largest_balance": _money_of(balances[-1]) if count else ZERO,
            "buckets": {b.key: {"amount": _money_of(self._sums[i]), "accounts": self._positive[i]}
                        for i, b in enumerate(BUCKETS)},
            "median_balance": median,
            # The sheet rows of the top accounts by overdue amount, so that the summary reads ten
            # rows instead of ranking the report (compute_totals leaves it out: then it ranks).
            "top_rows": [-row for owed, _, row in self._top if owed > 0],
        })


_POSITIVE = (0).__lt__


def _money_of(cents: int) -> Decimal:
    return money(Decimal(cents) / 100)


async def report_totals(session: AsyncSession, report: DebtorReport) -> dict[str, Any]:
    if report.totals:
        return _from_json(report.totals)
    figures = await _aggregate(session, report.id, selected=False)
    figures["median_balance"] = await median_balance(session, report.id, figures["accounts"])
    return figures


def _average(total: Decimal, count: int) -> Decimal:
    return (total / count).quantize(CENT, ROUND_HALF_UP) if count else ZERO


async def is_ranked(session: AsyncSession, report_id: int) -> bool:
    """Whether the book's job has written the report's ranks (DebtorSnapshotRank)."""
    r = DebtorSnapshotRank
    return await session.scalar(select(r.report_id).where(r.report_id == report_id).limit(1)) is not None


async def top_accounts(session: AsyncSession, report_id: int, limit: int = TOP_ACCOUNTS,
                       top_rows: Sequence[int] | None = None) -> list[dict[str, Any]]:
    """The accounts with the most overdue; `top_rows`, their sheet rows in order, when the import
    gathered them."""
    s = DebtorSnapshot
    if top_rows is not None and limit <= TOP_ACCOUNTS:
        found = {r.sheet_row: r for r in (await session.scalars(
            select(s).where(s.report_id == report_id, s.sheet_row.in_(top_rows[:limit])))).all()}
        rows: Sequence[DebtorSnapshot] = [found[row] for row in top_rows[:limit] if row in found]
    elif await is_ranked(session, report_id):
        r = DebtorSnapshotRank
        rows = (await session.scalars(
            select(s).join(r, r.snapshot_id == s.id).where(r.report_id == report_id, r.overdue_amount > 0)
            .order_by(r.overdue_amount.desc(), r.total_balance.desc(), r.sheet_row).limit(limit))).all()
    else:  # the book's job has not ranked the report yet
        rows = (await session.scalars(
            select(s).where(s.report_id == report_id, s.overdue_amount > 0)
            .order_by(s.overdue_amount.desc(), s.total_balance.desc(), s.sheet_row).limit(limit))).all()
    return [{
        "id": str(r.uuid), "account_code": r.account_code, "customer_name": r.customer_name,
        "total_balance": r.total_balance, "overdue_amount": r.overdue_amount,
        "oldest_bucket": oldest_bucket({b.key: getattr(r, b.key) for b in BUCKETS}),
        "is_selected": r.is_selected,
    } for r in rows]


async def report_summary(session: AsyncSession, report: DebtorReport) -> dict[str, Any]:
    """The AAMA summary of a report (money as Decimal)."""
    every = await report_totals(session, report)
    chosen = await _aggregate(session, report.id, selected=True)
    total, chosen_total = every["total_balance"], chosen["total_balance"]
    n, chosen_n = every["accounts"], chosen["accounts"]
    buckets = []
    for bucket in BUCKETS:
        mine, sel = every["buckets"][bucket.key], chosen["buckets"][bucket.key]
        buckets.append({
            "name": bucket.name, "days_range": bucket.days_range,
            "total_amount": mine["amount"], "selected_amount": sel["amount"],
            "account_count": mine["accounts"], "selected_count": sel["accounts"],
            "percentage": percent(mine["amount"], total),
            "selected_percentage": percent(sel["amount"], chosen_total),
        })
    average, chosen_average = _average(total, n), _average(chosen_total, chosen_n)
    return {
        "upload_id": str(report.uuid),
        "upload": {"id": str(report.uuid), "status": report.status, "records_processed": report.success_rows},
        "summary": {
            "total_accounts": n, "selected_accounts": chosen_n,
            "total_balance": total, "selected_balance": chosen_total,
            "overdue_accounts": every["overdue_accounts"], "selected_overdue": chosen["overdue_accounts"],
            "average_balance": average, "selected_avg_balance": chosen_average,
            "overdue_balance": every["overdue_balance"], "selected_overdue_balance": chosen["overdue_balance"],
        },
        "age_analysis": {
            "total_balance": total, "selected_balance": chosen_total,
            "buckets": buckets,
            "top_accounts": await top_accounts(session, report.id, top_rows=(report.totals or {}).get("top_rows")),
            "statistics": {
                "total_accounts": n, "selected_accounts": chosen_n,
                "overdue_accounts": every["overdue_accounts"], "selected_overdue": chosen["overdue_accounts"],
                "average_balance": average, "selected_average_balance": chosen_average,
                "median_balance": every["median_balance"],
                "largest_balance": every["largest_balance"], "smallest_balance": every["smallest_balance"],
                "overdue_percentage": percent(every["overdue_accounts"], n),
                "selection_rate": percent(chosen_n, n),
            },
        },
    }
