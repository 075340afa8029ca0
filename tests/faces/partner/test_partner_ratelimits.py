"""Partner API: rate-limit tiers, per-key windows, headers on every response, 429."""

from __future__ import annotations

import time
from datetime import datetime

from arrears.partners.catalogue import TIERS, Tier


def reset_epoch(value: str) -> float:
    assert value.endswith("Z")
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


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


async def test_hour_and_day_windows(client, partner, monkeypatch):
    monkeypatch.setitem(TIERS, "basic", Tier(per_minute=5, per_hour=3, per_day=100))
    c = await partner.create_client(rateLimitTier="basic", scopes=["*"])
    h = partner.key_headers((await partner.create_key(c["id"]))["key"])
    r = await client.get("/api/v1/rate-limits", headers=h)
    assert r.headers["X-RateLimit-Limit"] == "3" and r.headers["X-RateLimit-Remaining"] == "2"  # tightest
    await client.get("/api/v1/rate-limits", headers=h)
    await client.get("/api/v1/rate-limits", headers=h)
    r = await client.get("/api/v1/rate-limits", headers=h)
    assert r.status_code == 429 and r.headers["X-RateLimit-Limit"] == "3"
    assert 3000 < r.json()["retryAfter"] <= 3600  # the hour window frees up in about an hour

    monkeypatch.setitem(TIERS, "standard", Tier(per_minute=50, per_hour=40, per_day=2))
    c2 = await partner.create_client(name="Daily", rateLimitTier="standard", scopes=["*"])
    h2 = partner.key_headers((await partner.create_key(c2["id"]))["key"])
    assert (await client.get("/api/v1/rate-limits", headers=h2)).headers["X-RateLimit-Limit"] == "2"
    await client.get("/api/v1/rate-limits", headers=h2)
    r = await client.get("/api/v1/rate-limits", headers=h2)
    assert r.status_code == 429 and r.json()["retryAfter"] > 80_000


async def test_tier_change_applies_to_existing_keys(client, partner):
    c = await partner.create_client(rateLimitTier="basic", scopes=["*"])
    h = partner.key_headers((await partner.create_key(c["id"]))["key"])
    assert (await client.get("/api/v1/rate-limits", headers=h)).headers["X-RateLimit-Limit"] == "60"
    await client.put(f"/api/v1/api-clients/{c['id']}", json={"rateLimitTier": "ENTERPRISE"},
                     headers=partner.headers)
    assert (await client.get("/api/v1/rate-limits", headers=h)).headers["X-RateLimit-Limit"] == "600"


async def test_counters_live_in_redis_when_configured(client, partner, env):
    if not env["redis_url"]:
        import pytest

        pytest.skip("TEST_REDIS_URL is not set")
    import redis.asyncio as aioredis

    c = await partner.create_client(scopes=["*"])
    key = await partner.create_key(c["id"], rateLimitOverride=2)
    h = partner.key_headers(key["key"])
    await client.get("/api/v1/rate-limits", headers=h)
    r = aioredis.from_url(env["redis_url"])
    try:
        names = [k.decode() for k in await r.keys("*")]
    finally:
        await r.aclose()
    assert any(key["id"] in n for n in names), names
    await client.get("/api/v1/rate-limits", headers=h)
    assert (await client.get("/api/v1/rate-limits", headers=h)).status_code == 429
