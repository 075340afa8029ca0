"""A request that cannot reach the database (or Redis, where it has no fallback) is answered 503
with Retry-After in its face's error body, never 500: the client's retry, with the same
Idempotency-Key where it sent one, gets the one answer once the database is back."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy import exc as sa_exc

from arrears import outages
from arrears.errors import ErrorCode
from arrears.faces import errors as face_errors

log = logging.getLogger("arrears.outages")


def is_outage(exc: BaseException) -> bool:
    return outages.db_unavailable(exc) or outages.redis_unavailable(exc)


def response(request: Request, exc: BaseException) -> JSONResponse:
    what = "database" if outages.db_unavailable(exc) else "redis"
    outages.DB_UNAVAILABLE.labels("server" if what == "database" else "server-redis").inc()
    log.info("503 on %s %s: %s unavailable (%s)", request.method, request.url.path, what,
             type(exc).__name__)
    problem = face_errors.Problem(
        503, ErrorCode.SERVICE_UNAVAILABLE,
        f"The service is briefly unavailable ({what} unreachable); retry in "
        f"{outages.DB_RETRY_AFTER} seconds", headers={"Retry-After": str(outages.DB_RETRY_AFTER)})
    return face_errors.render(request, problem)


def install(app: FastAPI) -> None:
    """Handlers for the exception types an outage raises; anything else stays a 500."""
    import redis.exceptions as r_exc

    async def _handler(request: Request, exc: Exception) -> JSONResponse:
        if is_outage(exc):
            return response(request, exc)
        raise exc  # a bug: the 500 handler logs and renders it

    for kind in (sa_exc.DBAPIError, sa_exc.TimeoutError, OSError, r_exc.ConnectionError,
                 r_exc.TimeoutError):
        app.add_exception_handler(kind, _handler)
