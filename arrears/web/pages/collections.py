"""Promises to pay and payments in the web UI: the promise form (an amount and a date, or a plan of
instalments) on the work queue and the customer page, the customer's promises with their state, and
the payments page (the list with its unmatched lines, matching one to an account, recording one).
Every rule (who may, what a valid plan or payment is) is the promises and payments services'."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response

from arrears.accounts import service as accounts
from arrears.accounts.models import Account
from arrears.errors import DomainError, ValidationFailed
from arrears.payments import service as payments
from arrears.payments.models import STATUSES as PAYMENT_STATUSES
from arrears.promises import service as promises
from arrears.promises.models import Promise, PromiseInstalment
from arrears.web.context import Ctx, CtxDep
from arrears.web.forms import FormState, text
from arrears.web.paging import page_params
from arrears.web.render import page, redirect

router = APIRouter()

PLAN_ROWS = 6  # instalment rows on the customer page's form (the queue's shows three)
QUEUE_PLAN_ROWS = 3
PAYMENT_FIELDS = ("reference", "amount", "paid_on", "method", "external_id", "note")
PAYERS = ("admin", "manager", "collection_officer")  # who records and matches (the service decides)


# ------------------------------------------------------------------ promises


@dataclass(frozen=True)
class CustomerPromise:
    promise: Promise
    reference: str
    plan: list[PromiseInstalment]


def promise_state(rows: int = PLAN_ROWS) -> FormState:
    return FormState({"account_id": "", "note": ""} | {f"{k}_{n}": "" for n in range(1, rows + 1)
                                                        for k in ("amount", "date")})


def _plan(form: Any, rows: int) -> tuple[FormState, list[dict[str, str]], list[int]]:
    """The filled rows of the form as the service's plan, and which row each item came from."""
    state = FormState({"account_id": text(form, "account_id"), "note": text(form, "note")})
    plan: list[dict[str, str]] = []
    origin: list[int] = []
    for n in range(1, rows + 1):
        amount, day = text(form, f"amount_{n}"), text(form, f"date_{n}")
        state.values |= {f"amount_{n}": amount, f"date_{n}": day}
        if amount or day:
            plan.append({"amount": amount, "date": day})
            origin.append(n)
    return state, plan, origin


def _promise_errors(state: FormState, exc: DomainError, origin: list[int]) -> FormState:
    """The service's `instalments[2].amount` beside the form's row it came from."""
    aliases = {"instalments": "amount_1"}
    for key in exc.field_errors or {}:
        m = re.fullmatch(r"instalments\[(\d+)\](?:\.(amount|date))?", key)
        if m and int(m.group(1)) < len(origin):
            aliases[key] = f"{m.group(2) or 'amount'}_{origin[int(m.group(1))]}"
    return state.error(exc, aliases)


async def record_promise(ctx: Ctx, form: Any, rows: int, allowed: set[uuid.UUID] | None = None
                         ) -> tuple[FormState, Promise | None]:
    """Record the form's promise on its account (one of `allowed` when given); the state shows errors."""
    state, plan, origin = _plan(form, rows)
    key = accounts.parse_account_id(state.values["account_id"])
    if key is None or (allowed is not None and key not in allowed):
        state.add("account_id", "Choose the account the promise is for.")
        return state, None
    if not plan:
        state.add("amount_1", "Give an amount and the date it will be paid by.")
        return state, None
    try:
        promise = await promises.create_promise(ctx.db, ctx.caller, key, plan, note=state.values["note"] or None)
    except ValidationFailed as exc:
        return _promise_errors(state, exc, origin), None
    return state, promise


async def customer_promises(ctx: Ctx, customer_id: int) -> tuple[list[tuple[Account, str]], list[CustomerPromise]]:
    """The customer's accounts this person sees and their promises, newest first."""
    owned = await accounts.accounts_of_customer(ctx.db, ctx.caller, customer_id)
    found: list[tuple[Promise, str]] = []
    for account, reference in owned:
        found.extend((p, reference) for p in await promises.promises_of_account(ctx.db, account))
    found.sort(key=lambda pr: (pr[0].created_at, str(pr[0].id)), reverse=True)
    plans = await promises.instalments_of(ctx.db, [p.id for p, _ in found])
    return owned, [CustomerPromise(p, ref, plans.get(p.id, [])) for p, ref in found]


def promise_summary(p: Promise) -> str:
    return f"{p.amount} by {p.due_date.isoformat()}"


@router.post("/queue/promises")
async def queue_record_promise(ctx: CtxDep) -> Response:
    """A promise from the work queue; errors come back as a message at the top of the queue."""
    form = await ctx.form()
    state, promise = await record_promise(ctx, form, QUEUE_PLAN_ROWS)
    if promise is None:
        ctx.flash("Promise not recorded: " + "; ".join(m for ms in state.errors.values() for m in ms), "error")
        return redirect(ctx.request, "/app/queue")
    return redirect(ctx.request, "/app/queue", flash=f"Promise recorded: {promise_summary(promise)}.")


# ------------------------------------------------------------------ payments


def payment_state() -> FormState:
    return FormState({k: "" for k in PAYMENT_FIELDS})


async def _payments_page(ctx: Ctx, form: FormState | None = None, status: int = 200,
                         match_errors: dict[str, str] | None = None) -> Response:
    params = ctx.request.query_params
    shown = params.get("status") if params.get("status") in PAYMENT_STATUSES else None
    pg, per = page_params(ctx.request)
    rows, total = await payments.list_payments(ctx.db, ctx.caller, payments.PaymentFilter(status=shown),
                                               offset=(pg - 1) * per, limit=per)
    unmatched_total = (await payments.list_payments(ctx.db, ctx.caller, payments.PaymentFilter(status="unmatched"),
                                                    offset=0, limit=1))[1]
    refs = await accounts.account_refs(ctx.db, [p.account_id for p in rows if p.account_id is not None])
    pages = max(1, -(-total // per))
    return page(ctx, "collections/payments.html", status=status, payments=rows, refs=refs, total=total,
                page_no=min(pg, pages), pages=pages, shown=shown, statuses=PAYMENT_STATUSES,
                unmatched_total=unmatched_total, form=form or payment_state(), match_errors=match_errors or {},
                may_record=ctx.caller.role in PAYERS and ctx.can_write)


@router.get("/payments")
async def payment_list(ctx: CtxDep) -> Response:
    return await _payments_page(ctx)


@router.post("/payments")
async def record_payment(ctx: CtxDep) -> Response:
    form = await ctx.form()
    state = FormState({k: text(form, k) for k in PAYMENT_FIELDS})
    body = {"reference": state.values["reference"], "amount": state.values["amount"],
            "paidOn": state.values["paid_on"]}
    body |= {api: state.values[k] for k, api in (("method", "method"), ("external_id", "externalId"),
                                                  ("note", "note")) if state.values[k]}
    try:
        done = await payments.record(ctx.db, ctx.caller, body)
    except ValidationFailed as exc:
        state.error(exc, {"paidOn": "paid_on", "externalId": "external_id", "account": "reference"})
        return await _payments_page(ctx, state, 400)
    p = done.payment
    if not done.created:
        flash = f"This external id was recorded before ({p.amount} on {p.paid_on}): nothing added."
    elif p.status == "unmatched":
        flash = f"Payment of {p.amount} recorded, unmatched: no account has the reference {p.reference!r}. Match it below."
    else:
        flash = f"Payment of {p.amount} recorded."
    return redirect(ctx.request, "/app/payments", flash=flash)


@router.post("/payments/{payment_id}/match")
async def match_payment(ctx: CtxDep, payment_id: str) -> Response:
    """Match an unmatched payment to the account with the reference typed (an account code or a
    loan number), or an account's id."""
    form = await ctx.form()
    reference = text(form, "reference")
    account_id = accounts.parse_account_id(reference)
    if account_id is None and reference:
        account_id = (await payments.match_lines(ctx.db, ctx.caller.org_id, [reference])).get(reference)
    if account_id is None:
        await payments.get_payment(ctx.db, ctx.caller, payment_id)  # 404 before saying anything about it
        message = "Type the account code or loan number." if not reference else f"No account has the reference {reference!r}."
        return await _payments_page(ctx, status=400, match_errors={payment_id: message})
    await payments.get_payment(ctx.db, ctx.caller, payment_id)  # a payment not seen is a 404 page
    try:
        p = await payments.match(ctx.db, ctx.caller, payment_id, account_id)
    except DomainError as exc:
        if exc.status == 403:
            raise
        message = f"No account you may see has the reference {reference!r}." if exc.status == 404 else exc.message
        return await _payments_page(ctx, status=400, match_errors={payment_id: message})
    return redirect(ctx.request, "/app/payments?status=unmatched", flash=f"Payment of {p.amount} matched to {reference}.")
