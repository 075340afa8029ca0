"""The partner face (shared/specs/partner-api-ecosystem.md) under /api/v1: API clients, API keys,
rate-limit tiers, usage, webhook subscriptions and deliveries. Errors use the spec's codes."""

from fastapi import APIRouter

from arrears.errors import ErrorCode
from arrears.faces.errors import CODE_MAPS, Problem
from arrears.faces.partner import catalogue, clients, keys, webhooks
from arrears.partners.errors import PartnerErrorCode

# The spec's error codes by status; the message keeps the precise reason.
SPEC_CODES: dict[int, str] = {
    400: ErrorCode.VALIDATION_ERROR, 401: ErrorCode.UNAUTHORIZED, 403: ErrorCode.FORBIDDEN,
    404: ErrorCode.NOT_FOUND, 429: ErrorCode.RATE_LIMIT_EXCEEDED, 500: PartnerErrorCode.INTERNAL_SERVER_ERROR}


def _spec_codes(p: Problem) -> Problem:
    code = SPEC_CODES.get(p.status)
    if code is None or code == p.code:
        return p
    return Problem(p.status, code, p.message, p.details, p.field_errors, p.headers)


CODE_MAPS["partner"] = _spec_codes

router = APIRouter()
router.include_router(clients.router)
router.include_router(keys.router)
router.include_router(webhooks.router)
router.include_router(catalogue.router)
