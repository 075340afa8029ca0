"""The partner face's caller: an org admin's JWT or an ins_ key, rate limited on every request."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from arrears.errors import Forbidden, Unauthorized
from arrears.faces.deps import SessionDep, client_ip
from arrears.faces.partner.routing import PartnerRateLimited
from arrears.identity import service as identity
from arrears.partners import ratelimits
from arrears.partners.service import PartnerCaller, authenticate


async def partner_caller(request: Request, session: SessionDep) -> PartnerCaller:
    state = request.state
    try:
        pc = await authenticate(session, identity.bearer_token(request.headers.get("authorization")))
    except (Unauthorized, Forbidden):
        # Refused credentials still count, per address, so the 401/403 carries X-RateLimit-*
        # and guessing keys is throttled like any other request.
        status = await ratelimits.hit_unidentified(client_ip(request))
        state.partner_rate = status
        if not status.allowed:
            raise PartnerRateLimited("API rate limit exceeded", retry_after=status.retry_after) from None
        raise
    state.partner_org_id = pc.org_id
    state.partner_user_id = pc.caller.user_id
    if pc.client is not None and pc.api_key is not None:
        state.partner_client_id = pc.client.id
        state.partner_api_key_id = pc.api_key.id
    status = await ratelimits.hit(pc.rate_subject, pc.limits)
    state.partner_rate = status
    if not status.allowed:
        raise PartnerRateLimited("API rate limit exceeded", retry_after=status.retry_after)
    return pc


PartnerDep = Annotated[PartnerCaller, Depends(partner_caller)]
