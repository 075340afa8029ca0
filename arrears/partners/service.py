"""The rules of the partner platform's API clients and API keys, and who may call it.

Callers: an organisation admin's JWT, or an `ins_` key of one of the organisation's API clients.
Scopes of a key: `clients:read` / `clients:write` manage every client of the organisation;
`webhooks:read` / `webhooks:write` and `usage:read` act on the key's own client only; `*` is all."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select, delete, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from arrears import events, paging
from arrears import netguard as ssrf  # the webhooks' address checks (arrears.partners.ssrf)
from arrears.db import utcnow
from arrears.errors import Forbidden, NotFound, Unauthorized, ValidationFailed
from arrears.identity import crypto
from arrears.identity import service as identity
from arrears.identity.caller import Caller
from arrears.identity.errors import IdentityErrorCode
from arrears.identity.models import ApiKey
from arrears.paging import PageRequest, PageRule
from arrears.partners import fanout
from arrears.partners.catalogue import CLIENT_STATUSES, DEFAULT_TIER, KEY_STATUSES, TIERS, USER_TIER, Tier
from arrears.partners.models import ApiClient, ApiKeyMetadata, WebhookSubscription
from arrears.partners.ratelimits import key_subject, limits_for, user_subject
from arrears.partners.schemas import ClientCreate, ClientUpdate, KeyCreate
from arrears.partners.signing import new_secret

MAX_PAGE_SIZE = 100
# The partner face's paging: page, limit (default 20, at most 100).
PAGES = PageRule(20, MAX_PAGE_SIZE, size_name="limit")

# ---------------------------------------------------------------- callers


@dataclass(frozen=True)
class PartnerCaller:
    caller: Caller
    client: ApiClient | None = None  # the key's API client

    @property
    def org_id(self) -> int:
        return self.caller.org_id

    @property
    def api_key(self) -> ApiKey | None:
        return self.caller.api_key

    @property
    def actor(self) -> str:
        return self.caller.actor

    @property
    def rate_subject(self) -> str:
        if self.caller.api_key is not None:
            return key_subject(self.caller.api_key.id)
        assert self.caller.user is not None
        return user_subject(self.caller.user.id)

    @property
    def limits(self) -> Tier:
        if self.client is not None and self.caller.api_key is not None:
            return limits_for(self.client.rate_limit_tier, self.caller.api_key.rate_limit_override)
        return limits_for(USER_TIER)


async def authenticate(session: AsyncSession, token: str | None) -> PartnerCaller:
    """Bearer token → partner caller, or 401/403 with the reason."""
    if not token:
        raise Unauthorized("Authentication required: send Authorization: Bearer <ins_ API key or "
                           "admin access token>", code=IdentityErrorCode.MISSING_CREDENTIALS)
    if token.startswith("pct_"):
        raise Unauthorized("pct_ keys belong to the premium collection API; the partner API takes "
                           "ins_ keys", code=IdentityErrorCode.INVALID_API_KEY)
    caller = await identity.resolve(session, token)
    await identity.require_active_org(session, caller)
    if caller.kind == "user":
        return PartnerCaller(caller)
    key = caller.api_key
    assert key is not None
    if key.kind != "ins" or key.client_id is None:
        raise Forbidden("This API key belongs to no API client; create partner keys with "
                        "POST /api/v1/api-keys")
    client = await session.get(ApiClient, key.client_id)
    if client is None or client.org_id != key.org_id:
        raise Unauthorized("API key not found or invalid format", code=IdentityErrorCode.INVALID_API_KEY)
    if client.status != "ACTIVE":
        raise Forbidden(f"API client {client.name!r} is {client.status.lower()}; its keys are refused")
    return PartnerCaller(caller, client)


# Where a refused key is sent to read which scope each endpoint needs.
SCOPES_WHERE = ("the scopes of every endpoint are listed in docs/contracts.md#partner-scopes "
                "and in each route's description in GET /openapi.json")
READS = {"clients:read", "webhooks:read", "usage:read"}
OWN_CLIENT = {"webhooks:read": ("webhooks:read", "webhooks:write"),
              "webhooks:write": ("webhooks:write",),
              "usage:read": ("usage:read",)}


def require(pc: PartnerCaller, scope: str, client_id: uuid.UUID | None = None) -> None:
    """May this caller do `scope` (on `client_id`)? 403 when not."""
    caller = pc.caller
    if caller.kind == "user":
        if not caller.is_admin:
            raise Forbidden("Only organisation admins manage API clients, keys and webhooks")
        if scope not in READS:
            caller.require_write()
        return
    scopes = caller.scopes
    if "*" in scopes or "clients:write" in scopes:
        return
    if scope in READS and "clients:read" in scopes:
        return
    own = OWN_CLIENT.get(scope, ())
    if own and any(s in scopes for s in own) and pc.client is not None and client_id == pc.client.id:
        return
    if own and any(s in scopes for s in own):
        raise Forbidden(f"This API key lacks the {scope} scope for this API client: its {own[0]} scope "
                        f"reaches only its own client, other clients need clients:write; {SCOPES_WHERE}")
    raise Forbidden(f"This API key lacks the {scope} scope (this endpoint needs {scope}); {SCOPES_WHERE}")


# ---------------------------------------------------------------- helpers


def parse_id(value: str | uuid.UUID, what: str) -> uuid.UUID:
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except ValueError as exc:
        raise NotFound(f"{what} {value} not found") from exc


async def paged(session: AsyncSession, q: Select[Any], req: PageRequest) -> tuple[list[Any], int]:
    found = await paging.fetch(session, q, req)
    return found.items, found.total


def parse_enum(value: str | None, allowed: tuple[str, ...], field: str) -> str | None:
    if value is None or value == "":
        return None
    v = value.strip().upper()
    if v not in allowed:
        raise ValidationFailed(f"{field} must be one of {', '.join(allowed)}",
                               field_errors={field: [f"Must be one of {', '.join(allowed)}."]})
    return v


@dataclass(frozen=True)
class ListQuery:
    """The spec's common list parameters, already parsed by the face. `date_from` and `date_to`
    are inclusive bounds on the list's date column; `sort_by` is one of the list's sort names."""

    status: str | None = None
    date_from: datetime | None = None
    date_to: datetime | None = None
    search: str | None = None
    sort_by: str | None = None
    descending: bool = True


@dataclass(frozen=True)
class ListRule:
    """What one list may be sorted by (spec names → columns), its default and its date column."""

    sorts: dict[str, InstrumentedAttribute[Any]]
    default: str
    date_column: InstrumentedAttribute[Any]
    id_column: InstrumentedAttribute[Any]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.sorts)

    def apply(self, q: Select[Any], lq: ListQuery) -> Select[Any]:
        """Date bounds, then the order: the sort column with NULLs last in both directions, then
        the id in the same direction, so that equal values keep one order from page to page."""
        if lq.date_from is not None:
            q = q.where(self.date_column >= lq.date_from)
        if lq.date_to is not None:
            q = q.where(self.date_column <= lq.date_to)
        name = lq.sort_by or self.default
        col = self.sorts.get(name)
        if col is None:
            raise ValidationFailed(f"sortBy must be one of {', '.join(self.names)}",
                                   field_errors={"sortBy": [f"Must be one of {', '.join(self.names)}."]})
        if lq.descending:
            return q.order_by(col.desc().nulls_last(), self.id_column.desc())
        return q.order_by(col.asc().nulls_last(), self.id_column.asc())


def _like(text: str) -> str:
    esc = text.strip().lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{esc}%"


async def check_webhook_url(url: str, field: str) -> None:
    try:
        await ssrf.check_url(url)
    except ssrf.UnsafeDestination as exc:
        raise ValidationFailed(f"{field} is not allowed: {exc}", field_errors={field: [str(exc)]}) from exc


def decrypt_secret(token: str | None) -> str | None:
    return crypto.decrypt(token) if token else None


# ---------------------------------------------------------------- API clients


async def get_client(session: AsyncSession, pc: PartnerCaller, client_id: str | uuid.UUID) -> ApiClient:
    cid = parse_id(client_id, "API client")
    client = await session.get(ApiClient, cid)
    if client is None or client.org_id != pc.org_id:
        raise NotFound(f"API client {client_id} not found")
    return client


async def create_client(session: AsyncSession, pc: PartnerCaller, data: ClientCreate
                        ) -> tuple[ApiClient, str | None]:
    """The new client and, when a webhookUrl was given, its new webhook secret (shown once)."""
    require(pc, "clients:write")
    secret = None
    if data.webhook_url:
        await check_webhook_url(data.webhook_url, "webhookUrl")
        secret = new_secret()
    now = utcnow()
    client = ApiClient(org_id=pc.org_id, name=data.name, description=data.description,
                       redirect_uris=list(data.redirect_uris), website=data.website, logo_url=data.logo_url,
                       contact_email=str(data.contact_email), status="ACTIVE",
                       rate_limit_tier=(data.rate_limit_tier or DEFAULT_TIER).lower(),
                       webhook_url=data.webhook_url,
                       webhook_secret_enc=crypto.encrypt(secret) if secret else None,
                       scopes=list(data.scopes or []), meta=data.metadata, created_at=now, updated_at=now)
    session.add(client)
    await session.flush()
    await events.record(session, org_id=pc.org_id, type="api_client.created", actor=pc.actor,
                        subject_type="api_client", subject_id=client.id,
                        after={"name": client.name, "status": client.status,
                               "rateLimitTier": client.rate_limit_tier})
    return client, secret


CLIENT_LIST = ListRule({"createdAt": ApiClient.created_at, "updatedAt": ApiClient.updated_at,
                        "name": ApiClient.name, "status": ApiClient.status,
                        "rateLimitTier": ApiClient.rate_limit_tier,
                        "contactEmail": ApiClient.contact_email},
                       "createdAt", ApiClient.created_at, ApiClient.id)


async def list_clients(session: AsyncSession, pc: PartnerCaller, *, lq: ListQuery = ListQuery(),
                       rate_limit_tier: str | None = None, contact_email: str | None = None,
                       page: int = 1, limit: int = 20) -> tuple[list[ApiClient], int]:
    """Filters: status, createdAt bounds, tier, contactEmail and search (name or e-mail,
    case-insensitive substrings)."""
    require(pc, "clients:read")
    req = PAGES.check(page, limit)
    q = select(ApiClient).where(ApiClient.org_id == pc.org_id)
    if (st := parse_enum(lq.status, CLIENT_STATUSES, "status")) is not None:
        q = q.where(ApiClient.status == st)
    tiers = tuple(t.upper() for t in TIERS)
    if (tier := parse_enum(rate_limit_tier, tiers, "rateLimitTier")) is not None:
        q = q.where(ApiClient.rate_limit_tier == tier.lower())
    if contact_email and contact_email.strip():
        q = q.where(func.lower(ApiClient.contact_email).like(_like(contact_email), escape="\\"))
    if lq.search and lq.search.strip():
        pattern = _like(lq.search)
        q = q.where(or_(func.lower(ApiClient.name).like(pattern, escape="\\"),
                        func.lower(ApiClient.contact_email).like(pattern, escape="\\")))
    return await paged(session, CLIENT_LIST.apply(q, lq), req)


async def update_client(session: AsyncSession, pc: PartnerCaller, client_id: str, data: ClientUpdate
                        ) -> tuple[ApiClient, str | None]:
    """The updated client and a new webhook secret when a webhookUrl was set where none was."""
    client = await get_client(session, pc, client_id)
    require(pc, "clients:write")
    given = data.given()
    before = {"name": client.name, "status": client.status, "rateLimitTier": client.rate_limit_tier,
              "webhookUrl": client.webhook_url}
    secret = None
    if "webhook_url" in given:
        if data.webhook_url:
            await check_webhook_url(data.webhook_url, "webhookUrl")
            if not client.webhook_secret_enc:
                secret = new_secret()
                client.webhook_secret_enc = crypto.encrypt(secret)
        else:
            client.webhook_secret_enc = None
        client.webhook_url = data.webhook_url
    simple = {"name": "name", "description": "description", "website": "website", "logo_url": "logo_url",
              "metadata": "meta"}
    for field, attr in simple.items():
        if field in given:
            setattr(client, attr, getattr(data, field))
    if "redirect_uris" in given:
        client.redirect_uris = list(data.redirect_uris)
    if "contact_email" in given:
        client.contact_email = str(data.contact_email)
    if "scopes" in given:
        client.scopes = list(data.scopes or [])
    if "rate_limit_tier" in given:
        client.rate_limit_tier = data.rate_limit_tier.lower()
    reactivated = False
    if "status" in given and data.status != client.status:
        reactivated = data.status == "ACTIVE"
        client.status = data.status
    client.updated_at = utcnow()
    await session.flush()
    await events.record(session, org_id=pc.org_id, type="api_client.updated", actor=pc.actor,
                        subject_type="api_client", subject_id=client.id, before=before,
                        after={"name": client.name, "status": client.status,
                               "rateLimitTier": client.rate_limit_tier, "webhookUrl": client.webhook_url})
    fanout.forget_subscriptions(session)
    if reactivated:
        await fanout.request_drain(session)  # deliveries held while it was not active
    return client, secret


async def delete_client(session: AsyncSession, pc: PartnerCaller, client_id: str) -> None:
    """The client, its keys (refused from now on), its subscriptions and their deliveries."""
    client = await get_client(session, pc, client_id)
    require(pc, "clients:write")
    await session.execute(delete(ApiKey).where(ApiKey.client_id == client.id, ApiKey.org_id == pc.org_id))
    await session.execute(delete(WebhookSubscription).where(WebhookSubscription.client_id == client.id))
    await session.delete(client)
    await session.flush()
    await events.record(session, org_id=pc.org_id, type="api_client.deleted", actor=pc.actor,
                        subject_type="api_client", subject_id=client.id, before={"name": client.name})


# ---------------------------------------------------------------- API keys


def key_status(key: ApiKey, now: datetime | None = None) -> str:
    now = now or utcnow()
    if key.revoked_at is not None:
        return "REVOKED"
    if key.expires_at is not None and key.expires_at <= now:
        return "EXPIRED"
    return "ACTIVE"


async def key_metadata(session: AsyncSession, keys: list[ApiKey]) -> dict[uuid.UUID, dict[str, Any] | None]:
    if not keys:
        return {}
    rows = await session.execute(select(ApiKeyMetadata.api_key_id, ApiKeyMetadata.meta)
                                 .where(ApiKeyMetadata.api_key_id.in_([k.id for k in keys])))
    return {r[0]: r[1] for r in rows}


async def create_key(session: AsyncSession, pc: PartnerCaller, data: KeyCreate
                     ) -> tuple[ApiKey, str, dict[str, Any] | None]:
    """A new ins_ key for a client: (key, the full key shown once, metadata)."""
    client = await get_client(session, pc, data.client_id)
    require(pc, "clients:write")
    scopes = list(data.scopes) if data.scopes is not None else list(client.scopes or [])
    allowed = set(client.scopes or [])
    if allowed and "*" not in allowed:
        extra = [s for s in scopes if s not in allowed]
        if extra:
            raise ValidationFailed(
                f"A key's scopes must be among its client's scopes; {', '.join(extra)} is not",
                field_errors={"scopes": [f"Not among the client's scopes: {', '.join(extra)}."]})
    expires_at = data.expires_at
    if expires_at is not None and expires_at.tzinfo is None:
        expires_at = expires_at.replace(tzinfo=UTC)
    key, raw = await identity.create_api_key(
        session, pc.caller, kind="ins", scopes=scopes, name=data.name, expires_at=expires_at,
        client_id=client.id, rate_limit_override=data.rate_limit_override)
    if data.metadata is not None:
        session.add(ApiKeyMetadata(api_key_id=key.id, meta=data.metadata))
        await session.flush()
    return key, raw, data.metadata


KEY_LIST = ListRule({"createdAt": ApiKey.created_at, "lastUsedAt": ApiKey.last_used_at,
                     "expiresAt": ApiKey.expires_at, "name": ApiKey.name},
                    "createdAt", ApiKey.created_at, ApiKey.id)


async def list_keys(session: AsyncSession, pc: PartnerCaller, client_id: str, *, lq: ListQuery = ListQuery(),
                    page: int = 1, limit: int = 20) -> tuple[list[ApiKey], int]:
    """Filters: status (ACTIVE, REVOKED, EXPIRED as of now), createdAt bounds, search (name)."""
    client = await get_client(session, pc, client_id)
    require(pc, "clients:read")
    req = PAGES.check(page, limit)
    q = select(ApiKey).where(ApiKey.client_id == client.id, ApiKey.org_id == pc.org_id)
    now = utcnow()
    st = parse_enum(lq.status, KEY_STATUSES, "status")
    if st == "REVOKED":
        q = q.where(ApiKey.revoked_at.is_not(None))
    elif st == "EXPIRED":
        q = q.where(ApiKey.revoked_at.is_(None), ApiKey.expires_at <= now)
    elif st == "ACTIVE":
        q = q.where(ApiKey.revoked_at.is_(None), or_(ApiKey.expires_at.is_(None), ApiKey.expires_at > now))
    if lq.search and lq.search.strip():
        q = q.where(func.lower(ApiKey.name).like(_like(lq.search), escape="\\"))
    return await paged(session, KEY_LIST.apply(q, lq), req)


async def client_keys(session: AsyncSession, client: ApiClient) -> list[ApiKey]:
    q = select(ApiKey).where(ApiKey.client_id == client.id, ApiKey.org_id == client.org_id)
    return list((await session.scalars(q.order_by(ApiKey.created_at.desc(), ApiKey.id))).all())


async def revoke_key(session: AsyncSession, pc: PartnerCaller, client_id: str, api_key_id: str) -> None:
    client = await get_client(session, pc, client_id)
    require(pc, "clients:write")
    q = select(ApiKey).where(ApiKey.client_id == client.id, ApiKey.org_id == pc.org_id)
    try:
        q = q.where(ApiKey.id == uuid.UUID(api_key_id))
    except ValueError:
        q = q.where(ApiKey.key_id == api_key_id)
    key = await session.scalar(q)
    if key is None:
        raise NotFound(f"API key {api_key_id} not found")
    await identity.revoke_api_key(session, pc.caller, key)
