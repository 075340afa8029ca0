"""Partner API: rate-limit tiers, per-key windows, headers on every response, 429.

Every test runs twice: on the in-process limiter (the embedded default, REDIS_URL unset) and on
Redis (REDIS_URL set from TEST_REDIS_URL, or this machine's Redis on 127.0.0.1:6379 when it is
unset). Only when no Redis is reachable is the Redis run skipped, and never in CI.
`clock` freezes and moves the wall clock that the limiter counts with (time.time)."""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from limits.aio.storage import MemoryStorage

from arrears import config, ratelimit
from arrears.partners.catalogue import TIERS, Tier
from tests.conftest import DEFAULT_REDIS, _redis_base, _worker_index, need_service


def _local_redis() -> str:
    url = DEFAULT_REDIS
    return url.rsplit("/", 1)[0] + f"/{_redis_base(url) + 12 + _worker_index()}"


def reset_epoch(value: str) -> float:
    assert value.endswith("Z")
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


@pytest.fixture(params=["memory", "redis"], autouse=True)
def backend(request: pytest.FixtureRequest, env: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> str:
    """Where the counters live for this test; checked, not assumed."""
    if request.param == "redis":
        if not env["redis_url"]:
            # The embedded default has no Redis; use this machine's own when it runs one.
            url = _local_redis()
            need_service("Redis", url)
            import redis

            redis.Redis.from_url(url).flushdb()
            monkeypatch.setenv("REDIS_URL", url)
            env["redis_url"] = url
            config.reset_settings()
            ratelimit.reset_storage_cache()
        need_service("Redis", env["redis_url"])
        assert not isinstance(ratelimit.storage(), MemoryStorage)
    else:
        monkeypatch.delenv("REDIS_URL", raising=False)
        config.reset_settings()
        ratelimit.reset_storage_cache()
        assert isinstance(ratelimit.storage(), MemoryStorage)
    return str(request.param)


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[Clock]:
    # limits (memory and Redis storages alike) and arrears.partners.ratelimits read time.time().
    c = Clock(float(math.floor(time.time())))
    monkeypatch.setattr(time, "time", c)
    yield c


async def test_tiers_are_the_specs(client, partner):
    r = await client.get("/api/v1/rate-limits", headers=partner.headers)
    assert r.status_code == 200
    assert r.json() == {"data": {
        "basic": {"requestsPerMinute": 60, "requestsPerHour": 1000, "requestsPerDay": 10000},
        "standard": {"requestsPerMinute": 120, "requestsPerHour": 5000, "requestsPerDay": 50000},
        "premium": {"requestsPerMinute": 300, "requestsPerHour": 15000, "requestsPerDay": 150000},
        "enterprise": {"requestsPerMinute": 600, "requestsPerHour": 50000, "requestsPerDay": 500000}}}


async def test_headers_count_down_per_key(client, partner):
    c = await partner.create_client(rateLimitTier="standard", scopes=["*"])
    k1 = (await partner.create_key(c["id"]))["key"]
    k2 = (await partner.create_key(c["id"]))["key"]
    seen = []
    for _ in range(3):
        r = await client.get("/api/v1/webhook-events", headers=partner.key_headers(k1))
        assert r.status_code == 200
        seen.append(int(r.headers["X-RateLimit-Remaining"]))
        assert r.headers["X-RateLimit-Limit"] == "120"
        reset = reset_epoch(r.headers["X-RateLimit-Reset"])
        assert time.time() < reset <= time.time() + 61
    assert seen == [119, 118, 117]
    r = await client.get("/api/v1/webhook-events", headers=partner.key_headers(k2))
    assert r.headers["X-RateLimit-Remaining"] == "119"  # another key, another counter
    # Errors carry the headers too: a 404, a validation error, a 403.
    r = await client.get("/api/v1/api-clients/nope", headers=partner.key_headers(k1))
    assert r.status_code == 404 and r.headers["X-RateLimit-Remaining"] == "116"
    r = await client.get("/api/v1/api-clients", params={"limit": 1000}, headers=partner.key_headers(k1))
    assert r.status_code == 400 and r.headers["X-RateLimit-Remaining"] == "115"
    r = await client.post("/api/v1/api-keys", json={"bad": 1}, headers=partner.key_headers(k1))
    assert r.status_code == 400 and r.headers["X-RateLimit-Remaining"] == "114"


async def test_override_limits_the_key_and_429_is_the_specs(client, partner):
    c = await partner.create_client(scopes=["*"])
    key = (await partner.create_key(c["id"], rateLimitOverride=3))["key"]
    h = partner.key_headers(key)
    for left in (2, 1, 0):
        r = await client.get("/api/v1/rate-limits", headers=h)
        assert r.status_code == 200 and r.headers["X-RateLimit-Limit"] == "3"
        assert r.headers["X-RateLimit-Remaining"] == str(left)
    r = await client.get("/api/v1/rate-limits", headers=h)
    assert r.status_code == 429
    body = r.json()
    assert set(body) == {"error", "message", "retryAfter"}
    assert body["error"] == "RATE_LIMIT_EXCEEDED" and body["message"] == "API rate limit exceeded"
    assert 1 <= body["retryAfter"] <= 60 and r.headers["Retry-After"] == str(body["retryAfter"])
    assert r.headers["X-RateLimit-Remaining"] == "0" and r.headers["X-RateLimit-Limit"] == "3"
    assert int(r.headers["content-length"]) == len(r.content)
    # The admin is not limited by the key's counter, and the key's other windows were not used up.
    assert (await client.get("/api/v1/rate-limits", headers=partner.headers)).status_code == 200


async def test_hour_and_day_windows(client, partner, monkeypatch, clock):
    monkeypatch.setitem(TIERS, "basic", Tier(per_minute=5, per_hour=3, per_day=100))
    c = await partner.create_client(rateLimitTier="basic", scopes=["*"])
    h = partner.key_headers((await partner.create_key(c["id"]))["key"])
    r = await client.get("/api/v1/rate-limits", headers=h)
    assert r.headers["X-RateLimit-Limit"] == "3" and r.headers["X-RateLimit-Remaining"] == "2"  # tightest
    await client.get("/api/v1/rate-limits", headers=h)
    await client.get("/api/v1/rate-limits", headers=h)
    r = await client.get("/api/v1/rate-limits", headers=h)
    assert r.status_code == 429 and r.headers["X-RateLimit-Limit"] == "3"
    assert r.json()["retryAfter"] == 3600  # the hour window frees up an hour after the first request
    clock.advance(3599)
    assert (await client.get("/api/v1/rate-limits", headers=h)).status_code == 429
    clock.advance(2)
    r = await client.get("/api/v1/rate-limits", headers=h)
    assert r.status_code == 200 and r.headers["X-RateLimit-Remaining"] == "2"

    monkeypatch.setitem(TIERS, "standard", Tier(per_minute=50, per_hour=40, per_day=2))
    c2 = await partner.create_client(name="Daily", rateLimitTier="standard", scopes=["*"])
    h2 = partner.key_headers((await partner.create_key(c2["id"]))["key"])
    assert (await client.get("/api/v1/rate-limits", headers=h2)).headers["X-RateLimit-Limit"] == "2"
    await client.get("/api/v1/rate-limits", headers=h2)
    r = await client.get("/api/v1/rate-limits", headers=h2)
    assert r.status_code == 429 and r.json()["retryAfter"] == 86_400
    clock.advance(86_399)
    assert (await client.get("/api/v1/rate-limits", headers=h2)).status_code == 429
    clock.advance(2)
    assert (await client.get("/api/v1/rate-limits", headers=h2)).status_code == 200


async def test_tier_change_applies_to_existing_keys(client, partner):
    c = await partner.create_client(rateLimitTier="basic", scopes=["*"])
    h = partner.key_headers((await partner.create_key(c["id"]))["key"])
    assert (await client.get("/api/v1/rate-limits", headers=h)).headers["X-RateLimit-Limit"] == "60"
    await client.put(f"/api/v1/api-clients/{c['id']}", json={"rateLimitTier": "ENTERPRISE"},
                     headers=partner.headers)
    assert (await client.get("/api/v1/rate-limits", headers=h)).headers["X-RateLimit-Limit"] == "600"


async def test_counters_live_where_configured(client, partner, env, backend):
    """Redis: one count for every process (a new connection sees it). Memory: this process only."""
    import redis.asyncio as aioredis

    c = await partner.create_client(scopes=["*"])
    key = await partner.create_key(c["id"], rateLimitOverride=2)
    h = partner.key_headers(key["key"])
    assert (await client.get("/api/v1/rate-limits", headers=h)).headers["X-RateLimit-Remaining"] == "1"
    ratelimit.reset_storage_cache()  # as another process would: a storage of its own
    r = await client.get("/api/v1/rate-limits", headers=h)
    if backend == "redis":
        assert r.headers["X-RateLimit-Remaining"] == "0"
        assert (await client.get("/api/v1/rate-limits", headers=h)).status_code == 429
        conn = aioredis.from_url(env["redis_url"])
        try:
            names = [k.decode() for k in await conn.keys("*")]
        finally:
            await conn.aclose()
        assert any(key["id"] in n for n in names), names
    else:
        assert r.headers["X-RateLimit-Remaining"] == "1"  # a fresh in-process counter


async def test_minute_window_slides(client, partner, clock):
    """A moving window: requests leave it one by one, 60 s after each was made."""
    c = await partner.create_client(scopes=["*"])
    h = partner.key_headers((await partner.create_key(c["id"], rateLimitOverride=3))["key"])
    t0 = clock.now
    for left in ("2", "1"):
        r = await client.get("/api/v1/rate-limits", headers=h)
        assert r.status_code == 200 and r.headers["X-RateLimit-Remaining"] == left
        assert reset_epoch(r.headers["X-RateLimit-Reset"]) == t0 + 60
    clock.advance(30)
    r = await client.get("/api/v1/rate-limits", headers=h)
    assert r.headers["X-RateLimit-Remaining"] == "0"
    assert reset_epoch(r.headers["X-RateLimit-Reset"]) == t0 + 60  # when the oldest leaves
    r = await client.get("/api/v1/rate-limits", headers=h)
    assert r.status_code == 429 and r.json()["retryAfter"] == 30 and r.headers["Retry-After"] == "30"
    clock.advance(31)  # t0+61: the two requests of t0 have left, the one of t0+30 has not
    r = await client.get("/api/v1/rate-limits", headers=h)
    assert r.status_code == 200 and r.headers["X-RateLimit-Remaining"] == "1"  # a fixed window says 2
    assert reset_epoch(r.headers["X-RateLimit-Reset"]) == t0 + 90
