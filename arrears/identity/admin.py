"""Administering an organisation's people: change a user's role or access, deactivate and reactivate;
the lists of members and API keys the admin pages show.

A user's role and active flag belong to the user, not to one membership, so they reach every
organisation the user is in. An admin may therefore change them only when they administer (with
write access) every organisation the user belongs to; otherwise one tenant could lock a person
out of another. Nobody changes their own role or deactivates themselves: with that, every
organisation the user is in keeps an active admin (the caller), so no one can lock it out.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from arrears import events
from arrears.db import utcnow
from arrears.errors import Forbidden, NotFound, ValidationFailed
from arrears.identity.caller import Caller
from arrears.identity.models import ROLES, ApiKey, Membership, User


async def change_role(session: AsyncSession, caller: Caller, user_id: int, role: str) -> User:
    if role not in ROLES:
        raise ValidationFailed("Invalid role", field_errors={"role": [f"Must be one of: {', '.join(ROLES)}."]})
    user = await _managed_user(session, caller, user_id, "change your own role")
    if user.role == role:
        return user
    before = user.role
    user.role = role
    await session.flush()
    await events.record(session, org_id=caller.org_id, type="user.updated", actor=caller.actor,
                        subject_type="user", subject_id=user.id, before={"role": before}, after={"role": role})
    return user


async def set_active(session: AsyncSession, caller: Caller, user_id: int, active: bool) -> User:
    """Deactivate (the user cannot sign in, and their tokens and sessions stop working at the
    next request) or reactivate. Nothing is deleted: their history keeps its author."""
    user = await _managed_user(session, caller, user_id, "deactivate yourself")
    if user.is_active == active:
        return user
    user.is_active = active
    await session.flush()
    await events.record(session, org_id=caller.org_id, type="user.activated" if active else "user.deactivated",
                        actor=caller.actor, subject_type="user", subject_id=user.id,
                        before={"is_active": not active}, after={"is_active": active})
    return user


async def change_access(session: AsyncSession, caller: Caller, user_id: int, access: str) -> User:
    """A member's access to the caller's organisation (read or write). Access belongs to one
    membership, so this organisation's admin alone decides it; nobody changes their own."""
    from arrears.identity.service import add_membership

    if not caller.is_admin:
        raise Forbidden("Only organisation admins can do this.")
    caller.require_write()
    user = await session.scalar(select(User).join(Membership, Membership.user_id == User.id)
                                .where(Membership.org_id == caller.org_id, User.id == user_id))
    if user is None:
        raise NotFound(f"User {user_id} not found")
    if user.id == caller.user_id:
        raise ValidationFailed("You cannot change your own access; ask another admin.")
    await add_membership(session, caller, user, access)
    return user


async def _managed_user(session: AsyncSession, caller: Caller, user_id: int, self_action: str) -> User:
    if caller.kind != "user" or not caller.is_admin:
        raise Forbidden("Only organisation admins can do this.")
    caller.require_write()
    orgs = set((await session.scalars(select(Membership.org_id).where(Membership.user_id == user_id))).all())
    if caller.org_id not in orgs:
        raise NotFound(f"User {user_id} not found")  # another tenant's user does not exist here
    user = await session.get(User, user_id)
    if user is None:
        raise NotFound(f"User {user_id} not found")
    if user.id == caller.user_id:
        raise ValidationFailed(f"You cannot {self_action}; ask another admin.")
    elsewhere = [o for o in orgs if caller.memberships.get(o) != "write"]
    if elsewhere:
        raise Forbidden(f"{user.username} also belongs to an organisation you do not administer; "
                        "an admin of every one of them must make this change.")
    return user


def require_admin(caller: Caller, *, write: bool = True) -> None:
    if not caller.is_admin:
        raise Forbidden("Only organisation admins can do this.")
    if write:
        caller.require_write()


async def revoke_premium_key(session: AsyncSession, caller: Caller, key_id: str) -> ApiKey:
    """Revoke one of the organisation's own `pct_` keys (an admin with write access). Another
    organisation's key, or a partner client's (revoked with its client), is not found here."""
    from arrears.identity.service import find_api_key, revoke_api_key

    require_admin(caller)
    try:
        key = await find_api_key(session, key_id)
    except NotFound:
        key = None
    if key is None or key.org_id != caller.org_id or key.client_id is not None:
        raise NotFound(f"API key {key_id} not found")
    await revoke_api_key(session, caller, key)
    return key


# The premium collection spec's permissions, the scopes a `pct_` key may hold.
PREMIUM_SCOPES = ("collections:read", "collections:write", "policies:read", "policies:write",
                  "webhooks:receive", "*")


def premium_key_errors(caller: Caller, name: str, scopes: list[str]) -> dict[str, list[str]]:
    """What is wrong with a new premium key's name and scopes (empty: nothing), for an admin with
    write access (anyone else is refused before their input is looked at)."""
    require_admin(caller)
    errors: dict[str, list[str]] = {}
    if not name.strip():
        errors["name"] = ["Give the key a name, so that you recognise it later (e.g. the system that uses it)."]
    if not scopes:
        errors["scopes"] = ["Choose at least one permission."]
    elif set(scopes) - set(PREMIUM_SCOPES):
        errors["scopes"] = ["Unknown permission."]
    return errors


async def create_premium_key(session: AsyncSession, caller: Caller, *, name: str, scopes: list[str],
                             expires_at: datetime | None = None) -> tuple[ApiKey, str]:
    """A new `pct_` key of the caller's organisation (an admin with write access); the clear key
    is returned once."""
    from arrears.identity.service import create_api_key

    errors = premium_key_errors(caller, name, scopes)
    if errors:
        raise ValidationFailed("The key's name or permissions are not valid", field_errors=errors)
    return await create_api_key(session, caller, kind="pct", scopes=scopes, name=name.strip(),
                                expires_at=expires_at)


# ---------------------------------------------------------------- lists for the admin pages


def _like(text: str) -> str:
    esc = text.strip().lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{esc}%"


def members(caller: Caller, search: str | None = None) -> Any:
    """(User, access) rows of the caller's organisation, by username; search name or email.
    Admins and managers only."""
    if not caller.is_manager_or_admin:
        raise Forbidden("Only admins and managers can see the organisation's users.")
    q = (select(User, Membership.access).join(Membership, Membership.user_id == User.id)
         .where(Membership.org_id == caller.org_id))
    if search and search.strip():
        p = _like(search)
        q = q.where(or_(func.lower(User.username).like(p, escape="\\"),
                        func.lower(func.coalesce(User.email, "")).like(p, escape="\\")))
    return q.order_by(User.username, User.id)


def premium_keys(caller: Caller, status: str | None = None) -> Select[Any]:
    """The organisation's own `pct_` keys (premium collection API), newest first; a partner
    client's keys are listed with their client. `status`: active, revoked or expired. Admins only."""
    require_admin(caller, write=False)
    q = select(ApiKey).where(ApiKey.org_id == caller.org_id, ApiKey.kind == "pct", ApiKey.client_id.is_(None))
    now = utcnow()
    if status == "active":
        q = q.where(ApiKey.revoked_at.is_(None), or_(ApiKey.expires_at.is_(None), ApiKey.expires_at > now))
    elif status == "revoked":
        q = q.where(ApiKey.revoked_at.is_not(None))
    elif status == "expired":
        q = q.where(ApiKey.revoked_at.is_(None), ApiKey.expires_at <= now)
    return q.order_by(ApiKey.created_at.desc(), ApiKey.key_id)
