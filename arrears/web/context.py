"""Who is looking at a page: the signed-in person (from the session cookie), acting in one of
their organisations, as the same `Caller` the API faces use — so every service applies the same
role, access and tenant rules to the UI as to the API."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import FormData

from arrears.config import get_settings
from arrears.errors import DomainError, ErrorCode, Forbidden, Unauthorized
from arrears.faces.deps import SessionDep
from arrears.identity import service as identity
from arrears.identity import web_sessions
from arrears.identity.caller import Caller
from arrears.identity.models import Organisation
from arrears.web.session import WebSession, get_session

UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
# Upload forms read their multipart body themselves, streamed (arrears.faces.multipart): the
# token in their form is checked by the route (check_streamed_csrf) before anything is kept.
STREAMED_FORMS = frozenset({"/app/books", "/app/settings/letterhead"})


class LoginRequired(Exception):
    def __init__(self, next_url: str | None = None, message: str | None = None) -> None:
        super().__init__(message or "Sign in to continue")
        self.next_url = next_url
        self.message = message


class CsrfRejected(DomainError):
    code = ErrorCode.CSRF_FAILED
    status = 403


class TooLarge(DomainError):
    code = ErrorCode.FILE_TOO_LARGE
    status = 413


def safe_next(url: str | None) -> str:
    """Only our own UI paths are followed after sign-in (never another site, never `//x`)."""
    if not url:
        return "/app/"
    parts = urlsplit(url)
    if parts.scheme or parts.netloc or not parts.path.startswith("/app") or url.startswith("//"):
        return "/app/"
    if "\\" in url or any(ord(c) < 32 for c in url):
        return "/app/"
    return url


def _same_origin(request: Request) -> bool:
    origin = request.headers.get("origin")
    if origin is None:
        return True  # older browsers omit it on same-origin posts; the token still decides
    return urlsplit(origin).netloc == request.headers.get("host", "") != ""


async def csrf_protect(request: Request) -> None:
    """Every unsafe request under /app must carry the session's CSRF token, in the form field
    `csrf_token` or (htmx) the `X-CSRF-Token` header, and must not come from another origin."""
    if request.method not in UNSAFE:
        return
    if not _same_origin(request):
        raise CsrfRejected("This form was sent from another site and was refused.")
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > get_settings().upload_max_size + 1024 * 1024:
        mb = get_settings().upload_max_size // (1024 * 1024)
        raise TooLarge(f"The file is larger than the upload limit of {mb} MB.")
    session = get_session(request)
    token = request.headers.get(CSRF_HEADER)
    if not token:
        ctype = request.headers.get("content-type", "")
        if ctype.startswith("multipart/form-data") and request.url.path in STREAMED_FORMS:
            request.state.csrf_streamed = True  # the route checks the form's token
            return
        if ctype.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            form = await request.form()
            value = form.get(CSRF_FIELD)
            token = value if isinstance(value, str) else None
    if not token or not secrets.compare_digest(token, session.csrf):
        raise CsrfRejected("Your session's security token did not match (the page may have been open "
                           "too long, or you signed in elsewhere). Reload the page and try again.")


def check_streamed_csrf(request: Request, token: str | None) -> None:
    """The CSRF check of a form whose body the route streamed (STREAMED_FORMS): its token field."""
    if not getattr(request.state, "csrf_streamed", False):
        return  # csrf_protect checked the header already
    if not token or not secrets.compare_digest(token, get_session(request).csrf):
        raise CsrfRejected("Your session's security token did not match (the page may have been open "
                           "too long, or you signed in elsewhere). Reload the page and try again.")


@dataclass
class Ctx:
    """One page request: the HTTP request, its transaction, the session and the caller."""

    request: Request
    db: AsyncSession
    session: WebSession
    caller: Caller
    org: Organisation
    orgs: list[Organisation] = field(default_factory=list)
    # A secret made by the previous request (a new API key), to show on this page only.
    revealed: tuple[str, str] | None = None

    @property
    def can_write(self) -> bool:
        return self.caller.access == "write"

    @property
    def is_admin(self) -> bool:
        return self.caller.is_admin

    @property
    def is_manager(self) -> bool:
        return self.caller.is_manager_or_admin

    @property
    def user(self) -> Any:
        return self.caller.user

    @property
    def tz(self) -> str:
        value = identity.org_setting(self.org, "timezone")
        return value if isinstance(value, str) and value else "Africa/Johannesburg"

    @property
    def currency(self) -> str:
        value = identity.org_setting(self.org, "currency_symbol")
        return value if isinstance(value, str) and value else "R"

    def flash(self, message: str, kind: str = "success") -> None:
        self.session.flash(message, kind)

    def reveal_next(self, secret: str, kind: str = "key") -> None:
        """Show `secret` once on the page this request redirects to."""
        self.session.reveal(secret, kind)

    def revealed_as(self, kind: str) -> str | None:
        return self.revealed[1] if self.revealed and self.revealed[0] == kind else None

    async def form(self) -> FormData:
        return await self.request.form()

    def require_write(self) -> None:
        self.caller.require_write()

    def require_admin(self, *, write: bool = True) -> None:
        if not self.caller.is_admin:
            raise Forbidden("Only organisation admins can do this.")
        if write:
            self.caller.require_write()


async def current_ctx(request: Request, db: SessionDep) -> Ctx:
    session = get_session(request)
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    if not session.authenticated:
        raise LoginRequired(here if request.method == "GET" else None)
    assert session.user_id is not None
    if not await web_sessions.is_live(db, session.sid, session.user_id):
        session.sign_out()  # signed out elsewhere (a copied cookie), or from before server-side sessions
        raise LoginRequired(here if request.method == "GET" else None, "Your session has ended: sign in again.")
    try:
        caller = await identity.caller_for_user(db, session.user_id, session.org_id)
    except (Unauthorized, Forbidden) as exc:
        session.sign_out()
        raise LoginRequired(None, exc.message) from exc
    if caller.org_id != session.org_id:
        session.switch_org(caller.org_id)
    orgs = sorted([await identity.get_org(db, i) for i in caller.memberships],
                  key=lambda o: (o.name.lower(), o.id))
    org = next(o for o in orgs if o.id == caller.org_id)
    request.state.user_id = caller.user_id
    request.state.org_id = caller.org_id
    revealed = session.pop_reveal() if request.method == "GET" and session.reveal_token else None
    return Ctx(request=request, db=db, session=session, caller=caller, org=org, orgs=orgs, revealed=revealed)


CtxDep = Annotated[Ctx, Depends(current_ctx)]
