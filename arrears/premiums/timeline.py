"""The customer timeline's premiums source: the customer's policies and their collections."""

from __future__ import annotations

from datetime import UTC, datetime, time
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from arrears.identity.caller import Caller
from arrears.premiums.models import Collection, Policy


async def policy_entries(session: AsyncSession, caller: Caller, customer: Any) -> list[Any]:
    from arrears.customers.schemas import TimelineEntry

    policies = list(await session.scalars(
        select(Policy).where(Policy.org_id == caller.org_id, Policy.customer_id == customer.id)))
    if not policies:
        return []
    by_id = {p.id: p for p in policies}
    out = [TimelineEntry("policy", p.created_at,
                         f"Policy {p.policy_number}: premium R{p.premium_amount:,.2f} {p.frequency} ({p.status})",
                         {"policy_number": p.policy_number, "premium_amount": p.premium_amount,
                          "frequency": p.frequency, "status": p.status})
           for p in policies]
    collections = await session.scalars(
        select(Collection).where(Collection.org_id == caller.org_id, Collection.policy_id.in_(by_id)))
    for c in collections:
        policy = by_id[c.policy_id]
        at = c.processed_at or datetime.combine(c.collection_date, time(0), tzinfo=UTC)
        summary = f"Premium collection {c.collection_reference} of R{c.amount:,.2f} on policy {policy.policy_number}: {c.status}"
        if c.failure_reason:
            summary += f" ({c.failure_reason})"
        out.append(TimelineEntry(f"collection.{c.status}", at, summary,
                                 {"collection_reference": c.collection_reference, "amount": c.amount,
                                  "status": c.status, "collection_date": c.collection_date,
                                  "policy_number": policy.policy_number}))
    return out
