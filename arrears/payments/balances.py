"""Which payments count against an account's balance (registered with the accounts domain as its
payments source by arrears.wiring).

- A loan: every `recorded` payment.
- A book account: the `recorded` payments dated AFTER the report date of the report its balances
  come from. A payment dated on or before that date is taken as already in the report (the
  report was drawn after it was paid): it is never counted twice. A newer report moves the cut.
Unmatched and reversed payments count nowhere.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from arrears.accounts.models import Account
from arrears.debtors.models import DebtorAccount
from arrears.payments.models import Payment

CHUNK = 500
CENT = Decimal("0.01")


def report_cut() -> ColumnElement[Any]:
    """A book account's report date (the upload's day for a report without one)."""
    return func.coalesce(DebtorAccount.latest_report_date, func.date(DebtorAccount.latest_report_at))


async def counted_payments(session: AsyncSession, account_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Decimal]:
    """Net payments per account that its balance has not yet taken in (see the module's text)."""
    out: dict[uuid.UUID, Decimal] = {}
    wanted = sorted(set(account_ids))
    for start in range(0, len(wanted), CHUNK):
        rows = await session.execute(
            select(Payment.account_id, func.sum(Payment.amount))
            .join(Account, Account.id == Payment.account_id)
            .outerjoin(DebtorAccount, DebtorAccount.id == Account.debtor_account_id)
            .where(Payment.account_id.in_(wanted[start:start + CHUNK]), Payment.status == "recorded",
                   or_(Account.kind == "loan",
                       and_(Account.kind == "book",
                            or_(report_cut().is_(None), Payment.paid_on > report_cut()))))
            .group_by(Payment.account_id))
        out.update({r[0]: Decimal(str(r[1])).quantize(CENT) for r in rows if r[0] is not None and r[1] is not None})
    return out
