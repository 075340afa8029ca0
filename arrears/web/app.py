"""Mount the UI on the API app: `/` → `/app/`, the pages under `/app/…`, assets under `/static/…`.

Errors raised on UI paths become HTML pages (or, for htmx requests, a message swapped into the
page's alert region); every other path keeps the face error handlers untouched."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from arrears.errors import DomainError
from arrears.web import nav, pages
from arrears.web.context import LoginRequired, csrf_protect
from arrears.web.render import STATIC, is_htmx, render_html
from arrears.web.session import SessionMiddleware, get_session

log = logging.getLogger("arrears.web")

# Page modules, in menu order: each is imported explicitly, so a broken one stops the app.
PAGES = (pages.auth, pages.home, pages.settings, pages.agents, pages.figures, pages.collections, pages.books,
         pages.messaging, pages.strategies, pages.letters, pages.pharmacy, pages.premiums, pages.partners)

CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
       "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'self'; "
       "object-src 'none'")


def is_ui_path(path: str) -> bool:
    return path == "/app" or path.startswith("/app/")


class SecurityHeaders:
    """Browser hardening for the UI and its assets; API responses are left as they are."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or not (is_ui_path(path) or path.startswith("/static/")):
            await self.app(scope, receive, send)
            return

        async def snd(message: Message) -> None:
            if message["type"] == "http.response.start":
                h = MutableHeaders(scope=message)
                h.setdefault("x-content-type-options", "nosniff")
                h.setdefault("referrer-policy", "same-origin")
                if is_ui_path(path):
                    h.setdefault("content-security-policy", CSP)
                    h.setdefault("x-frame-options", "DENY")
                    h.setdefault("cache-control", "no-store")
                    h.setdefault("vary", "HX-Request, Cookie")
            await send(message)

        await self.app(scope, receive, snd)


def error_response(request: Request, status: int, message: str, *, title: str | None = None,
                   headers: dict[str, str] | None = None) -> Response:
    titles = {400: "That did not work", 401: "Sign in", 403: "Not allowed", 404: "Not found",
              405: "Not allowed", 409: "Conflict", 413: "Too large", 429: "Too many attempts",
              500: "Something went wrong"}
    title = title or titles.get(status, "Error")
    h = dict(headers or {})
    if is_htmx(request):
        h |= {"HX-Retarget": "#alerts", "HX-Reswap": "innerHTML"}
        return render_html(request, "partials/alert.html",
                           {"kind": "error", "message": message, "title": title}, status=status, headers=h)
    return render_html(request, "error.html", {"status": status, "title": title, "message": message},
                       status=status, headers=h)


def _login_redirect(request: Request, exc: LoginRequired) -> Response:
    from urllib.parse import urlencode

    if exc.message:
        get_session(request).flash(exc.message, "error")
    url = "/app/login" + (f"?{urlencode({'next': exc.next_url})}" if exc.next_url else "")
    if is_htmx(request):
        return Response(status_code=204, headers={"HX-Redirect": url})
    return RedirectResponse(url, status_code=303)


Handler = Callable[[Request, Any], Awaitable[Response]]


def _wrap(app: FastAPI, exc_class: type[Exception], ui: Handler) -> None:
    """Serve UI paths with `ui`, everything else with the handler the faces installed."""
    original = app.exception_handlers.get(exc_class)

    async def handler(request: Request, exc: Any) -> Response:
        if is_ui_path(request.url.path) or original is None:
            return await ui(request, exc)
        result = original(request, exc)
        return await result if hasattr(result, "__await__") else result

    app.add_exception_handler(exc_class, handler)


def install_error_pages(app: FastAPI) -> None:
    async def login(request: Request, exc: LoginRequired) -> Response:
        return _login_redirect(request, exc)

    async def domain(request: Request, exc: DomainError) -> Response:
        return error_response(request, exc.status, exc.message, headers=exc.headers)

    async def http(request: Request, exc: StarletteHTTPException) -> Response:
        message = exc.detail if isinstance(exc.detail, str) else "Request failed"
        if exc.status_code == 404:
            message = "There is no page at this address. It may have moved, or the link is wrong."
        elif exc.status_code == 405:
            message = "This page does not accept that kind of request."
        return error_response(request, exc.status_code, message)

    async def validation(request: Request, exc: RequestValidationError) -> Response:
        return error_response(request, 400, "The request was not understood; check the form and try again.")

    async def crash(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return error_response(request, 500, "Something went wrong on our side; the error was logged. "
                                            "Try again in a moment.")

    app.add_exception_handler(LoginRequired, login)  # type: ignore[arg-type]
    _wrap(app, DomainError, domain)
    _wrap(app, StarletteHTTPException, http)
    _wrap(app, RequestValidationError, validation)
    _wrap(app, Exception, crash)


def build_router() -> APIRouter:
    router = APIRouter(prefix="/app", dependencies=[Depends(csrf_protect)], include_in_schema=False)
    for module in PAGES:
        router.include_router(module.router)
        nav.enable(module.__name__.rsplit(".", 1)[-1])
    return router


def install(app: FastAPI) -> None:
    nav.reset()
    app.include_router(build_router())

    @app.get("/", include_in_schema=False)
    async def root() -> RedirectResponse:
        return RedirectResponse("/app/", status_code=307)

    @app.get("/app", include_in_schema=False)
    async def app_root() -> RedirectResponse:
        return RedirectResponse("/app/", status_code=307)

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    install_error_pages(app)
    app.add_middleware(SessionMiddleware)
    app.add_middleware(SecurityHeaders)
