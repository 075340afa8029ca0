"""The hand-over export: one CSV line per account a strategy's hand-over step gave to an agency or
attorney (from the step executions), through the one formula-safe CSV writer."""

from __future__ import annotations

import io
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from arrears.accounts.models import Account
from arrears.customers.models import Customer, Loan
from arrears.debtors.models import DebtorAccount
from arrears.downloads import SafeCsvWriter
from arrears.strategies.models import Strategy, StrategyStep, StrategyStepExecution

HEADER = ("handed_over_on", "handed_over_to", "account_id", "kind", "reference", "customer_code", "customer_name",
          "phone", "email", "address", "balance", "days_past_due", "status", "strategy", "step")


async def handover_lines(session: AsyncSession, strategy: Strategy) -> list[tuple[Any, ...]]:
    e = StrategyStepExecution
    rows = await session.execute(
        select(e.run_on, StrategyStep.hand_over_to, e.account_id, Account.kind,
               func.coalesce(DebtorAccount.account_code, Loan.loan_account_number), Customer.customer_code,
               Customer.name, Customer.phone_e164, Customer.email, Customer.address_line_1, Customer.city,
               e.balance, e.days_past_due, Account.status, StrategyStep.position)
        .join(StrategyStep, StrategyStep.id == e.step_id)
        .join(Account, Account.id == e.account_id)
        .join(Customer, Customer.id == Account.customer_id)
        .outerjoin(DebtorAccount, DebtorAccount.id == Account.debtor_account_id)
        .outerjoin(Loan, Loan.id == Account.loan_id)
        .where(e.strategy_id == strategy.id, e.action == "hand_over", e.outcome == "handed_over")
        .order_by(e.run_on, e.account_id))
    return [(r[0].isoformat(), r[1], str(r[2]), r[3], r[4], r[5], r[6], r[7], r[8],
             ", ".join(p for p in (r[9], r[10]) if p), r[11], r[12], r[13], strategy.name, r[14]) for r in rows]


async def handover_csv(session: AsyncSession, strategy: Strategy) -> str:
    out = io.StringIO()
    w = SafeCsvWriter(out)
    w.writerow(HEADER)
    w.writerows(await handover_lines(session, strategy))
    return out.getvalue()
