"""What every provider is: one interface the outbox calls, whatever leaves the machine (or not).

A provider sends a batch of messages (SMSPortal takes up to 100 per call; the others one) and
says, per message, one of three things:

- `sent`: the provider took it (its reference in `external_id`);
- `transient`: try again later (timeouts, connection errors, 429, 5xx), honouring `retry_after`;
- `permanent`: trying again cannot help (an invalid number, a 4xx); `response` says why, in the
  provider's words.

`send` never raises for what the network or the provider does. How a provider settles a message
whose call was interrupted (the worker died between recording the attempt and recording the
answer) is its `recovery`: see `arrears.messaging.outbox.reconcile`.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Literal

import httpx

from arrears.messaging.attachments import Attachment
from arrears.state import on_this_loop, state

Outcome = Literal["sent", "transient", "permanent"]
# How an interrupted call is settled when no receipt tells:
#   "resend"  — sending again cannot duplicate (nothing leaves the machine, or the provider
#               de-duplicates on our reference), so it is sent again;
#   "receipt" — wait for the provider's delivery report/event naming our reference, then apply
#               MESSAGING_UNKNOWN_OUTCOME (fail = at most once, resend = at least once);
#   "policy"  — no receipts will come: apply MESSAGING_UNKNOWN_OUTCOME at once.
Recovery = Literal["resend", "receipt", "policy"]
MAX_RESPONSE = 200  # provider answers are stored trimmed: a status and a short reason


@dataclass(frozen=True, slots=True)
class Outbound:
    """One message as a provider needs it."""

    id: int  # row id
    ref: str  # our reference (the message's UUID): UserReference, custom_args, Idempotency-Key
    org_id: int
    channel: str
    recipient: str  # 27821234567 (no +) for SMS; an address for e-mail
    content: str  # SMS text, or the e-mail's plain part
    subject: str | None = None
    html: str | None = None
    attempt: int = 1  # this call's number for the message, 1-based
    attachments: tuple[Attachment, ...] = ()  # e-mail only (a letter's PDF): arrears.messaging.attachments


@dataclass(slots=True)
class SendResult:
    message_id: int
    outcome: Outcome
    external_id: str | None = None
    response: str = ""
    retry_after: float | None = None
    # Simulation only: statuses the fake network reports later, with their delays in seconds.
    later: list[tuple[str, float]] = field(default_factory=list)


class Provider(ABC):
    name: str = "provider"
    channel: str = "sms"
    max_batch: int = 1
    recovery: Recovery = "policy"

    def __init__(self, account: str) -> None:
        # Rate limits are kept per provider account and shared by every worker.
        self.account = account
        self.own_account = False  # the organisation's own credentials (its own rate limit)

    @abstractmethod
    async def send(self, batch: Sequence[Outbound]) -> list[SendResult]:
        """Send the batch; one result per message, in any order. Never raises."""

    def describe(self) -> str:
        return self.name


def account_key(name: str, *parts: str | None) -> str:
    """A provider account's key without its secrets: "smsportal:3f2a9c0d1e7b"."""
    digest = hashlib.sha256("\x1f".join(p or "" for p in parts).encode()).hexdigest()[:12]
    return f"{name}:{digest}"


def clip(text: str | None, limit: int = MAX_RESPONSE) -> str:
    """A provider's words as stored and shown: one line of printable text, at most `limit`
    characters (never more than MAX_RESPONSE), so a hostile gateway cannot fill the log."""
    text = " ".join("".join(c if c.isprintable() else " " for c in (text or "")).split())
    limit = min(limit, MAX_RESPONSE)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def parse_retry_after(value: str | None) -> float | None:
    """Retry-After as seconds (delta-seconds or an HTTP date); None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def error_text(resp: httpx.Response) -> str:
    """The provider's reason, from a JSON error body when there is one."""
    body = resp.text[:4000]
    try:
        data: Any = json.loads(body)
    except ValueError:
        return clip(body) or f"HTTP {resp.status_code}"
    found = _find_message(data)
    return clip(found or body) or f"HTTP {resp.status_code}"


def _find_message(data: Any) -> str | None:
    if isinstance(data, dict):
        for key in ("errors", "Errors", "error", "Error", "message", "Message", "errorMessage",
                    "ErrorMessage", "detail", "reason", "Reason", "title"):
            if key in data:
                found = _find_message(data[key])
                if found:
                    return found
        for key in ("field", "Field"):
            if key in data:
                return str(data[key])
        return None
    if isinstance(data, list):
        parts = [m for m in (_find_message(x) for x in data[:5]) if m]
        return "; ".join(parts) or None
    if isinstance(data, (str, int, float)):
        return str(data)
    return None


def classify_status(code: int) -> Outcome:
    """HTTP status → outcome: 2xx sent; 408, 425, 429 and 5xx transient; other 4xx permanent."""
    if 200 <= code < 300:
        return "sent"
    if code in (408, 425, 429) or code >= 500:
        return "transient"
    return "permanent"


def transport_error(exc: BaseException, timeout: float) -> str:
    if isinstance(exc, (httpx.TimeoutException, TimeoutError, asyncio.TimeoutError)):
        return f"Timed out after {timeout:g} s ({type(exc).__name__})"
    return clip(f"{type(exc).__name__}: {exc}") or type(exc).__name__


# ---------------------------------------------------------------- one HTTP client per event loop


@dataclass
class _Http:
    loop: asyncio.AbstractEventLoop
    client: httpx.AsyncClient


USER_AGENT = "Arrears-Messaging/1.0"


def _close_client(held: _Http) -> Awaitable[None]:
    return held.client.aclose()


def _loop_of(held: _Http) -> asyncio.AbstractEventLoop:
    return held.loop


_CLOSE = on_this_loop(_close_client, _loop_of)


def _held() -> _Http:
    loop = asyncio.get_running_loop()

    def build() -> _Http:
        limits = httpx.Limits(max_connections=256, max_keepalive_connections=64, keepalive_expiry=30.0)
        return _Http(loop, httpx.AsyncClient(limits=limits, follow_redirects=False, trust_env=False,
                                             headers={"user-agent": USER_AGENT}))

    return state.obtain("messaging.http", build, close=_CLOSE,
                        usable=lambda h: h.loop is loop and not h.client.is_closed)


def http_client() -> httpx.AsyncClient:
    """The process's client for providers (keep-alive pools per host), made per event loop and
    kept by the application state (closed by `state.close()`)."""
    return _held().client


def guarded_http_client() -> httpx.AsyncClient:
    """The client for addresses an organisation set itself (its own SMS gateway URL): every
    connection goes to an address arrears.netguard checked when the socket was opened."""
    return _held_guarded().client


def _held_guarded() -> _Http:
    loop = asyncio.get_running_loop()

    def build() -> _Http:
        from arrears.netguard_transport import GuardedTransport

        return _Http(loop, httpx.AsyncClient(transport=GuardedTransport(64), follow_redirects=False,
                                             trust_env=False, headers={"user-agent": USER_AGENT}))

    return state.obtain("messaging.guarded_http", build, close=_CLOSE,
                        usable=lambda h: h.loop is loop and not h.client.is_closed)


async def close_http_client() -> None:
    """Close this loop's clients now, before a provider's stand-in stops (the next call opens
    others)."""
    if "messaging.http" in state.objects:
        await _held().client.aclose()
    if "messaging.guarded_http" in state.objects:
        await _held_guarded().client.aclose()
