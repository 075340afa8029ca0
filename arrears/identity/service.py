"""The rules of identity: organisations and their settings, users, logins, API keys, callers."""

from __future__ import annotations

import re
import secrets
import uuid
import zoneinfo
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from arrears import events
from arrears.config import get_settings
from arrears.db import SQLITE_BUSY_MS, advisory_lock, utcnow
from arrears.errors import DomainError, Forbidden, NotFound, Unauthorized, ValidationFailed
from arrears.identity import crypto, logins, tokens
from arrears.identity.caller import Caller
from arrears.identity.errors import IdentityErrorCode
from arrears.identity.models import (
    ACCESS,
    ORG_KINDS,
    ORG_STATUSES,
    ROLES,
    ApiKey,
    Membership,
    Organisation,
    User,
)
from arrears.identity.outbound import check_outbound_settings

# Settings whose values are credentials: encrypted at rest, masked when shown.
SECRET_MARKERS = ("secret", "password", "api_key", "token", "private")
ORG_ATTRIBUTES = {"name", "kind", "status"}

# ---------------------------------------------------------------- organisations


# Names queued by `arrears.db.advisory_lock` for check-then-insert rules no unique index covers
# (usernames regardless of case, the one default organisation).
IDENTITY_LOCK = 0x49444E54  # "IDNT"


def is_secret_setting(name: str) -> bool:
    return any(m in name.lower() for m in SECRET_MARKERS)


async def create_org(session: AsyncSession, caller: Caller, *, name: str, kind: str = "business",
                     is_default: bool = False) -> Organisation:
    """A new organisation. Only the deployment's operator makes one (`Caller.operator()`: the CLI,
    set-up scripts, open registration's first default organisation): no user or API key belongs
    to an organisation that does not exist yet, and none may add tenants to the deployment."""
    if caller.kind != "system":
        raise Forbidden("Only the deployment's operator can create organisations.")
    name = (name or "").strip()
    if not name:
        raise ValidationFailed("Organisation name is required", field_errors={"name": ["Required."]})
    if kind not in ORG_KINDS:
        raise ValidationFailed(f"Unknown organisation kind {kind!r}; use one of {', '.join(ORG_KINDS)}",
                               field_errors={"kind": [f"Must be one of {', '.join(ORG_KINDS)}."]})
    org = Organisation(name=name, kind=kind, status="active", is_default=is_default, settings={},
                       callback_token=secrets.token_urlsafe(24))
    session.add(org)
    await session.flush()
    await events.record(session, org_id=org.id, type="organisation.created", actor=caller.actor,
                        subject_type="organisation", subject_id=org.id,
                        after={"name": org.name, "kind": org.kind})
    return org


async def get_org(session: AsyncSession, org_id: int) -> Organisation:
    org = await session.get(Organisation, org_id)
    if org is None:
        raise NotFound(f"Organisation {org_id} not found")
    return org


async def default_org(session: AsyncSession) -> Organisation:
    """The deployment's default organisation, where open registration puts new users."""
    org = await session.scalar(select(Organisation).where(Organisation.is_default.is_(True)))
    if org is None:
        org = await session.scalar(select(Organisation).order_by(Organisation.id).limit(1))
    if org is None:
        # The first registrations of a new deployment race to make it: one does.
        await advisory_lock(session, IDENTITY_LOCK, "default-organisation")
        org = await session.scalar(select(Organisation).order_by(Organisation.is_default.desc(),
                                                                 Organisation.id).limit(1))
    if org is None:
        org = await create_org(session, Caller.operator(), name=get_settings().arrears_default_org_name,
                               is_default=True)
    return org


def _org_value_errors(values: Mapping[str, str]) -> dict[str, list[str]]:
    """The organisation's own values: a name, a real time zone, a two-letter region."""
    errors: dict[str, list[str]] = {}
    if "name" in values and not str(values["name"]).strip():
        errors["name"] = ["The organisation needs a name."]
    tz = values.get("timezone")
    if tz:
        try:
            zoneinfo.ZoneInfo(tz)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            errors["timezone"] = [f"{tz!r} is not a time zone; choose one from the list (e.g. Africa/Johannesburg)."]
    region = values.get("default_region")
    if region and (len(region) != 2 or not region.isalpha()):
        errors["default_region"] = ["Use a two-letter country code such as ZA."]
    return errors


async def set_org_settings(session: AsyncSession, caller: Caller, org: Organisation,
                           values: Mapping[str, str]) -> None:
    """Change the organisation's name, kind, status and settings: its admins with write access, or
    the system caller; another organisation is not found."""
    require_user_admin(caller)
    if org.id != caller.org_id:
        raise NotFound(f"Organisation {org.id} not found")
    before = masked_settings(org)
    settings = dict(org.settings or {})
    values = dict(values)
    if values.get("default_region"):
        values["default_region"] = values["default_region"].upper()
    errors = _org_value_errors(values)
    if errors:
        raise ValidationFailed("Invalid settings: " + "; ".join(f"{k}: {' '.join(v)}" for k, v in errors.items()),
                               field_errors=errors)
    await check_outbound_settings(values, settings)  # gateway URL, SMTP host/port: public addresses only
    for key, value in values.items():
        key = key.strip()
        if not re.fullmatch(r"[a-z][a-z0-9_]*", key):
            raise ValidationFailed(f"Setting names are lower_snake_case; {key!r} is not")
        if key == "status" and value not in ORG_STATUSES:
            raise ValidationFailed(f"status must be one of {', '.join(ORG_STATUSES)}")
        if key == "kind" and value not in ORG_KINDS:
            raise ValidationFailed(f"kind must be one of {', '.join(ORG_KINDS)}")
        if key in ORG_ATTRIBUTES:
            setattr(org, key, value)
        elif value == "":
            settings.pop(key, None)
        elif is_secret_setting(key):
            settings[key] = {"enc": crypto.encrypt(value)}
        else:
            settings[key] = value
    org.settings = settings
    await session.flush()
    await events.record(session, org_id=org.id, type="organisation.updated", actor=caller.actor,
                        subject_type="organisation", subject_id=org.id, before=before,
                        after=masked_settings(org))


def org_setting(org: Organisation, key: str, default: Any = None) -> Any:
    """A setting's clear value (secrets decrypted), for the code that needs it."""
    value = (org.settings or {}).get(key, default)
    if isinstance(value, dict) and "enc" in value:
        return crypto.decrypt(value["enc"])
    return value


def masked_settings(org: Organisation) -> dict[str, Any]:
    out: dict[str, Any] = {"name": org.name, "kind": org.kind, "status": org.status}
    for key, value in sorted((org.settings or {}).items()):
        out[key] = "********" if isinstance(value, dict) and "enc" in value else value
    return out


# ---------------------------------------------------------------- users

USERNAME_RE = re.compile(r"^[\w.@+-]{1,150}$")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MIN_PASSWORD = 8
USERNAME_TAKEN = "A user with that username already exists."


def require_user_admin(caller: Caller) -> None:
    """Who may create users (and add people to) an organisation: its admins with write access, and
    the system caller (the CLI). API keys never may."""
    if caller.kind == "api_key" or not caller.is_admin:
        raise Forbidden("Only organisation admins can do this.")
    caller.require_write()


async def create_user(session: AsyncSession, caller: Caller, *, username: str, password: str, role: str,
                      email: str | None = None, access: str = "write",
                      manager_id: int | None = None) -> User:
    """A user (any role, admin included) and their membership of the caller's organisation;
    only that organisation's admins (or the system caller) may create one."""
    require_user_admin(caller)
    return await _new_user(session, username=username, password=password, role=role,
                           org_id=caller.org_id, email=email, access=access, manager_id=manager_id,
                           actor=caller.actor)


async def _new_user(session: AsyncSession, *, username: str, password: str, role: str, org_id: int,
                    email: str | None, access: str, manager_id: int | None, actor: str,
                    waiting: bool = False) -> User:
    """The user row and its membership, once the caller was authorised (`create_user`) or open
    registration admitted them (`register`): a `waiting` user gets no membership, `org_id` is
    only where an admin may accept them."""
    errors: dict[str, list[str]] = {}
    username = (username or "").strip()
    if not username:
        errors["username"] = ["This field is required."]
    elif not USERNAME_RE.match(username):
        errors["username"] = ["Use letters, digits and @/./+/-/_ only (150 at most)."]
    else:
        # Usernames are unique without regard to case, which the unique index (case-sensitive)
        # does not cover: concurrent creations of one name queue here and the later ones see it.
        await advisory_lock(session, IDENTITY_LOCK, f"username:{username.lower()}")
        if await session.scalar(select(User.id).where(func.lower(User.username) == username.lower())):
            errors["username"] = [USERNAME_TAKEN]
    if not password:
        errors["password"] = ["This field is required."]
    elif len(password) < MIN_PASSWORD:
        errors["password"] = [f"Use at least {MIN_PASSWORD} characters."]
    elif password.lower() == username.lower():
        errors["password"] = ["The password must differ from the username."]
    choosable = SELF_REGISTER_ROLES if waiting else ROLES
    if role not in choosable:
        errors["role"] = [f"Must be one of: {', '.join(choosable)}."]
    if email:
        email = email.strip()
        if not EMAIL_RE.match(email):
            errors["email"] = ["Enter a valid email address."]
    if access not in ACCESS:
        errors["access"] = ["Must be read or write."]
    if manager_id is not None:
        manager = await session.get(User, manager_id)
        in_org = manager is not None and await session.scalar(
            select(Membership.id).where(Membership.user_id == manager_id, Membership.org_id == org_id))
        if not in_org:
            errors["manager"] = [f'Invalid pk "{manager_id}" - object does not exist.']
    if errors:
        raise ValidationFailed("Invalid user", field_errors=errors)
    user = User(username=username, email=email or None, password_hash=crypto.hash_password(password),
                role=role, manager_id=manager_id, primary_org_id=org_id, is_active=True,
                waiting_since=utcnow() if waiting else None, requested_role=role if waiting else None)
    try:
        async with session.begin_nested():
            session.add(user)
            await session.flush()
    except IntegrityError as exc:  # made by a writer that did not queue above
        raise ValidationFailed("Invalid user", field_errors={"username": [USERNAME_TAKEN]}) from exc
    if waiting:
        await events.record(session, org_id=org_id, type="user.registered", actor=actor,
                            subject_type="user", subject_id=user.id,
                            after={"username": username, "requested_role": role, "waiting": True})
        return user
    session.add(Membership(user_id=user.id, org_id=org_id, access=access))
    await session.flush()
    await events.record(session, org_id=org_id, type="user.created", actor=actor,
                        subject_type="user", subject_id=user.id,
                        after={"username": username, "role": role, "access": access})
    return user


# ---------------------------------------------------------------- open registration

WAITING_MESSAGE = "Your account is waiting for an administrator to accept it"
# A registrant may ask for any role but admin; whatever they ask is only a request.
SELF_REGISTER_ROLES = tuple(r for r in ROLES if r != "admin")


async def register(session: AsyncSession, *, username: str, password: str, role: str,
                   email: str | None = None, manager_id: int | None = None) -> User:
    """Open registration: an account that can sign in but waits, in no organisation, until an
    admin of the default organisation accepts it (`approve`)."""
    if not get_settings().arrears_open_registration:
        raise Forbidden("Open registration is turned off on this deployment; ask an administrator",
                        code=IdentityErrorCode.REGISTRATION_CLOSED)
    org = await default_org(session)
    return await _new_user(session, username=username, password=password, role=role, email=email,
                           org_id=org.id, access="write", manager_id=manager_id,
                           actor="self-registration", waiting=True)


async def require_registrar(session: AsyncSession, caller: Caller) -> Organisation:
    """Waiting users are the business of the default organisation's admins alone (with write
    access), acting in that organisation; anyone else is refused."""
    org = await default_org(session)
    if caller.kind != "user" or not caller.is_admin or caller.org_id != org.id:
        raise Forbidden("Only the default organisation's admins can accept waiting users")
    caller.require_write()
    return org


async def list_waiting(session: AsyncSession, caller: Caller) -> list[User]:
    await require_registrar(session, caller)
    q = select(User).where(User.waiting_since.is_not(None)).order_by(User.waiting_since, User.id)
    return list((await session.scalars(q)).all())


async def _waiting_user(session: AsyncSession, user_id: int) -> User:
    user = await session.get(User, user_id)
    if user is None or user.waiting_since is None:
        raise NotFound(f"No waiting user {user_id}")
    return user


async def _registrar(session: AsyncSession, caller: Caller | None) -> tuple[Organisation, Caller]:
    """The default organisation and who acts there; `None` is the deployment's operator (the CLI)."""
    if caller is None:
        org = await default_org(session)
        return org, Caller.system(org.id, "cli")
    return await require_registrar(session, caller), caller


async def approve(session: AsyncSession, caller: Caller | None, user_id: int, *, role: str,
                  access: str) -> User:
    """Accept a waiting user into the default organisation with the role and access the admin
    chooses (the registrant's request is only shown)."""
    org, registrar = await _registrar(session, caller)
    errors: dict[str, list[str]] = {}
    if role not in ROLES:
        errors["role"] = [f"Must be one of: {', '.join(ROLES)}."]
    if access not in ACCESS:
        errors["access"] = ["Must be read or write."]
    if errors:
        raise ValidationFailed("Invalid approval", field_errors=errors)
    user = await _waiting_user(session, user_id)
    before = {"waiting": True, "requested_role": user.requested_role, "role": None, "access": None}
    user.role, user.waiting_since, user.primary_org_id = role, None, org.id
    await add_membership(session, registrar, user, access)
    await events.record(session, org_id=org.id, type="user.approved", actor=registrar.actor,
                        subject_type="user", subject_id=user.id, before=before,
                        after={"waiting": False, "requested_role": user.requested_role,
                               "role": role, "access": access})
    return user


async def decline(session: AsyncSession, caller: Caller | None, user_id: int) -> None:
    """Refuse a waiting user: the account is deleted (its name is free again)."""
    org, registrar = await _registrar(session, caller)
    user = await _waiting_user(session, user_id)
    before = {"username": user.username, "requested_role": user.requested_role, "waiting": True}
    await session.delete(user)
    await session.flush()
    await events.record(session, org_id=org.id, type="user.declined", actor=registrar.actor,
                        subject_type="user", subject_id=user_id, before=before, after=None)


async def add_membership(session: AsyncSession, caller: Caller, user: User, access: str) -> Membership:
    """The user's membership of the caller's organisation, with this access (made, or changed):
    its admins with write access or the system caller decide who belongs to it."""
    require_user_admin(caller)
    org_id = caller.org_id
    if access not in ACCESS:
        raise ValidationFailed("access must be read or write")
    m = await session.scalar(select(Membership).where(Membership.user_id == user.id,
                                                      Membership.org_id == org_id))
    if m is None:
        m = Membership(user_id=user.id, org_id=org_id, access=access)
        session.add(m)
    else:
        m.access = access
    await session.flush()
    return m


async def enrol_user(session: AsyncSession, caller: Caller, *, username: str, password: str, role: str,
                     email: str | None, access: str) -> User:
    """Create a user in the caller's organisation; a user of another organisation with that name is
    the same person joining this one (a membership, their password and role unchanged)."""
    require_user_admin(caller)
    await get_org(session, caller.org_id)
    existing = await find_user(session, username)
    if existing is not None and existing.primary_org_id != caller.org_id:
        await add_membership(session, caller, existing, access)
        return existing
    return await create_user(session, caller, username=username, password=password, role=role,
                             email=email, access=access)


async def is_member(session: AsyncSession, user: User, org_id: int) -> bool:
    """The user belongs to the organisation (their own, or one they joined)."""
    if user.waiting_since is not None:
        return False
    if user.primary_org_id == org_id:
        return True
    return await session.scalar(select(Membership.id).where(Membership.user_id == user.id,
                                                            Membership.org_id == org_id)) is not None


async def list_users(session: AsyncSession, caller: Caller) -> list[User]:
    q = (select(User).join(Membership, Membership.user_id == User.id)
         .where(Membership.org_id == caller.org_id).order_by(User.id))
    return list((await session.scalars(q)).all())


async def find_user(session: AsyncSession, username: str) -> User | None:
    return await session.scalar(select(User).where(func.lower(User.username) == username.strip().lower()))


# ---------------------------------------------------------------- logins

async def login(session: AsyncSession, username: str, password: str, ip: str
                ) -> tuple[User, dict[str, str]]:
    """Tokens for a good password, throttled per (username, address) and per address
    (arrears.identity.logins: the attempt is counted before the password is checked)."""
    username, password = username or "", password or ""
    logins.check_lengths(username, password)
    await logins.admit(username, ip)
    user = await find_user(session, username)
    ok = crypto.verify_password(password, user.password_hash if user else None)
    if not ok or user is None or not user.is_active:
        await logins.failed(username, ip)
        raise Unauthorized("No active account found with the given credentials",
                           code=IdentityErrorCode.INVALID_CREDENTIALS)
    await logins.succeeded(username, ip)
    user.last_login_at = utcnow()
    return user, tokens.issue_pair(user.id)


async def refresh(session: AsyncSession, refresh_token: str) -> dict[str, str]:
    claims = tokens.decode(refresh_token, "refresh")
    user = await session.get(User, int(claims["sub"]))
    if user is None or not user.is_active:
        raise Unauthorized("User not found or inactive", code=IdentityErrorCode.TOKEN_INVALID)
    s = get_settings()
    return {"access": tokens.issue(user.id, "access", timedelta(minutes=s.access_token_minutes))}


# ---------------------------------------------------------------- API keys


def require_key_admin(caller: Caller) -> None:
    """Who may create and revoke the organisation's API keys: its admins with write access, the
    system caller, or an API key with write access (which scope it needs, `clients:write`, is its
    face's rule: the partner service checks it)."""
    if caller.kind == "user" and not caller.is_admin:
        raise Forbidden("Only organisation admins can do this.")
    caller.require_write()


async def create_api_key(session: AsyncSession, caller: Caller, *, kind: str, scopes: Iterable[str],
                         name: str | None = None, expires_at: datetime | None = None,
                         client_id: uuid.UUID | None = None, rate_limit_override: int | None = None
                         ) -> tuple[ApiKey, str]:
    """A new key of the caller's organisation, made by the calling user (if one); the clear key
    is returned once and never stored."""
    require_key_admin(caller)
    org_id = caller.org_id
    if kind == "pct":
        raw = crypto.new_pct_key()
        key_id = "pct_" + raw[4:16]
    elif kind == "ins":
        key_id, raw = crypto.new_ins_key()
    else:
        raise ValidationFailed("API key kind must be pct or ins")
    if expires_at is not None and expires_at <= utcnow():
        raise ValidationFailed("expires_at must be in the future",
                               field_errors={"expiresAt": ["Must be in the future."]})
    key = ApiKey(org_id=org_id, kind=kind, name=name, key_id=key_id, prefix=raw[:8],
                 key_hash=crypto.hash_key(raw), scopes=sorted(set(scopes)), expires_at=expires_at,
                 client_id=client_id, rate_limit_override=rate_limit_override,
                 created_by_user_id=caller.user_id)
    session.add(key)
    await session.flush()
    await events.record(session, org_id=org_id, type="api_key.created", actor=caller.actor,
                        subject_type="api_key", subject_id=key.key_id,
                        after={"name": name, "scopes": key.scopes, "kind": kind})
    return key, raw


async def revoke_api_key(session: AsyncSession, caller: Caller, key: ApiKey) -> None:
    """Revoke a key of the caller's organisation (another organisation's is not found)."""
    require_key_admin(caller)
    if key.org_id != caller.org_id:
        raise NotFound(f"API key {key.key_id} not found")
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        await session.flush()
        await events.record(session, org_id=key.org_id, type="api_key.revoked", actor=caller.actor,
                            subject_type="api_key", subject_id=key.key_id)


async def find_api_key(session: AsyncSession, ident: str) -> ApiKey:
    """By its uuid or its public key id."""
    key = None
    try:
        key = await session.get(ApiKey, uuid.UUID(ident))
    except ValueError:
        key = await session.scalar(select(ApiKey).where(ApiKey.key_id == ident))
    if key is None:
        raise NotFound(f"API key {ident} not found")
    return key


# ---------------------------------------------------------------- the bearer resolver

KEY_PREFIXES = ("pct_", "ins_")


def bearer_token(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


async def resolve(session: AsyncSession, token: str | None) -> Caller:
    """A JWT or an API key → the caller. Codes say what failed, for the faces that show them."""
    if not token:
        raise Unauthorized("Authentication credentials were not provided", code=IdentityErrorCode.MISSING_CREDENTIALS)
    if token.startswith(KEY_PREFIXES):
        return await _resolve_key(session, token)
    claims = tokens.decode(token, "access")
    try:
        user_id = int(claims["sub"])
    except (TypeError, ValueError) as exc:
        raise Unauthorized("Token is invalid", code=IdentityErrorCode.TOKEN_INVALID) from exc
    return await caller_for_user(session, user_id)


async def caller_for_user(session: AsyncSession, user_id: int, org_id: int | None = None) -> Caller:
    user = await session.get(User, user_id)
    if user is None or not user.is_active:
        raise Unauthorized("User not found or inactive", code=IdentityErrorCode.USER_INACTIVE)
    if user.waiting_since is not None:
        raise Forbidden(WAITING_MESSAGE, code=IdentityErrorCode.ACCOUNT_WAITING)
    rows = (await session.execute(select(Membership.org_id, Membership.access)
                                  .where(Membership.user_id == user.id))).all()
    memberships = {r.org_id: r.access for r in rows}
    org = org_id if org_id in memberships else user.primary_org_id
    if org is None or org not in memberships:
        raise Forbidden("You are not a member of any organisation")
    return Caller(kind="user", org_id=org, user=user, role=user.role, access=memberships[org],
                  memberships=memberships)


_KEY_FORMATS = {"pct_": re.compile(r"pct_[0-9a-f]{64}"),
                "ins_": re.compile(r"ins_[a-z0-9]{12,}_[A-Za-z0-9_-]{20,}")}
# Writing last_used_at on every request would turn reads into writes; a minute is precise enough.
LAST_USED_PRECISION = timedelta(seconds=60)


async def _resolve_key(session: AsyncSession, raw: str) -> Caller:
    caller, _ = await resolve_api_key(session, raw)
    return caller


async def resolve_api_key(session: AsyncSession, raw: str) -> tuple[Caller, Organisation]:
    """An API key → its caller and its organisation, read in one query (every face's key goes
    through here; the organisation's status is the caller's to check, see `require_active`).

    401 codes, in this order: format, unknown, revoked, expired."""
    pattern = _KEY_FORMATS.get(raw[:4])
    if pattern is None or pattern.fullmatch(raw) is None:
        raise Unauthorized("API key not found or invalid format", code=IdentityErrorCode.INVALID_API_KEY)
    row = (await session.execute(
        select(ApiKey, Organisation).join(Organisation, Organisation.id == ApiKey.org_id)
        .where(ApiKey.key_hash == crypto.hash_key(raw)))).first()
    if row is None:
        raise Unauthorized("API key not found or invalid format", code=IdentityErrorCode.INVALID_API_KEY)
    key, org = row
    now = utcnow()
    if key.revoked_at is not None:
        raise Unauthorized("API key has been revoked", code=IdentityErrorCode.API_KEY_REVOKED)
    if key.expires_at is not None and key.expires_at <= now:
        raise Unauthorized("API key has expired", code=IdentityErrorCode.API_KEY_EXPIRED)
    await _stamp_last_used(session, key, now)
    caller = Caller(kind="api_key", org_id=key.org_id, api_key=key, access="write",
                    scopes=frozenset(key.scopes or ()))
    return caller, org


async def _stamp_last_used(session: AsyncSession, key: ApiKey, now: datetime) -> None:
    """The row is written only when no other transaction holds it (SKIP LOCKED, PostgreSQL): a
    long request using the key would otherwise make each of the key's requests wait for it."""
    cutoff = now - LAST_USED_PRECISION
    if key.last_used_at is not None and key.last_used_at >= cutoff:
        return
    free = (select(ApiKey.id).where(ApiKey.id == key.id, or_(ApiKey.last_used_at.is_(None),
                                                              ApiKey.last_used_at < cutoff))
            .with_for_update(skip_locked=True))
    stamp = (update(ApiKey).where(ApiKey.id.in_(free)).values(last_used_at=now)
             .execution_options(synchronize_session=False))
    if await _write_courtesy(session, stamp):
        set_committed_value(key, "last_used_at", now)


async def _write_courtesy(session: AsyncSession, stmt: Any) -> bool:
    """Run a write that may be skipped (a usage stamp); True when it changed a row.

    On SQLite a read-only request's transaction is deferred (it must never wait behind a long
    import): there the write is tried without waiting, in a savepoint, and dropped when another
    writer holds the database's lock or has committed since this transaction began."""
    bind = session.get_bind()
    if bind.dialect.name != "sqlite" or not bind.get_execution_options().get("readonly"):
        done = await session.execute(stmt)
        return bool(getattr(done, "rowcount", 0))
    conn = await session.connection()
    await conn.exec_driver_sql("PRAGMA busy_timeout=0")
    try:
        async with session.begin_nested():
            done = await session.execute(stmt)
        return bool(getattr(done, "rowcount", 0))
    except OperationalError:  # "database is locked": the key's next request stamps it
        return False
    finally:
        await conn.exec_driver_sql(f"PRAGMA busy_timeout={SQLITE_BUSY_MS}")


async def require_active_org(session: AsyncSession, caller: Caller) -> Organisation:
    # An API key's organisation is already in the session (read with the key): no second query.
    return require_active(await get_org(session, caller.org_id))


def require_active(org: Organisation) -> Organisation:
    if org.status != "active":
        raise DomainError("This organisation is inactive", code=IdentityErrorCode.ORG_INACTIVE, status=403)
    return org


async def user_uuids(session: AsyncSession, user_ids: Iterable[int]) -> dict[int, str]:
    """The public UUIDs of these users (the faces that show a user by UUID)."""
    ids = {i for i in user_ids if i is not None}
    if not ids:
        return {}
    rows = await session.execute(select(User.id, User.uuid).where(User.id.in_(ids)))
    return {uid: str(u) for uid, u in rows.all()}
