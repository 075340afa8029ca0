"""Arrears' own endpoints for promises to pay, under /api/v1 with the partner face's conventions
(errors {"error": CODE, "message", "details"}, camelCase, UUID ids, lists as {"data": [...],
"pagination": {page, limit, total, totalPages}}, limit at most 100).

Callers: a user's JWT (anyone with write access records promises on the accounts they see; read
access reads only: arrears.promises.service) or a partner `ins_` key with `promises:read` /
`promises:write` (`*` grants all; a :write scope reads too). Another organisation's ids are 404.
Money is written as JSON numbers, digit for digit.
"""

from __future__ import annotations

from typing import Any

from fastapi import Query
from pydantic import BaseModel, ConfigDict, Field

from arrears.accounts import service as accounts
from arrears.db import isoz
from arrears.errors import ValidationFailed
from arrears.faces.deps import SessionDep
from arrears.faces.own_api import ApiCaller, MoneyJSON, list_day, require_scope
from arrears.faces.partner import views
from arrears.faces.partner.routing import partner_router
from arrears.partners.service import PAGES
from arrears.promises import service as promises
from arrears.promises.models import Promise, PromiseInstalment, covered

router = partner_router("/api/v1", "Promises to pay")


def needs(scope: str) -> str:
    also = f" (or `{scope.replace(':read', ':write')}`)" if scope.endswith(":read") else ""
    return (f"Scope for `ins_` keys: `{scope}`{also}; `*` covers every scope. Users (JWT): by role and access "
            "(docs/contracts.md, \"Promises to pay\"); lists show only the accounts the user may see.")


def promise_out(p: Promise, instalments: list[PromiseInstalment],
                refs: dict[Any, tuple[str, str]] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": str(p.id), "accountId": str(p.account_id), "agentId": p.agent_id, "interactionId": p.interaction_id,
        "amount": p.amount, "paidAmount": p.paid_amount, "madeOn": p.made_on.isoformat(),
        "dueDate": p.due_date.isoformat(), "status": p.status,
        "instalments": [{"number": i.number, "amount": i.amount, "dueDate": i.due_date.isoformat(),
                         "covered": share} for i, share in zip(instalments, covered(p.paid_amount, instalments),
                                                               strict=True)],
        "evidence": p.evidence, "note": p.note, "createdBy": p.created_by, "closedBy": p.closed_by,
        "closedAt": isoz(p.closed_at), "createdAt": isoz(p.created_at), "updatedAt": isoz(p.updated_at)}
    if refs is not None:
        kind, reference = refs.get(p.account_id, ("", ""))
        out["account"] = {"kind": kind, "reference": reference}
    return out


async def promises_out(session: Any, rows: list[Promise], *, with_refs: bool = True) -> list[dict[str, Any]]:
    plans = await promises.instalments_of(session, [p.id for p in rows])
    refs = await accounts.account_refs(session, [p.account_id for p in rows]) if with_refs else None
    return [promise_out(p, plans[p.id], refs) for p in rows]


class InstalmentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    amount: Any = Field(description="More than 0, at most two decimals (a number or a string)")
    date: Any = Field(description="YYYY-MM-DD, not before today in the organisation's time zone")


class PromiseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    accountId: str
    amount: Any = Field(default=None, description="With `date`: one payment by a date")
    date: Any = Field(default=None, description="YYYY-MM-DD (with `amount`)")
    instalments: list[InstalmentIn] | None = Field(default=None, description="Or a plan: 1 to 36 instalments")
    note: str | None = None


class CancelIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str | None = None


def plan_of(body: PromiseIn) -> list[dict[str, Any]]:
    single = body.amount is not None or body.date is not None
    if single == (body.instalments is not None):
        raise ValidationFailed("Invalid promise: give amount and date, or instalments", field_errors={
            "instalments": ["Give either amount and date, or instalments (not both, not neither)."]})
    if body.instalments is not None:
        return [i.model_dump() for i in body.instalments]
    errors = {k: ["This field is required."] for k in ("amount", "date") if getattr(body, k) is None}
    if errors:
        raise ValidationFailed("Invalid promise: " + ", ".join(errors), field_errors=errors)
    return [{"amount": body.amount, "date": body.date}]


@router.get("/promises", summary="List promises to pay", description=needs("promises:read"))
async def list_promises(session: SessionDep, caller: ApiCaller, status: str | None = None,
                        account_id: str | None = Query(None, alias="accountId"),
                        agent_id: int | None = Query(None, alias="agentId"),
                        date_from: str | None = Query(None, alias="dateFrom", description="due on or after"),
                        date_to: str | None = Query(None, alias="dateTo", description="due on or before"),
                        page: int = Query(1), limit: int = Query(20)) -> MoneyJSON:
    require_scope(caller, "promises:read", "promises:write")
    req = PAGES.check(page, limit)
    f = promises.PromiseFilter(status=status, account_id=account_id, agent_id=agent_id,
                               date_from=list_day("dateFrom", date_from), date_to=list_day("dateTo", date_to))
    rows, total = await promises.list_promises(session, caller, f, offset=req.offset, limit=req.size)
    return MoneyJSON(views.page(await promises_out(session, rows), req.page, req.size, total))


@router.post("/promises", status_code=201, summary="Record a promise to pay (an amount by a date, or a plan)",
             description=needs("promises:write"))
async def create_promise(body: PromiseIn, session: SessionDep, caller: ApiCaller) -> MoneyJSON:
    require_scope(caller, "promises:write")
    promise = await promises.create_promise(session, caller, body.accountId, plan_of(body), note=body.note)
    return MoneyJSON((await promises_out(session, [promise]))[0], status_code=201)


@router.get("/promises/{promise_id}", summary="A promise to pay", description=needs("promises:read"))
async def get_promise(promise_id: str, session: SessionDep, caller: ApiCaller) -> MoneyJSON:
    require_scope(caller, "promises:read", "promises:write")
    promise = await promises.get_promise(session, caller, promise_id)
    return MoneyJSON((await promises_out(session, [promise]))[0])


@router.post("/promises/{promise_id}/cancel", summary="Cancel an open promise", description=needs("promises:write"))
async def cancel_promise(promise_id: str, session: SessionDep, caller: ApiCaller,
                         body: CancelIn | None = None) -> MoneyJSON:
    require_scope(caller, "promises:write")
    promise = await promises.cancel_promise(session, caller, promise_id, reason=body.reason if body else None)
    return MoneyJSON((await promises_out(session, [promise]))[0])


__all__ = ["router", "promises_out"]
