"""Two reports of one organisation side by side: which accounts are new, settled, worse (moved to
an older bucket) or better, and the roll rates from each bucket to the next. All in SQL."""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from arrears.db import isoz
from arrears.debtors import service
from arrears.debtors.models import DebtorReport, DebtorSnapshot
from arrears.debtors.summary import BUCKETS, ZERO, money, oldest_index_sql, percent
from arrears.errors import ValidationFailed
from arrears.identity.caller import Caller

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000


def _bucket_label(index: int | None) -> str | None:
    if index is None or index < 0:
        return None
    return BUCKETS[index].days_range


def _report_brief(report: DebtorReport) -> dict[str, Any]:
    return {"id": str(report.uuid), "report_id": report.id, "original_filename": report.original_filename, "status": report.status,
            "created_at": isoz(report.created_at)}


async def compare_reports(session: AsyncSession, caller: Caller, report_id: Any, other_id: Any, *,
                          limit: int = DEFAULT_LIMIT) -> dict[str, Any]:
    """`report_id` (the newer book) against `other_id` (the earlier one)."""
    if limit < 1 or limit > MAX_LIMIT:
        raise ValidationFailed(f"limit must be between 1 and {MAX_LIMIT}",
                               field_errors={"limit": [f"Must be between 1 and {MAX_LIMIT}."]},
                               details={"limit": [f"Must be between 1 and {MAX_LIMIT}."]})
    report = await service.get_report(session, caller, report_id)
    other = await service.get_report(session, caller, other_id)
    cur = aliased(DebtorSnapshot, name="cur")
    prev = aliased(DebtorSnapshot, name="prev")
    cur_old, prev_old = oldest_index_sql(cur), oldest_index_sql(prev)
    joined = and_(prev.org_id == cur.org_id, prev.account_code == cur.account_code)

    # New: in this report only.
    new_q = (select(cur).outerjoin(prev, and_(joined, prev.report_id == other.id))
             .where(cur.report_id == report.id, prev.id.is_(None)))
    new_stats = (await session.execute(select(func.count(), func.sum(new_q.subquery().c.total_balance)))).one()
    new_rows = (await session.scalars(new_q.order_by(cur.total_balance.desc(), cur.sheet_row).limit(limit))).all()

    # Settled: owed something before, owes nothing now (or is gone from the book).
    settled_cond = and_(prev.report_id == other.id, prev.total_balance > 0,
                        (cur.id.is_(None)) | (cur.total_balance <= 0))
    settled_base = select(prev, cur).outerjoin(cur, and_(joined, cur.report_id == report.id)).where(settled_cond)
    settled_stats = (await session.execute(
        select(func.count(), func.sum(prev.total_balance))
        .select_from(prev).outerjoin(cur, and_(joined, cur.report_id == report.id)).where(settled_cond))).one()
    settled_rows = (await session.execute(
        settled_base.order_by(prev.total_balance.desc(), prev.sheet_row).limit(limit))).all()

    # Worse and better: still owing, oldest bucket moved.
    both = and_(cur.report_id == report.id, prev.report_id == other.id, cur.total_balance > 0)

    async def moved(condition: Any) -> tuple[Any, list[Any]]:
        stats = (await session.execute(
            select(func.count(), func.sum(cur.total_balance), func.sum(prev.total_balance))
            .select_from(cur).join(prev, joined).where(both, condition))).one()
        rows = (await session.execute(
            select(cur, prev, cur_old.label("cur_old"), prev_old.label("prev_old"))
            .join(prev, joined).where(both, condition)
            .order_by((cur.overdue_amount - prev.overdue_amount).desc(), cur.sheet_row).limit(limit))).all()
        return stats, list(rows)

    worse_stats, worse_rows = await moved(cur_old > prev_old)
    better_stats, better_rows = await moved(cur_old < prev_old)

    # Roll rates: how much of each bucket of the earlier report sits one bucket older now.
    keys = [b.key for b in BUCKETS]
    roll_columns: list[Any] = []
    for k in range(len(keys) - 1):
        was, now = getattr(prev, keys[k]), getattr(cur, keys[k + 1])
        rolled = case((and_(was > 0, now > 0), case((now < was, now), else_=was)), else_=0)
        roll_columns += [func.sum(rolled), func.sum(case((and_(was > 0, now > 0), 1), else_=0))]
    roll = (await session.execute(
        select(*roll_columns).select_from(cur).join(prev, joined)
        .where(cur.report_id == report.id, prev.report_id == other.id))).one()
    base_columns: list[Any] = []
    for key in keys[:-1]:
        column = getattr(DebtorSnapshot, key)
        base_columns += [func.sum(column), func.sum(case((column > 0, 1), else_=0))]
    base = (await session.execute(select(*base_columns).where(DebtorSnapshot.report_id == other.id))).one()
    roll_rates = []
    for k in range(len(keys) - 1):
        from_amount, from_accounts = money(base[2 * k]), int(base[2 * k + 1] or 0)
        rolled_amount, rolled_accounts = money(roll[2 * k]), int(roll[2 * k + 1] or 0)
        roll_rates.append({
            "from_bucket": BUCKETS[k].name, "to_bucket": BUCKETS[k + 1].name,
            "from_amount": from_amount, "rolled_amount": rolled_amount,
            "from_accounts": from_accounts, "rolled_accounts": rolled_accounts,
            "rate": percent(rolled_amount, from_amount),
        })

    totals_now = (await session.execute(
        select(func.count(), func.sum(DebtorSnapshot.total_balance), func.sum(DebtorSnapshot.overdue_amount))
        .where(DebtorSnapshot.report_id == report.id))).one()
    totals_then = (await session.execute(
        select(func.count(), func.sum(DebtorSnapshot.total_balance), func.sum(DebtorSnapshot.overdue_amount))
        .where(DebtorSnapshot.report_id == other.id))).one()

    def account(row: DebtorSnapshot) -> dict[str, Any]:
        return {"id": str(row.uuid), "account_code": row.account_code, "customer_name": row.customer_name,
                "total_balance": row.total_balance, "overdue_amount": row.overdue_amount,
                "oldest_bucket": _bucket_label(_oldest(row))}

    def pair(now_row: DebtorSnapshot | None, then_row: DebtorSnapshot, now_old: int | None = None,
             then_old: int | None = None) -> dict[str, Any]:
        now_total = now_row.total_balance if now_row is not None else ZERO
        return {
            "id": str(now_row.uuid) if now_row is not None else None, "previous_id": str(then_row.uuid),
            "account_code": then_row.account_code,
            "customer_name": now_row.customer_name if now_row is not None else then_row.customer_name,
            "previous_balance": then_row.total_balance, "total_balance": now_total,
            "change": now_total - then_row.total_balance,
            "previous_overdue": then_row.overdue_amount,
            "overdue_amount": now_row.overdue_amount if now_row is not None else ZERO,
            "previous_bucket": _bucket_label(then_old if then_old is not None else _oldest(then_row)),
            "oldest_bucket": _bucket_label(now_old if now_old is not None else
                                           (_oldest(now_row) if now_row is not None else None)),
        }

    total_now, total_then = money(totals_now[1]), money(totals_then[1])
    return {
        "upload_id": str(report.uuid), "compared_with": str(other.uuid),
        "upload": _report_brief(report), "other_upload": _report_brief(other),
        "totals": {
            "accounts": int(totals_now[0] or 0), "previous_accounts": int(totals_then[0] or 0),
            "total_balance": total_now, "previous_balance": total_then, "change": total_now - total_then,
            "overdue_balance": money(totals_now[2]), "previous_overdue_balance": money(totals_then[2]),
        },
        "new": {"count": int(new_stats[0] or 0), "total_balance": money(new_stats[1]),
                "accounts": [account(r) for r in new_rows]},
        "settled": {"count": int(settled_stats[0] or 0), "previous_balance": money(settled_stats[1]),
                    "accounts": [pair(r[1], r[0]) for r in settled_rows]},
        "worsened": {"count": int(worse_stats[0] or 0), "total_balance": money(worse_stats[1]),
                     "previous_balance": money(worse_stats[2]),
                     "accounts": [pair(r[0], r[1], r[2], r[3]) for r in worse_rows]},
        "improved": {"count": int(better_stats[0] or 0), "total_balance": money(better_stats[1]),
                     "previous_balance": money(better_stats[2]),
                     "accounts": [pair(r[0], r[1], r[2], r[3]) for r in better_rows]},
        "roll_rates": roll_rates,
        "limit": limit,
    }


def _oldest(row: DebtorSnapshot) -> int:
    for index in range(len(BUCKETS) - 1, -1, -1):
        if getattr(row, BUCKETS[index].key) > 0:
            return index
    return -1

