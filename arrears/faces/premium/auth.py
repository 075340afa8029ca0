"""The premium face's API-key resolution: the `pct_` key and its cell captive in one query.

The shared resolver (`identity.resolve`, then `identity.require_active_org`) reads the key and the
organisation in two round trips; every webhook pays for both, and on this hot path a round trip
is most of the cost (see docs/benchmarks-premium.md). The checks and their codes are the
resolver's, in the same order: format, unknown, revoked, expired (401); the captive's status is
checked by the caller of `resolve_pct_key` after the rate limit, as before.
"""

from __future__ import annotations

import re
from datetime import timedelta

from fastapi import Request
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from arrears.db import utcnow
from arrears.errors import DomainError, Unauthorized
from arrears.identity import crypto
from arrears.identity import service as identity
from arrears.identity.caller import Caller
from arrears.identity.models import ApiKey, Organisation

_PCT = re.compile(r"pct_[0-9a-f]{64}")
NOT_A_PCT_KEY = ("These endpoints take a cell captive's API key (Authorization: Bearer pct_…), "
                 "not a user token")
# Writing last_used_at on every request would turn reads into writes; a minute is precise enough.
LAST_USED_PRECISION = timedelta(seconds=60)


async def resolve_pct_key(request: Request, session: AsyncSession) -> tuple[Caller, Organisation]:
    """The caller of a `pct_` bearer key and its organisation (not yet checked for activity)."""
    token = identity.bearer_token(request.headers.get("authorization"))
    if not token:
        raise Unauthorized("Authentication credentials were not provided", code="MISSING_CREDENTIALS")
    if not token.startswith("pct_"):
        raise Unauthorized(NOT_A_PCT_KEY, code="INVALID_API_KEY")
    if _PCT.fullmatch(token) is None:
        raise Unauthorized("API key not found or invalid format", code="INVALID_API_KEY")
    row = (await session.execute(
        select(ApiKey, Organisation).join(Organisation, Organisation.id == ApiKey.org_id)
        .where(ApiKey.key_hash == crypto.hash_key(token)))).first()
    if row is None or row[0].kind != "pct":
        raise Unauthorized("API key not found or invalid format", code="INVALID_API_KEY")
    key, org = row
    now = utcnow()
    if key.revoked_at is not None:
        raise Unauthorized("API key has been revoked", code="API_KEY_REVOKED")
    if key.expires_at is not None and key.expires_at <= now:
        raise Unauthorized("API key has expired", code="API_KEY_EXPIRED")
    if key.last_used_at is None or now - key.last_used_at > LAST_USED_PRECISION:
        key.last_used_at = now  # flushed with the request's first write
    caller = Caller(kind="api_key", org_id=key.org_id, api_key=key, access="write",
                    scopes=frozenset(key.scopes or ()))
    request.state.user_id = None
    request.state.org_id = caller.org_id
    request.state.caller = caller
    return caller, org


def require_active(org: Organisation) -> Organisation:
    """`identity.require_active_org`'s rule, on the organisation already loaded with the key."""
    if org.status != "active":
        raise DomainError("This organisation is inactive", code="ORG_INACTIVE", status=403)
    return org
