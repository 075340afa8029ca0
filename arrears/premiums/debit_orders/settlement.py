"""The auto-success rule: the bank reports only failures, so a debit still `submitted` a set number
of days (the captive's `auto_success_days`) after its action date, with no open answer about it,
has been paid. Each move goes through the state machine and records `collection.updated`."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from arrears.db import utcnow
from arrears.errors import ValidationFailed
from arrears.identity.caller import Caller
from arrears.premiums import service as premiums
from arrears.premiums.debit_orders.authority import may_move_money
from arrears.premiums.debit_orders.models import DebitOrderItem, ReconciliationRecord
from arrears.premiums.debit_orders.reconciliation import OPEN_OUTCOMES
from arrears.premiums.debit_orders.settings import require_settings
from arrears.premiums.models import Collection

AUTO_SUCCESS = "debit_orders:auto_success"


def auto_success(org_id: int) -> Caller:
    """Who settles on the daily job: the system caller, named as the rule."""
    return Caller.system(org_id, AUTO_SUCCESS)


async def settle(session: AsyncSession, caller: Caller, as_of: date, *, limit: int | None = None
                 ) -> list[Collection]:
    """Mark successful the caller's captive's debits submitted on or before `as_of` - auto_success_days.

    A collection with an unresolved reconciliation record (an amount mismatch or a conflict a
    person must look at) is left alone. Idempotent: a second call finds nothing left to move.
    `as_of` is never after today: settling "as of" a future day would mark paid debits the bank
    may still return. Who may: see `authority.may_move_money`."""
    may_move_money(caller)
    org_id, actor = caller.org_id, caller.actor
    if as_of > utcnow().date():
        raise ValidationFailed("as_of cannot be after today", field_errors={"as_of": ["Must not be after today."]})
    settings = await require_settings(session, org_id)
    cutoff = as_of - timedelta(days=settings.auto_success_days)
    held = exists().where(ReconciliationRecord.collection_id == Collection.id,
                          ReconciliationRecord.outcome.in_(OPEN_OUTCOMES),
                          ReconciliationRecord.resolution.is_(None))
    q = (select(Collection).join(DebitOrderItem, DebitOrderItem.collection_id == Collection.id)
         .where(Collection.org_id == org_id, Collection.status == "submitted",
                DebitOrderItem.action_date <= cutoff, ~held)
         .order_by(Collection.id).with_for_update(of=Collection, key_share=True))
    if limit is not None:
        q = q.limit(limit)
    due = list((await session.scalars(q)).all())
    if not due:
        return []
    # Each move records `collection.updated` with its before and after status, by `actor`; the
    # move itself is the rule's (`updated_by` system), whoever asked for it.
    return await premiums.transition_collections(session, Caller.system(org_id, actor),
                                                 due, "successful")
