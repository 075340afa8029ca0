"""Premiums: policies and collections with filters, updating by themselves while open, and the
premium API's request log. Keys for the premium API are under Settings → API keys."""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response

from arrears.premiums import listing as premium_lists
from arrears.premiums import webhook_log
from arrears.premiums.schemas import collection_out, policy_out
from arrears.premiums.state import FREQUENCIES, POLICY_STATUSES, STATUSES
from arrears.web.context import CtxDep
from arrears.web.forms import FormState
from arrears.web.paging import page_params, paged_query
from arrears.web.render import is_htmx, page, render_html

router = APIRouter(prefix="/premiums")
REFRESH_SECONDS = 10


def _date(value: str | None, name: str, state: FormState) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        state.add(name, "Use a date such as 2026-01-31.")
        return None


@router.get("")
async def index(ctx: CtxDep) -> Response:
    return await policies(ctx)


@router.get("/policies")
async def policies(ctx: CtxDep) -> Response:
    p = ctx.request.query_params
    f = {"search": p.get("search", "").strip(), "status": p.get("status", ""), "frequency": p.get("frequency", "")}
    f["status"] = f["status"] if f["status"] in POLICY_STATUSES else ""
    f["frequency"] = f["frequency"] if f["frequency"] in FREQUENCIES else ""
    pg, per = page_params(ctx.request)
    rows = await paged_query(ctx.db, premium_lists.policy_list(ctx.caller, search=f["search"], status=f["status"] or None,
                                                      frequency=f["frequency"] or None), pg, per)
    items = rows.with_items([policy_out(r) for r in rows.items])
    context: dict[str, Any] = {"rows": items, "f": f, "statuses": POLICY_STATUSES, "frequencies": FREQUENCIES, "tab": "policies",
               "refresh": REFRESH_SECONDS}
    if is_htmx(ctx.request) and ctx.request.headers.get("hx-target") == "live-table":
        return render_html(ctx.request, "premiums/_policies_table.html", context, ctx=ctx)
    return page(ctx, "premiums/policies.html", **context)


@router.get("/policies/{policy_number}")
async def policy(ctx: CtxDep, policy_number: str) -> Response:
    p = await premium_lists.policy(ctx.db, ctx.caller, policy_number)
    pg, per = page_params(ctx.request)
    rows = await paged_query(ctx.db, premium_lists.collection_list(ctx.caller, policy_id=p.id), pg, per, scalars=False)
    items = rows.with_items([collection_out(c, pol) for c, pol in rows.items])
    return page(ctx, "premiums/policy.html", policy=policy_out(p), rows=items, tab="policies")


@router.get("/collections")
async def collections(ctx: CtxDep) -> Response:
    p = ctx.request.query_params
    state = FormState()
    f: dict[str, Any] = {"search": p.get("search", "").strip(), "status": p.get("status", ""),
                         "date_from": p.get("date_from", ""), "date_to": p.get("date_to", "")}
    f["status"] = f["status"] if f["status"] in STATUSES else ""
    start, end = _date(f["date_from"], "date_from", state), _date(f["date_to"], "date_to", state)
    pg, per = page_params(ctx.request)
    rows = await paged_query(ctx.db, premium_lists.collection_list(ctx.caller, search=f["search"], status=f["status"] or None,
                                                         date_from=start, date_to=end), pg, per, scalars=False)
    items = rows.with_items([collection_out(c, pol) for c, pol in rows.items])
    context: dict[str, Any] = {"rows": items, "f": f, "statuses": STATUSES, "form": state, "tab": "collections",
               "refresh": REFRESH_SECONDS}
    if is_htmx(ctx.request) and ctx.request.headers.get("hx-target") == "live-table":
        return render_html(ctx.request, "premiums/_collections_table.html", context, ctx=ctx)
    return page(ctx, "premiums/collections.html", **context)


@router.get("/log")
async def log(ctx: CtxDep) -> Response:
    pg, per = page_params(ctx.request, default=50, maximum=webhook_log.MAX_LIMIT)
    result = await premium_lists.request_log(ctx.db, ctx.caller, page=pg, limit=per)
    return page(ctx, "premiums/log.html", rows=result,
                tab="log")

