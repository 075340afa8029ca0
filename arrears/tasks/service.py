"""The rules of tasks: a call or a visit owed to an account by a date.

- Who sees which: the tasks of the accounts the caller sees (accounts.service.account_scope).
- Who creates: anyone with write access who sees the account; agents and officers assign tasks to
  themselves only, admins and managers to any member of the organisation (or nobody). An API key
  (tasks:write) assigns to any member or nobody. The API makes `manual` tasks; broken promises and
  strategy steps open theirs through `open_tasks` / `open_tasks_from`.
- Who closes: an open task becomes done or cancelled, by its assignee, an admin or a manager, or an
  API key; a closed task stays closed.
- An interaction recorded on a task's account (or on the loan of a loan account) completes the
  account's open tasks (`complete_for_interactions`, set-based, subscribed in arrears.wiring).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import (
    JSON,
    ColumnElement,
    Date,
    Select,
    Text,
    and_,
    case,
    cast,
    func,
    insert,
    literal,
    literal_column,
    null,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from arrears import events
from arrears.accounts.models import Account
from arrears.accounts.service import account_scope, get_account, parse_account_id
from arrears.customers.models import Customer, Interaction, Loan
from arrears.db import utcnow
from arrears.debtors.models import DebtorAccount
from arrears.errors import Conflict, Forbidden, NotFound, ValidationFailed
from arrears.identity import service as identity
from arrears.identity.caller import Caller
from arrears.identity.models import User
from arrears.tasks.errors import TaskErrorCode
from arrears.tasks.models import KINDS, SOURCES, STATUSES, Task
from arrears.validation import clean_date, clean_text
from arrears.visible import get_visible

MAX_NOTE = 2000
CLOSED = ("done", "cancelled")


def task_snapshot(t: Task) -> dict[str, Any]:
    return {"id": str(t.id), "accountId": str(t.account_id), "assigneeId": t.assignee_id, "kind": t.kind,
            "dueDate": t.due_date, "source": t.source, "status": t.status, "note": t.note}


def task_scope(caller: Caller) -> ColumnElement[bool]:
    return and_(Task.org_id == caller.org_id, Task.account_id.in_(select(Account.id).where(account_scope(caller))))


def _is_manager(caller: Caller) -> bool:
    return caller.kind == "user" and caller.is_manager_or_admin


async def get_task(session: AsyncSession, caller: Caller, task_id: Any, *, for_update: bool = False) -> Task:
    return await get_visible(session, Task, task_id, task_scope(caller), "Task", for_update=for_update)


async def _clean_assignee(session: AsyncSession, caller: Caller, raw: Any) -> int | None:
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, int):
        raise ValueError("Not a valid user id.")
    user = await session.get(User, raw) if 0 < raw < 2**63 else None
    if user is None or not await identity.is_member(session, user, caller.org_id):
        raise ValueError(f"No user {raw} in this organisation.")
    if caller.kind == "user" and not _is_manager(caller) and raw != caller.user_id:
        raise ValueError("Only admins and managers assign tasks to someone else.")
    return raw


async def create_task(session: AsyncSession, caller: Caller, data: dict[str, Any]) -> Task:
    """A manual task: `accountId`, `kind` and `dueDate` required; `assigneeId` defaults to the
    calling user (nobody for an API key); `note` optional."""
    caller.require_write()
    errors: dict[str, list[str]] = {}
    for key in ("accountId", "kind", "dueDate"):
        if data.get(key) is None:
            errors[key] = ["This field is required."]
    account = None
    if "accountId" not in errors:  # an account the caller may not see is a 404, as everywhere
        account = await get_account(session, caller, data["accountId"])
    kind = data.get("kind")
    if "kind" not in errors and kind not in KINDS:
        errors["kind"] = [f"Must be one of {', '.join(KINDS)}."]
    due = None
    if "dueDate" not in errors:
        try:
            due = clean_date(data["dueDate"])
        except ValueError as exc:
            errors["dueDate"] = [str(exc)]
    assignee = caller.user_id if caller.kind == "user" else None
    if "assigneeId" in data:
        try:
            assignee = await _clean_assignee(session, caller, data["assigneeId"])
        except ValueError as exc:
            errors["assigneeId"] = [str(exc)]
    note = None
    try:
        note = clean_text(data.get("note"), MAX_NOTE)
    except ValueError as exc:
        errors["note"] = [str(exc)]
    if errors:
        raise ValidationFailed("Invalid task: " + ", ".join(errors), field_errors=errors)
    assert account is not None and due is not None and isinstance(kind, str)
    return await open_task(session, caller, account, kind=kind, due_date=due, source="manual", assignee_id=assignee,
                           note=note)


async def open_task(session: AsyncSession, caller: Caller, account: Account, *, kind: str, due_date: date,
                    source: str, assignee_id: int | None, note: str | None = None) -> Task:
    """Open a task on an account of the caller's organisation (another's is not found): the API's
    manual ones (`create_task`, which checks what the caller may see and assign) and the system's;
    raises `task.created`."""
    caller.require_write()
    if account.org_id != caller.org_id:
        raise NotFound(f"Account {account.id} not found.")
    if kind not in KINDS or source not in SOURCES:
        raise ValueError(f"kind {kind!r} or source {source!r}")
    actor = caller.actor
    if await session.scalar(_held(session, select(Account.id).where(Account.id == account.id))) is None:
        raise NotFound(f"Account {account.id} not found.")
    if assignee_id is not None and assignee_id not in await _hold_users(session, [assignee_id]):
        assignee_id = None  # deleted meanwhile: unassigned, as SET NULL would have made it
    task = Task(org_id=account.org_id, account_id=account.id, assignee_id=assignee_id, kind=kind, due_date=due_date,
                source=source, status="open", note=note, created_by=actor)
    session.add(task)
    await session.flush()
    await events.record(session, org_id=account.org_id, type="task.created", actor=actor, subject_type="task",
                        subject_id=task.id, after=task_snapshot(task), data={"task": task_snapshot(task)})
    return task


async def update_task(session: AsyncSession, caller: Caller, task_id: Any, changes: dict[str, Any]) -> Task:
    """Change a task's `status` (open → done | cancelled), `dueDate`, `assigneeId` or `note`."""
    caller.require_write()
    task = await get_task(session, caller, task_id, for_update=True)
    if caller.kind == "user" and not _is_manager(caller) and task.assignee_id != caller.user_id:
        raise Forbidden("Only the task's assignee, an admin or a manager may change it.")
    errors: dict[str, list[str]] = {}
    clean: dict[str, Any] = {}
    if "status" in changes:
        status = changes["status"]
        if status not in STATUSES:
            errors["status"] = [f"Must be one of {', '.join(STATUSES)}."]
        else:
            clean["status"] = status
    if "dueDate" in changes:
        try:
            clean["due_date"] = clean_date(changes["dueDate"])
        except ValueError as exc:
            errors["dueDate"] = [str(exc)]
    if "assigneeId" in changes:
        try:
            clean["assignee_id"] = await _clean_assignee(session, caller, changes["assigneeId"])
        except ValueError as exc:
            errors["assigneeId"] = [str(exc)]
    if "note" in changes:
        try:
            clean["note"] = clean_text(changes["note"], MAX_NOTE)
        except ValueError as exc:
            errors["note"] = [str(exc)]
    if errors:
        raise ValidationFailed("Invalid task: " + ", ".join(errors), field_errors=errors)
    if task.status in CLOSED and any(getattr(task, k) != v for k, v in clean.items()):
        raise Conflict(f"The task is {task.status}; a closed task does not change.",
                       code=TaskErrorCode.TASK_CLOSED)
    if clean.get("status", task.status) != task.status:  # open → done | cancelled
        task.closed_at, task.closed_by = utcnow(), caller.actor
    before = task_snapshot(task)
    for key, value in clean.items():
        setattr(task, key, value)
    await session.flush()
    after = task_snapshot(task)
    changed = sorted(k for k in after if after[k] != before[k])
    if changed:
        await events.record(session, org_id=task.org_id, type="task.updated", actor=caller.actor,
                            subject_type="task", subject_id=task.id, before=before, after=after,
                            data={"changed": changed})
    return task


@dataclass
class TaskFilter:
    status: str | None = None
    kind: str | None = None
    source: str | None = None
    assignee_id: int | None = None
    account_id: str | None = None
    due_from: date | None = None
    due_to: date | None = None


SORTS = {"dueDate": Task.due_date, "createdAt": Task.created_at, "status": Task.status}


async def list_tasks(session: AsyncSession, caller: Caller, f: TaskFilter, *, sort_by: str = "dueDate",
                     descending: bool = False, offset: int = 0, limit: int = 20) -> tuple[list[Task], int]:
    errors: dict[str, list[str]] = {}
    for name, value, allowed in (("status", f.status, STATUSES), ("kind", f.kind, KINDS),
                                 ("source", f.source, SOURCES)):
        if value is not None and value not in allowed:
            errors[name] = [f"Must be one of {', '.join(allowed)}."]
    if f.assignee_id is not None and not 0 < f.assignee_id < 2**63:
        errors["assigneeId"] = ["Not a valid user id."]
    account_key = None
    if f.account_id is not None:
        account_key = parse_account_id(f.account_id)
        if account_key is None:
            errors["accountId"] = ["Not a valid UUID."]
    if errors:
        raise ValidationFailed("Invalid list parameters: " + ", ".join(errors), field_errors=errors)
    where = [task_scope(caller)]
    if f.status is not None:
        where.append(Task.status == f.status)
    if f.kind is not None:
        where.append(Task.kind == f.kind)
    if f.source is not None:
        where.append(Task.source == f.source)
    if f.assignee_id is not None:
        where.append(Task.assignee_id == f.assignee_id)
    if account_key is not None:
        where.append(Task.account_id == account_key)
    if f.due_from is not None:
        where.append(Task.due_date >= f.due_from)
    if f.due_to is not None:
        where.append(Task.due_date <= f.due_to)
    total = await session.scalar(select(func.count()).select_from(Task).where(*where)) or 0
    key = SORTS[sort_by]
    q = (select(Task).where(*where)
         .order_by(key.desc() if descending else key.asc(), Task.created_at, Task.id).offset(offset).limit(limit))
    return list(await session.scalars(q)), int(total)


async def open_tasks_of(session: AsyncSession, account_ids: Sequence[uuid.UUID]) -> list[Task]:
    if not account_ids:
        return []
    return list(await session.scalars(select(Task).where(Task.account_id.in_(list(account_ids)), Task.status == "open")
                                      .order_by(Task.due_date, Task.id)))


async def tasks_of_account(session: AsyncSession, account: Account) -> list[Task]:
    return list(await session.scalars(select(Task).where(Task.account_id == account.id)
                                      .order_by(Task.due_date, Task.created_at, Task.id)))


# ------------------------------------------------------------------ completed by interactions


async def complete_for_interactions(session: AsyncSession, caller: Caller, interaction_ids: Sequence[int]) -> int:
    """Close (done) the open tasks of the accounts these interactions were recorded on: the
    interaction's account, or the account of its loan. Set-based; returns how many closed. Only
    the caller's organisation's interactions count (another's close nothing). Whoever recorded
    the interactions (write access) closes the tasks: the event subscriber acts as them."""
    caller.require_write()
    org_id, actor = caller.org_id, caller.actor
    ids = sorted({int(i) for i in interaction_ids})
    if not ids:
        return 0
    on_account = select(Interaction.account_id).where(Interaction.id.in_(ids), Interaction.org_id == org_id,
                                                      Interaction.account_id.is_not(None))
    on_loan = (select(Account.id).join(Interaction, Interaction.loan_id == Account.loan_id)
               .where(Interaction.id.in_(ids), Interaction.org_id == org_id))
    targets = list(await session.scalars(
        select(Task.id).where(Task.org_id == org_id, Task.status == "open",
                              or_(Task.account_id.in_(on_account), Task.account_id.in_(on_loan)))
        .order_by(Task.id)))
    if not targets:
        return 0
    now = utcnow()
    closed_by = f"interaction:{ids[0]}" if len(ids) == 1 else actor
    await session.execute(update(Task).where(Task.id.in_(targets), Task.status == "open")
                          .values(status="done", closed_at=now, closed_by=closed_by, updated_at=now))
    await events.record_many(session, [
        {"org_id": org_id, "type": "task.updated", "actor": actor, "subject_type": "task", "subject_id": t,
         "before": {"status": "open"}, "after": {"status": "done"},
         "data": {"changed": ["status"], "completedBy": closed_by}} for t in targets])
    return len(targets)


async def complete_for_accounts(session: AsyncSession, caller: Caller, account_ids: Sequence[uuid.UUID], *,
                                closed_by: str) -> int:
    """Close (done) the open tasks of these accounts, as an interaction does (a promise recorded on
    a task's account completes it), as the caller (write access). Set-based; returns how many
    closed. Only the caller's organisation's tasks: another's accounts close nothing."""
    caller.require_write()
    org_id, actor = caller.org_id, caller.actor
    wanted = sorted(set(account_ids))
    if not wanted:
        return 0
    now = utcnow()
    targets = list(await session.scalars(
        update(Task).where(Task.org_id == org_id, Task.status == "open", Task.account_id.in_(wanted))
        .values(status="done", closed_at=now, closed_by=closed_by, updated_at=now)
        .returning(Task.id).execution_options(synchronize_session=False)))
    await events.record_many(session, [
        {"org_id": org_id, "type": "task.updated", "actor": actor, "subject_type": "task", "subject_id": t,
         "before": {"status": "open"}, "after": {"status": "done"},
         "data": {"changed": ["status"], "completedBy": closed_by}} for t in sorted(targets)])
    return len(targets)


async def open_tasks(session: AsyncSession, caller: Caller, items: Sequence[tuple[uuid.UUID, int | None]], *,
                     kind: str, due_date: date, source: str, note: str | None = None) -> int:
    """`open_task` for many accounts at once ((account id, assignee) each) of the caller's
    organisation (write access; an account of another is not found, and nothing is opened): one
    INSERT, one batch of `task.created` events, created by the caller. Returns how many were
    opened."""
    if kind not in KINDS or source not in SOURCES:
        raise ValueError(f"kind {kind!r} or source {source!r}")
    caller.require_write()
    org_id, actor = caller.org_id, caller.actor
    if not items:
        return 0
    await _own_accounts(session, org_id, {a for a, _ in items})
    users = await _hold_users(session, [who for _, who in items])
    now = utcnow()
    rows = [{"id": uuid.uuid4(), "org_id": org_id, "account_id": a, "assignee_id": who if who in users else None,
             "kind": kind,
             "due_date": due_date, "source": source, "status": "open", "note": note, "created_by": actor,
             "created_at": now, "updated_at": now} for a, who in items]
    await session.execute(insert(Task), rows)
    snaps = [{"id": str(r["id"]), "accountId": str(r["account_id"]), "assigneeId": r["assignee_id"], "kind": kind,
              "dueDate": due_date, "source": source, "status": "open", "note": note} for r in rows]
    await events.record_many(session, [
        {"org_id": org_id, "type": "task.created", "actor": actor, "subject_type": "task", "subject_id": s["id"],
         "after": s, "data": {"task": s}} for s in snaps])
    return len(rows)


async def open_tasks_from(session: AsyncSession, caller: Caller, rows: Any, *, kind: str, due_date: date,
                          source: str, note: str | None = None) -> int:
    """`open_task` for every (account_id, assignee_id) row of the SELECT `rows`, set-based (the
    daily evaluation of promises opens thousands): one INSERT … SELECT of tasks and one of their
    `task.created` events, created by the caller (write access). Only rows whose account is the
    caller's organisation's open a task (another's are left out). Returns how many were opened."""
    from arrears import sqljson
    from arrears.db import new_uuid_sql

    if kind not in KINDS or source not in SOURCES:
        raise ValueError(f"kind {kind!r} or source {source!r}")
    caller.require_write()
    org_id, actor = caller.org_id, caller.actor
    src = rows.subquery()
    now = utcnow()
    # The assignees held first (a few users), then the accounts by the INSERT that reads them; an
    # assignee that went is left out (NULL), as SET NULL did.
    users = await _hold_users(session, select(src.c[1]).where(src.c[1].is_not(None)).distinct())
    assignee = case((src.c[1].in_(sorted(users)), src.c[1]), else_=null()) if users else null()
    ours = select(src.c[0]).select_from(src).join(Account, Account.id == src.c[0]).where(Account.org_id == org_id)
    if session.get_bind().dialect.name == "postgresql":
        # The accounts this transaction has not updated yet (an UPDATE holds a row until the commit
        # already; locking it again would write a lock record per row — the daily pass moves most of
        # its accounts' statuses before opening their tasks).
        await session.execute(_held(session, ours.where(literal_column("accounts.xmin").op("<>")(
            literal_column("xid(pg_current_xact_id())"))), Account))
    made = await session.execute(insert(Task).from_select(
        ["id", "org_id", "account_id", "assignee_id", "kind", "due_date", "source", "status", "note", "created_by",
         "created_at", "updated_at"],
        select(literal_column(new_uuid_sql(session)), literal(org_id), src.c[0], assignee, literal(kind),
               literal(due_date, Date), literal(source), literal("open"), literal(note, Text), literal(actor),
               literal(now, Task.created_at.type), literal(now, Task.created_at.type))
        .select_from(src).join(Account, Account.id == src.c[0]).where(Account.org_id == org_id)))
    count = max(int(getattr(made, "rowcount", 0) or 0), 0)
    if not count:
        return 0
    # The snapshot as plain text (sqljson.plain: no json_build_object per row): the kind, due date,
    # source, status and note are this statement's constants, the ids the row's.
    fields = {"id": sqljson.Word(sqljson.text(session, Task.id)),
              "accountId": sqljson.Word(sqljson.text(session, Task.account_id)),
              "assigneeId": sqljson.Number(Task.assignee_id), "kind": kind, "dueDate": due_date.isoformat(),
              "source": source, "status": "open", "note": note}
    await events.record_select(session, org_id, select(
        literal("task.created").label("type"), literal(actor).label("actor"), literal("task").label("subject_type"),
        sqljson.text(session, Task.id).label("subject_id"), cast(null(), JSON).label("before"),
        sqljson.plain(session, **fields).label("after"),
        sqljson.plain(session, task=sqljson.nested(session, **fields)).label("data"))
        # Read back by what the INSERT wrote: the organisation, `open` and the due date name a range
        # of `ix_tasks_org_id_status_due_date` (not every task the organisation ever had).
        .where(Task.org_id == org_id, Task.status == "open", Task.due_date == due_date, Task.source == source,
               Task.created_at == now).order_by(Task.id),
        ["task.created"])
    return count


async def _own_accounts(session: AsyncSession, org_id: int, ids: set[uuid.UUID]) -> None:
    """NotFound unless every one of `ids` is an account of the organisation; on PostgreSQL each is
    locked against deletion until the transaction ends (`_hold`)."""
    wanted = sorted(ids)
    for start in range(0, len(wanted), 1000):
        part = wanted[start:start + 1000]
        found = len(list(await session.scalars(_held(session, select(Account.id).where(
            Account.org_id == org_id, Account.id.in_(part))))))
        if found != len(part):
            raise NotFound("Account not found.")


def _held(session: AsyncSession, query: Any, *of: Any) -> Any:
    """`query` locking the rows it reads FOR KEY SHARE on PostgreSQL (the lock a foreign key's check
    takes): the tasks' keys on their account and assignee are gone there (migration 0030), so the
    writer holds what it references until it commits — a deletion waits, then its trigger takes or
    unassigns the tasks. SQLite keeps its keys."""
    if session.get_bind().dialect.name != "postgresql":
        return query
    return query.with_for_update(read=True, key_share=True, of=list(of) or None)


async def _hold_users(session: AsyncSession, ids: Any) -> set[int]:
    """The users among `ids` (a list, or a SELECT of ids) still there, held until the end of the
    transaction (see `_held`); a task assigned to one that went is unassigned, as SET NULL did."""
    from arrears.identity.models import User

    where = User.id.in_(ids) if isinstance(ids, Select) else User.id.in_(sorted({i for i in ids if i is not None}))
    return set(await session.scalars(_held(session, select(User.id).where(where))))


async def wants_events(session: AsyncSession, org_id: int, types: frozenset[str]) -> bool:
    """`on_event` needs to see only interaction events (for events written in bulk)."""
    return bool(types & {"interaction.created", "interaction.bulk_created"})


async def on_event(session: AsyncSession, ev: Any) -> None:
    """In-transaction subscriber (wired in arrears.wiring): interactions complete tasks."""
    if ev.org_id is None or ev.type not in ("interaction.created", "interaction.bulk_created"):
        return
    # The interaction's author was authorised to record it; the system closes its tasks in their name.
    recorder = Caller.system(ev.org_id, ev.actor)
    if ev.type == "interaction.created":
        await complete_for_interactions(session, recorder, [int(ev.subject_id)])
    else:
        await complete_for_interactions(session, recorder, list((ev.data or {}).get("interaction_ids", [])))


# ------------------------------------------------------------------ the work queue


@dataclass(frozen=True)
class DueTask:
    task: Task
    account_kind: str
    reference: str  # the book's account code or the loan's number
    customer: Customer
    loan_id: int | None


async def due_tasks(session: AsyncSession, caller: Caller, on: date) -> list[DueTask]:
    """The open tasks due on or before `on` that are this person's: their own and unassigned ones
    (admins and managers: all they see). Oldest first."""
    q = (select(Task, Account.kind, func.coalesce(DebtorAccount.account_code, Loan.loan_account_number),
                Customer, Account.loan_id)
         .join(Account, Account.id == Task.account_id).join(Customer, Customer.id == Account.customer_id)
         .outerjoin(DebtorAccount, DebtorAccount.id == Account.debtor_account_id)
         .outerjoin(Loan, Loan.id == Account.loan_id)
         .where(task_scope(caller), Task.status == "open", Task.due_date <= on))
    if not _is_manager(caller):
        q = q.where(or_(Task.assignee_id == caller.user_id, Task.assignee_id.is_(None)))
    rows = await session.execute(q.order_by(Task.due_date, Task.created_at, Task.id))
    return [DueTask(r[0], r[1], r[2] or "", r[3], r[4]) for r in rows.all()]
