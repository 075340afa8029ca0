"""A request that cannot reach the database (or Redis, where it has no fallback) is answered 503
with Retry-After in its face's error body, never 500: the client's retry, with the same
Idempotency-Key where it sent one, gets the one answer once the database is back. The answer is
rendered by arrears.faces.errors (`outage_response`); this module installs its handlers."""

from __future__ import annotations

from typing import Any, cast

from fastapi import FastAPI, Request
from fastapi.responses import Response
from sqlalchemy import exc as sa_exc

from arrears.faces.errors import is_outage, outage_response

response = outage_response  # the name callers used

__all__ = ["install", "is_outage", "response"]


def install(app: FastAPI) -> None:
    """Handlers for the exception types an outage raises; anything else stays a 500."""
    import redis.exceptions as r_exc

    def _handler(previous: Any) -> Any:
        async def handle(request: Request, exc: Exception) -> Response:
            if is_outage(exc):
                return outage_response(request, exc)
            if previous is not None:  # e.g. a value the database cannot hold: 400 (faces.errors)
                return cast(Response, await previous(request, exc))
            raise exc  # a bug: the 500 handler logs and renders it
        return handle

    for kind in (sa_exc.DBAPIError, sa_exc.TimeoutError, OSError, r_exc.ConnectionError,
                 r_exc.TimeoutError):
        app.add_exception_handler(kind, _handler(app.exception_handlers.get(kind)))
