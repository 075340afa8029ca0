"""The customer timeline's accounts source: each change of collection status of the customer's
accounts (disputed, handed over, written off, paid up …)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from arrears.accounts.models import Account, AccountStatusChange
from arrears.customers.models import Loan
from arrears.debtors.models import DebtorAccount
from arrears.identity.caller import Caller

LABELS = {"active": "active", "promised": "promised", "disputed": "disputed", "paid_up": "paid up",
          "handed_over": "handed over", "written_off": "written off"}


async def status_entries(session: AsyncSession, caller: Caller, customer: Any) -> list[Any]:
    from arrears.customers.schemas import TimelineEntry

    rows = await session.execute(
        select(AccountStatusChange, Account.kind, func.coalesce(DebtorAccount.account_code, Loan.loan_account_number))
        .join(Account, Account.id == AccountStatusChange.account_id)
        .outerjoin(DebtorAccount, DebtorAccount.id == Account.debtor_account_id)
        .outerjoin(Loan, Loan.id == Account.loan_id)
        .where(Account.customer_id == customer.id, Account.org_id == caller.org_id)
        .order_by(AccountStatusChange.id))
    out = []
    for change, kind, reference in rows.all():
        what = "Loan" if kind == "loan" else "Account"
        summary = (f"{what} {reference}: {LABELS[change.from_status]} → {LABELS[change.to_status]}"
                   + (f" ({change.reason})" if change.reason else ""))
        out.append(TimelineEntry("account.status", change.created_at, summary, {
            "account_id": str(change.account_id), "kind": kind, "reference": reference,
            "from": change.from_status, "to": change.to_status, "reason": change.reason,
            "amount": change.amount, "actor": change.actor}))
    return out
