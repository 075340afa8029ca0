"""API keys of a client (partner-api-ecosystem.md, "API Keys")."""

from __future__ import annotations

from typing import Any

from fastapi import Depends, Response

from arrears.faces.deps import SessionDep
from arrears.faces.partner import listing, views
from arrears.faces.partner.deps import PartnerDep
from arrears.faces.partner.routing import needs, partner_router
from arrears.partners import catalogue, service
from arrears.partners.schemas import KeyCreate
from arrears.partners.service import ListQuery

router = partner_router("/api/v1", "Partner: API keys")


@router.post("/api-keys", status_code=201, summary="Create an API key (the full key is shown once)",
             description=needs("clients:write"))
async def create_key(body: KeyCreate, pc: PartnerDep, session: SessionDep) -> dict[str, Any]:
    key, raw, metadata = await service.create_key(session, pc, body)
    return views.key_out(key, metadata, raw=raw)


@router.get("/api-clients/{client_id}/api-keys", summary="List a client's API keys",
             description=needs("clients:read"))
async def list_keys(client_id: str, pc: PartnerDep, session: SessionDep,
                    lq: ListQuery = Depends(listing.list_params(
                        service.KEY_LIST, statuses=catalogue.KEY_STATUSES, status_help="ACTIVE, REVOKED or EXPIRED",
                        search_help="Name contains (any case)")),
                    page: int = 1, limit: int = 20) -> dict[str, Any]:
    keys, total = await service.list_keys(session, pc, client_id, lq=lq, page=page, limit=limit)
    meta = await service.key_metadata(session, keys)
    return views.page([views.key_out(k, meta.get(k.id)) for k in keys], page, limit, total)


@router.delete("/api-clients/{client_id}/api-keys/{api_key_id}", status_code=204,
               summary="Revoke an API key immediately",
             description=needs("clients:write"))
async def revoke_key(client_id: str, api_key_id: str, pc: PartnerDep, session: SessionDep) -> Response:
    await service.revoke_key(session, pc, client_id, api_key_id)
    return Response(status_code=204)
