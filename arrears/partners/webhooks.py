"""Webhook subscriptions of an API client, their delivery history, and manual retries."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from arrears import events
from arrears.db import utcnow
from arrears.errors import Conflict, NotFound, ValidationFailed
from arrears.identity import crypto
from arrears.partners import fanout
from arrears.partners.catalogue import DELIVERY_STATUSES, RETRY_DEFAULTS, SUBSCRIPTION_STATUSES
from arrears.partners.models import ApiClient, WebhookDelivery, WebhookSubscription
from arrears.partners.schemas import RetryConfig, WebhookCreate, WebhookUpdate
from arrears.partners.service import (
    PAGES,
    ListQuery,
    ListRule,
    PartnerCaller,
    check_webhook_url,
    decrypt_secret,
    get_client,
    paged,
    parse_enum,
    parse_id,
    require,
)
from arrears.partners.signing import new_secret

DELIVERIES_DEFAULT_LIMIT = 50


def retry_config(s: WebhookSubscription) -> dict[str, Any]:
    return {"maxRetries": s.max_retries, "retryDelay": s.retry_delay,
            "backoffMultiplier": s.backoff_multiplier, "timeout": s.timeout}


def _apply_retry(s: WebhookSubscription, rc: RetryConfig | None) -> None:
    if rc is None:
        return
    given = rc.given()
    if "max_retries" in given:
        s.max_retries = rc.max_retries
    if "retry_delay" in given:
        s.retry_delay = rc.retry_delay
    if "backoff_multiplier" in given:
        s.backoff_multiplier = float(rc.backoff_multiplier)
    if "timeout" in given:
        s.timeout = rc.timeout


async def create_subscription(session: AsyncSession, pc: PartnerCaller, client_id: str,
                              data: WebhookCreate) -> tuple[WebhookSubscription, str]:
    """The subscription and its whsec_ secret (shown once). Without a `url`, the client's
    webhookUrl is used, signed with the client's webhookSecret."""
    client = await get_client(session, pc, client_id)
    require(pc, "webhooks:write", client.id)
    if data.url:
        await check_webhook_url(data.url, "url")
        url, secret = data.url, new_secret()
    elif client.webhook_url and client.webhook_secret_enc:
        url, secret = client.webhook_url, crypto.decrypt(client.webhook_secret_enc)
    else:
        raise ValidationFailed("url is required (the client has no default webhookUrl)",
                               field_errors={"url": ["This field is required."]})
    now = utcnow()
    sub = WebhookSubscription(
        org_id=pc.org_id, client_id=client.id, url=url, secret_enc=crypto.encrypt(secret),
        events=list(data.events), status="ACTIVE", max_retries=RETRY_DEFAULTS["maxRetries"],
        retry_delay=RETRY_DEFAULTS["retryDelay"], backoff_multiplier=RETRY_DEFAULTS["backoffMultiplier"],
        timeout=RETRY_DEFAULTS["timeout"], meta=data.metadata, created_at=now, updated_at=now)
    _apply_retry(sub, data.retry_config)
    session.add(sub)
    await session.flush()
    fanout.forget_subscriptions(session)
    await events.record(session, org_id=pc.org_id, type="webhook_subscription.created", actor=pc.actor,
                        subject_type="webhook_subscription", subject_id=sub.id,
                        after={"clientId": str(client.id), "url": url, "events": sub.events})
    return sub, secret


async def get_subscription(session: AsyncSession, pc: PartnerCaller, client_id: str, webhook_id: str,
                           *, write: bool = False) -> tuple[ApiClient, WebhookSubscription]:
    client = await get_client(session, pc, client_id)
    require(pc, "webhooks:write" if write else "webhooks:read", client.id)
    sub = await session.get(WebhookSubscription, parse_id(webhook_id, "Webhook subscription"))
    if sub is None or sub.client_id != client.id or sub.org_id != pc.org_id:
        raise NotFound(f"Webhook subscription {webhook_id} not found")
    return client, sub


async def delivery_counts(session: AsyncSession, ids: list[uuid.UUID]) -> dict[uuid.UUID, int]:
    if not ids:
        return {}
    rows = await session.execute(select(WebhookDelivery.subscription_id, func.count())
                                 .where(WebhookDelivery.subscription_id.in_(ids))
                                 .group_by(WebhookDelivery.subscription_id))
    return {r[0]: int(r[1]) for r in rows}


SUBSCRIPTION_LIST = ListRule({"createdAt": WebhookSubscription.created_at, "url": WebhookSubscription.url,
                              "status": WebhookSubscription.status},
                             "createdAt", WebhookSubscription.created_at, WebhookSubscription.id)


async def list_subscriptions(session: AsyncSession, pc: PartnerCaller, client_id: str, *, lq: ListQuery = ListQuery(),
                             page: int = 1, limit: int = 20) -> tuple[list[WebhookSubscription], int]:
    """Filters: status, createdAt bounds. A subscription has no name, so no search."""
    client = await get_client(session, pc, client_id)
    require(pc, "webhooks:read", client.id)
    req = PAGES.check(page, limit)
    q = select(WebhookSubscription).where(WebhookSubscription.client_id == client.id,
                                          WebhookSubscription.org_id == pc.org_id)
    if (st := parse_enum(lq.status, SUBSCRIPTION_STATUSES, "status")) is not None:
        q = q.where(WebhookSubscription.status == st)
    return await paged(session, SUBSCRIPTION_LIST.apply(q, lq), req)


async def client_subscriptions(session: AsyncSession, client: ApiClient) -> list[WebhookSubscription]:
    q = (select(WebhookSubscription).where(WebhookSubscription.client_id == client.id)
         .order_by(WebhookSubscription.created_at.desc(), WebhookSubscription.id))
    return list((await session.scalars(q)).all())


async def update_subscription(session: AsyncSession, pc: PartnerCaller, client_id: str, webhook_id: str,
                              data: WebhookUpdate) -> WebhookSubscription:
    _, sub = await get_subscription(session, pc, client_id, webhook_id, write=True)
    given = data.given()
    before = {"url": sub.url, "events": sub.events, "status": sub.status}
    if "url" in given and data.url != sub.url:
        await check_webhook_url(data.url, "url")
        sub.url = data.url
    if "events" in given:
        sub.events = list(data.events)
    if "metadata" in given:
        sub.meta = data.metadata
    _apply_retry(sub, data.retry_config)
    resumed = False
    if "status" in given and data.status != sub.status:
        if data.status == "ACTIVE":
            sub.paused_reason = None
            resumed = True
        else:
            sub.paused_reason = f"Paused by {pc.actor} at {utcnow().strftime('%Y-%m-%dT%H:%M:%SZ')}"
        sub.status = data.status
    sub.updated_at = utcnow()
    await session.flush()
    fanout.forget_subscriptions(session)
    await events.record(session, org_id=pc.org_id, type="webhook_subscription.updated", actor=pc.actor,
                        subject_type="webhook_subscription", subject_id=sub.id, before=before,
                        after={"url": sub.url, "events": sub.events, "status": sub.status})
    if resumed:
        await fanout.request_drain(session)  # deliveries held while paused go out now
    return sub


async def delete_subscription(session: AsyncSession, pc: PartnerCaller, client_id: str,
                              webhook_id: str) -> None:
    _, sub = await get_subscription(session, pc, client_id, webhook_id, write=True)
    await session.delete(sub)
    await session.flush()
    fanout.forget_subscriptions(session)
    await events.record(session, org_id=pc.org_id, type="webhook_subscription.deleted", actor=pc.actor,
                        subject_type="webhook_subscription", subject_id=sub.id, before={"url": sub.url})


def subscription_secret(sub: WebhookSubscription) -> str:
    secret = decrypt_secret(sub.secret_enc)
    assert secret is not None
    return secret


# Deliveries are bounded by scheduledFor; without sortBy they keep today's order (newest first).
DELIVERY_LIST = ListRule({"createdAt": WebhookDelivery.created_at, "scheduledFor": WebhookDelivery.scheduled_for,
                          "deliveredAt": WebhookDelivery.delivered_at, "status": WebhookDelivery.status,
                          "attemptCount": WebhookDelivery.attempt_count},
                         "createdAt", WebhookDelivery.scheduled_for, WebhookDelivery.id)


async def list_deliveries(session: AsyncSession, pc: PartnerCaller, client_id: str, webhook_id: str,
                          *, lq: ListQuery = ListQuery(), page: int = 1, limit: int = DELIVERIES_DEFAULT_LIMIT
                          ) -> tuple[list[WebhookDelivery], int]:
    """Filters: status, scheduledFor bounds."""
    _, sub = await get_subscription(session, pc, client_id, webhook_id)
    req = PAGES.check(page, limit)
    q = select(WebhookDelivery).where(WebhookDelivery.subscription_id == sub.id,
                                      WebhookDelivery.org_id == pc.org_id)
    if (st := parse_enum(lq.status, DELIVERY_STATUSES, "status")) is not None:
        q = q.where(WebhookDelivery.status == st)
    return await paged(session, DELIVERY_LIST.apply(q, lq), req)


async def retry_delivery(session: AsyncSession, pc: PartnerCaller, client_id: str, webhook_id: str,
                         delivery_id: str) -> WebhookDelivery:
    """Send a delivery again now: one more attempt for a FAILED or DELIVERED one (same webhook-id),
    or at once for a PENDING one waiting for its next attempt."""
    _, sub = await get_subscription(session, pc, client_id, webhook_id, write=True)
    # Locked and read afresh: a drain claiming it meanwhile (a lease that ran out is claimable)
    # either finishes its claim first (then this sees the lease) or skips it until we commit.
    d = await session.get(WebhookDelivery, parse_id(delivery_id, "Webhook delivery"), with_for_update=True)
    if d is None or d.subscription_id != sub.id or d.org_id != pc.org_id:
        raise NotFound(f"Webhook delivery {delivery_id} not found")
    if sub.status != "ACTIVE":
        raise Conflict("The subscription is paused; set its status to ACTIVE to deliver again")
    now = utcnow()
    if d.lease_until is not None and d.lease_until > now:
        raise Conflict("This delivery is being sent right now")
    if d.status != "PENDING":
        d.attempt_limit = d.attempt_count + 1
        d.delivered_at = None
    d.status = "PENDING"
    d.scheduled_for = now
    d.lease_until = None
    d.updated_at = now
    await session.flush()
    await events.record(session, org_id=pc.org_id, type="webhook_delivery.retried", actor=pc.actor,
                        subject_type="webhook_delivery", subject_id=d.id)
    await fanout.request_drain(session)
    return d
