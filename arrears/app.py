"""Build the FastAPI app: mount the five faces, the UI, the operations endpoints, middleware."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from arrears.config import Settings, get_settings
from arrears.faces import errors as face_errors
from arrears.faces import openapi as face_openapi
from arrears.faces import unavailable
from arrears.faces.bodylimit import BodyLimitMiddleware
from arrears.identity.request_log import RequestLogMiddleware
from arrears.ops import MetricsMiddleware, configure_logging
from arrears.ops import router as ops_router
from arrears.sandbox import warm_pool_in_background
from arrears.state import state
from arrears.wiring import wire

log = logging.getLogger("arrears.app")

REPAYSYNC_PREFIXES = ("/api/auth/", "/api/users/", "/api/customers/", "/api/loans/",
                      "/api/interactions/", "/api/logs/")

OPENAPI_TAGS = [
    {"name": "RepaySync: auth, users, logs", "description": "shared/specs/repaysync-api.md"},
    {"name": "Operations", "description": "Liveness, readiness and metrics"},
]


def _faces() -> tuple[Any, ...]:
    """Each face is a package exposing `router`, imported explicitly: a broken one is an error."""
    from arrears.faces import (
        accounts_api,
        age_analysis,
        collections,
        figures_api,
        import_profiles,
        letters_api,
        partner,
        payments_api,
        pharmacy,
        premium,
        promises_api,
        providers,
        repaysync,
        strategies_api,
        templates_api,
    )

    return (repaysync, age_analysis, pharmacy, premium, partner, providers, templates_api, accounts_api,
            figures_api, collections, import_profiles, payments_api, promises_api, strategies_api,
            letters_api)


def prepare() -> Settings:
    """What each start does before the application is built, on the settings of the moment.
    Apart from the building, so that a test harness keeping one built application (the build
    and FastAPI's first routing cost 0.1 to 0.5 CPU-s) still does it for each test."""
    settings = get_settings()
    configure_logging(settings.arrears_log_level)
    settings.resolved_secret()  # refuse to start with an unsafe secret, before serving anything
    wire()  # every event handler, publisher, timeline source and table, as in the worker and CLI
    return settings


def create_app(*, run_worker: bool = False) -> FastAPI:
    settings = prepare()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        worker_task = None
        worker = None
        warm_pool_in_background()  # the first upload finds a parser child ready
        if run_worker:
            from arrears.worker import Worker

            worker = Worker()
            worker_task = asyncio.create_task(worker.run())
        try:
            yield
        finally:
            if worker is not None and worker_task is not None:
                worker.stop()
                with contextlib.suppress(asyncio.CancelledError):
                    await asyncio.wait_for(worker_task, timeout=30)
            await state.close()  # the hub, HTTP clients, pacer, parse pool, engines

    app = FastAPI(title="Arrears", version="0.1.0", lifespan=lifespan, openapi_tags=OPENAPI_TAGS,
                  description="One collections platform, five API faces (see shared/specs/).")
    # Paths are served exactly as the specs write them: no slash redirects.
    app.router.redirect_slashes = False
    face_errors.install(app)
    unavailable.install(app)  # an outage answers 503 + Retry-After, never 500
    app.include_router(ops_router)
    for face in _faces():
        app.include_router(face.router)
    from arrears import web

    web.mount(app)
    face_openapi.install(app)  # /openapi.json as the server answers: errors, credentials

    from arrears.faces.partner.unrouted import UnroutedRateHeaders

    app.add_middleware(UnroutedRateHeaders)  # X-RateLimit-* on /api/v1 answers no route made
    app.add_middleware(RequestLogMiddleware, prefixes=REPAYSYNC_PREFIXES)
    app.add_middleware(BodyLimitMiddleware)  # inside the log: an oversized body is logged as refused
    app.add_middleware(MetricsMiddleware)
    if settings.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=settings.cors_origins, allow_credentials=True,
                           allow_methods=["*"], allow_headers=["*"],
                           expose_headers=["X-RateLimit-Limit", "X-RateLimit-Remaining",
                                           "X-RateLimit-Reset", "Retry-After"])
    return app
