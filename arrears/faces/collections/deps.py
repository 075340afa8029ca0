"""Who may call `/api/v1/collections/…`: a user of the captive (JWT; writing needs write access)
or a `pct_` API key of the captive with `collections:read` (GET) or `collections:write`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import Depends, Query
from sqlalchemy.ext.asyncio import AsyncSession

from arrears.errors import Forbidden, Unauthorized
from arrears.faces.deps import CallerDep, SessionDep
from arrears.identity import service as identity
from arrears.identity.caller import Caller
from arrears.identity.errors import IdentityErrorCode
from arrears.identity.models import Organisation
from arrears.paging import PageRequest, PageRule, page_count

MAX_LIMIT = 100
PAGES = PageRule(50, MAX_LIMIT, size_name="limit")


@dataclass
class Call:
    session: AsyncSession
    caller: Caller
    org: Organisation

    @property
    def org_id(self) -> int:
        return self.org.id

    @property
    def actor(self) -> str:
        return self.caller.actor


def access(write: bool) -> Any:
    scope = "collections:write" if write else "collections:read"

    async def dependency(session: SessionDep, caller: CallerDep) -> Call:
        if caller.kind == "api_key" and (caller.api_key is None or caller.api_key.kind != "pct"):
            raise Unauthorized("These endpoints take a user's access token or a cell captive's API key "
                               "(Authorization: Bearer pct_…)", code=IdentityErrorCode.INVALID_API_KEY)
        org = await identity.require_active_org(session, caller)
        if caller.kind == "api_key":
            if not (caller.has_scope(scope) or (not write and caller.has_scope("collections:write"))):
                raise Forbidden(f"This API key lacks the {scope} permission")
        elif write:
            caller.require_write()
        return Call(session, caller, org)

    return Depends(dependency)


def paging(page: int = Query(1), limit: int = Query(PAGES.default)) -> PageRequest:
    """`page` ≥ 1 and `limit` 1–100 (default 50), as the premium face pages."""
    return PAGES.check(page, limit)


def pagination(req: PageRequest, total: int) -> dict[str, int]:
    return {"page": req.page, "limit": req.size, "total": total, "pages": page_count(total, req.size)}
