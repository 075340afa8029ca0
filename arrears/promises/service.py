"""The rules of promises to pay: who records and cancels them, what a valid plan is, and the
account's `promised` status that follows from them.

- Recording (`create_promise`): anyone with write access who sees the account (the RepaySync
  visibility rules of accounts.service.account_scope); an `ins_` key with `promises:write` (the
  face's check). A plan is 1 to MAX_INSTALMENTS instalments, each an amount (> 0, two decimals)
  and a date, none before today in the organisation's time zone. A new promise supersedes
  (cancels) the account's open one: an account has at most one open promise.
- `made_on` is today in the organisation's time zone (its `timezone` setting); the agent is the
  calling user; a book account's promise remembers its balance and report (the baseline a later
  report's fall in balance is measured from).
- Cancelling: an open promise only, by the agent who took it, an admin or a manager, or a key.
- The account is `promised` while it has an open promise (from `active`), `active` again when it
  has none (accounts.service.follow_promises: history row and `account.status_changed`).
- Recording a promise completes the account's open tasks, as an interaction does.
Evaluation (kept, broken) is in `evaluate`.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, and_, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from arrears import events
from arrears.accounts import service as accounts
from arrears.accounts.models import Account
from arrears.db import utcnow
from arrears.debtors.book import local_today, zone_of
from arrears.debtors.models import DebtorAccount
from arrears.errors import Conflict, Forbidden, NotFound, ValidationFailed
from arrears.identity.caller import Caller
from arrears.identity.service import get_org
from arrears.promises.errors import PromiseErrorCode
from arrears.promises.evaluate import ACTOR, evaluate
from arrears.promises.jobs import ensure_chain
from arrears.promises.models import STATUSES, Promise, PromiseInstalment
from arrears.tasks import service as tasks
from arrears.validation import clean_amount, clean_text
from arrears.validation import clean_date as clean_day
from arrears.visible import get_visible

MAX_INSTALMENTS = 36
MAX_YEARS_AHEAD = 5
MAX_NOTE = 2000


# ------------------------------------------------------------------ snapshots and scope


def promise_snapshot(p: Promise) -> dict[str, Any]:
    return {"id": str(p.id), "accountId": str(p.account_id), "agentId": p.agent_id, "amount": p.amount,
            "madeOn": p.made_on, "dueDate": p.due_date, "status": p.status, "paidAmount": p.paid_amount,
            "interactionId": p.interaction_id}


def promise_scope(caller: Caller) -> ColumnElement[bool]:
    """The promises of the accounts the caller sees."""
    return and_(Promise.org_id == caller.org_id,
                Promise.account_id.in_(select(Account.id).where(accounts.account_scope(caller))))


async def get_promise(session: AsyncSession, caller: Caller, promise_id: Any, *,
                      for_update: bool = False) -> Promise:
    return await get_visible(session, Promise, promise_id, promise_scope(caller), "Promise", for_update=for_update)


async def instalments_of(session: AsyncSession, promise_ids: Sequence[uuid.UUID]
                         ) -> dict[uuid.UUID, list[PromiseInstalment]]:
    out: dict[uuid.UUID, list[PromiseInstalment]] = {i: [] for i in promise_ids}
    wanted = list(promise_ids)
    for start in range(0, len(wanted), 500):
        rows = await session.scalars(select(PromiseInstalment)
                                     .where(PromiseInstalment.promise_id.in_(wanted[start:start + 500]))
                                     .order_by(PromiseInstalment.promise_id, PromiseInstalment.number))
        for row in rows:
            out[row.promise_id].append(row)
    return out


# ------------------------------------------------------------------ validation


@dataclass(frozen=True)
class Instalment:
    amount: Decimal
    due_date: date


def clean_date(raw: Any, today: date) -> date:
    """An instalment's day: from today (the organisation's) to MAX_YEARS_AHEAD years ahead."""
    day = clean_day(raw)
    if day < today:
        raise ValueError(f"Must not be in the past (today is {today.isoformat()} in the organisation's time zone).")
    if day > today + timedelta(days=366 * MAX_YEARS_AHEAD):
        raise ValueError(f"Must be within {MAX_YEARS_AHEAD} years.")
    return day


def clean_plan(raw: Any, today: date) -> list[Instalment]:
    """A plan: a list of {amount, date} (also `dueDate`), in date order once cleaned. Errors name
    the instalment: `instalments[2].amount`."""
    if not isinstance(raw, Sequence) or isinstance(raw, (str, bytes)) or not raw:
        raise ValidationFailed("Invalid promise: instalments",
                               field_errors={"instalments": ["Give at least one instalment (amount and date)."]})
    if len(raw) > MAX_INSTALMENTS:
        raise ValidationFailed("Invalid promise: instalments",
                               field_errors={"instalments": [f"At most {MAX_INSTALMENTS} instalments."]})
    errors: dict[str, list[str]] = {}
    plan: list[Instalment] = []
    for n, item in enumerate(raw):
        if isinstance(item, Instalment):
            item = {"amount": item.amount, "date": item.due_date}
        if not isinstance(item, Mapping):
            errors[f"instalments[{n}]"] = ["Give an amount and a date."]
            continue
        amount = day = None
        try:
            amount = clean_amount(item.get("amount"))
        except ValueError as exc:
            errors[f"instalments[{n}].amount"] = [str(exc)]
        try:
            day = clean_date(item.get("date", item.get("dueDate")), today)
        except ValueError as exc:
            errors[f"instalments[{n}].date"] = [str(exc)]
        if amount is not None and day is not None:
            plan.append(Instalment(amount, day))
    if errors:
        raise ValidationFailed("Invalid promise: " + ", ".join(errors), field_errors=errors)
    return sorted(plan, key=lambda i: i.due_date)  # stable: same-day instalments keep their order


def _clean_note(raw: Any) -> str | None:
    try:
        return clean_text(raw, MAX_NOTE)
    except ValueError as exc:
        raise ValidationFailed("Invalid promise: note", field_errors={"note": [str(exc)]}) from None


# ------------------------------------------------------------------ recording and cancelling


async def create_promise(session: AsyncSession, caller: Caller, account_id: Any, instalments: Any, *,
                         note: Any = None, interaction_id: int | None = None) -> Promise:
    """Record a promise to pay on an account the caller sees (404 otherwise) and may write to.

    `instalments`: a list of {"amount": Decimal | str | number, "date": date | "YYYY-MM-DD"}
    (or `Instalment`s); one item is "this amount by this date". Raises ValidationFailed (field
    errors `instalments[n].amount` / `.date`, `note`), Forbidden (read-only access), NotFound.
    Supersedes the account's open promise, marks the account `promised`, completes its open
    tasks, raises `promise.created`, and evaluates the account at once (payments made today
    count). Flushes; the caller's transaction commits. `interaction_id` links the interaction it
    was recorded with."""
    caller.require_write()
    account = await accounts.get_account(session, caller, account_id, for_update=True)
    org = await get_org(session, account.org_id)
    today = local_today(zone_of(org))
    plan = clean_plan(instalments, today)
    clean_note = _clean_note(note)
    baseline_balance = baseline_report = None
    if account.kind == "book":
        book = await session.get(DebtorAccount, account.debtor_account_id)
        if book is not None:
            baseline_balance, baseline_report = book.total_balance, book.latest_report_id
    superseded = await _close_open(session, account.org_id, account.id, caller.actor)
    promise = Promise(org_id=account.org_id, account_id=account.id, agent_id=caller.user_id,
                      interaction_id=interaction_id, amount=sum((i.amount for i in plan), Decimal("0")),
                      made_on=today, due_date=plan[-1].due_date, status="open", paid_amount=Decimal("0"),
                      baseline_balance=baseline_balance, baseline_report_id=baseline_report, note=clean_note,
                      created_by=caller.actor)
    session.add(promise)
    await session.flush()
    session.add_all([PromiseInstalment(promise_id=promise.id, number=n, due_date=i.due_date, amount=i.amount)
                     for n, i in enumerate(plan, start=1)])
    await session.flush()
    snapshot = promise_snapshot(promise) | {
        "instalments": [{"amount": i.amount, "date": i.due_date} for i in plan], "superseded": superseded}
    await events.record(session, org_id=account.org_id, type="promise.created", actor=caller.actor,
                        subject_type="promise", subject_id=promise.id, after=snapshot, data={"promise": snapshot})
    await follow_accounts(session, caller, [account.id])
    await tasks.complete_for_accounts(session, caller, [account.id], closed_by=f"promise:{promise.id}")
    # What the pass concludes follows from the evidence, not from the caller: the system's, as daily.
    await evaluate(session, Caller.system(account.org_id, ACTOR), account_ids=[account.id], today=today)
    await ensure_chain(session, account.org_id)  # the daily evaluation's jobs (the first promise starts them)
    await session.refresh(promise)
    return promise


async def _close_open(session: AsyncSession, org_id: int, account_id: uuid.UUID, actor: str) -> list[str]:
    """Cancel the account's open promise(s): a new promise replaces the old."""
    ids = list(await session.scalars(
        update(Promise).where(Promise.org_id == org_id, Promise.account_id == account_id, Promise.status == "open")
        .values(status="cancelled", closed_at=utcnow(), closed_by=actor, updated_at=utcnow())
        .returning(Promise.id).execution_options(synchronize_session=False)))
    if ids:
        await events.record_many(session, [
            {"org_id": org_id, "type": "promise.cancelled", "actor": actor, "subject_type": "promise",
             "subject_id": i, "before": {"status": "open"}, "after": {"status": "cancelled"},
             "data": {"why": "superseded by a new promise"}} for i in ids])
    return [str(i) for i in ids]


async def cancel_promise(session: AsyncSession, caller: Caller, promise_id: Any, *, reason: Any = None) -> Promise:
    """Cancel an open promise (409 PROMISE_CLOSED otherwise): its agent, an admin, a manager or a key."""
    caller.require_write()
    promise = await get_promise(session, caller, promise_id, for_update=True)
    if caller.kind == "user" and not caller.is_manager_or_admin and promise.agent_id != caller.user_id:
        raise Forbidden("Only the agent who took the promise, an admin or a manager may cancel it.")
    if promise.status != "open":
        raise Conflict(f"The promise is {promise.status}; only an open promise can be cancelled.",
                       code=PromiseErrorCode.PROMISE_CLOSED)
    why = _clean_note(reason)
    before = promise_snapshot(promise)
    promise.status, promise.closed_at, promise.closed_by = "cancelled", utcnow(), caller.actor
    await session.flush()
    await events.record(session, org_id=promise.org_id, type="promise.cancelled", actor=caller.actor,
                        subject_type="promise", subject_id=promise.id, before=before,
                        after=promise_snapshot(promise), data={"why": why})
    await follow_accounts(session, caller, [promise.account_id])
    return promise


async def follow_accounts(session: AsyncSession, caller: Caller, account_ids: Sequence[uuid.UUID] | None) -> int:
    """Bring these accounts' (None: every account's) `promised`/`active` status in line with
    their open promises, in the caller's organisation (write access), as the caller."""
    caller.require_write()
    org_id = caller.org_id
    with_open = select(Promise.account_id).where(Promise.org_id == org_id, Promise.status == "open")
    if account_ids is None:
        among: Any = select(Promise.account_id).where(Promise.org_id == org_id)
        return await accounts.follow_promises(session, caller, among, with_open)
    changed = 0
    wanted = sorted(set(account_ids))
    for start in range(0, len(wanted), 500):
        changed += await accounts.follow_promises(session, caller, wanted[start:start + 500], with_open)
    return changed


# ------------------------------------------------------------------ lists


@dataclass
class PromiseFilter:
    status: str | None = None
    account_id: str | None = None
    agent_id: int | None = None
    date_from: date | None = None  # due on or after
    date_to: date | None = None  # due on or before


async def list_promises(session: AsyncSession, caller: Caller, f: PromiseFilter, *, offset: int = 0,
                        limit: int = 20) -> tuple[list[Promise], int]:
    """The caller's visible promises, by due date then creation (newest last)."""
    errors: dict[str, list[str]] = {}
    if f.status is not None and f.status not in STATUSES:
        errors["status"] = [f"Must be one of {', '.join(STATUSES)}."]
    if f.agent_id is not None and not 0 < f.agent_id < 2**63:
        errors["agentId"] = ["Not a valid user id."]
    account_key = None
    if f.account_id is not None:
        account_key = accounts.parse_account_id(f.account_id)
        if account_key is None:
            errors["accountId"] = ["Not a valid UUID."]
    if errors:
        raise ValidationFailed("Invalid list parameters: " + ", ".join(errors), field_errors=errors)
    where = [promise_scope(caller)]
    if f.status is not None:
        where.append(Promise.status == f.status)
    if account_key is not None:
        where.append(Promise.account_id == account_key)
    if f.agent_id is not None:
        where.append(Promise.agent_id == f.agent_id)
    if f.date_from is not None:
        where.append(Promise.due_date >= f.date_from)
    if f.date_to is not None:
        where.append(Promise.due_date <= f.date_to)
    total = await session.scalar(select(func.count()).select_from(Promise).where(*where)) or 0
    rows = await session.scalars(select(Promise).where(*where)
                                 .order_by(Promise.due_date, Promise.created_at, Promise.id).offset(offset).limit(limit))
    return list(rows), int(total)


async def promises_of_account(session: AsyncSession, account: Account) -> list[Promise]:
    return list(await session.scalars(select(Promise).where(Promise.account_id == account.id)
                                      .order_by(Promise.created_at, Promise.id)))


async def record_for_interactions(session: AsyncSession, caller: Caller, items: Sequence[Any]) -> list[Promise]:
    """The promises given with RepaySync interactions (customers.interactions.PromiseRequest:
    registered by arrears.wiring), each on its interaction's account or its loan's account, in the
    interaction's transaction."""
    loans = sorted({i.loan_id for i in items if i.account_id is None and i.loan_id is not None})
    by_loan: dict[int | None, uuid.UUID] = {}
    for start in range(0, len(loans), 500):
        rows = await session.execute(select(Account.loan_id, Account.id).where(
            Account.org_id == caller.org_id, Account.loan_id.in_(loans[start:start + 500])))
        by_loan.update({r[0]: r[1] for r in rows})
    made = []
    for item in items:
        account_id = item.account_id or by_loan.get(item.loan_id)
        if account_id is None:
            raise NotFound(f"No account owed for loan {item.loan_id}.")
        made.append(await create_promise(session, caller, account_id, [{"amount": item.amount, "date": item.due_date}],
                                         interaction_id=item.interaction_id))
    return made
