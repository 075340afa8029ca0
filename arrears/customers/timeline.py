"""A customer's timeline: everything that happened with that person, newest first, gathered from
sources. The customers domain's own (the customer, its loans, their interactions) are here; other
domains (messages, balances, policies) register theirs."""

from __future__ import annotations

from datetime import UTC, datetime, time

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from arrears.customers.fields import money
from arrears.customers.interactions import interaction_scope
from arrears.customers.models import Customer, Interaction, Loan
from arrears.customers.schemas import TimelineEntry, TimelineSource
from arrears.customers.service import get_customer
from arrears.identity.caller import Caller

# ------------------------------------------------------------------ timeline

_timeline_sources: list[TimelineSource] = []


def register_timeline_source(fn: TimelineSource) -> TimelineSource:
    """Add a source of timeline entries (usable as a decorator). Later domains (messages,
    balances, policies) register theirs from their own modules; this package imports none of
    them. A source returns the entries about one customer that the caller may see."""
    if fn not in _timeline_sources:
        _timeline_sources.append(fn)
    return fn


async def timeline(session: AsyncSession, caller: Caller, customer_id: int) -> list[TimelineEntry]:
    """Everything that happened with a customer, newest first."""
    customer = await get_customer(session, caller, customer_id)
    entries: list[TimelineEntry] = []
    for source in list(_timeline_sources):
        entries.extend(await source(session, caller, customer))
    entries.sort(key=lambda e: e.at, reverse=True)
    return entries


@register_timeline_source
async def _customer_entries(session: AsyncSession, caller: Caller, customer: Customer
                            ) -> list[TimelineEntry]:
    return [TimelineEntry("customer", customer.created_at, f"Customer {customer.customer_code} added",
                          {"customer_code": customer.customer_code, "name": customer.name})]


@register_timeline_source
async def _loan_entries(session: AsyncSession, caller: Caller, customer: Customer) -> list[TimelineEntry]:
    loans = await session.scalars(select(Loan).where(Loan.customer_id == customer.id,
                                                     Loan.org_id == caller.org_id))
    return [TimelineEntry(
        "loan", datetime.combine(loan.loan_date, time(0), tzinfo=UTC),
        f"{loan.loan_type.capitalize()} loan {loan.loan_account_number} of "
        f"{money(loan.principal_amount)} over {loan.tenure_months} months at {money(loan.interest_rate)}%",
        {"loan": loan.id, "loan_account_number": loan.loan_account_number,
         "principal_amount": loan.principal_amount, "interest_rate": loan.interest_rate,
         "loan_type": loan.loan_type, "tenure_months": loan.tenure_months, "loan_date": loan.loan_date})
        for loan in loans]


@register_timeline_source
async def _interaction_entries(session: AsyncSession, caller: Caller, customer: Customer
                               ) -> list[TimelineEntry]:
    rows = await session.execute(
        select(Interaction, Loan.loan_account_number).join(Loan, Loan.id == Interaction.loan_id)
        .where(Loan.customer_id == customer.id, interaction_scope(caller)))
    out = []
    for row, number in rows.all():
        what = "Visit" if row.interaction_type == "field" else "Call"
        summary = f"{what} on loan {number}: {row.disposition.replace('_', ' ')}"
        if row.next_call_date:
            summary += f"; next contact {row.next_call_date.isoformat()}"
        out.append(TimelineEntry(
            f"interaction.{row.interaction_type}", row.timestamp, summary,
            {"id": row.id, "loan": row.loan_id, "interaction_type": row.interaction_type,
             "disposition": row.disposition, "comment": row.comment,
             "next_call_date": row.next_call_date, "created_by": row.created_by_id}))
    return out
