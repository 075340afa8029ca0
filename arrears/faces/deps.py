"""Dependencies shared by the faces: the request's transaction and the caller."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from arrears.db import session_factory
from arrears.identity import service as identity
from arrears.identity.caller import Caller
from arrears.identity.errors import IdentityErrorCode

READ_METHODS = {"GET", "HEAD", "OPTIONS"}


async def _request_session(request: Request) -> AsyncIterator[AsyncSession]:
    """A request is one transaction: services flush, this scope commits (or rolls back) before
    the response is sent, so a client never sees a success that was not stored."""
    async with session_factory(readonly=request.method in READ_METHODS) as session:
        async with session.begin():
            yield session


SessionDep = Annotated[AsyncSession, Depends(_request_session, scope="function")]


async def current_caller(request: Request, session: SessionDep) -> Caller:
    token = identity.bearer_token(request.headers.get("authorization"))
    caller = await identity.resolve(session, token)
    request.state.user_id = caller.user_id
    request.state.org_id = caller.org_id
    request.state.caller = caller
    return caller


CallerDep = Annotated[Caller, Depends(current_caller)]


async def user_caller(caller: CallerDep) -> Caller:
    """Faces whose spec documents JWTs only (RepaySync, AAMA, pharmacy) refuse API keys."""
    if caller.kind != "user":
        from arrears.errors import Unauthorized

        raise Unauthorized("This endpoint takes a user's JWT access token, not an API key",
                           code=IdentityErrorCode.TOKEN_INVALID)
    return caller


UserDep = Annotated[Caller, Depends(user_caller)]


def client_ip(request: Request) -> str:
    """The client's address: X-Forwarded-For only from ARREARS_TRUSTED_PROXIES (arrears.proxies)."""
    from arrears import proxies

    return proxies.client_ip(request)
