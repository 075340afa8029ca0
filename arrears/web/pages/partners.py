"""Partners: API clients, their keys (shown once), webhook subscriptions with their delivery log
and a retry button, and usage charts. The partner service decides who may do what (organisation
admins; writes need write access) exactly as on the partner API."""

from __future__ import annotations

from datetime import UTC, datetime, time
from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response
from pydantic import ValidationError

from arrears.errors import ValidationFailed
from arrears.paging import PageRule
from arrears.partners import service as partners
from arrears.partners import usage as usage_service
from arrears.partners import webhooks as webhook_service
from arrears.partners.catalogue import (
    CLIENT_STATUSES,
    DELIVERY_STATUSES,
    KEY_STATUSES,
    TIERS,
    WEBHOOK_EVENTS,
)
from arrears.partners.schemas import ClientCreate, ClientUpdate, KeyCreate, WebhookCreate, WebhookUpdate
from arrears.web import charts
from arrears.web.context import Ctx, CtxDep
from arrears.web.forms import FormState, many, pydantic_errors, text
from arrears.web.paging import Page, page_params
from arrears.web.render import local_dt, page, redirect, svg

router = APIRouter(prefix="/partners")
CLIENT_FIELDS = ("name", "description", "contactEmail", "website", "redirectUris", "rateLimitTier",
                 "webhookUrl", "scopes")
TIER_OPTIONS = [(t.upper(), f"{t.capitalize()} — {v.per_minute}/min, {v.per_hour:,}/hour".replace(",", "\u00a0"))
                for t, v in TIERS.items()]


def pc_of(ctx: Ctx) -> partners.PartnerCaller:
    return partners.PartnerCaller(ctx.caller)


def _split(value: str) -> list[str]:
    return [p for p in (x.strip() for x in value.replace(",", " ").replace("\n", " ").split(" ")) if p]


def _lines(value: str) -> list[str]:
    return [x.strip() for x in value.splitlines() if x.strip()]


def as_page(items: list[Any], total: int, pg: int, per: int) -> Page[Any]:
    return Page(items, total, pg, per)


# ------------------------------------------------------------------ clients


@router.get("")
async def clients(ctx: CtxDep) -> Response:
    p = ctx.request.query_params
    search, status = p.get("search", "").strip(), p.get("status", "")
    status = status if status in CLIENT_STATUSES else ""
    pg, per = page_params(ctx.request, default=20, maximum=partners.MAX_PAGE_SIZE)
    rows, total = await partners.list_clients(
        ctx.db, pc_of(ctx), lq=partners.ListQuery(status=status or None, search=search or None, sort_by="name",
                                                  descending=False), page=pg, limit=per)
    return page(ctx, "partners/clients.html", rows=as_page(rows, total, pg, per), search=search, status_filter=status,
                statuses=CLIENT_STATUSES)


def _client_state(client: Any = None) -> FormState:
    if client is None:
        return FormState({k: "" for k in CLIENT_FIELDS} | {"rateLimitTier": "BASIC"})
    return FormState({"name": client.name, "description": client.description or "",
                      "contactEmail": client.contact_email, "website": client.website or "",
                      "redirectUris": "\n".join(client.redirect_uris or []),
                      "rateLimitTier": client.rate_limit_tier.upper(), "webhookUrl": client.webhook_url or "",
                      "scopes": " ".join(client.scopes or []), "status": client.status})


def _client_payload(form: Any, *, update: bool) -> tuple[dict[str, Any], FormState]:
    state = FormState({k: text(form, k) if k != "redirectUris" else str(form.get(k) or "")
                       for k in (*CLIENT_FIELDS, "status")})
    v = state.values
    data: dict[str, Any] = {"name": v["name"], "contactEmail": v["contactEmail"],
                            "redirectUris": _lines(v["redirectUris"]), "rateLimitTier": v["rateLimitTier"] or "BASIC",
                            "scopes": _split(v["scopes"]) or None,
                            "description": v["description"] or None, "website": v["website"] or None,
                            "webhookUrl": v["webhookUrl"] or None}
    if update and v["status"]:
        data["status"] = v["status"]
    return data, state


@router.get("/new")
async def new_client(ctx: CtxDep) -> Response:
    ctx.require_admin()
    return page(ctx, "partners/client_form.html", form=_client_state(), client=None, tiers=TIER_OPTIONS,
                statuses=CLIENT_STATUSES)


@router.post("")
async def create_client(ctx: CtxDep) -> Response:
    form = await ctx.form()
    data, state = _client_payload(form, update=False)
    try:
        client, secret = await partners.create_client(ctx.db, pc_of(ctx), ClientCreate.model_validate(data))
    except ValidationError as exc:
        state.errors = pydantic_errors(exc)
    except ValidationFailed as exc:
        state.error(exc)
    else:
        if secret:
            ctx.reveal_next(secret, "webhook_secret")
        return redirect(ctx.request, f"/app/partners/{client.id}", flash=f"API client {client.name} created.")
    return page(ctx, "partners/client_form.html", status=400, form=state, client=None, tiers=TIER_OPTIONS,
                statuses=CLIENT_STATUSES)


@router.get("/{client_id}/edit")
async def edit_client(ctx: CtxDep, client_id: str) -> Response:
    client = await partners.get_client(ctx.db, pc_of(ctx), client_id)
    ctx.require_admin()
    return page(ctx, "partners/client_form.html", form=_client_state(client), client=client, tiers=TIER_OPTIONS,
                statuses=CLIENT_STATUSES)


@router.post("/{client_id}")
async def update_client(ctx: CtxDep, client_id: str) -> Response:
    client = await partners.get_client(ctx.db, pc_of(ctx), client_id)
    form = await ctx.form()
    data, state = _client_payload(form, update=True)
    try:
        _, secret = await partners.update_client(ctx.db, pc_of(ctx), client_id, ClientUpdate.model_validate(data))
    except ValidationError as exc:
        state.errors = pydantic_errors(exc)
    except ValidationFailed as exc:
        state.error(exc)
    else:
        if secret:
            ctx.reveal_next(secret, "webhook_secret")
        return redirect(ctx.request, f"/app/partners/{client_id}", flash="API client saved.")
    return page(ctx, "partners/client_form.html", status=400, form=state, client=client, tiers=TIER_OPTIONS,
                statuses=CLIENT_STATUSES)


@router.post("/{client_id}/delete")
async def delete_client(ctx: CtxDep, client_id: str) -> Response:
    client = await partners.get_client(ctx.db, pc_of(ctx), client_id)
    await partners.delete_client(ctx.db, pc_of(ctx), client_id)
    return redirect(ctx.request, "/app/partners", flash=f"API client {client.name} deleted; its keys stop working.")


# ------------------------------------------------------------------ one client: keys, webhooks, usage


def usage_charts(stats: dict[str, Any]) -> tuple[str, str]:
    by_day = [charts.Datum(t["time"][5:10] if len(t["time"]) >= 10 else t["time"], t["count"])
              for t in stats["requestsByTime"]]
    by_endpoint = [charts.Datum(e["endpoint"].replace("/api/v1/", "")[:18], e["count"])
                   for e in stats["requestsByEndpoint"][:8]]
    return (charts.line_chart(by_day, title="Requests per day, last 30 days"),
            charts.bar_chart(by_endpoint, title="Requests by endpoint, last 30 days"))


async def _client_page(ctx: Ctx, client_id: str, *, key_form: FormState | None = None,
                       hook_form: FormState | None = None, shown_key: str | None = None,
                       shown_secret: str | None = None, status: int = 200,
                       checked_events: list[str] | None = None) -> Response:
    pc = pc_of(ctx)
    client = await partners.get_client(ctx.db, pc, client_id)
    kp = PageRule(20, 20).clamp(ctx.request.query_params.get("keys_page")).page
    keys, key_total = await partners.list_keys(ctx.db, pc, client_id, page=max(1, kp), limit=20)
    hooks, hook_total = await webhook_service.list_subscriptions(ctx.db, pc, client_id, page=1, limit=50)
    counts = await webhook_service.delivery_counts(ctx.db, [h.id for h in hooks])
    dash = await usage_service.dashboard(ctx.db, pc, client_id)
    line, bars = usage_charts(dash.usage)
    return page(ctx, "partners/client.html", status=status, client=client,
                keys=Page(keys, key_total, max(1, kp), 20), key_status=partners.key_status,
                hooks=hooks, hook_total=hook_total, counts=counts, dash=dash,
                usage_line=svg(line), usage_bars=svg(bars),
                key_form=key_form or FormState({"name": "", "scopes": " ".join(client.scopes or []),
                                                "expires_on": "", "rateLimitOverride": ""}),
                hook_form=hook_form or FormState({"url": ""}), events=WEBHOOK_EVENTS,
                checked_events=checked_events or [], shown_key=shown_key, shown_secret=shown_secret,
                key_statuses=KEY_STATUSES)


@router.get("/{client_id}")
async def client_detail(ctx: CtxDep, client_id: str) -> Response:
    return await _client_page(ctx, client_id, shown_key=ctx.revealed_as("partner_key"),
                              shown_secret=ctx.revealed_as("webhook_secret"))


@router.post("/{client_id}/keys")
async def create_key(ctx: CtxDep, client_id: str) -> Response:
    await partners.get_client(ctx.db, pc_of(ctx), client_id)
    form = await ctx.form()
    state = FormState({k: text(form, k) for k in ("name", "scopes", "expires_on", "rateLimitOverride")})
    data: dict[str, Any] = {"clientId": client_id, "name": state.values["name"],
                            "scopes": _split(state.values["scopes"]) or None}
    if state.values["rateLimitOverride"]:
        data["rateLimitOverride"] = state.values["rateLimitOverride"]
    if state.values["expires_on"]:
        try:
            day = datetime.strptime(state.values["expires_on"], "%Y-%m-%d").date()
            data["expiresAt"] = datetime.combine(day, time(23, 59, 59), tzinfo=UTC)
        except ValueError:
            state.add("expires_on", "Use a date such as 2026-12-31.")
    if state.ok:
        try:
            _, raw, _ = await partners.create_key(ctx.db, pc_of(ctx), KeyCreate.model_validate(data))
        except ValidationError as exc:
            state.errors = pydantic_errors(exc)
        except ValidationFailed as exc:
            state.error(exc, {"expiresAt": "expires_on"})
        else:
            ctx.reveal_next(raw, "partner_key")
            return redirect(ctx.request, f"/app/partners/{client_id}", flash=f"Key {state.values['name']} generated.")
    if "expiresAt" in state.errors:
        state.errors["expires_on"] = state.errors.pop("expiresAt")
    return await _client_page(ctx, client_id, key_form=state, status=400)


@router.post("/{client_id}/keys/{key_id}/revoke")
async def revoke_key(ctx: CtxDep, client_id: str, key_id: str) -> Response:
    await partners.revoke_key(ctx.db, pc_of(ctx), client_id, key_id)
    return redirect(ctx.request, f"/app/partners/{client_id}", flash="Key revoked; it stops working now.")


@router.post("/{client_id}/webhooks")
async def create_webhook(ctx: CtxDep, client_id: str) -> Response:
    await partners.get_client(ctx.db, pc_of(ctx), client_id)
    form = await ctx.form()
    state = FormState({"url": text(form, "url")})
    events = many(form, "events")
    data: dict[str, Any] = {"events": events}
    if state.values["url"]:
        data["url"] = state.values["url"]
    try:
        sub, secret = await webhook_service.create_subscription(ctx.db, pc_of(ctx), client_id,
                                                                WebhookCreate.model_validate(data))
    except ValidationError as exc:
        state.errors = pydantic_errors(exc)
    except ValidationFailed as exc:
        state.error(exc)
    else:
        ctx.reveal_next(secret, "webhook_secret")
        return redirect(ctx.request, f"/app/partners/{client_id}", flash=f"Webhook to {sub.url} created.")
    return await _client_page(ctx, client_id, hook_form=state, status=400, checked_events=events)


# ------------------------------------------------------------------ one subscription: deliveries


@router.get("/{client_id}/webhooks/{webhook_id}")
async def webhook_detail(ctx: CtxDep, client_id: str, webhook_id: str) -> Response:
    pc = pc_of(ctx)
    client, sub = await webhook_service.get_subscription(ctx.db, pc, client_id, webhook_id)
    st = ctx.request.query_params.get("status", "")
    st = st if st in DELIVERY_STATUSES else ""
    pg, per = page_params(ctx.request, default=25, maximum=partners.MAX_PAGE_SIZE)
    rows, total = await webhook_service.list_deliveries(
        ctx.db, pc, client_id, webhook_id, lq=partners.ListQuery(status=st or None), page=pg, limit=per)
    return page(ctx, "partners/webhook.html", client=client, sub=sub, rows=Page(rows, total, pg, per),
                status_filter=st, statuses=DELIVERY_STATUSES, retry=webhook_service.retry_config(sub),
                refresh=10)


@router.post("/{client_id}/webhooks/{webhook_id}/status")
async def webhook_status(ctx: CtxDep, client_id: str, webhook_id: str) -> Response:
    form = await ctx.form()
    value = "PAUSED" if text(form, "status").upper() == "PAUSED" else "ACTIVE"
    await webhook_service.update_subscription(ctx.db, pc_of(ctx), client_id, webhook_id,
                                              WebhookUpdate.model_validate({"status": value}))
    return redirect(ctx.request, f"/app/partners/{client_id}/webhooks/{webhook_id}",
                    flash="Webhook paused." if value == "PAUSED" else "Webhook resumed; held deliveries go out now.")


@router.post("/{client_id}/webhooks/{webhook_id}/delete")
async def webhook_delete(ctx: CtxDep, client_id: str, webhook_id: str) -> Response:
    await webhook_service.delete_subscription(ctx.db, pc_of(ctx), client_id, webhook_id)
    return redirect(ctx.request, f"/app/partners/{client_id}", flash="Webhook deleted.")


@router.post("/{client_id}/webhooks/{webhook_id}/deliveries/{delivery_id}/retry")
async def retry(ctx: CtxDep, client_id: str, webhook_id: str, delivery_id: str) -> Response:
    d = await webhook_service.retry_delivery(ctx.db, pc_of(ctx), client_id, webhook_id, delivery_id)
    return redirect(ctx.request, f"/app/partners/{client_id}/webhooks/{webhook_id}",
                    flash=f"Delivery {d.webhook_id} queued to be sent again "
                          f"({local_dt(d.scheduled_for, ctx.tz, '%H:%M:%S')}).")
