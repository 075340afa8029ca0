"""Debit-order runs: for a captive and an action date, one pending collection per due policy.

A run is keyed by (captive, action date): starting it again continues the same run. Each policy
gets at most one item per run (unique run + policy) and at most one collection per date (unique
policy + collection date), and the item, the collection and the policy's next collection date
are written in one transaction, so a run that dies at any point and is started again creates
nothing twice. `collect()` works on a session, in its caller's transaction; the debit-order
service drives it (in the request's transaction, or in batches of their own with progress for the
CLI and the worker) and writes the files.

A policy is due when it is active and its `next_collection_date` is on or before the action date
(a missed run is caught up by the next one). Its collection is dated on that due date; the
policy then moves one period on (`premiums.schedule`: the anchor day clamped to the month end, so
a policy due on the 31st is collected on 30 April and 28/29 February).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import exists, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from arrears import events
from arrears.db import utcnow
from arrears.errors import NotFound
from arrears.identity.caller import Caller
from arrears.premiums import schedule
from arrears.premiums import service as premiums
from arrears.premiums.acb import AcbFormatError
from arrears.premiums.acb.debit import check_reference
from arrears.premiums.banking import (
    BankDetailsError,
    parse_account_type,
    validate_branch_code,
)
from arrears.premiums.debit_orders.authority import may_move_money
from arrears.premiums.debit_orders.models import DebitOrderItem, DebitOrderRun
from arrears.premiums.debit_orders.settings import require_settings
from arrears.premiums.errors import PremiumErrorCode
from arrears.premiums.models import Collection, Policy
from arrears.premiums.schemas import audit_value, policy_out
from arrears.premiums.state import PolicyStatus

BATCH_SIZE = 500


class RunNotFound(NotFound):
    code = PremiumErrorCode.RUN_NOT_FOUND


@dataclass
class CollectResult:
    processed: int = 0
    created: int = 0
    skipped: list[dict[str, Any]] = field(default_factory=list)
    last_policy_id: int | None = None  # the cursor of the next batch; None when nothing was left


def run_actor(run: DebitOrderRun) -> Caller:
    """Who the run's own changes are by: the system, named after the run (the run itself was
    authorised when it was opened, `authority.may_move_money`)."""
    return Caller.system(run.org_id, f"debit_order_run:{run.uuid}")


def mandate_problem(p: Policy) -> str | None:
    """Why a policy cannot be debited (no or bad mandate or bank details), else None."""
    if not p.mandate_reference:
        return "no mandate reference"
    try:
        check_reference(p.mandate_reference)
    except AcbFormatError as exc:
        return f"mandate reference not usable in an ACB file: {exc.reason}"
    if not p.bank_account_number:
        return "no bank account number"
    if not p.bank_branch_code:
        return "no bank branch code"
    if not p.bank_account_type:
        return "no bank account type"
    try:
        validate_branch_code(p.bank_branch_code)
        if p.bank_account_problem:  # worked out when the number was written: nothing is decrypted here
            return p.bank_account_problem
        parse_account_type(p.bank_account_type)
    except BankDetailsError as exc:
        return exc.message
    if p.premium_amount is None or p.premium_amount <= 0:
        return "no premium amount"
    return None


async def get_run(session: AsyncSession, org_id: int, run_uuid: Any) -> DebitOrderRun:
    run = await session.scalar(select(DebitOrderRun).where(DebitOrderRun.org_id == org_id,
                                                           DebitOrderRun.uuid == run_uuid))
    if run is None:
        raise RunNotFound(f"Debit-order run {run_uuid} not found")
    return run


async def open_run(session: AsyncSession, caller: Caller, action_date: date) -> tuple[DebitOrderRun, bool]:
    """The caller's captive's run for `action_date`, created when new (True), started by the caller
    (who must be allowed to move money, see `authority`). Needs the captive's settings."""
    may_move_money(caller)
    org_id, started_by = caller.org_id, caller.actor
    await require_settings(session, org_id)
    q = select(DebitOrderRun).where(DebitOrderRun.org_id == org_id, DebitOrderRun.action_date == action_date)
    run = await session.scalar(q)
    if run is not None:
        return run, False
    now = utcnow()
    run = DebitOrderRun(org_id=org_id, action_date=action_date, status="open", started_by=started_by,
                        skipped=[], created_at=now, updated_at=now)
    try:
        async with premiums.savepoint(session):
            session.add(run)
            await session.flush()
    except IntegrityError:  # a concurrent start of the same run
        found = await session.scalar(q)
        assert found is not None
        return found, False
    await events.record(session, org_id=org_id, type="debit_order_run.created", actor=started_by,
                        subject_type="debit_order_run", subject_id=run.uuid, before=None,
                        after={"action_date": action_date.isoformat(), "status": run.status},
                        data={"run": {"id": str(run.uuid), "action_date": action_date.isoformat()}})
    return run, True


def _due(run: DebitOrderRun) -> Any:
    already = exists().where(DebitOrderItem.run_id == run.id, DebitOrderItem.policy_id == Policy.id)
    return (Policy.org_id == run.org_id, Policy.status == PolicyStatus.ACTIVE.value,
            Policy.next_collection_date.is_not(None), Policy.next_collection_date <= run.action_date,
            ~already)


async def count_due(session: AsyncSession, run: DebitOrderRun) -> int:
    return int(await session.scalar(select(func.count()).select_from(Policy).where(*_due(run))) or 0)


async def advance_policy(session: AsyncSession, caller: Caller, policy: Policy, collected: date) -> None:
    """Move the policy's next collection date one period on from `collected`, and record the same
    `policy.updated` event (and audit) a webhook's change of that field records."""
    caller.require_write()
    if policy.org_id != caller.org_id:
        raise premiums.PolicyNotFound(f"Policy {policy.policy_number} not found")
    anchor = policy.collection_day or collected.day
    nxt = schedule.next_collection_date(collected, policy.frequency, anchor)
    before = {"next_collection_date": audit_value("next_collection_date", policy.next_collection_date)}
    policy.next_collection_date = nxt
    policy.updated_at = utcnow()
    out = policy_out(policy)
    await events.record(session, org_id=caller.org_id, type="policy.updated", actor=caller.actor,
                        subject_type="policy", subject_id=policy.uuid, before=before,
                        after={"next_collection_date": nxt.isoformat()},
                        data={"policy": out, "cell_captive": await _captive(session, caller.org_id),
                              "updated_by": premiums.updated_by(caller)})


async def _captive(session: AsyncSession, org_id: int) -> dict[str, Any]:
    from arrears.identity.models import Organisation

    org = await session.get(Organisation, org_id)
    assert org is not None
    return premiums.captive_out(org)


async def collect(session: AsyncSession, run: DebitOrderRun, *, after_id: int = 0,
                  limit: int | None = None) -> CollectResult:
    """Create the pending collections of the due policies (those with id > after_id, at most
    `limit` of them). Policies without a usable mandate are listed in `run.skipped`."""
    actor = run_actor(run)
    q = (select(Policy).where(*_due(run), Policy.id > after_id).order_by(Policy.id)
         .with_for_update(key_share=True))
    if limit is not None:
        q = q.limit(limit)
    policies = list((await session.scalars(q)).all())
    result = CollectResult()
    if after_id == 0:
        run.skipped = []
    if not policies:
        return result
    dates = {p.id: p.next_collection_date for p in policies}
    existing = {(c.policy_id, c.collection_date): c for c in (await session.scalars(
        select(Collection).where(Collection.policy_id.in_(dates),
                                 Collection.collection_date.in_(set(dates.values()))))).all()}
    linked = set((await session.scalars(select(DebitOrderItem.collection_id).where(
        DebitOrderItem.collection_id.in_([c.id for c in existing.values()])))).all()) if existing else set()
    skipped = list(run.skipped or [])
    for p in policies:
        result.processed += 1
        result.last_policy_id = p.id
        due = dates[p.id]
        assert due is not None
        problem = mandate_problem(p)
        if problem is not None:
            skipped.append({"policy_number": p.policy_number, "due_date": due.isoformat(), "reason": problem})
            continue
        col = existing.get((p.id, due))
        if col is not None and (col.status != "pending" or col.id in linked):
            # Already collected (or answered) for this date, e.g. through the webhook: not again.
            skipped.append({"policy_number": p.policy_number, "due_date": due.isoformat(),
                            "reason": f"a collection for {due.isoformat()} already exists ({col.status})"})
            await advance_policy(session, actor, p, due)
            continue
        if col is None:
            col = await premiums.create_collection(session, actor, p, collection_date=due)
        session.add(DebitOrderItem(org_id=run.org_id, run_id=run.id, policy_id=p.id, collection_id=col.id,
                                   reference=p.mandate_reference, action_date=run.action_date,
                                   amount=col.amount, created_at=utcnow()))
        await advance_policy(session, actor, p, due)
        result.created += 1
    run.skipped = skipped
    run.updated_at = utcnow()
    await session.flush()
    result.skipped = skipped
    return result
