"""Agents: each agent's promises (made, kept, broken, open, the kept rate) and the amount promised
against the amount paid, over a period (the last 12 months unless chosen), then month by month.
The figures are arrears.figures' and cover the accounts this person sees."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from arrears.errors import ValidationFailed
from arrears.figures import service as figures
from arrears.web.context import CtxDep
from arrears.web.render import page

router = APIRouter()


@router.get("/agents")
async def agents(ctx: CtxDep) -> Response:
    params = ctx.request.query_params
    today = await figures.org_today(ctx.db, ctx.caller.org_id)
    errors: dict[str, list[str]] = {}
    try:
        span = figures.period(params.get("dateFrom"), params.get("dateTo"), today=today)
    except ValidationFailed as exc:
        errors = exc.field_errors or {"dateFrom": [exc.message]}
        span = figures.period(today=today)
    rows = await figures.promise_figures(ctx.db, ctx.caller, span)
    return page(ctx, "figures/agents.html", status=400 if errors else 200, span=span, errors=errors,
                agents=figures.agent_totals(rows), rows=rows, months=figures.month_totals(rows, span),
                date_from=params.get("dateFrom", ""), date_to=params.get("dateTo", ""))
