"""Usage of the partner API: one row per request (route template, status, duration), aggregated in
SQL that runs the same on SQLite and PostgreSQL (time buckets are written with each row)."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from arrears import request_logs
from arrears.db import isoz, utcnow
from arrears.errors import ValidationFailed
from arrears.partners import ratelimits
from arrears.partners.models import ApiClient, PartnerRequest, WebhookSubscription
from arrears.partners.service import PartnerCaller, client_keys, get_client, key_status, require

log = logging.getLogger("arrears.partners.usage")

DEFAULT_PERIOD = timedelta(days=30)
GROUPS = ("hour", "day")
TOP_ENDPOINTS = 50
TOP_ERRORS = 10


LOG = request_logs.RequestLog("partner usage", PartnerRequest.__table__)


async def record_request(*, org_id: int | None, client_id: uuid.UUID | None, api_key_id: uuid.UUID | None,
                         user_id: int | None, method: str, endpoint: str, status_code: int,
                         duration_ms: int, at: datetime | None = None) -> None:
    """Store one request in its own transaction (the request's own one has ended by now)."""
    at = (at or utcnow()).astimezone(UTC)
    await request_logs.record(LOG, {
        "org_id": org_id, "client_id": client_id, "api_key_id": api_key_id, "user_id": user_id,
        "method": method[:10], "endpoint": endpoint[:255], "status_code": status_code,
        "duration_ms": max(0, duration_ms), "day": at.strftime("%Y-%m-%d"),
        "hour": at.strftime("%Y-%m-%dT%H"), "created_at": at})


def _period(date_from: datetime | None, date_to: datetime | None) -> tuple[datetime, datetime]:
    def aware(d: datetime | None) -> datetime | None:
        return d.replace(tzinfo=UTC) if d is not None and d.tzinfo is None else d

    date_from, date_to = aware(date_from), aware(date_to)
    end = date_to or utcnow()
    start = date_from or end - DEFAULT_PERIOD
    if start > end:
        raise ValidationFailed("dateFrom must not be after dateTo",
                               field_errors={"dateFrom": ["Must not be after dateTo."]})
    return start, end


async def compute(session: AsyncSession, client_id: uuid.UUID, start: datetime, end: datetime,
                  group_by: str = "day") -> dict[str, Any]:
    R = PartnerRequest
    where = (R.client_id == client_id, R.created_at >= start, R.created_at <= end)
    total, ok, avg = (await session.execute(
        select(func.count(), func.coalesce(func.sum(case((R.status_code < 400, 1), else_=0)), 0),
               func.avg(R.duration_ms)).where(*where))).one()
    n = func.count().label("n")
    endpoints = (await session.execute(
        select(R.endpoint, n, func.avg(R.duration_ms)).where(*where).group_by(R.endpoint)
        .order_by(n.desc(), R.endpoint).limit(TOP_ENDPOINTS))).all()
    bucket = R.hour if group_by == "hour" else R.day
    times = (await session.execute(select(bucket, n).where(*where).group_by(bucket).order_by(bucket))).all()
    errors = (await session.execute(
        select(R.status_code, n).where(*where, R.status_code >= 400).group_by(R.status_code)
        .order_by(n.desc(), R.status_code).limit(TOP_ERRORS))).all()
    total = int(total or 0)
    ok = int(ok or 0)
    return {
        "totalRequests": total,
        "successfulRequests": ok,
        "failedRequests": total - ok,
        "averageResponseTime": round(float(avg)) if avg is not None else 0,
        "requestsByEndpoint": [{"endpoint": e, "count": int(c), "avgResponseTime": round(float(a or 0))}
                               for e, c, a in endpoints],
        "requestsByTime": [{"time": f"{t}:00:00Z" if group_by == "hour" else t, "count": int(c)}
                           for t, c in times],
        "topErrorCodes": [{"statusCode": int(code), "count": int(c)} for code, c in errors],
    }


async def usage(session: AsyncSession, pc: PartnerCaller, client_id: str, *,
                date_from: datetime | None = None, date_to: datetime | None = None,
                group_by: str | None = None) -> dict[str, Any]:
    client = await get_client(session, pc, client_id)
    require(pc, "usage:read", client.id)
    group = (group_by or "day").strip().lower()
    if group not in GROUPS:
        raise ValidationFailed("groupBy must be hour or day", field_errors={"groupBy": ["Must be hour or day."]})
    start, end = _period(date_from, date_to)
    return await compute(session, client.id, start, end, group)


@dataclass(frozen=True)
class RateLimitStatus:
    tier: str
    remaining: int
    limit: int
    reset_at: str | None

    def as_dict(self) -> dict[str, Any]:
        return {"tier": self.tier, "remaining": self.remaining, "limit": self.limit, "resetAt": self.reset_at}


async def rate_limit_status(session: AsyncSession, client: ApiClient) -> RateLimitStatus:
    """The tightest live window over the client's active keys (the tier's minute window when none)."""
    now = utcnow()
    best: ratelimits.Status | None = None
    for key in await client_keys(session, client):
        if key_status(key, now) != "ACTIVE":
            continue
        st = await ratelimits.peek(ratelimits.key_subject(key.id),
                                   ratelimits.limits_for(client.rate_limit_tier, key.rate_limit_override))
        if best is None or st.remaining < best.remaining:
            best = st
    tier = ratelimits.limits_for(client.rate_limit_tier)
    if best is None:
        return RateLimitStatus(client.rate_limit_tier.upper(), tier.per_minute, tier.per_minute,
                               isoz(now.replace(microsecond=0) + timedelta(minutes=1)))
    reset = datetime.fromtimestamp(best.reset_epoch(), UTC)
    return RateLimitStatus(client.rate_limit_tier.upper(), best.remaining, best.limit, isoz(reset))


@dataclass
class Dashboard:
    client: ApiClient
    usage: dict[str, Any]
    active_webhooks: int
    total_webhooks: int
    rate_limit: RateLimitStatus


async def dashboard(session: AsyncSession, pc: PartnerCaller, client_id: str) -> Dashboard:
    client = await get_client(session, pc, client_id)
    require(pc, "usage:read", client.id)
    end = utcnow()
    stats = await compute(session, client.id, end - DEFAULT_PERIOD, end, "day")
    S = WebhookSubscription
    total, active = (await session.execute(
        select(func.count(), func.coalesce(func.sum(case((S.status == "ACTIVE", 1), else_=0)), 0))
        .where(S.client_id == client.id))).one()
    return Dashboard(client, stats, int(active or 0), int(total or 0), await rate_limit_status(session, client))
