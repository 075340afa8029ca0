"""Partner entities as the spec writes them: camelCase, upper-case enums, ISO 8601 with Z."""

from __future__ import annotations

import uuid
from typing import Any

from arrears.db import isoz, utcnow
from arrears.identity.models import ApiKey
from arrears.paging import page_count
from arrears.partners.models import ApiClient, WebhookDelivery, WebhookSubscription
from arrears.partners.service import key_status
from arrears.partners.webhooks import retry_config

MASKED_SECRET = "whsec_********"


def pagination(page_no: int, limit: int, total: int) -> dict[str, int]:
    return {"page": page_no, "limit": limit, "total": total, "totalPages": page_count(total, limit)}


def page(data: list[Any], page_no: int, limit: int, total: int) -> dict[str, Any]:
    return {"data": data, "pagination": pagination(page_no, limit, total)}


def key_out(k: ApiKey, metadata: dict[str, Any] | None = None, raw: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"id": str(k.id), "clientId": str(k.client_id) if k.client_id else None,
                           "keyId": k.key_id, "keyPrefix": k.prefix}
    if raw is not None:
        out["key"] = raw
    out |= {"name": k.name, "status": key_status(k, utcnow()), "lastUsedAt": isoz(k.last_used_at),
            "expiresAt": isoz(k.expires_at), "scopes": list(k.scopes or []),
            "rateLimitOverride": k.rate_limit_override, "metadata": metadata,
            "createdAt": isoz(k.created_at)}
    return out


def subscription_out(s: WebhookSubscription, *, deliveries: int | None = None,
                     secret: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"id": str(s.id), "clientId": str(s.client_id), "url": s.url}
    if secret is not None:
        out["secret"] = secret
    out |= {"events": list(s.events or []), "status": s.status, "pausedReason": s.paused_reason,
            "retryConfig": retry_config(s), "metadata": s.meta, "createdAt": isoz(s.created_at),
            "updatedAt": isoz(s.updated_at)}
    if deliveries is not None:
        out["_count"] = {"deliveries": deliveries}
    return out


def client_summary(c: ApiClient) -> dict[str, Any]:
    return {"id": str(c.id), "name": c.name, "status": c.status, "rateLimitTier": c.rate_limit_tier.upper(),
            "contactEmail": c.contact_email, "createdAt": isoz(c.created_at)}


def client_out(c: ApiClient, *, keys: list[ApiKey] | None = None,
               key_meta: dict[uuid.UUID, dict[str, Any] | None] | None = None,
               subscriptions: list[WebhookSubscription] | None = None,
               counts: dict[uuid.UUID, int] | None = None, webhook_secret: str | None = None
               ) -> dict[str, Any]:
    """The full client. Its webhookSecret is shown in full only in the response that created it."""
    secret = webhook_secret or (MASKED_SECRET if c.webhook_secret_enc else None)
    key_meta = key_meta or {}
    counts = counts or {}
    return {
        "id": str(c.id), "name": c.name, "description": c.description,
        "redirectUris": list(c.redirect_uris or []), "website": c.website, "logoUrl": c.logo_url,
        "contactEmail": c.contact_email, "status": c.status, "rateLimitTier": c.rate_limit_tier.upper(),
        "webhookUrl": c.webhook_url, "webhookSecret": secret, "scopes": list(c.scopes or []),
        "metadata": c.meta, "createdAt": isoz(c.created_at), "updatedAt": isoz(c.updated_at),
        "apiKeys": [key_out(k, key_meta.get(k.id)) for k in keys or []],
        "webhookSubscriptions": [subscription_out(s, deliveries=counts.get(s.id, 0))
                                 for s in subscriptions or []],
    }


def delivery_out(d: WebhookDelivery) -> dict[str, Any]:
    return {"id": str(d.id), "subscriptionId": str(d.subscription_id), "webhookId": d.webhook_id,
            "eventType": d.event_type, "payload": d.payload, "responseCode": d.response_code,
            "responseBody": d.response_body, "attemptCount": d.attempt_count, "status": d.status,
            "lastError": d.last_error, "scheduledFor": isoz(d.scheduled_for),
            "deliveredAt": isoz(d.delivered_at), "createdAt": isoz(d.created_at)}
