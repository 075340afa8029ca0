"""Around every partner route: the X-RateLimit-* headers on every response (errors included), the
spec's 429 body, and one usage row per request (route template, status, duration).

- `PartnerRoute.get_route_handler` sees the response (or the exception) of the route: it adds the
  headers, answers a rate-limited request with the spec's body, and notes the status.
- `log_request`, a router dependency with request scope, writes the usage row after the request's
  transaction has ended (so it never waits behind that transaction's write lock)."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from datetime import UTC, datetime
from typing import Any

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException

from arrears import validation
from arrears.db import isoz
from arrears.errors import DomainError, ErrorCode, RateLimited
from arrears.partners import usage
from arrears.partners.ratelimits import Status

log = logging.getLogger("arrears.faces.partner")


class PartnerRateLimited(RateLimited):
    """Raised by the auth dependency; answered with the spec's 429 body."""


def rate_headers(request: Request) -> dict[str, str]:
    st: Status | None = getattr(request.state, "partner_rate", None)
    if st is None:
        return {}
    return {"X-RateLimit-Limit": str(st.limit), "X-RateLimit-Remaining": str(max(0, st.remaining)),
            "X-RateLimit-Reset": isoz(datetime.fromtimestamp(st.reset_epoch(), UTC)) or ""}


class PartnerRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        original = super().get_route_handler()

        async def handler(request: Request) -> Response:
            try:
                response = await original(request)
            except PartnerRateLimited as exc:
                # Nothing was done but reading the key, so the request's transaction may commit.
                response = JSONResponse({"error": ErrorCode.RATE_LIMIT_EXCEEDED, "message": exc.message,
                                         "retryAfter": exc.retry_after}, status_code=429,
                                        headers=exc.headers)
            except DomainError as exc:
                request.state.partner_status = exc.status
                exc.headers = dict(exc.headers or {}) | rate_headers(request)
                raise
            except StarletteHTTPException as exc:
                request.state.partner_status = exc.status_code
                exc.headers = dict(exc.headers or {}) | rate_headers(request)
                raise
            except RequestValidationError as exc:
                request.state.partner_status = 400
                raise validation.validation_failed(exc, headers=rate_headers(request) or None) from exc
            response.headers.update(rate_headers(request))
            request.state.partner_status = response.status_code
            return response

        return handler


async def log_request(request: Request) -> AsyncIterator[None]:
    started = time.perf_counter()
    try:
        yield
    finally:
        state = request.state
        try:
            await usage.record_request(
                org_id=getattr(state, "partner_org_id", None),
                client_id=getattr(state, "partner_client_id", None),
                api_key_id=getattr(state, "partner_api_key_id", None),
                user_id=getattr(state, "partner_user_id", None), method=request.method,
                endpoint=_template(request), status_code=getattr(state, "partner_status", 500),
                duration_ms=round((time.perf_counter() - started) * 1000))
        except Exception:  # the log must never break a request
            log.exception("could not record a partner request")


def _template(request: Request) -> str:
    route = request.scope.get("route")
    return getattr(route, "path_format", None) or getattr(route, "path", None) or request.url.path


def needs(scope: str | None, own_client: bool = False) -> str:
    """A route's OpenAPI description: the scope an `ins_` key needs for it (docs/contracts.md,
    "Partner scopes")."""
    if scope is None:
        return ("Scope: none — any valid partner credential (admin JWT or `ins_` key of any scope). "
                "See docs/contracts.md#partner-scopes.")
    text = f"Scope: `{scope}`"
    if own_client:
        text += " on the key's own API client (`clients:write` covers every client)"
    elif scope == "clients:read":
        text += " (or `clients:write`)"
    text += ("; `*` covers every scope. Admin JWTs: organisation admins (read-only admins may only "
             "read). See docs/contracts.md#partner-scopes.")
    return text


def partner_router(prefix: str, tag: str) -> Any:
    """An APIRouter whose routes are PartnerRoutes and whose requests are logged."""
    from fastapi import APIRouter, Depends

    return APIRouter(prefix=prefix, route_class=PartnerRoute, tags=[tag],
                     dependencies=[Depends(log_request)])
