"""Arrears' own figures under /api/v1/figures with the partner face's conventions (errors
{"error": CODE, "message", "details"}, camelCase, UUID ids, the partner rate limit and usage log):
promises per agent and month, money collected per month, the collection effectiveness index between
two reports. The rules are arrears.figures.service's; this face only translates.

Callers: any member's JWT (figures over the accounts they may see) or a partner `ins_` key with
`figures:read` (or `accounts:read`/`accounts:write`, which read the same accounts; `*` grants all).
Money as JSON numbers, digit for digit; rates as percentages (0–100, two decimals) or null.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import Query

from arrears.db import isoz
from arrears.debtors.models import DebtorReport
from arrears.errors import Forbidden
from arrears.faces.deps import SessionDep
from arrears.faces.own_api import ApiCaller, MoneyJSON
from arrears.faces.partner.routing import partner_router
from arrears.figures import service as figures
from arrears.identity.caller import Caller

router = partner_router("/api/v1", "Figures")

SCOPES = ("figures:read", "accounts:read", "accounts:write")
NEEDS = ("Scope for `ins_` keys: `figures:read` (or `accounts:read`/`accounts:write`); `*` covers every scope. "
         "Users (JWT): any member, over the accounts they may see (docs/contracts.md, \"Figures\").")
PERIOD = "YYYY-MM-DD or YYYY-MM, inclusive; default: the last 12 months up to today (the organisation's day)"


def _scope(caller: Caller) -> None:
    if caller.kind == "api_key" and not any(caller.has_scope(s) for s in SCOPES):
        raise Forbidden("This API key needs the figures:read scope")


async def _period(session: Any, caller: Caller, date_from: str | None, date_to: str | None) -> figures.Period:
    return figures.period(date_from, date_to, today=await figures.org_today(session, caller.org_id))


def _counts(f: figures.PromiseFigures) -> dict[str, Any]:
    return {"made": f.made, "kept": f.kept, "broken": f.broken, "open": f.open, "cancelled": f.cancelled,
            "keptRate": f.kept_rate, "promised": f.promised, "paid": f.paid}


@router.get("/figures/promises", summary="Promises made, kept and broken per agent and month; promised vs paid",
            description=NEEDS)
async def promises(session: SessionDep, caller: ApiCaller,
                   date_from: str | None = Query(None, alias="dateFrom", description="made on or after: " + PERIOD),
                   date_to: str | None = Query(None, alias="dateTo", description="made on or before")) -> MoneyJSON:
    _scope(caller)
    span = await _period(session, caller, date_from, date_to)
    rows = await figures.promise_figures(session, caller, span)
    return MoneyJSON({
        "dateFrom": span.date_from.isoformat(), "dateTo": span.date_to.isoformat(),
        "data": [{"agentId": r.agent_id, "agent": r.agent, "month": r.month} | _counts(r) for r in rows],
        "agents": [{"agentId": r.agent_id, "agent": r.agent} | _counts(r) for r in figures.agent_totals(rows)],
        "months": [{"month": r.month} | _counts(r) for r in figures.month_totals(rows, span)],
    })


@router.get("/figures/collected", summary="Money collected per month (payments, and book falls no payment explains)",
            description=NEEDS)
async def collected(session: SessionDep, caller: ApiCaller,
                    date_from: str | None = Query(None, alias="dateFrom", description=PERIOD),
                    date_to: str | None = Query(None, alias="dateTo")) -> MoneyJSON:
    _scope(caller)
    span = await _period(session, caller, date_from, date_to)
    rows = await figures.collected(session, caller, span)

    def out(month: str | None, payments: Any, falls: Any, explained: Any, book: Any) -> dict[str, Any]:
        return ({"month": month} if month else {}) | {
            "payments": payments, "bookFalls": falls, "paymentsInFalls": explained, "book": book,
            "collected": payments + book}

    return MoneyJSON({
        "dateFrom": span.date_from.isoformat(), "dateTo": span.date_to.isoformat(),
        "data": [out(r.month, r.payments, r.book_falls, r.payments_in_falls, r.book) for r in rows],
        "totals": out(None, sum((r.payments for r in rows), figures.ZERO),
                      sum((r.book_falls for r in rows), figures.ZERO),
                      sum((r.payments_in_falls for r in rows), figures.ZERO),
                      sum((r.book for r in rows), figures.ZERO)),
    })


def _report_out(r: DebtorReport | None) -> dict[str, Any] | None:
    if r is None:
        return None
    return {"id": str(r.uuid), "reportDate": r.report_date.isoformat() if r.report_date else None,
            "filename": r.original_filename, "partial": bool(r.partial),
            "uploadedAt": isoz(r.created_at) if isinstance(r.created_at, datetime) else None}


@router.get("/figures/cei", summary="The collection effectiveness index between two reports", description=NEEDS)
async def cei(session: SessionDep, caller: ApiCaller,
              from_report: str | None = Query(None, alias="fromReport", description="the earlier report's id"),
              to_report: str | None = Query(None, alias="toReport",
                                            description="the later report's id; both or neither "
                                                        "(default: the two newest completed reports)")) -> MoneyJSON:
    _scope(caller)
    c = await figures.cei(session, caller, from_report or None, to_report or None)
    if c is None:
        return MoneyJSON({"fromReport": None, "toReport": None, "beginningReceivables": None, "creditSales": None,
                          "endingReceivables": None, "endingCurrentReceivables": None, "cei": None})
    return MoneyJSON({"fromReport": _report_out(c.earlier), "toReport": _report_out(c.later),
                      "beginningReceivables": c.beginning, "creditSales": c.credit_sales,
                      "endingReceivables": c.ending, "endingCurrentReceivables": c.ending_current,
                      "cei": c.index})


__all__ = ["router"]
