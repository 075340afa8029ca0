"""What every `/api/webhooks/…` request goes through: a pct_ API key (never a user's JWT), the
rate limit of its bucket, an active cell captive, the endpoint's permission, the optional
`Idempotency-Key`, and one row in the webhook log.

Every request is logged once it has been answered (premiums.webhook_log queues the line and
writes it off the request path).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from fastapi import Depends, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.background import BackgroundTask, BackgroundTasks
from starlette.exceptions import HTTPException

from arrears import ratelimit, validation
from arrears.config import get_settings
from arrears.errors import DomainError, ErrorCode, Forbidden, RateLimited
from arrears.faces.deps import SessionDep, client_ip
from arrears.faces.errors import STATUS_CODES, ProblemException
from arrears.faces.premium.auth import require_active, resolve_pct_key
from arrears.faces.premium.errors import premium_code
from arrears.identity import crypto
from arrears.identity import service as identity
from arrears.identity.caller import Caller
from arrears.identity.models import ApiKey, Organisation
from arrears.premiums import idempotency, webhook_log
from arrears.premiums.errors import PremiumErrorCode
from arrears.premiums.service import know_captive

log = logging.getLogger(__name__)

#: Requests per RATE_PERIOD per API key: the `premium` settings (ARREARS_PREMIUM_RATE_LIMIT,
#: ARREARS_PREMIUM_BULK_RATE_LIMIT), whose defaults are the spec's limits.
RATE_PERIOD = "hour"


# ---------------------------------------------------------------- the caller


@dataclass(frozen=True)
class KeyRef:
    id: Any
    org_id: int
    key_id: str


@dataclass
class PremiumCall:
    request: Request
    session: AsyncSession
    caller: Caller
    org: Organisation

    @property
    def org_id(self) -> int:
        return self.caller.org_id


def _rule(bucket: str, key: ApiKey) -> str:
    limits = get_settings().premium
    if bucket == "bulk":
        return f"{limits.bulk_rate}/{RATE_PERIOD}"
    return f"{key.rate_limit_override or limits.standard_rate}/{RATE_PERIOD}"


async def _rate_limit(request: Request, key: ApiKey, bucket: str) -> None:
    verdict = await ratelimit.hit(_rule(bucket, key), "premium", bucket, key.key_id)
    headers = {"X-RateLimit-Limit": str(verdict.limit),
               "X-RateLimit-Remaining": str(verdict.remaining),
               "X-RateLimit-Reset": str(int(verdict.reset_at))}
    request.state.premium_rate_headers = headers
    if not verdict.allowed:
        raise RateLimited(f"Rate limit exceeded: {verdict.limit} requests per {RATE_PERIOD} for this "
                          f"API key on {'bulk' if bucket == 'bulk' else 'standard'} endpoints; "
                          f"retry in {verdict.retry_after} seconds", retry_after=verdict.retry_after)


def api_call(permission: str | None, bucket: str = "standard") -> Any:
    """Dependency: the authenticated, rate-limited, permitted call of a cell captive's API key."""

    async def dependency(request: Request, session: SessionDep) -> PremiumCall:
        caller, org = await resolve_pct_key(request, session)  # the key and its captive: one query
        key = caller.api_key
        assert key is not None
        # Plain values: a failed flush expires ORM objects, and the log still needs them.
        request.state.premium_key = KeyRef(key.id, key.org_id, key.key_id)
        await _rate_limit(request, key, bucket)
        require_active(org)
        if permission and not caller.has_scope(permission):
            raise Forbidden(f"This API key lacks the {permission} permission",
                            code=PremiumErrorCode.INSUFFICIENT_PERMISSIONS)
        know_captive(session, org)  # the events name the captive without reading it again
        return PremiumCall(request, session, caller, org)

    return Depends(dependency)


# ---------------------------------------------------------------- idempotency and the answer


async def replay_or_reserve(call: PremiumCall) -> Response | None:
    """With an Idempotency-Key: the stored answer to replay, or None after reserving the key (a
    concurrent request with the same key waits for this one's answer, see premiums.idempotency)."""
    raw = call.request.headers.get("idempotency-key")
    if raw is None:
        return None
    key = idempotency.check_key(raw)
    endpoint = call.request.url.path
    fingerprint = idempotency.fingerprint(endpoint, await call.request.body())
    call.request.state.premium_idempotency = (key, fingerprint)
    stored = await idempotency.reserve(call.session, call.org_id, key, endpoint, fingerprint)
    if stored is None:
        return None
    call.request.state.premium_idempotency = None  # nothing new to store
    return json_response(stored.status, stored.body, replayed=True)


async def answer(call: PremiumCall, body: dict[str, Any], status: int = 200) -> Response:
    """The JSON answer, stored for the Idempotency-Key in the request's transaction."""
    content = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
    pending = getattr(call.request.state, "premium_idempotency", None)
    if pending and 200 <= status < 300:
        key, fingerprint = pending
        await idempotency.store(call.session, call.org_id, key, call.request.url.path, fingerprint,
                                status, content)
    return json_response(status, content)


def json_response(status: int, content: bytes, *, replayed: bool = False) -> Response:
    headers = {"Idempotent-Replayed": "true"} if replayed else None
    return Response(content, status_code=status, media_type="application/json", headers=headers)


def _elapsed_ms(request: Request) -> int:
    started = getattr(request.state, "premium_started", None)
    return int((time.perf_counter() - started) * 1000) if started else 0


async def drain_logs() -> None:
    """Write the queued log lines of this process (before reading the log)."""
    await webhook_log.flush()


def _log(request: Request, status: int, code: str | None) -> None:
    """Queue the request's log line (written off the request path, see premiums.webhook_log)."""
    key: KeyRef | None = getattr(request.state, "premium_key", None)
    key_hash = None
    if key is None:
        bearer = identity.bearer_token(request.headers.get("authorization"))
        if bearer and bearer.startswith("pct_"):
            key_hash = crypto.hash_key(bearer)
    webhook_log.submit(webhook_log.LogEntry(
        endpoint=request.url.path, method=request.method, response_status=status,
        processing_time_ms=_elapsed_ms(request), org_id=key.org_id if key else None,
        api_key_id=key.id if key else None, api_key_prefix=key.key_id if key else None,
        error_code=code, idempotency_key=request.headers.get("idempotency-key"),
        ip=client_ip(request), key_hash=key_hash))


def _as_domain_error(exc: Exception) -> DomainError | None:
    if isinstance(exc, DomainError):
        return exc
    if isinstance(exc, RequestValidationError):
        return validation.validation_failed(exc)
    if isinstance(exc, ProblemException):  # e.g. a body past its limit: its own code
        p = exc.problem
        return DomainError(p.message, status=p.status, code=p.code, details=p.details,
                           headers=dict(p.headers or {}))
    if isinstance(exc, HTTPException) and not isinstance(exc.detail, dict):
        message = exc.detail if isinstance(exc.detail, str) else "Request failed"
        return DomainError(message, status=exc.status_code,
                           code=STATUS_CODES.get(exc.status_code, ErrorCode.ERROR), headers=dict(exc.headers or {}))
    return None


async def _log_sent(request: Request, status: int) -> None:
    _log(request, status, None)


def _chain(first: Any, then: BackgroundTask) -> Any:
    if first is None:
        return then
    tasks = BackgroundTasks()
    tasks.add_task(first)
    tasks.add_task(then)
    return tasks


class PremiumRoute(APIRoute):
    """Adds the rate-limit headers to every answer and logs every request."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        inner = super().get_route_handler()

        async def handler(request: Request) -> Response:
            request.state.premium_started = time.perf_counter()
            try:
                response = await inner(request)
            except Exception as exc:
                err = _as_domain_error(exc)
                if err is None:
                    _log(request, 500, ErrorCode.INTERNAL_ERROR)
                    raise
                rate = getattr(request.state, "premium_rate_headers", None)
                if rate:
                    err.headers = {**rate, **(err.headers or {})}
                _log(request, err.status, premium_code(err.code, err.field_errors))
                if err is exc:
                    raise
                raise err from None
            rate = getattr(request.state, "premium_rate_headers", None)
            if rate:
                response.headers.update(rate)
            # Logged once the answer is sent, so that the time includes the commit.
            response.background = _chain(response.background,
                                         BackgroundTask(_log_sent, request, response.status_code))
            return response

        return handler

