"""The premium face's API-key resolution: a `pct_` key and its cell captive, read in one query by
identity's shared resolver (`identity.resolve_api_key`). The face adds its own refusals (a user
token, an `ins_` key); the captive's status is checked by the caller of `resolve_pct_key` after
the rate limit, as before.
"""

from __future__ import annotations

from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncSession

from arrears.errors import Unauthorized
from arrears.identity import service as identity
from arrears.identity.caller import Caller
from arrears.identity.errors import IdentityErrorCode
from arrears.identity.models import Organisation

NOT_A_PCT_KEY = ("These endpoints take a cell captive's API key (Authorization: Bearer pct_…), "
                 "not a user token")


async def resolve_pct_key(request: Request, session: AsyncSession) -> tuple[Caller, Organisation]:
    """The caller of a `pct_` bearer key and its organisation (not yet checked for activity)."""
    token = identity.bearer_token(request.headers.get("authorization"))
    if not token:
        raise Unauthorized("Authentication credentials were not provided", code=IdentityErrorCode.MISSING_CREDENTIALS)
    if not token.startswith("pct_"):
        raise Unauthorized(NOT_A_PCT_KEY, code=IdentityErrorCode.INVALID_API_KEY)
    caller, org = await identity.resolve_api_key(session, token)
    if caller.api_key is None or caller.api_key.kind != "pct":
        raise Unauthorized("API key not found or invalid format", code=IdentityErrorCode.INVALID_API_KEY)
    request.state.user_id = None
    request.state.org_id = caller.org_id
    request.state.caller = caller
    return caller, org


require_active = identity.require_active  # the rule, on the organisation read with the key
