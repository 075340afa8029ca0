"""§3 and §4: tokens, registration, users; §8: the API log."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict

from arrears.db import isoz
from arrears.faces.deps import SessionDep, UserDep, client_ip
from arrears.faces.openapi import PUBLIC
from arrears.faces.repaysync.common import Deleted
from arrears.faces.repaysync.schemas import (
    AccessToken,
    LogOut,
    RefreshRequest,
    RegisterRequest,
    TokenPair,
    TokenRequest,
    UserOut,
)
from arrears.identity import request_log
from arrears.identity import service as identity
from arrears.identity.models import User

router = APIRouter(tags=["RepaySync: auth, users, logs"])


def user_out(u: User) -> UserOut:
    return UserOut(id=u.id, username=u.username, email=u.email, role=u.role, manager=u.manager_id)


@router.post("/api/auth/token/", response_model=TokenPair, status_code=200,
             summary="Obtain JWT access and refresh tokens", openapi_extra=PUBLIC,
             responses={401: {"description": "No active account with these credentials"},
                        429: {"description": "Too many failed sign-ins for this account or address"}})
async def obtain_token(body: TokenRequest, request: Request, session: SessionDep) -> dict[str, str]:
    user, pair = await identity.login(session, body.username, body.password, client_ip(request))
    request.state.user_id = user.id
    request.state.org_id = user.primary_org_id
    return pair


@router.post("/api/auth/token/refresh/", response_model=AccessToken, status_code=200,
             summary="Exchange a refresh token for a new access token", openapi_extra=PUBLIC,
             responses={401: {"description": "The refresh token is invalid or expired"}})
async def refresh_token(body: RefreshRequest, session: SessionDep) -> dict[str, str]:
    return await identity.refresh(session, body.refresh)


@router.post("/api/users/register/", response_model=UserOut, status_code=201,
             summary="Register: the account can sign in, and waits for an admin to accept it",
             openapi_extra=PUBLIC, responses={403: {"description": "Open registration is turned off"}})
async def register(body: RegisterRequest, request: Request, session: SessionDep) -> UserOut:
    user = await identity.register(session, username=body.username, password=body.password,
                                   role=body.role, email=body.email, manager_id=body.manager)
    # Logged for the default organisation, whose admins decide on the account.
    request.state.org_id = user.primary_org_id
    request.state.user_id = user.id
    return user_out(user)


class WaitingUserOut(BaseModel):
    id: int
    username: str
    email: str | None
    requested_role: str | None
    manager: int | None
    registered_at: str


class ApproveRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    role: str
    access: Literal["read", "write"] = "write"


class ApprovedOut(UserOut):
    access: str


@router.get("/api/users/waiting/", response_model=list[WaitingUserOut],
            summary="Self-registered users waiting to be accepted (the default organisation's admins)")
async def list_waiting(caller: UserDep, session: SessionDep) -> list[WaitingUserOut]:
    return [WaitingUserOut(id=u.id, username=u.username, email=u.email,
                           requested_role=u.requested_role, manager=u.manager_id,
                           registered_at=isoz(u.waiting_since) or "")
            for u in await identity.list_waiting(session, caller)]


@router.post("/api/users/{user_id:int}/approve/", response_model=ApprovedOut, status_code=200,
             summary="Accept a waiting user into the default organisation with a role and access")
async def approve_user(user_id: int, body: ApproveRequest, caller: UserDep,
                       session: SessionDep) -> ApprovedOut:
    user = await identity.approve(session, caller, user_id, role=body.role, access=body.access)
    return ApprovedOut(**user_out(user).model_dump(), access=body.access)


@router.post("/api/users/{user_id:int}/decline/", response_model=Deleted, status_code=200,
             summary="Decline a waiting user (the account is deleted)")
async def decline_user(user_id: int, caller: UserDep, session: SessionDep) -> Deleted:
    await identity.decline(session, caller, user_id)
    return Deleted(id=user_id)


@router.get("/api/users/", response_model=list[UserOut], summary="List the users of your organisation")
async def list_users(caller: UserDep, session: SessionDep) -> list[UserOut]:
    return [user_out(u) for u in await identity.list_users(session, caller)]


@router.get("/api/logs/", response_model=list[LogOut], summary="API logs (admins only)")
async def list_logs(caller: UserDep, session: SessionDep) -> list[LogOut]:
    caller.require_role("admin")
    rows = await request_log.list_logs(session, caller)
    return [LogOut(id=r.id, user=r.user_id, method=r.method, endpoint=r.endpoint,
                   request_payload=r.request_payload, response_payload=r.response_payload,
                   status_code=r.status_code, created_at=isoz(r.created_at) or "") for r in rows]
