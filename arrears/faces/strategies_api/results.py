"""`GET /api/v1/strategies/{id}/results`: what followed each step, per variant, within 30 days
(arrears.strategies.results says what counts). The collection strategies face includes this
router; it shares the face's conventions (errors, camelCase, money as exact JSON numbers).

Callers: admins and managers (JWT, read or write access), or `ins_` keys with `strategies:read`
(or `:write`, or `*`); other roles 403; another organisation's strategy 404."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Query

from arrears.errors import Forbidden, ValidationFailed
from arrears.faces.deps import SessionDep
from arrears.faces.own_api import ApiCaller, MoneyJSON
from arrears.faces.partner.routing import PartnerRoute
from arrears.strategies import results

# No prefix and no dependencies of its own: the face's router, which includes it, adds both.
router = APIRouter(route_class=PartnerRoute)

DESCRIPTION = ("Scope for `ins_` keys: `strategies:read` (or `strategies:write`); `*` covers every scope. "
               "Users (JWT): admins and managers. Per step and variant (A champion, B challenger): entered "
               "(step executions), contacted, promised, paid and collected within 30 days of the step; "
               "`from`/`until` limit the steps' days.")


def _day(raw: str | None, name: str) -> date | None:
    if raw is None or raw == "":
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise ValidationFailed(f"{name} must be a date (YYYY-MM-DD)", field_errors={name: ["Must be YYYY-MM-DD."]}
                               ) from None


@router.get("/strategies/{strategy_id}/results", summary="Results per step and variant (30 days after each step)",
            description=DESCRIPTION)
async def strategy_results(strategy_id: str, session: SessionDep, caller: ApiCaller,
                           since: str | None = Query(None, alias="from"), until: str | None = Query(None)
                           ) -> MoneyJSON:
    if caller.kind == "api_key" and not (caller.has_scope("strategies:read") or caller.has_scope("strategies:write")):
        raise Forbidden("This API key needs the strategies:read scope")
    out = await results.results(session, caller, strategy_id, since=_day(since, "from"), until=_day(until, "until"))
    return MoneyJSON(out)
