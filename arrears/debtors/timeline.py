"""The customer timeline's debtor-book source: every completed report's balances of the
customer's accounts."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from arrears.debtors.models import DebtorAccount, DebtorReport, DebtorSnapshot
from arrears.identity.caller import Caller


def _money(value: Any) -> str:
    return f"{value:,.2f}".replace(",", " ")


async def balance_entries(session: AsyncSession, caller: Caller, customer: Any) -> list[Any]:
    from arrears.customers.schemas import TimelineEntry
    from arrears.debtors.summary import BUCKETS, oldest_bucket

    rows = await session.execute(
        select(DebtorReport, DebtorSnapshot)
        .join(DebtorSnapshot, DebtorSnapshot.report_id == DebtorReport.id)
        .join(DebtorAccount, (DebtorAccount.org_id == DebtorSnapshot.org_id)
              & (DebtorAccount.account_code == DebtorSnapshot.account_code))
        .where(DebtorAccount.customer_id == customer.id, DebtorAccount.org_id == caller.org_id,
               DebtorReport.org_id == caller.org_id, DebtorReport.status == "completed"))
    entries = []
    for report, snap in rows.all():
        at = report.processing_completed_at or report.created_at
        oldest = oldest_bucket({b.key: getattr(snap, b.key) for b in BUCKETS})
        summary = (f"Age analysis {report.original_filename}: account {snap.account_code} owes "
                   f"R{_money(snap.total_balance)} (R{_money(snap.overdue_amount)} overdue"
                   + (f", oldest {oldest})" if snap.overdue_amount > 0 else ")"))
        entries.append(TimelineEntry("debtor.balance", at, summary, {
            "upload_id": str(report.uuid), "report_id": report.id, "account_id": str(snap.uuid),
            "debtor_id": snap.id, "account_code": snap.account_code,
            "source": report.source, "filename": report.original_filename,
            "current": snap.current, "d30": snap.d30, "d60": snap.d60, "d90": snap.d90,
            "d120": snap.d120, "total_balance": snap.total_balance, "overdue_amount": snap.overdue_amount,
            "oldest_bucket": oldest}))
    return entries
