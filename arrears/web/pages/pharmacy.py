"""Pharmacy debtors: the list with the spec's filters and the statistics, e-mail and SMS
reminders with the answer per debtor, CSV and PDF downloads of what the filter keeps, and each
debtor's communication history. Everything goes through the pharmacy domain's services — the
same ones the pharmacy API face calls — for the organisation the person is signed in to."""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response, StreamingResponse

from arrears.db import utcnow
from arrears.downloads import content_disposition
from arrears.errors import ValidationFailed
from arrears.faces.pharmacy import params
from arrears.messaging.providers import ProviderNotConfigured
from arrears.pharmacy import communications, exports, reminders
from arrears.pharmacy import debtors as pharmacy
from arrears.web.context import Ctx, CtxDep
from arrears.web.forms import FormState, many, text
from arrears.web.paging import Page, page_params
from arrears.web.render import page

router = APIRouter(prefix="/pharmacy")

BUCKET_CHOICES = [(b, exports.BUCKET_LABELS[b]) for b in exports.BUCKETS]
FILTER_FIELDS = ("search", "min_balance", "has_email", "has_phone")


def _values(ctx: Ctx) -> dict[str, Any]:
    """The filter as the person typed it (kept in the form and the links)."""
    p = ctx.request.query_params
    values: dict[str, Any] = {k: p.get(k, "").strip() for k in FILTER_FIELDS}
    values["ageing_buckets"] = [b for b in p.getlist("ageing_buckets") if b]
    values["include_medical_aid"] = p.get("include_medical_aid") in ("1", "true", "on")
    return values


def _filter(values: dict[str, Any], state: FormState) -> pharmacy.DebtorFilter | None:
    """The service's filter, or None with the reason beside the field it concerns."""
    try:
        return params.debtor_filter(
            search=values["search"] or None, min_balance=values["min_balance"] or None,
            has_email=values["has_email"] or None, has_phone=values["has_phone"] or None,
            ageing_buckets=values["ageing_buckets"] or None,
            exclude_medical_aid=not values["include_medical_aid"])
    except ValidationFailed as exc:
        for field, messages in (exc.field_errors or {"__all__": [exc.message]}).items():
            for message in messages:
                state.add(field, message)
        return None


@router.get("")
async def debtor_list(ctx: CtxDep) -> Response:
    values = _values(ctx)
    state = FormState(values)
    f = _filter(values, state)
    pg, per = page_params(ctx.request)
    if f is None:
        rows: Page[Any] = Page([], 0, 1, per)
        stats = None
    else:
        found = await pharmacy.list_debtors(ctx.db, ctx.caller, f, page=pg, per_page=per)
        if found.total and pg > found.pages:  # a typed page past the end shows the last one
            found = await pharmacy.list_debtors(ctx.db, ctx.caller, f, page=found.pages, per_page=per)
        rows = found.with_items([pharmacy.debtor_view(a) for a in found.items])
        stats = await pharmacy.statistics(ctx.db, ctx.caller, exclude_medical_aid=f.exclude_medical_aid)
    amount_buckets = f.amount_buckets if f else pharmacy.ARREARS_BUCKETS
    return page(ctx, "pharmacy/debtors.html", status=200 if state.ok else 400, form=state, f=values,
                rows=rows, stats=stats, buckets=BUCKET_CHOICES, amount_buckets=amount_buckets,
                amount_label=_bucket_names(amount_buckets), nonce=secrets.token_hex(8),
                download_query=ctx.request.url.query)


def _bucket_names(buckets: tuple[str, ...]) -> str:
    return ", ".join(exports.BUCKET_LABELS.get(b, "Balance") for b in buckets)


# ------------------------------------------------------------------ downloads


async def _export(ctx: Ctx) -> tuple[pharmacy.DebtorFilter, list[dict[str, Any]]]:
    values = _values(ctx)
    state = FormState(values)
    f = _filter(values, state)
    if f is None:
        raise ValidationFailed(" ".join(m for msgs in state.errors.values() for m in msgs))
    return f, await pharmacy.export_rows(ctx.db, ctx.caller, f)


@router.get("/debtors.csv")
async def download_csv(ctx: CtxDep) -> Response:
    f, rows = await _export(ctx)
    return StreamingResponse(exports.debtors_csv(rows, f.amount_buckets), media_type="text/csv; charset=utf-8",
                             headers={"Content-Disposition": content_disposition(f"debtors_{ctx.org.id}.csv", quoted=False)})


@router.get("/debtors.pdf")
async def download_pdf(ctx: CtxDep) -> Response:
    f, rows = await _export(ctx)
    buckets = [b for b in f.amount_buckets if b != "balance"]
    # reportlab is pure Python: a thread keeps the server answering while it draws.
    data = await asyncio.to_thread(exports.debtors_pdf, rows, pharmacy_name=ctx.org.name, generated_at=utcnow(),
                                   buckets=buckets, totals=pharmacy.totals_of(rows))
    return Response(data, media_type="application/pdf",
                    headers={"Content-Disposition": content_disposition(f"debtors_{ctx.org.id}.pdf", quoted=False)})


# ------------------------------------------------------------------ reminders


@router.post("/remind")
async def remind(ctx: CtxDep) -> Response:
    ctx.require_write()
    form = await ctx.form()
    channel = text(form, "channel")
    if channel not in ("email", "sms"):
        raise ValidationFailed("Choose e-mail or SMS reminders.")
    ids = [int(i) for i in many(form, "debtor_ids") if i.isdigit()]
    buckets = [b for b in many(form, "ageing_buckets") if b] or None
    back = text(form, "back") or "/app/pharmacy"
    if not back.startswith("/app/pharmacy"):
        back = "/app/pharmacy"
    if not ids:
        return page(ctx, "pharmacy/results.html", status=400, channel=channel, result=None, back=back,
                    problem="Tick the debtors to remind first.")
    try:
        plan = await reminders.plan(ctx.db, ctx.caller, channel, ids, params.parse_buckets(buckets))
    except (ValidationFailed, ProviderNotConfigured) as exc:  # no credentials, an unknown bucket
        return page(ctx, "pharmacy/results.html", status=400, channel=channel, result=None, back=back,
                    problem=exc.message)
    names = await pharmacy.get_accounts(ctx.db, ctx.caller.org_id, ids)
    # Planning only read. End the request's transaction before dispatching: the dispatch writes
    # the outbox rows in transactions of its own (as the pharmacy API face does), and on SQLite
    # this request's transaction would hold the write lock until the response.
    await ctx.db.commit()
    # The same ticks sent twice (a double click, a reload) dispatch once.
    key = hashlib.sha256(f"{ctx.caller.user_id}:{channel}:{sorted(ids)}:{buckets}:{form.get('nonce', '')}"
                         .encode()).hexdigest()[:64]
    result = await reminders.send(ctx.caller, plan, idempotency_key=f"web:{key}")
    return page(ctx, "pharmacy/results.html", channel=channel, result=result, names=names, back=back,
                problem=None, amount_label=_bucket_names(tuple(buckets or pharmacy.ARREARS_BUCKETS)))


# ------------------------------------------------------------------ one debtor


@router.get("/debtors/{debtor_id:int}")
async def debtor_page(ctx: CtxDep, debtor_id: int) -> Response:
    account = await communications.get_debtor(ctx.db, ctx.caller, debtor_id)
    history = await communications.communications(ctx.db, ctx.caller, debtor_id)
    return page(ctx, "pharmacy/debtor.html", debtor=pharmacy.debtor_view(account), settled=account.settled_at,
                history=history, buckets=BUCKET_CHOICES)
