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

from arrears.accounts import service as accounts
from arrears.accounts.models import Account
from arrears.customers.models import Loan
from arrears.debtors.models import DebtorAccount
from arrears.identity.caller import Caller
from arrears.payments.models import Payment

CHUNK = 500
CENT = Decimal("0.01")


def report_cut() -> ColumnElement[Any]:
    """A book account's report date (the upload's day for a report without one)."""
    return func.coalesce(DebtorAccount.latest_report_date, func.date(DebtorAccount.latest_report_at))


def counted() -> ColumnElement[bool]:
    """The payments a balance has not taken in yet (joined with their account and its book row)."""
    return and_(Payment.status == "recorded",
                or_(Account.kind == "loan",
                    and_(Account.kind == "book", or_(report_cut().is_(None), Payment.paid_on > report_cut()))))


async def counted_payments(session: AsyncSession, account_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Decimal]:
    """Net payments per account that its balance has not yet taken in (see the module's text)."""
    out: dict[uuid.UUID, Decimal] = {}
    wanted = sorted(set(account_ids))
    for start in range(0, len(wanted), CHUNK):
        rows = await session.execute(
            select(Payment.account_id, func.sum(Payment.amount))
            .join(Account, Account.id == Payment.account_id)
            .outerjoin(DebtorAccount, DebtorAccount.id == Account.debtor_account_id)
            .where(Payment.account_id.in_(wanted[start:start + CHUNK]), counted())
            .group_by(Payment.account_id))
        out.update({r[0]: Decimal(str(r[1])).quantize(CENT) for r in rows if r[0] is not None and r[1] is not None})
    return out


async def settle(session: AsyncSession, org_id: int, *, account_ids: Sequence[uuid.UUID] = (),
                 import_id: uuid.UUID | None = None) -> int:
    """After payments changed (these accounts', or an import's): an account whose balance net of its
    counted payments is nothing or less becomes `paid_up` (from `active` or `promised`), a paid-up
    one that owes again (a reversal) `active` — through the accounts domain's status machinery (a
    history row and `account.status_changed` each). One query finds the changes, whatever the
    number of accounts."""
    if import_id is not None:
        affected: ColumnElement[bool] = Account.id.in_(select(Payment.account_id).where(Payment.import_id == import_id))
    elif account_ids:
        affected = Account.id.in_(sorted(set(account_ids)))
    else:
        return 0
    paid = (select(Payment.account_id, func.sum(Payment.amount).label("paid"))
            .join(Account, Account.id == Payment.account_id)
            .outerjoin(DebtorAccount, DebtorAccount.id == Account.debtor_account_id)
            .where(Payment.org_id == org_id, affected, counted()).group_by(Payment.account_id).subquery())
    # Rounded to the cent: SQLite sums decimals as floats (0.1 + 0.2 - 0.3 is not 0 there).
    net = func.round(func.coalesce(DebtorAccount.total_balance, Loan.principal_amount)
                     - func.coalesce(paid.c.paid, 0), 2)
    rows = (await session.execute(
        select(Account.id, Account.status)
        .outerjoin(DebtorAccount, DebtorAccount.id == Account.debtor_account_id)
        .outerjoin(Loan, Loan.id == Account.loan_id)
        .outerjoin(paid, paid.c.account_id == Account.id)
        .where(Account.org_id == org_id, affected,
               or_(and_(Account.status.in_(("active", "promised")), net <= 0),
                   and_(Account.status == "paid_up", net > 0)))
        .order_by(Account.id))).all()
    # The moves follow from the balances: the system's, whoever changed the payments.
    return await accounts.apply_derived(session, Caller.system(org_id), [
        (r.id, r.status, "active" if r.status == "paid_up" else "paid_up") for r in rows])
