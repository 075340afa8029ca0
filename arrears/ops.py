"""Liveness, readiness, Prometheus metrics and JSON logs."""

from __future__ import annotations

import hmac
import logging
import sys
import time

import structlog
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from arrears.config import get_settings
from arrears.db import get_engine

router = APIRouter(tags=["Operations"])

REQUESTS = Counter("arrears_http_requests_total", "HTTP requests", ["method", "route", "status"])
LATENCY = Histogram("arrears_http_request_seconds", "HTTP request latency", ["method", "route"])


@router.get("/healthz", summary="Liveness")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="Readiness: the database answers; Redis, when set, is reported")
async def readyz() -> JSONResponse:
    from arrears.outages import readiness

    body, status = await readiness(get_engine)
    return JSONResponse(body, status_code=status)


@router.get("/metrics", summary="Prometheus metrics (a Bearer token when ARREARS_METRICS_TOKEN is set)",
            include_in_schema=True)
async def metrics(request: Request) -> Response:
    token = get_settings().arrears_metrics_token
    if token:
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token.encode()):
            return JSONResponse({"detail": "A valid metrics token is required (Authorization: Bearer …)."},
                                status_code=401, headers={"WWW-Authenticate": 'Bearer realm="metrics"'})
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


class MetricsMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def snd(msg: Message) -> None:
            nonlocal status
            if msg["type"] == "http.response.start":
                status = msg["status"]
            await send(msg)

        try:
            await self.app(scope, receive, snd)
        finally:
            route = scope.get("route")
            # Route templates, never raw paths, so ids do not explode the label set.
            name = getattr(route, "path", None) or "unmatched"
            REQUESTS.labels(scope["method"], name, str(status)).inc()
            LATENCY.labels(scope["method"], name).observe(time.perf_counter() - started)
            structlog.get_logger("arrears.http").info(
                "request", method=scope["method"], route=name, status=status,
                ms=round((time.perf_counter() - started) * 1000, 1))


def configure_logging(level: str = "INFO") -> None:
    """JSON lines on stderr. Nothing here logs headers or bodies, so no secret reaches a log."""
    logging.basicConfig(level=level, stream=sys.stderr, format="%(message)s")
    structlog.configure(
        processors=[structlog.stdlib.add_log_level, structlog.processors.TimeStamper(fmt="iso", utc=True),
                    structlog.processors.JSONRenderer()],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level)),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )
