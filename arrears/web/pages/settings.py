"""Settings: the organisation's settings (credentials write-only), its users and their access,
the premium collection API keys (generate with permissions, shown once, list, revoke), and the
saved column mappings of spreadsheet imports (list, delete)."""

from __future__ import annotations

import zoneinfo
from datetime import UTC, datetime, time

from fastapi import APIRouter
from fastapi.responses import Response

from arrears.db import utcnow
from arrears.debtors import profiles
from arrears.errors import Forbidden, ValidationFailed
from arrears.identity import admin
from arrears.identity import service as identity
from arrears.identity.models import ACCESS, ROLES
from arrears.identity.outbound import OUTBOUND_KEYS
from arrears.messaging.providers import registry as provider_registry
from arrears.web.context import CtxDep
from arrears.web.forms import FormState, many, text
from arrears.web.paging import Page, page_params, paged_query
from arrears.web.render import page, redirect
from arrears.web.session import get_session

router = APIRouter(prefix="/settings")

# The premium collection spec's permissions ("Permissions"), in its order, with their labels
# (the scopes a key may hold are identity's: admin.PREMIUM_SCOPES).
PREMIUM_PERMISSIONS = [
    ("collections:read", "View collection data"),
    ("collections:write", "Create and update collections"),
    ("policies:read", "View policy data"),
    ("policies:write", "Create and update policies"),
    ("webhooks:receive", "Receive webhook notifications (WebSocket)"),
    ("*", "Full access to all endpoints"),
]
PLAIN_FIELDS = ("name", "timezone", "default_region", "currency_symbol")
# Provider settings the messaging providers read (arrears/messaging/providers): credentials are
# write-only here (shown as set or not set, never their values).
CREDENTIALS = [(s.key, s.label, s.secret) for s in provider_registry.organisation_settings()]
# Settings with a page of their own (Messaging → Contact rules).
CONTACT_SETTINGS = ("contact_hours", "holiday_country", "contact_cap", "contact_cap_window")
_COMMON_ZONES = ("Africa/Johannesburg", "Africa/Lagos", "Africa/Nairobi", "Africa/Cairo", "Europe/London",
                 "Europe/Berlin", "Asia/Kolkata", "Asia/Dubai", "America/New_York", "UTC")


def _zones() -> list[str]:
    rest = sorted(z for z in zoneinfo.available_timezones() if "/" in z and not z.startswith(("Etc/", "SystemV")))
    return list(_COMMON_ZONES) + [z for z in rest if z not in _COMMON_ZONES]


# ------------------------------------------------------------------ organisation


def _org_form(ctx: CtxDep) -> FormState:
    values = {k: identity.org_setting(ctx.org, k) or "" for k in PLAIN_FIELDS[1:]}
    values["name"] = ctx.org.name
    values.setdefault("timezone", "")
    return FormState(values)


def _credential_rows(ctx: CtxDep) -> list[dict[str, object]]:
    settings = ctx.org.settings or {}
    rows = []
    known = {k for k, _, _ in CREDENTIALS}
    for key, label, secret in CREDENTIALS:
        raw = settings.get(key)
        rows.append({"key": key, "label": label, "secret": secret or identity.is_secret_setting(key),
                     "set": raw not in (None, ""),
                     "value": "" if secret or identity.is_secret_setting(key) else (raw or ""), "other": False})
    others = {k: v for k, v in identity.masked_settings(ctx.org).items()
              if k not in known and k not in PLAIN_FIELDS and k not in ("kind", "status")
              and k not in CONTACT_SETTINGS}
    return rows + [{"key": k, "label": k, "secret": v == "********", "set": True, "value": "" if v == "********" else v,
                    "other": True} for k, v in others.items()]


def _org_page(ctx: CtxDep, form: FormState, status: int = 200) -> Response:
    return page(ctx, "settings/org.html", status=status, form=form, credentials=_credential_rows(ctx),
                zones=_zones(), tab="org")


@router.get("")
async def org_settings(ctx: CtxDep) -> Response:
    return _org_page(ctx, _org_form(ctx))


@router.post("")
async def save_org_settings(ctx: CtxDep) -> Response:
    ctx.require_admin()
    form = await ctx.form()
    state = FormState({k: text(form, k) for k in PLAIN_FIELDS})
    # The values' rules (a name, a real time zone, a two-letter region) are identity's.
    values: dict[str, str] = {k: state.values[k] for k in PLAIN_FIELDS}
    # Credentials: a blank field keeps the stored value; "remove" clears it.
    for key, _label, _secret in CREDENTIALS:
        new = form.get(f"cred_{key}")
        if f"clear_{key}" in form:
            values[key] = ""
        elif isinstance(new, str) and new.strip():
            values[key] = new.strip()
    extra_key, extra_value = text(form, "extra_key").lower(), text(form, "extra_value")
    if extra_key:
        values[extra_key] = extra_value
    for key in many(form, "clear_other"):
        values[key] = ""
    if not state.ok:
        return _org_page(ctx, state, 400)
    try:
        await identity.set_org_settings(ctx.db, ctx.caller, ctx.org, values)
    except ValidationFailed as exc:
        aliases = {"non_field_errors": "__all__"} | dict.fromkeys(OUTBOUND_KEYS, "__all__")
        return _org_page(ctx, state.error(exc, aliases) if exc.field_errors
                         else FormState(state.values, {"extra_key": [exc.message]}), 400)
    return redirect(ctx.request, "/app/settings", flash="Settings saved.")


# ------------------------------------------------------------------ users


def _user_form() -> FormState:
    return FormState({"username": "", "email": "", "role": "collection_officer", "access": "write"})


async def _users_page(ctx: CtxDep, form: FormState, status: int = 200) -> Response:
    search = ctx.request.query_params.get("search", "")
    members = admin.members(ctx.caller, search)  # admins and managers only
    pg, per = page_params(ctx.request)
    users = await paged_query(ctx.db, members, pg, per, scalars=False)
    try:  # self-registered accounts: shown to the default organisation's admins only
        waiting = await identity.list_waiting(ctx.db, ctx.caller)
    except Forbidden:
        waiting = None
    return page(ctx, "settings/users.html", status=status, users=users, form=form, search=search,
                waiting=waiting,
                roles=[(r, r.replace("_", " ").capitalize()) for r in ROLES],
                access_options=[(a, "Read and write" if a == "write" else "Read only") for a in ACCESS],
                manage=ctx.is_admin and ctx.can_write, tab="users")


@router.get("/users")
async def users(ctx: CtxDep) -> Response:
    return await _users_page(ctx, _user_form())


@router.post("/users")
async def create_user(ctx: CtxDep) -> Response:
    form = await ctx.form()
    state = FormState({k: text(form, k) for k in ("username", "email", "role", "access")})
    password = form.get("password")
    try:  # the service decides who may (the organisation's admins with write access)
        user = await identity.create_user(
            ctx.db, ctx.caller, username=state.values["username"],
            password=password if isinstance(password, str) else "", role=state.values["role"],
            email=state.values["email"] or None, access=state.values["access"] or "write")
    except ValidationFailed as exc:
        return await _users_page(ctx, state.error(exc), 400)
    return redirect(ctx.request, "/app/settings/users", flash=f"User {user.username} created.")


@router.post("/users/{user_id:int}/access")
async def change_access(ctx: CtxDep, user_id: int) -> Response:
    ctx.require_admin()
    form = await ctx.form()
    access = text(form, "access")
    user = await admin.change_access(ctx.db, ctx.caller, user_id, access)
    return redirect(ctx.request, "/app/settings/users",
                    flash=f"{user.username} now has {'read and write' if access == 'write' else 'read-only'} access.")


@router.post("/users/{user_id:int}/role")
async def change_role(ctx: CtxDep, user_id: int) -> Response:
    ctx.require_admin()
    form = await ctx.form()
    try:
        user = await admin.change_role(ctx.db, ctx.caller, user_id, text(form, "role"))
    except ValidationFailed as exc:
        return await _refused(ctx, exc)
    return redirect(ctx.request, "/app/settings/users", flash=f"{user.username} is now {_role_label(user.role)}.")


@router.post("/users/{user_id:int}/deactivate")
async def deactivate_user(ctx: CtxDep, user_id: int) -> Response:
    return await _set_active(ctx, user_id, False)


@router.post("/users/{user_id:int}/reactivate")
async def reactivate_user(ctx: CtxDep, user_id: int) -> Response:
    return await _set_active(ctx, user_id, True)


async def _set_active(ctx: CtxDep, user_id: int, active: bool) -> Response:
    ctx.require_admin()
    try:
        user = await admin.set_active(ctx.db, ctx.caller, user_id, active)
    except ValidationFailed as exc:
        return await _refused(ctx, exc)
    done = "can sign in again" if active else "is deactivated and can no longer sign in"
    return redirect(ctx.request, "/app/settings/users", flash=f"{user.username} {done}.")


@router.post("/users/{user_id:int}/approve")
async def approve_user(ctx: CtxDep, user_id: int) -> Response:
    form = await ctx.form()
    try:
        user = await identity.approve(ctx.db, ctx.caller, user_id, role=text(form, "role"),
                                      access=text(form, "access"))
    except ValidationFailed as exc:
        return await _refused(ctx, exc)
    return redirect(ctx.request, "/app/settings/users",
                    flash=f"{user.username} is accepted as {_role_label(user.role)}.")


@router.post("/users/{user_id:int}/decline")
async def decline_user(ctx: CtxDep, user_id: int) -> Response:
    await identity.decline(ctx.db, ctx.caller, user_id)
    return redirect(ctx.request, "/app/settings/users", flash="The registration is declined.")


async def _refused(ctx: CtxDep, exc: ValidationFailed) -> Response:
    """The users page again, 400, with the reason at the top (a row action has no field)."""
    reasons = [m for msgs in (exc.field_errors or {}).values() for m in msgs] or [exc.message]
    for reason in reasons:
        get_session(ctx.request).flash(reason, "error")
    return await _users_page(ctx, _user_form(), 400)


def _role_label(role: str) -> str:
    return role.replace("_", " ")


# ------------------------------------------------------------------ API keys (premium collection API)


def _key_form() -> FormState:
    return FormState({"name": "", "expires_on": ""})


async def _keys_page(ctx: CtxDep, form: FormState, *, status: int = 200, new_key: str | None = None,
                     checked: list[str] | None = None) -> Response:
    st = ctx.request.query_params.get("status") or None
    listed = admin.premium_keys(ctx.caller, st)  # its admins only
    pg, per = page_params(ctx.request)
    keys = await paged_query(ctx.db, listed, pg, per)
    return page(ctx, "settings/api_keys.html", status=status, keys=keys, form=form, new_key=new_key,
                permissions=PREMIUM_PERMISSIONS, checked=checked or [], status_filter=st or "",
                now=utcnow(), tab="keys")


@router.get("/api-keys")
async def api_keys(ctx: CtxDep) -> Response:
    return await _keys_page(ctx, _key_form(), new_key=ctx.revealed_as("premium_key"))


@router.post("/api-keys")
async def create_api_key(ctx: CtxDep) -> Response:
    admin.require_admin(ctx.caller)  # before the body is read
    form = await ctx.form()
    state = FormState({"name": text(form, "name"), "expires_on": text(form, "expires_on")})
    scopes = many(form, "scopes")
    for field, messages in admin.premium_key_errors(ctx.caller, state.values["name"], scopes).items():
        for message in messages:  # shown with the date's, all at once
            state.add(field, message)
    expires_at = None
    if state.values["expires_on"]:
        try:
            day = datetime.strptime(state.values["expires_on"], "%Y-%m-%d").date()
            expires_at = datetime.combine(day, time(23, 59, 59), tzinfo=UTC)
        except ValueError:
            state.add("expires_on", "Use a date such as 2026-12-31.")
    if state.ok:
        try:
            key, raw = await admin.create_premium_key(ctx.db, ctx.caller, name=state.values["name"], scopes=scopes,
                                                      expires_at=expires_at)
        except ValidationFailed as exc:
            state.error(exc, {"expiresAt": "expires_on"})
        else:
            ctx.reveal_next(raw, "premium_key")
            return redirect(ctx.request, "/app/settings/api-keys", flash=f"API key {key.name} generated.")
    return await _keys_page(ctx, state, status=400, checked=scopes)


@router.post("/api-keys/{key_id}/revoke")
async def revoke_api_key(ctx: CtxDep, key_id: str) -> Response:
    key = await admin.revoke_premium_key(ctx.db, ctx.caller, key_id)
    return redirect(ctx.request, "/app/settings/api-keys", flash=f"Key {key.key_id} revoked; it stops working now.")



# ------------------------------------------------------------------ import profiles


@router.get("/import-profiles")
async def import_profiles(ctx: CtxDep) -> Response:
    """The column mappings confirmed in import previews, one per spreadsheet layout."""
    pg, per = page_params(ctx.request)
    rows, total = await profiles.list_profiles(ctx.db, ctx.caller, offset=(pg - 1) * per, limit=per)
    listing = Page(items=rows, total=total, page=pg, size=per)
    return page(ctx, "settings/import_profiles.html", profiles=listing,
                views={str(p.id): profiles.mapping_view(p) for p in rows}, tab="profiles")


@router.post("/import-profiles/{profile_id}/delete")
async def delete_import_profile(ctx: CtxDep, profile_id: str) -> Response:
    await profiles.delete(ctx.db, ctx.caller, profile_id)
    return redirect(ctx.request, "/app/settings/import-profiles",
                    flash="Saved mapping deleted: files with those columns are read by their headings again.")
