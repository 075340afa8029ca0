"""Webhook subscriptions and their deliveries (partner-api-ecosystem.md, "Webhooks")."""

from __future__ import annotations

from typing import Any

from fastapi import Depends, Response

from arrears.faces.deps import SessionDep
from arrears.faces.partner import listing, views
from arrears.faces.partner.deps import PartnerDep
from arrears.faces.partner.routing import needs, partner_router
from arrears.partners import catalogue, webhooks
from arrears.partners.schemas import WebhookCreate, WebhookUpdate
from arrears.partners.service import ListQuery

router = partner_router("/api/v1/api-clients/{client_id}/webhooks", "Partner: webhooks")


@router.post("", status_code=201, summary="Create a webhook subscription (the secret is shown once)",
             description=needs("webhooks:write", own_client=True))
async def create_webhook(client_id: str, body: WebhookCreate, pc: PartnerDep,
                         session: SessionDep) -> dict[str, Any]:
    sub, secret = await webhooks.create_subscription(session, pc, client_id, body)
    return views.subscription_out(sub, secret=secret)


@router.get("", summary="List a client's webhook subscriptions",
             description=needs("webhooks:read", own_client=True) + " `webhooks:write` or `clients:read` also reads.")
async def list_webhooks(client_id: str, pc: PartnerDep, session: SessionDep,
                        lq: ListQuery = Depends(listing.list_params(
                            webhooks.SUBSCRIPTION_LIST, statuses=catalogue.SUBSCRIPTION_STATUSES,
                            status_help="ACTIVE or PAUSED")),
                        page: int = 1, limit: int = 20) -> dict[str, Any]:
    subs, total = await webhooks.list_subscriptions(session, pc, client_id, lq=lq, page=page, limit=limit)
    counts = await webhooks.delivery_counts(session, [s.id for s in subs])
    return views.page([views.subscription_out(s, deliveries=counts.get(s.id, 0)) for s in subs],
                      page, limit, total)


@router.get("/{webhook_id}", summary="Get a webhook subscription",
             description=needs("webhooks:read", own_client=True) + " `webhooks:write` or `clients:read` also reads.")
async def get_webhook(client_id: str, webhook_id: str, pc: PartnerDep, session: SessionDep) -> dict[str, Any]:
    _, sub = await webhooks.get_subscription(session, pc, client_id, webhook_id)
    counts = await webhooks.delivery_counts(session, [sub.id])
    return views.subscription_out(sub, deliveries=counts.get(sub.id, 0))


@router.put("/{webhook_id}", summary="Update a webhook subscription (status ACTIVE resumes it)",
             description=needs("webhooks:write", own_client=True))
async def update_webhook(client_id: str, webhook_id: str, body: WebhookUpdate, pc: PartnerDep,
                         session: SessionDep) -> dict[str, Any]:
    sub = await webhooks.update_subscription(session, pc, client_id, webhook_id, body)
    counts = await webhooks.delivery_counts(session, [sub.id])
    return views.subscription_out(sub, deliveries=counts.get(sub.id, 0))


@router.delete("/{webhook_id}", status_code=204, summary="Delete a webhook subscription",
             description=needs("webhooks:write", own_client=True))
async def delete_webhook(client_id: str, webhook_id: str, pc: PartnerDep, session: SessionDep) -> Response:
    await webhooks.delete_subscription(session, pc, client_id, webhook_id)
    return Response(status_code=204)


@router.get("/{webhook_id}/deliveries", summary="Delivery history of a webhook subscription",
             description=needs("webhooks:read", own_client=True) + " `webhooks:write` or `clients:read` also reads.")
async def list_deliveries(client_id: str, webhook_id: str, pc: PartnerDep, session: SessionDep,
                          lq: ListQuery = Depends(listing.list_params(
                              webhooks.DELIVERY_LIST, statuses=catalogue.DELIVERY_STATUSES,
                              status_help="PENDING, DELIVERED or FAILED", date_help="On scheduledFor. ")),
                          page: int = 1, limit: int = webhooks.DELIVERIES_DEFAULT_LIMIT) -> dict[str, Any]:
    rows, total = await webhooks.list_deliveries(session, pc, client_id, webhook_id, lq=lq, page=page,
                                                 limit=limit)
    return views.page([views.delivery_out(d) for d in rows], page, limit, total)


@router.post("/{webhook_id}/deliveries/{delivery_id}/retry", status_code=202,
             summary="Send a delivery again now (same webhook-id)",
             description=needs("webhooks:write", own_client=True))
async def retry_delivery(client_id: str, webhook_id: str, delivery_id: str, pc: PartnerDep,
                         session: SessionDep) -> dict[str, Any]:
    d = await webhooks.retry_delivery(session, pc, client_id, webhook_id, delivery_id)
    return views.delivery_out(d)
