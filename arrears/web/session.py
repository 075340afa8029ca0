"""The UI's session: a signed cookie (itsdangerous, keyed by the app's SECRET_KEY) holding who is
signed in, in which organisation, the CSRF token and one-shot flash messages.

The cookie is HttpOnly, SameSite=Lax, and Secure whenever the request came over HTTPS (behind a
proxy listed in ARREARS_TRUSTED_PROXIES, when it says `X-Forwarded-Proto: https`). Nothing secret is
in it: it is signed, not encrypted, and holds only ids and a random token. The signed-in session
also has a server-side record (arrears.identity.web_sessions), named by that token (made afresh at
each sign-in; the cookie's signature binds it to the user): signing out ends the record, so a copy
of the cookie stops working at once. A session ends after
`IDLE_SECONDS` without a request or `ABSOLUTE_SECONDS` after sign-in, whichever comes first.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from starlette.datastructures import MutableHeaders
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from arrears import proxies
from arrears.config import get_settings

COOKIE = "arrears_session"
SALT = "arrears.web.session.v1"
IDLE_SECONDS = 2 * 3600
ABSOLUTE_SECONDS = 12 * 3600
RESIGN_AFTER = 300  # re-sign (slide the idle window) at most every five minutes
SCOPE_KEY = "arrears.web.session"
UI_PREFIXES = ("/app",)


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(get_settings().resolved_secret(), salt=SALT)


@dataclass
class WebSession:
    user_id: int | None = None
    org_id: int | None = None
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    signed_in_at: int = 0
    flashes: list[tuple[str, str]] = field(default_factory=list)
    # A secret to show once on the page a POST redirects to (a new API key), encrypted.
    reveal_token: str | None = None
    # Bookkeeping, not stored.
    dirty: bool = False
    cleared: bool = False
    signed_at: float = 0.0

    @property
    def sid(self) -> str:
        """The server-side record's name: the CSRF token, made afresh at each sign-in."""
        return self.csrf

    @property
    def authenticated(self) -> bool:
        return self.user_id is not None

    # ------------------------------------------------------------ changes

    def sign_in(self, user_id: int, org_id: int | None) -> None:
        """A new session for this user: a fresh CSRF token, so no token from before sign-in
        (or from another person on this browser) carries over. The token also names the
        session's server-side record (web_sessions.start(db, user_id, session.sid)); without one
        the session is refused on its next request."""
        self.user_id = user_id
        self.org_id = org_id
        self.csrf = secrets.token_urlsafe(32)
        self.signed_in_at = int(time.time())
        self.flashes = []
        self.reveal_token = None
        self.dirty = True
        self.cleared = False

    def sign_out(self) -> None:
        """Forget the sign-in in the cookie; the caller ends the server-side record too."""
        self.user_id = None
        self.org_id = None
        self.csrf = secrets.token_urlsafe(32)
        self.signed_in_at = 0
        self.flashes = []
        self.reveal_token = None
        self.cleared = True
        self.dirty = True

    def switch_org(self, org_id: int) -> None:
        self.org_id = org_id
        self.dirty = True

    def flash(self, message: str, kind: str = "success") -> None:
        self.flashes.append((kind, message))
        self.dirty = True

    def reveal(self, secret: str, kind: str = "key") -> None:
        """Carry a new secret across the redirect after the POST that made it, encrypted (Fernet,
        keyed by SECRET_KEY), to the next page only: it is shown exactly once, and reloading that
        page neither shows it again nor makes another."""
        from arrears.identity import crypto

        self.reveal_token = crypto.encrypt(f"{kind}\n{secret}")
        self.dirty = True

    def pop_reveal(self) -> tuple[str, str] | None:
        """(kind, secret) of a secret to show now, or None; either way it is gone afterwards."""
        from arrears.identity import crypto

        token, self.reveal_token = self.reveal_token, None
        if token is None:
            return None
        self.dirty = True
        try:
            kind, _, secret = crypto.decrypt(token).partition("\n")
        except ValueError:
            return None
        return kind, secret

    def pop_flashes(self) -> list[tuple[str, str]]:
        out = self.flashes
        if out:
            self.flashes = []
            self.dirty = True
        return out

    # ------------------------------------------------------------ (de)serialise

    def dump(self) -> dict[str, Any]:
        data: dict[str, Any] = {"c": self.csrf}
        if self.user_id is not None:
            data |= {"u": self.user_id, "o": self.org_id, "t": self.signed_in_at}
        if self.flashes:
            data["f"] = [list(f) for f in self.flashes[-5:]]
        if self.reveal_token:
            data["r"] = self.reveal_token
        return data

    @classmethod
    def load(cls, raw: str | None) -> WebSession:
        if not raw:
            return cls(dirty=True)
        try:
            data, signed = _serializer().loads(raw, max_age=IDLE_SECONDS, return_timestamp=True)
        except (BadSignature, SignatureExpired, ValueError):
            return cls(dirty=True, cleared=True)
        if not isinstance(data, dict) or not isinstance(data.get("c"), str):
            return cls(dirty=True, cleared=True)
        s = cls(csrf=data["c"], signed_at=signed.timestamp())
        user = data.get("u")
        started = data.get("t") or 0
        if isinstance(user, int) and isinstance(started, int) and time.time() - started < ABSOLUTE_SECONDS:
            s.user_id = user
            org = data.get("o")
            s.org_id = org if isinstance(org, int) else None
            s.signed_in_at = started
        elif user is not None:
            s.dirty = s.cleared = True  # signed in too long ago: start over
        if isinstance(data.get("r"), str):
            s.reveal_token = data["r"]
        for item in data.get("f") or []:
            if isinstance(item, list) and len(item) == 2 and all(isinstance(x, str) for x in item):
                s.flashes.append((item[0], item[1]))
        return s

    def needs_cookie(self) -> bool:
        if self.dirty:
            return True
        return self.authenticated and time.time() - self.signed_at > RESIGN_AFTER


def get_session(conn: HTTPConnection) -> WebSession:
    s = conn.scope.get(SCOPE_KEY)
    if s is None:  # a route outside the middleware's prefixes asked: give it a throwaway one
        s = WebSession()
        conn.scope[SCOPE_KEY] = s
    return s


def cookie_header(session: WebSession, secure: bool) -> str:
    flags = f"Path=/app; HttpOnly; SameSite=Lax{'; Secure' if secure else ''}"
    value = _serializer().dumps(session.dump())
    return f"{COOKIE}={value}; Max-Age={IDLE_SECONDS}; {flags}"


class SessionMiddleware:
    """Loads the session for UI paths and writes the cookie back when it changed."""

    def __init__(self, app: ASGIApp, prefixes: tuple[str, ...] = UI_PREFIXES) -> None:
        self.app = app
        self.prefixes = prefixes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or not any(path == p or path.startswith(p + "/") for p in self.prefixes):
            await self.app(scope, receive, send)
            return
        conn = HTTPConnection(scope)
        session = WebSession.load(conn.cookies.get(COOKIE))
        scope[SCOPE_KEY] = session
        secure = proxies.is_https(conn)  # X-Forwarded-Proto counts from a trusted proxy only

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start" and session.needs_cookie():
                headers = MutableHeaders(scope=message)
                headers.append("set-cookie", cookie_header(session, secure))
            await send(message)

        await self.app(scope, receive, send_with_cookie)
