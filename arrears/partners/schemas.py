"""Inputs of the partner platform, with the spec's validation rules. Field names are the spec's
(camelCase aliases), so a validation error names the field the caller sent. Enums are accepted in
any case and stored in one."""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    EmailStr,
    Field,
    StringConstraints,
)
from pydantic.alias_generators import to_camel

from arrears.partners.catalogue import (
    MAX_BACKOFF_MULTIPLIER,
    MAX_RETRIES,
    MAX_RETRY_DELAY,
    MAX_TIMEOUT,
    WEBHOOK_EVENT_SET,
)

MAX_URL = 2048
MAX_METADATA_BYTES = 16_384
SCOPE_RE = re.compile(r"^(\*|[a-z][a-z0-9_.-]*(:[a-z0-9_.*-]+)?)$")
URI_SCHEME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*$")


def _upper(v: Any) -> Any:
    return v.strip().upper() if isinstance(v, str) else v


def _http_url(v: str) -> str:
    v = v.strip()
    parts = urlsplit(v)
    if (len(v) > MAX_URL or parts.scheme.lower() not in ("http", "https") or not parts.hostname
            or any(c.isspace() for c in v)):
        raise ValueError("Must be a valid http:// or https:// URL.")
    try:
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError as exc:
        raise ValueError("Must be a valid http:// or https:// URL.") from exc
    return v


def _redirect_uri(v: str) -> str:
    """An absolute URI without a fragment (RFC 6749 §3.1.2); custom schemes for native apps."""
    v = v.strip()
    parts = urlsplit(v)
    if (not v or len(v) > MAX_URL or not URI_SCHEME_RE.match(parts.scheme or "")
            or any(c.isspace() for c in v) or parts.fragment or "#" in v):
        raise ValueError("Must be an absolute URI without a fragment.")
    if parts.scheme.lower() in ("http", "https") and not parts.hostname:
        raise ValueError("Must be an absolute URI without a fragment.")
    if parts.scheme.lower() in ("javascript", "data", "vbscript", "file"):
        raise ValueError(f"The {parts.scheme}: scheme is not allowed.")
    return v


def _metadata(v: dict[str, Any] | None) -> dict[str, Any] | None:
    if v is not None and len(json.dumps(v, default=str)) > MAX_METADATA_BYTES:
        raise ValueError(f"Keep metadata under {MAX_METADATA_BYTES // 1024} KB of JSON.")
    return v


def _scopes(v: list[str]) -> list[str]:
    out: list[str] = []
    for s in v:
        s = s.strip()
        if not SCOPE_RE.match(s) or len(s) > 100:
            raise ValueError(f"{s!r} is not a scope; use names such as leads:read or webhooks:write.")
        if s not in out:
            out.append(s)
    return out


def _events(v: list[str]) -> list[str]:
    out: list[str] = []
    unknown = []
    for e in v:
        e = e.strip().lower()
        if e not in WEBHOOK_EVENT_SET:
            unknown.append(e)
        elif e not in out:
            out.append(e)
    if unknown:
        raise ValueError(f"Unknown event type(s): {', '.join(unknown)}; GET /api/v1/webhook-events "
                         "lists the known ones.")
    if not out:
        raise ValueError("Subscribe to at least one event type.")
    return out


Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255)]
Description = Annotated[str, StringConstraints(max_length=5000)]
HttpUrl = Annotated[str, AfterValidator(_http_url)]
RedirectUri = Annotated[str, AfterValidator(_redirect_uri)]
Email = Annotated[EmailStr, StringConstraints(max_length=254)]
Tier = Annotated[Literal["BASIC", "STANDARD", "PREMIUM", "ENTERPRISE"], BeforeValidator(_upper)]
ClientStatus = Annotated[Literal["ACTIVE", "INACTIVE", "SUSPENDED"], BeforeValidator(_upper)]
SubscriptionStatus = Annotated[Literal["ACTIVE", "PAUSED"], BeforeValidator(_upper)]
Scopes = Annotated[list[str], AfterValidator(_scopes)]
Events = Annotated[list[str], AfterValidator(_events)]
Metadata = Annotated[dict[str, Any] | None, AfterValidator(_metadata)]


class _In(BaseModel):
    """Fields typed without None but defaulting to None may be left out, never sent as null
    (pydantic does not validate defaults, so `null` fails on the field that carries it)."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")

    def given(self) -> set[str]:
        """The fields the caller sent, by attribute name."""
        return set(self.model_fields_set)


class ClientCreate(_In):
    name: Name
    description: Description | None = None
    redirect_uris: list[RedirectUri]
    website: HttpUrl | None = None
    logo_url: HttpUrl | None = None
    contact_email: Email
    rate_limit_tier: Tier | None = None
    webhook_url: HttpUrl | None = None
    scopes: Scopes | None = None
    metadata: Metadata = None


class ClientUpdate(_In):
    name: Name = None  # type: ignore[assignment]
    description: Description | None = None
    redirect_uris: list[RedirectUri] = None  # type: ignore[assignment]
    website: HttpUrl | None = None
    logo_url: HttpUrl | None = None
    contact_email: Email = None  # type: ignore[assignment]
    rate_limit_tier: Tier = None  # type: ignore[assignment]
    status: ClientStatus = None  # type: ignore[assignment]
    webhook_url: HttpUrl | None = None
    scopes: Scopes | None = None
    metadata: Metadata = None


class KeyCreate(_In):
    client_id: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
    name: Name
    expires_at: datetime | None = None
    scopes: Scopes | None = None
    rate_limit_override: Annotated[int, Field(ge=1, le=1_000_000)] | None = None
    metadata: Metadata = None


class RetryConfig(_In):
    max_retries: Annotated[int, Field(ge=0, le=MAX_RETRIES)] = None  # type: ignore[assignment]
    retry_delay: Annotated[int, Field(ge=1, le=MAX_RETRY_DELAY)] = None  # type: ignore[assignment]
    backoff_multiplier: Annotated[float, Field(ge=1, le=MAX_BACKOFF_MULTIPLIER)] = None  # type: ignore[assignment]
    timeout: Annotated[int, Field(ge=1, le=MAX_TIMEOUT)] = None  # type: ignore[assignment]


class WebhookCreate(_In):
    # Optional only when the client has a default webhookUrl.
    url: HttpUrl = None  # type: ignore[assignment]
    events: Events
    retry_config: RetryConfig | None = None
    metadata: Metadata = None


class WebhookUpdate(_In):
    url: HttpUrl = None  # type: ignore[assignment]
    events: Events = None  # type: ignore[assignment]
    retry_config: RetryConfig | None = None
    metadata: Metadata = None
    status: SubscriptionStatus = None  # type: ignore[assignment]
