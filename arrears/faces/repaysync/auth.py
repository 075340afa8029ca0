"""§3 and §4: tokens, registration, users; §8: the API log."""

from __future__ import annotations

from fastapi import APIRouter, Request

from arrears.config import get_settings
from arrears.db import isoz
from arrears.errors import Forbidden, ValidationFailed
from arrears.faces.deps import SessionDep, UserDep, client_ip
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
             summary="Obtain JWT access and refresh tokens")
async def obtain_token(body: TokenRequest, request: Request, session: SessionDep) -> dict[str, str]:
    user, pair = await identity.login(session, body.username, body.password, client_ip(request))
    request.state.user_id = user.id
    request.state.org_id = user.primary_org_id
    return pair


@router.post("/api/auth/token/refresh/", response_model=AccessToken, status_code=200,
             summary="Exchange a refresh token for a new access token")
async def refresh_token(body: RefreshRequest, session: SessionDep) -> dict[str, str]:
    return await identity.refresh(session, body.refresh)


@router.post("/api/users/register/", response_model=UserOut, status_code=201,
             summary="Register a new user in the deployment's default organisation")
async def register(body: RegisterRequest, request: Request, session: SessionDep) -> UserOut:
    if not get_settings().arrears_open_registration:
        raise Forbidden("Open registration is turned off on this deployment; ask an administrator")
    if body.role == "admin":
        raise ValidationFailed("The admin role cannot be self-registered",
                               field_errors={"role": ["The admin role cannot be self-registered."]})
    org = await identity.default_org(session)
    user = await identity.create_user(session, username=body.username, password=body.password,
                                      role=body.role, email=body.email, org_id=org.id,
                                      manager_id=body.manager, access="write", actor="self-registration")
    request.state.org_id = org.id
    request.state.user_id = user.id
    return user_out(user)


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
