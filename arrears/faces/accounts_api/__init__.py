"""Arrears' own endpoints for accounts owed and tasks, under /api/v1 with the partner face's
conventions (errors {"error": CODE, "message", "details"}, camelCase, UUID ids, lists as
{"data": [...], "pagination": {page, limit, total, totalPages}}, limit at most 100, the partner
rate limit and usage log).

Callers: a user's JWT (by role: see arrears.accounts.service and arrears.tasks.service) or a
partner `ins_` key with the scopes `accounts:read`, `accounts:write`, `tasks:read`, `tasks:write`
(`*` grants all; a :write scope reads too). Another organisation's ids are 404. Money is written as
JSON numbers, digit for digit.
"""

from __future__ import annotations

from typing import Any

from fastapi import Query
from pydantic import BaseModel, ConfigDict, Field

from arrears.accounts import service as accounts
from arrears.db import isoz
from arrears.errors import ValidationFailed
from arrears.faces.accounts_api.payment_shapes import account_payments
from arrears.faces.deps import SessionDep
from arrears.faces.own_api import ApiCaller, MoneyJSON, list_day, require_scope
from arrears.faces.partner import views
from arrears.faces.partner.routing import partner_router
from arrears.faces.promises_api import promises_out
from arrears.identity.caller import Caller
from arrears.partners.service import PAGES
from arrears.promises.service import promises_of_account
from arrears.tasks import service as tasks
from arrears.tasks.models import Task

router = partner_router("/api/v1", "Accounts owed and tasks")


def needs(scope: str) -> str:
    """A route's OpenAPI description: what an `ins_` key and a user need."""
    read = scope.replace(":write", ":read")
    also = f" (or `{scope.replace(':read', ':write')}`)" if scope.endswith(":read") else ""
    return (f"Scope for `ins_` keys: `{scope}`{also}; `*` covers every scope. Users (JWT): any member of the "
            f"organisation, by role and access (docs/contracts.md, \"Accounts owed and tasks\"); `{read}` "
            "lists only what the user may see.")


# ------------------------------------------------------------------ shapes


def task_out(t: Task, refs: dict[Any, tuple[str, str]] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"id": str(t.id), "accountId": str(t.account_id), "assigneeId": t.assignee_id, "kind": t.kind,
           "dueDate": t.due_date.isoformat(), "source": t.source, "status": t.status, "note": t.note,
           "createdBy": t.created_by, "closedBy": t.closed_by, "closedAt": isoz(t.closed_at),
           "createdAt": isoz(t.created_at), "updatedAt": isoz(t.updated_at)}
    if refs is not None:
        kind, reference = refs.get(t.account_id, ("", ""))
        out["account"] = {"kind": kind, "reference": reference}
    return out


async def account_out(session: Any, caller: Caller, account_id: Any) -> dict[str, Any]:
    account = await accounts.get_account(session, caller, account_id)
    f = await accounts.figures(session, account)
    history = await accounts.status_history(session, account)
    return {
        "id": str(account.id), "kind": account.kind, "reference": f.reference,
        "loanId": account.loan_id, "debtorAccountId": account.debtor_account_id,
        "customer": {"id": f.customer.id, "uuid": str(f.customer.uuid), "code": f.customer.customer_code,
                     "name": f.customer.name},
        "status": account.status, "statusReason": account.status_reason,
        "writtenOffAmount": account.written_off_amount, "statusChangedAt": isoz(account.status_changed_at),
        "balance": f.balance, "daysPastDue": f.days_past_due,
        "reportDate": f.report_date.isoformat() if f.report_date else None,
        "statusHistory": [{"from": h.from_status, "to": h.to_status, "reason": h.reason, "amount": h.amount,
                           "actor": h.actor, "at": isoz(h.created_at)} for h in history],
        "tasks": [task_out(t) for t in await tasks.tasks_of_account(session, account)],
        **await account_payments(session, account),
        "promises": await _promises(session, account),
        "createdAt": isoz(account.created_at),
    }


async def _promises(session: Any, account: Any) -> list[dict[str, Any]]:
    return await promises_out(session, await promises_of_account(session, account), with_refs=False)


# ------------------------------------------------------------------ accounts


class StatusIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: str = Field(description="disputed, active (lift a dispute, take back), handed_over or written_off")
    reason: str | None = Field(default=None, description="Required except when going back to active")
    amount: Any = Field(default=None, description="written_off only: the amount written off (a number)")


@router.get("/accounts/{account_id}", summary="An account owed: status, balance, days past due, tasks",
            description=needs("accounts:read"))
async def get_account(account_id: str, session: SessionDep, caller: ApiCaller) -> MoneyJSON:
    require_scope(caller, "accounts:read", "accounts:write")
    return MoneyJSON(await account_out(session, caller, account_id))


@router.post("/accounts/{account_id}/status", summary="Change an account's collection status",
             description=needs("accounts:write"))
async def change_status(account_id: str, body: StatusIn, session: SessionDep, caller: ApiCaller) -> MoneyJSON:
    require_scope(caller, "accounts:write")
    await accounts.change_status(session, caller, account_id, body.status, reason=body.reason, amount=body.amount)
    return MoneyJSON(await account_out(session, caller, account_id))


# ------------------------------------------------------------------ tasks


class TaskIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    accountId: str
    kind: str = Field(description="call or visit")
    dueDate: str = Field(description="YYYY-MM-DD")
    assigneeId: int | None = Field(default=None, description="A user of the organisation (default: you)")
    note: str | None = None


class TaskPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: str | None = Field(default=None, description="done or cancelled (an open task only)")
    dueDate: str | None = None
    assigneeId: int | None = None
    note: str | None = None


@router.get("/tasks", summary="List tasks", description=needs("tasks:read"))
async def list_tasks(session: SessionDep, caller: ApiCaller, status: str | None = None, kind: str | None = None,
                     source: str | None = None, assignee_id: int | None = Query(None, alias="assigneeId"),
                     account_id: str | None = Query(None, alias="accountId"),
                     due_from: str | None = Query(None, alias="dateFrom", description="due on or after"),
                     due_to: str | None = Query(None, alias="dateTo", description="due on or before"),
                     sort_by: str | None = Query(None, alias="sortBy", description="dueDate, createdAt or status"),
                     sort_order: str | None = Query(None, alias="sortOrder", description="asc (default) or desc"),
                     page: int = Query(1), limit: int = Query(20)) -> MoneyJSON:
    require_scope(caller, "tasks:read", "tasks:write")
    req = PAGES.check(page, limit)
    errors: dict[str, list[str]] = {}
    if sort_by is not None and sort_by not in tasks.SORTS:
        errors["sortBy"] = [f"Must be one of {', '.join(tasks.SORTS)}."]
    if sort_order is not None and sort_order.lower() not in ("asc", "desc"):
        errors["sortOrder"] = ["Must be asc or desc."]
    if errors:
        raise ValidationFailed("Invalid list parameters: " + ", ".join(errors), field_errors=errors)
    f = tasks.TaskFilter(status=status, kind=kind, source=source, assignee_id=assignee_id, account_id=account_id,
                         due_from=list_day("dateFrom", due_from), due_to=list_day("dateTo", due_to))
    rows, total = await tasks.list_tasks(session, caller, f, sort_by=sort_by or "dueDate",
                                         descending=(sort_order or "asc").lower() == "desc",
                                         offset=req.offset, limit=req.size)
    refs = await accounts.account_refs(session, [t.account_id for t in rows])
    return MoneyJSON(views.page([task_out(t, refs) for t in rows], req.page, req.size, total))


@router.post("/tasks", status_code=201, summary="Open a task (a call or a visit) on an account",
             description=needs("tasks:write"))
async def create_task(body: TaskIn, session: SessionDep, caller: ApiCaller) -> MoneyJSON:
    require_scope(caller, "tasks:write")
    task = await tasks.create_task(session, caller, body.model_dump(exclude_unset=True))
    return MoneyJSON(task_out(task, await accounts.account_refs(session, [task.account_id])), status_code=201)


@router.get("/tasks/{task_id}", summary="A task", description=needs("tasks:read"))
async def get_task(task_id: str, session: SessionDep, caller: ApiCaller) -> MoneyJSON:
    require_scope(caller, "tasks:read", "tasks:write")
    task = await tasks.get_task(session, caller, task_id)
    return MoneyJSON(task_out(task, await accounts.account_refs(session, [task.account_id])))


@router.patch("/tasks/{task_id}", summary="Close a task (done, cancelled) or change its date, assignee, note",
              description=needs("tasks:write"))
async def update_task(task_id: str, body: TaskPatch, session: SessionDep, caller: ApiCaller) -> MoneyJSON:
    require_scope(caller, "tasks:write")
    task = await tasks.update_task(session, caller, task_id, body.model_dump(exclude_unset=True))
    return MoneyJSON(task_out(task, await accounts.account_refs(session, [task.account_id])))


__all__ = ["router"]
