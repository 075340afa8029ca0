"""X-RateLimit-* on every answer under /api/v1, errors included: 401 (no or bad credentials),
403, 404 (an unknown id, and a path no route serves), 405 and 429. A caller that is not identified
is counted per client address at the lowest tier (BASIC, 60 a minute)."""

from __future__ import annotations

from typing import Any

import httpx

from arrears.partners.catalogue import TIERS

LOWEST = min(t.per_minute for t in TIERS.values())
RATE_HEADERS = ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset")


def limited(r: httpx.Response, status: int, limit: int | None = None) -> dict[str, str]:
    assert r.status_code == status, r.text
    values = {h: r.headers[h] for h in RATE_HEADERS}
    assert values["X-RateLimit-Reset"].endswith("Z")
    if limit is not None:
        assert int(values["X-RateLimit-Limit"]) == limit
    return values


def remaining(r: httpx.Response) -> int:
    return int(r.headers["X-RateLimit-Remaining"])


async def test_401_without_or_with_bad_credentials_is_counted_per_address(client, partner):
    first = await client.get("/api/v1/api-clients")
    limited(first, 401, LOWEST)
    assert first.json()["error"] == "UNAUTHORIZED"
    bad = await client.get("/api/v1/api-clients", headers={"Authorization": "Bearer ins_nope_nothing"})
    limited(bad, 401, LOWEST)
    pct = await client.get("/api/v1/rate-limits", headers={"Authorization": "Bearer pct_" + "0" * 64})
    limited(pct, 401, LOWEST)
    # One count for the address, whatever credential was tried.
    assert remaining(bad) == remaining(first) - 1 and remaining(pct) == remaining(bad) - 1


async def test_403_of_identified_and_refused_callers(client, partner, world):
    c = await partner.create_client()
    key = await partner.create_key(c["id"])  # the spec's example scopes: no clients:read
    r = await client.get("/api/v1/api-clients", headers=partner.key_headers(key["key"]))
    limited(r, 403, TIERS["standard"].per_minute)  # the key's own tier
    assert r.json()["error"] == "FORBIDDEN"

    officer = await world.login_headers(client, partner.org.id, role="collection_officer")
    limited(await client.get("/api/v1/api-clients", headers=officer), 403)

    r = await client.put(f"/api/v1/api-clients/{c['id']}", json={"status": "SUSPENDED"}, headers=partner.headers)
    assert r.status_code == 200, r.text
    # A suspended client's key is refused before it is identified: counted per address.
    r = await client.get("/api/v1/rate-limits", headers=partner.key_headers(key["key"]))
    limited(r, 403, LOWEST)


async def test_404_for_unknown_ids_and_unrouted_paths(client, partner):
    r = await client.get("/api/v1/api-clients/00000000-0000-0000-0000-000000000000", headers=partner.headers)
    limited(r, 404, TIERS["enterprise"].per_minute)
    assert r.json()["error"] == "NOT_FOUND"
    r = await client.get("/api/v1/no-such-thing", headers=partner.headers)
    limited(r, 404, LOWEST)  # no route ran, so no one was identified
    assert r.json()["error"] == "NOT_FOUND"
    r = await client.delete("/api/v1/rate-limits", headers=partner.headers)
    limited(r, 405, LOWEST)
    # Other faces are left alone.
    r = await client.get("/api/no-such-thing")
    assert r.status_code == 404 and "X-RateLimit-Limit" not in r.headers


async def test_429_of_a_key_and_of_an_unidentified_address(client, partner):
    c = await partner.create_client()
    key = await partner.create_key(c["id"], rateLimitOverride=1)
    h = partner.key_headers(key["key"])
    limited(await client.get("/api/v1/rate-limits", headers=h), 200, 1)
    r = await client.get("/api/v1/rate-limits", headers=h)
    values = limited(r, 429, 1)
    assert values["X-RateLimit-Remaining"] == "0" and int(r.headers["Retry-After"]) >= 1
    assert r.json()["error"] == "RATE_LIMIT_EXCEEDED"

    answers: list[Any] = [await client.get("/api/v1/api-clients") for _ in range(LOWEST)]
    assert [a.status_code for a in answers] == [401] * LOWEST
    assert remaining(answers[-1]) == 0
    over = await client.get("/api/v1/api-clients", headers={"Authorization": "Bearer ins_guess_again"})
    limited(over, 429, LOWEST)
    assert over.json()["error"] == "RATE_LIMIT_EXCEEDED" and int(over.headers["Retry-After"]) >= 1
    unrouted = await client.get("/api/v1/nowhere")
    limited(unrouted, 429, LOWEST)
    assert unrouted.json() == {"error": "RATE_LIMIT_EXCEEDED", "message": "API rate limit exceeded",
                               "retryAfter": int(unrouted.headers["Retry-After"])}
    # The identified admin is counted apart and is still served.
    limited(await client.get("/api/v1/rate-limits", headers=partner.headers), 200)
