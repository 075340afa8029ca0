"""Agents: customers, loans and interactions; the work queue of calls and visits due today with a
quick form to record the outcome; the customer timeline. Every rule (who sees which customer,
who may record which kind of interaction) is the customers service's."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response

from arrears.accounts.service import accounts_of_customer, accounts_of_loans
from arrears.customers import interactions as customer_interactions
from arrears.customers import listing as customer_lists
from arrears.customers import loans as customer_loans
from arrears.customers import service as customers
from arrears.customers import timeline as customer_timeline
from arrears.customers.models import INTERACTION_TYPES, Customer, Loan
from arrears.errors import DomainError, ValidationFailed
from arrears.tasks import service as tasks
from arrears.web import nav
from arrears.web.context import Ctx, CtxDep
from arrears.web.forms import FormState, text
from arrears.web.pages import collections
from arrears.web.paging import page_params, paged_list, paged_query
from arrears.web.render import is_htmx, page, redirect, render_html, zone

router = APIRouter()

CUSTOMER_FORM_FIELDS = ("name", "customer_code", "phone", "email", "contact_person", "address_line_1",
                        "address_line_2", "city", "state", "pincode", "date_of_birth",
                        "assigned_collection_officer_id")
LOAN_FORM_FIELDS = ("loan_account_number", "principal_amount", "interest_rate", "loan_type",
                    "tenure_months", "loan_date")
TYPE_LABELS = {"calling": "Call", "field": "Visit"}


def local_today(ctx: Ctx) -> date:
    return datetime.now(zone(ctx.tz)).date()


def recordable_types(ctx: Ctx) -> list[str]:
    """The kinds of interaction this person may record (the interactions service decides)."""
    return customer_interactions.recordable_types(ctx.caller)


def dispositions(kind: str) -> list[tuple[str, str]]:
    return [(d, d.replace("_", " ").capitalize()) for d in customer_interactions.DISPOSITIONS[kind]]


async def officers(ctx: Ctx) -> list[tuple[str, str]]:
    return [(str(u.id), u.username) for u in await customers.assignable_officers(ctx.db, ctx.caller)]


# ------------------------------------------------------------------ customers


@router.get("/customers")
async def customer_list(ctx: CtxDep) -> Response:
    params = ctx.request.query_params
    search = params.get("search", "")
    sort = params.get("sort", "name") if params.get("sort") in ("name", "code", "created", "city") else "name"
    direction = "desc" if params.get("dir") == "desc" else "asc"
    pg, per = page_params(ctx.request)
    rows = await paged_query(ctx.db, customer_lists.customer_list(ctx.caller, search, sort=sort, direction=direction), pg, per)
    template = "agents/_customer_rows.html" if is_htmx(ctx.request) and params.get("partial") else "agents/customers.html"
    return page(ctx, template, customers=rows, search=search, sort=sort, dir=direction)


def _customer_values(form: Any) -> dict[str, Any]:
    values: dict[str, Any] = {k: text(form, k) for k in CUSTOMER_FORM_FIELDS}
    for k in ("customer_code", "date_of_birth", "assigned_collection_officer_id"):
        values[k] = values[k] or None
    return values


def _customer_state(c: Customer | None) -> FormState:
    if c is None:
        return FormState({k: "" for k in CUSTOMER_FORM_FIELDS})
    values = {k: getattr(c, k) for k in CUSTOMER_FORM_FIELDS}
    return FormState({k: "" if v is None else str(v) for k, v in values.items()})


async def _customer_form(ctx: Ctx, form: FormState, customer: Customer | None, status: int = 200) -> Response:
    return page(ctx, "agents/customer_form.html", status=status, form=form, customer=customer,
                officers=await officers(ctx))


@router.get("/customers/new")
async def new_customer(ctx: CtxDep) -> Response:
    ctx.require_write()
    return await _customer_form(ctx, _customer_state(None), None)


@router.post("/customers")
async def create_customer(ctx: CtxDep) -> Response:
    form = await ctx.form()
    values = _customer_values(form)
    try:
        customer = await customers.create_customer(ctx.db, ctx.caller, values)
    except ValidationFailed as exc:
        return await _customer_form(ctx, FormState(values).error(exc), None, 400)
    return redirect(ctx.request, f"/app/customers/{customer.id}", flash=f"Customer {customer.name} added.")


@router.get("/customers/{customer_id:int}")
async def customer_detail(ctx: CtxDep, customer_id: int) -> Response:
    return await customer_page(ctx, customer_id)


async def customer_page(ctx: Ctx, customer_id: int, *, promise_form: FormState | None = None,
                        status: int = 200) -> Response:
    """The customer page; `promise_form` shows the promise form as sent, with its errors."""
    customer = await customers.get_customer(ctx.db, ctx.caller, customer_id)
    loans = await customer_loans.list_loans(ctx.db, ctx.caller, customer.id)
    pg, per = page_params(ctx.request, default=20)
    timeline = paged_list(await customer_timeline.timeline(ctx.db, ctx.caller, customer.id), pg, per)
    officer = None
    if customer.assigned_collection_officer_id:
        officer = dict(await officers(ctx)).get(str(customer.assigned_collection_officer_id))
    accounts: list[Any] = []
    if nav.enabled("books"):
        from arrears.debtors import service as debtors

        accounts = await debtors.accounts_of_customer(ctx.db, ctx.caller, customer.id)
    owed, promises = await collections.customer_promises(ctx, customer.id)
    return page(ctx, "agents/customer.html", status=status, customer=customer, loans=loans, timeline=timeline,
                officer=officer, can_delete=customers.may_delete(ctx.caller), accounts=accounts,
                owed=owed, promises=promises, plan_rows=collections.PLAN_ROWS,
                promise_form=promise_form or collections.promise_state())


@router.post("/customers/{customer_id:int}/promises")
async def customer_record_promise(ctx: CtxDep, customer_id: int) -> Response:
    """A promise on one of the customer's accounts (the promises service decides who may)."""
    form = await ctx.form()
    owned = await accounts_of_customer(ctx.db, ctx.caller, customer_id)
    state, promise = await collections.record_promise(ctx, form, collections.PLAN_ROWS, {a.id for a, _ in owned})
    if promise is None:
        return await customer_page(ctx, customer_id, promise_form=state, status=400)
    return redirect(ctx.request, f"/app/customers/{customer_id}",
                    flash=f"Promise recorded: {collections.promise_summary(promise)}.")


@router.get("/customers/{customer_id:int}/edit")
async def edit_customer(ctx: CtxDep, customer_id: int) -> Response:
    customer = await customers.get_customer(ctx.db, ctx.caller, customer_id)
    ctx.require_write()
    return await _customer_form(ctx, _customer_state(customer), customer)


@router.post("/customers/{customer_id:int}")
async def update_customer(ctx: CtxDep, customer_id: int) -> Response:
    form = await ctx.form()
    values = _customer_values(form)
    try:
        customer = await customers.update_customer(ctx.db, ctx.caller, customer_id, values)
    except ValidationFailed as exc:
        existing = await customers.get_customer(ctx.db, ctx.caller, customer_id)
        return await _customer_form(ctx, FormState(values).error(exc), existing, 400)
    return redirect(ctx.request, f"/app/customers/{customer.id}", flash="Customer saved.")


@router.post("/customers/{customer_id:int}/delete")
async def delete_customer(ctx: CtxDep, customer_id: int) -> Response:
    await customers.delete_customer(ctx.db, ctx.caller, customer_id)
    return redirect(ctx.request, "/app/customers", flash="Customer deleted, with their loans and interactions.")


# ------------------------------------------------------------------ loans


def _loan_state(customer_id: str = "") -> FormState:
    values = {k: "" for k in LOAN_FORM_FIELDS} | {"customer_id": customer_id}
    return FormState(values)


async def _loan_form(ctx: Ctx, form: FormState, customer: Customer, status: int = 200) -> Response:
    return page(ctx, "agents/loan_form.html", status=status, form=form, customer=customer)


@router.get("/loans/new")
async def new_loan(ctx: CtxDep) -> Response:
    raw = ctx.request.query_params.get("customer", "")
    customer = await customers.get_customer(ctx.db, ctx.caller, int(raw) if raw.isdigit() else 0)
    ctx.require_write()
    return await _loan_form(ctx, _loan_state(str(customer.id)), customer)


@router.post("/loans")
async def create_loan(ctx: CtxDep) -> Response:
    form = await ctx.form()
    values = {k: text(form, k) for k in (*LOAN_FORM_FIELDS, "customer_id")}
    customer = await customers.get_customer(ctx.db, ctx.caller, int(values["customer_id"])
                                            if values["customer_id"].isdigit() else 0)
    try:
        loan = await customer_loans.create_loan(ctx.db, ctx.caller, values)
    except ValidationFailed as exc:
        return await _loan_form(ctx, FormState(values).error(exc), customer, 400)
    return redirect(ctx.request, f"/app/loans/{loan.id}", flash=f"Loan {loan.loan_account_number} added.")


async def _interactions(ctx: Ctx, loan: Loan) -> list[tuple[str, Any]]:
    rows: list[tuple[str, Any]] = []
    for kind in INTERACTION_TYPES:
        rows.extend((kind, r) for r in await customer_interactions.list_interactions(ctx.db, ctx.caller, kind, loan.id))
    rows.sort(key=lambda kr: (kr[1].timestamp, kr[1].id), reverse=True)
    return rows


async def _loan_page(ctx: Ctx, loan: Loan, form: FormState, status: int = 200) -> Response:
    customer = await customers.get_customer(ctx.db, ctx.caller, loan.customer_id)
    pg, per = page_params(ctx.request, default=20)
    rows = paged_list(await _interactions(ctx, loan), pg, per)
    types = recordable_types(ctx)
    return page(ctx, "agents/loan.html", status=status, loan=loan, customer=customer, interactions=rows,
                form=form, types=types, type_labels=TYPE_LABELS,
                dispositions={t: dispositions(t) for t in INTERACTION_TYPES})


@router.get("/loans/{loan_id:int}")
async def loan_detail(ctx: CtxDep, loan_id: int) -> Response:
    loan = await customer_loans.get_loan(ctx.db, ctx.caller, loan_id)
    types = recordable_types(ctx)
    return await _loan_page(ctx, loan, FormState({"interaction_type": types[0] if types else "",
                                                  "disposition": "", "next_call_date": "", "comment": ""}))


async def _record(ctx: Ctx, loan_id: int, form: Any) -> tuple[FormState, Any]:
    state = FormState({k: text(form, k) for k in ("interaction_type", "disposition", "next_call_date", "comment")})
    kind = state.values["interaction_type"] or (recordable_types(ctx) or ["calling"])[0]
    state.values["interaction_type"] = kind
    try:
        row = await customer_interactions.create_interaction(
            ctx.db, ctx.caller, kind,
            {"loan_id": loan_id, "disposition": state.values["disposition"],
             "next_call_date": state.values["next_call_date"] or None, "comment": state.values["comment"]})
    except ValidationFailed as exc:
        if exc.field_errors and "disposition" in exc.field_errors and not state.values["disposition"]:
            exc.field_errors["disposition"] = ["Choose what happened."]
        return state.error(exc, {"loan_id": "__all__"}), None
    return state, row


@router.post("/loans/{loan_id:int}/interactions")
async def record_interaction(ctx: CtxDep, loan_id: int) -> Response:
    loan = await customer_loans.get_loan(ctx.db, ctx.caller, loan_id)
    state, row = await _record(ctx, loan.id, await ctx.form())
    if row is None:
        return await _loan_page(ctx, loan, state, 400)
    return redirect(ctx.request, f"/app/loans/{loan.id}",
                    flash=f"{TYPE_LABELS[row.interaction_type]} recorded: {row.disposition.replace('_', ' ')}.")


# ------------------------------------------------------------------ work queue


@router.get("/queue")
async def work_queue(ctx: CtxDep) -> Response:
    today = local_today(ctx)
    due = await customer_interactions.due_interactions(ctx.db, ctx.caller, today)
    pg, per = page_params(ctx.request, default=25)
    items = paged_list(due, pg, per)
    types = recordable_types(ctx)
    # Beside the due interactions: the open call and visit tasks on accounts owed (arrears.tasks).
    due_tasks = await tasks.due_tasks(ctx.db, ctx.caller, today)
    return page(ctx, "agents/queue.html", items=items, today=today, types=types, type_labels=TYPE_LABELS,
                dispositions={t: dispositions(t) for t in INTERACTION_TYPES}, tasks=due_tasks,
                can_close=ctx.caller.access == "write",
                empty_form=FormState({"interaction_type": types[0] if types else ""}),
                **await _promise_context(ctx, [loan.id for _, loan, _ in items.items]))


async def _promise_context(ctx: Ctx, loan_ids: list[int]) -> dict[str, Any]:
    """What the queue's promise forms need: each loan's account, an empty form."""
    return {"can_promise": ctx.can_write, "loan_accounts": await accounts_of_loans(ctx.db, ctx.caller, loan_ids),
            "promise_rows": collections.QUEUE_PLAN_ROWS,
            "promise_empty": collections.promise_state(collections.QUEUE_PLAN_ROWS)}


@router.post("/queue/tasks/{task_id}")
async def queue_close_task(ctx: CtxDep, task_id: str) -> Response:
    """Mark a task done or cancelled (the tasks service decides who may)."""
    form = await ctx.form()
    status = text(form, "status") or "done"
    try:
        task = await tasks.update_task(ctx.db, ctx.caller, task_id, {"status": status})
    except ValidationFailed as exc:
        ctx.flash(exc.message, "error")
        return redirect(ctx.request, "/app/queue")
    except DomainError as exc:
        if exc.status == 404:
            raise
        ctx.flash(exc.message, "error")
        return redirect(ctx.request, "/app/queue")
    return redirect(ctx.request, "/app/queue", flash=f"Task {task.status}.")


@router.post("/queue/{loan_id:int}")
async def queue_record(ctx: CtxDep, loan_id: int) -> Response:
    loan = await customer_loans.get_loan(ctx.db, ctx.caller, loan_id)
    form = await ctx.form()
    state, row = await _record(ctx, loan.id, form)
    customer = await customers.get_customer(ctx.db, ctx.caller, loan.customer_id)
    context = {"loan": loan, "customer": customer, "form": state, "row": row, "types": recordable_types(ctx),
               "type_labels": TYPE_LABELS, "dispositions": {t: dispositions(t) for t in INTERACTION_TYPES},
               "previous": None, "today": local_today(ctx), "empty_form": FormState(),
               **await _promise_context(ctx, [loan.id])}
    if not is_htmx(ctx.request):
        if row is None:
            ctx.flash("; ".join(m for ms in state.errors.values() for m in ms), "error")
            return redirect(ctx.request, "/app/queue")
        return redirect(ctx.request, "/app/queue", flash=f"Recorded for {customer.name}.")
    return render_html(ctx.request, "agents/_queue_item.html", context, ctx=ctx, status=200 if row else 400)
