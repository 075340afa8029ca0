"""Figures about a debtor book that pages show beside its lists: the running totals of the
accounts a person has selected in one report."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from arrears.debtors.models import DebtorReport, DebtorSnapshot

CENT = Decimal("0.01")


async def selection_totals(session: AsyncSession, report: DebtorReport) -> dict[str, Any]:
    """Count, balance and overdue of a report's selected accounts, and how many it has in all.

    One aggregate on the partial index of selected rows. `report` must come from the debtors
    service (`get_report`), which has already checked that the caller may see it."""
    s = DebtorSnapshot
    count, balance, overdue = (await session.execute(
        select(func.count(), func.coalesce(func.sum(s.total_balance), 0), func.coalesce(func.sum(s.overdue_amount), 0))
        # `is_selected` exactly as the partial index's predicate: SQLite does not use the index
        # for `is_selected IS 1` (what `.is_(True)` writes) and would read the whole report.
        .where(s.report_id == report.id, s.is_selected))).one()
    return {"count": int(count or 0), "balance": Decimal(str(balance)).quantize(CENT),
            "overdue": Decimal(str(overdue)).quantize(CENT), "total": int(report.success_rows or 0)}
