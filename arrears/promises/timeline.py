"""The customer timeline's promises source: each promise made on the customer's accounts, and
each one kept, broken or cancelled (read from the promises themselves, no rows of its own)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from arrears.accounts.models import Account
from arrears.customers.models import Loan
from arrears.debtors.models import DebtorAccount
from arrears.identity.caller import Caller
from arrears.promises.models import Promise


async def promise_entries(session: AsyncSession, caller: Caller, customer: Any) -> list[Any]:
    from arrears.customers.schemas import TimelineEntry

    rows = await session.execute(
        select(Promise, Account.kind, func.coalesce(DebtorAccount.account_code, Loan.loan_account_number))
        .join(Account, Account.id == Promise.account_id)
        .outerjoin(DebtorAccount, DebtorAccount.id == Account.debtor_account_id)
        .outerjoin(Loan, Loan.id == Account.loan_id)
        .where(Account.customer_id == customer.id, Account.org_id == caller.org_id, Promise.org_id == caller.org_id)
        .order_by(Promise.created_at, Promise.id))
    out = []
    for p, kind, reference in rows.all():
        what = f"{'Loan' if kind == 'loan' else 'Account'} {reference or ''}".strip()
        detail = {"promise_id": str(p.id), "account_id": str(p.account_id), "kind": kind, "reference": reference,
                  "amount": p.amount, "due_date": p.due_date, "paid_amount": p.paid_amount, "agent_id": p.agent_id,
                  "status": p.status, "evidence": p.evidence}
        out.append(TimelineEntry("promise.created", p.created_at,
                                 f"{what}: promise to pay {p.amount} by {p.due_date.isoformat()}", detail))
        if p.status in ("kept", "broken", "cancelled") and p.closed_at is not None:
            summary = {"kept": f"{what}: promise kept ({p.paid_amount} paid of {p.amount})",
                       "broken": f"{what}: promise broken ({p.paid_amount} paid of {p.amount} due by "
                                 f"{p.due_date.isoformat()})",
                       "cancelled": f"{what}: promise cancelled"}[p.status]
            out.append(TimelineEntry(f"promise.{p.status}", p.closed_at, summary, detail))
    return out
