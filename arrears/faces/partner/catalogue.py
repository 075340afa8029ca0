"""Rate-limit tiers and webhook event types; any valid credential may read them."""

from __future__ import annotations

from typing import Any

from arrears.faces.partner.deps import PartnerDep
from arrears.faces.partner.routing import needs, partner_router
from arrears.partners.catalogue import TIERS, WEBHOOK_EVENTS

router = partner_router("/api/v1", "Partner: catalogue")


@router.get("/rate-limits", summary="Rate-limit tiers",
             description=needs(None))
async def rate_limits(pc: PartnerDep) -> dict[str, Any]:
    return {"data": {name: tier.as_dict() for name, tier in TIERS.items()}}


@router.get("/webhook-events", summary="Webhook event types",
             description=needs(None))
async def webhook_events(pc: PartnerDep) -> dict[str, Any]:
    return {"data": list(WEBHOOK_EVENTS)}
