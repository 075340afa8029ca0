"""API clients, their dashboard and usage (partner-api-ecosystem.md, "API Clients", "API Usage")."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import Depends, Query, Response
from sqlalchemy.ext.asyncio import AsyncSession

from arrears.faces.deps import SessionDep
from arrears.faces.openapi import one_of
from arrears.faces.partner import listing, views
from arrears.faces.partner.deps import PartnerDep
from arrears.faces.partner.routing import needs, partner_router
from arrears.partners import catalogue, service, usage, webhooks
from arrears.partners.models import ApiClient
from arrears.partners.schemas import ClientCreate, ClientUpdate
from arrears.partners.service import ListQuery

router = partner_router("/api/v1", "Partner: API clients")


async def full_client(session: AsyncSession, client: ApiClient, webhook_secret: str | None = None
                      ) -> dict[str, Any]:
    keys = await service.client_keys(session, client)
    subs = await webhooks.client_subscriptions(session, client)
    return views.client_out(client, keys=keys, key_meta=await service.key_metadata(session, keys),
                            subscriptions=subs,
                            counts=await webhooks.delivery_counts(session, [s.id for s in subs]),
                            webhook_secret=webhook_secret)


@router.post("/api-clients", status_code=201, summary="Create an API client",
             description=needs("clients:write"))
async def create_client(body: ClientCreate, pc: PartnerDep, session: SessionDep) -> dict[str, Any]:
    client, secret = await service.create_client(session, pc, body)
    return await full_client(session, client, secret)


@router.get("/api-clients", summary="List API clients",
             description=needs("clients:read"))
async def list_clients(pc: PartnerDep, session: SessionDep,
                       lq: ListQuery = Depends(listing.list_params(
                           service.CLIENT_LIST, statuses=catalogue.CLIENT_STATUSES,
                           status_help="ACTIVE, INACTIVE or SUSPENDED",
                           search_help="Name or e-mail contains (any case)")),
                       rate_limit_tier: str | None = Query(None, alias="rateLimitTier",
                                                           json_schema_extra=one_of(t.upper() for t in catalogue.TIERS)),
                       contact_email: str | None = Query(None, alias="contactEmail"),
                       page: int = 1, limit: int = 20) -> dict[str, Any]:
    rows, total = await service.list_clients(session, pc, lq=lq, rate_limit_tier=rate_limit_tier,
                                             contact_email=contact_email, page=page, limit=limit)
    return views.page([views.client_summary(c) for c in rows], page, limit, total)


@router.get("/api-clients/{client_id}", summary="Get an API client with its keys and webhooks",
             description=needs("clients:read"))
async def get_client(client_id: str, pc: PartnerDep, session: SessionDep) -> dict[str, Any]:
    client = await service.get_client(session, pc, client_id)
    service.require(pc, "clients:read", client.id)
    return await full_client(session, client)


@router.put("/api-clients/{client_id}", summary="Update an API client",
             description=needs("clients:write"))
async def update_client(client_id: str, body: ClientUpdate, pc: PartnerDep,
                        session: SessionDep) -> dict[str, Any]:
    client, secret = await service.update_client(session, pc, client_id, body)
    return await full_client(session, client, secret)


@router.delete("/api-clients/{client_id}", status_code=204,
               summary="Delete an API client with its keys and webhooks",
             description=needs("clients:write"))
async def delete_client(client_id: str, pc: PartnerDep, session: SessionDep) -> Response:
    await service.delete_client(session, pc, client_id)
    return Response(status_code=204)


@router.get("/api-clients/{client_id}/dashboard", summary="Dashboard of an API client",
             description=needs("usage:read", own_client=True) + " `clients:read` covers every client.")
async def dashboard(client_id: str, pc: PartnerDep, session: SessionDep) -> dict[str, Any]:
    d = await usage.dashboard(session, pc, client_id)
    return {"client": await full_client(session, d.client), "usageStats": d.usage,
            "activeWebhooks": d.active_webhooks, "totalWebhooks": d.total_webhooks,
            "rateLimitStatus": d.rate_limit.as_dict()}


@router.get("/api-clients/{client_id}/usage", summary="Usage statistics of an API client",
             description=needs("usage:read", own_client=True) + " `clients:read` covers every client.")
async def get_usage(client_id: str, pc: PartnerDep, session: SessionDep,
                    date_from: datetime | None = Query(None, alias="dateFrom"),
                    date_to: datetime | None = Query(None, alias="dateTo"),
                    group_by: str | None = Query(None, alias="groupBy", json_schema_extra=one_of(("day",
                                                 "hour"), default="day"))) -> dict[str, Any]:
    return await usage.usage(session, pc, client_id, date_from=date_from, date_to=date_to,
                             group_by=group_by)
