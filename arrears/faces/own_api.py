"""What Arrears' own /api/v1 faces (accounts, tasks, promises, payments, figures, strategies,
letters, templates, import profiles) share, written once: the caller (a user's JWT or a partner
`ins_` key, through the partner face's dependency, so that every route gets its rate limit and usage
row), the key's scope check, a list's date parameter, and money written as JSON numbers.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from fastapi import Depends
from fastapi.responses import JSONResponse

from arrears.db import isoz
from arrears.errors import Forbidden, ValidationFailed
from arrears.faces.exact_json import dumps
from arrears.faces.partner.deps import PartnerDep
from arrears.identity.caller import Caller


class MoneyJSON(JSONResponse):
    """Decimals as JSON numbers (never through float), times in UTC with Z."""

    def render(self, content: Any) -> bytes:
        return dumps(content, when=lambda v: isoz(v) if isinstance(v, datetime) else v.isoformat()).encode()


async def api_caller(pc: PartnerDep) -> Caller:
    return pc.caller


ApiCaller = Annotated[Caller, Depends(api_caller)]


def require_scope(caller: Caller, *scopes: str) -> None:
    """An `ins_` key needs one of `scopes` (users are checked by role in the services)."""
    if caller.kind == "api_key" and not any(caller.has_scope(s) for s in scopes):
        raise Forbidden(f"This API key needs the {scopes[0]} scope")


def list_day(name: str, raw: str | None) -> date | None:
    """A list's `dateFrom`/`dateTo` (YYYY-MM-DD), None when absent; else the face's 400 naming it."""
    if raw is None or not raw.strip():
        return None
    try:
        return date.fromisoformat(raw.strip())
    except ValueError:
        raise ValidationFailed(f"Invalid list parameters: {name}",
                               field_errors={name: ["Not a valid date (YYYY-MM-DD)."]}) from None
