"""The inbound webhooks of shared/specs/premium-collection-api.md: collection status updates
(one, or up to 100 in bulk), policy create/update, and the webhook log."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Depends, Query, Response

from arrears.errors import DomainError, ValidationFailed
from arrears.faces.premium.deps import (
    PremiumCall,
    PremiumRoute,
    answer,
    api_call,
    drain_logs,
    replay_or_reserve,
)
from arrears.faces.premium.errors import premium_code
from arrears.premiums import service, webhook_log
from arrears.premiums.schemas import (
    BULK_MAX,
    BulkCollectionsIn,
    CollectionUpdateIn,
    PolicyUpdateIn,
    collection_out,
    log_out,
    parse_collection_update,
    policy_out,
)

TAG = "Premium collections: webhooks"
router = APIRouter(route_class=PremiumRoute, tags=[TAG])

ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "Validation failed (`VALIDATION_ERROR`, `INVALID_STATUS`)"},
    401: {"description": "`MISSING_API_KEY`, `INVALID_API_KEY`, `API_KEY_REVOKED`, `API_KEY_EXPIRED`"},
    403: {"description": "`INSUFFICIENT_PERMISSIONS`, `CAPTIVE_INACTIVE`"},
    429: {"description": "`RATE_LIMIT_EXCEEDED` (see Retry-After)"},
}


@router.post("/api/webhooks/collections/update", summary="Update the status of a collection",
             responses={**ERRORS, 404: {"description": "`COLLECTION_NOT_FOUND`, `POLICY_NOT_FOUND`"},
                        409: {"description": "`INVALID_STATUS_TRANSITION`"},
                        422: {"description": "`IDEMPOTENCY_KEY_REUSED`"}})
async def update_collection(body: CollectionUpdateIn,
                            call: PremiumCall = api_call("collections:write")) -> Response:
    replay = await replay_or_reserve(call)
    if replay is not None:
        return replay
    [result] = await service.update_collections(call.session, call.caller, [body], isolate=False)
    assert result.collection is not None and result.policy is not None
    message = "Collection recorded successfully" if result.created else "Collection updated successfully"
    return await answer(call, {"data": {"collection": collection_out(result.collection, result.policy),
                                        "message": message}})


@router.post("/api/webhooks/collections/bulk-update", summary="Update up to 100 collections",
             responses={**ERRORS, 422: {"description": "`IDEMPOTENCY_KEY_REUSED`"}})
async def bulk_update(body: BulkCollectionsIn,
                      call: PremiumCall = api_call("collections:write", bucket="bulk")) -> Response:
    if not 1 <= len(body.collections) <= BULK_MAX:
        raise ValidationFailed(f"Invalid request: collections must hold 1 to {BULK_MAX} items, "
                               f"got {len(body.collections)}",
                               field_errors={"collections": [f"1 to {BULK_MAX} items"]})
    replay = await replay_or_reserve(call)
    if replay is not None:
        return replay
    items: list[CollectionUpdateIn | DomainError] = []
    for raw in body.collections:
        try:
            items.append(parse_collection_update(raw))
        except DomainError as exc:
            items.append(exc)
    outcome = await service.update_collections(call.session, call.caller, items, isolate=True)
    results, errors = [], []
    for r in outcome:
        if r.error is not None:
            errors.append({"index": r.index, "code": premium_code(r.error.code, r.error.field_errors),
                           "message": r.error.message})
        else:
            assert r.collection is not None and r.policy is not None
            results.append({"index": r.index, "collection": collection_out(r.collection, r.policy),
                            "status": "updated"})
    return await answer(call, {
        "data": {"processed": len(results), "results": results, "errors": errors},
        "message": f"Processed {len(results)} collections, {len(errors)} errors"})


@router.post("/api/webhooks/policies/update", summary="Create or update a policy",
             responses={**ERRORS, 422: {"description": "`IDEMPOTENCY_KEY_REUSED`"}})
async def update_policy(body: PolicyUpdateIn, call: PremiumCall = api_call("policies:write")) -> Response:
    replay = await replay_or_reserve(call)
    if replay is not None:
        return replay
    result = await service.upsert_policy(call.session, call.caller, body)
    if result.created:
        message = "Policy created successfully"
    elif result.changed:
        message = "Policy updated successfully"
    else:
        message = "Policy unchanged: it already had these values"
    if result.cancelled_collections:
        n = len(result.cancelled_collections)
        message += f"; {n} pending collection{'s' if n != 1 else ''} cancelled"
    return await answer(call, {"data": {"policy": policy_out(result.policy), "message": message}})


async def _drain() -> None:
    await drain_logs()


@router.get("/api/webhooks/logs", summary="Webhook activity of your cell captive", responses=ERRORS)
async def list_logs(_: None = Depends(_drain), call: PremiumCall = api_call(None),
                    page: int = Query(1, description="Page number, from 1"),
                    limit: int = Query(webhook_log.DEFAULT_LIMIT,
                                       description=f"Items per page, at most {webhook_log.MAX_LIMIT}"),
                    status_code: int | None = Query(None, ge=100, le=599, description="Only this HTTP status")
                    ) -> Response:
    found = await webhook_log.list_logs(call.session, call.org_id, page=page, limit=limit,
                                        status_code=status_code)
    body = {"data": [log_out(r) for r in found.items],
            "pagination": {"page": found.page, "limit": found.size, "total": found.total,
                           "pages": found.pages}}
    return Response(json.dumps(body).encode(), media_type="application/json")
