"""Issue 19, points 2 and 7: sign-in throttling that cannot be turned against a user — per
(username, address) pair and per address, 429 with Retry-After, X-Forwarded-For believed only
from ARREARS_TRUSTED_PROXIES — and bounded usernames, passwords and limiter memory."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from arrears.config import reset_settings
from tests.security.conftest import PASSWORD

TOKEN = "/api/auth/token/"


@pytest.fixture
def behind_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """The test client's peer (127.0.0.1) is the deployment's reverse proxy."""
    monkeypatch.setenv("ARREARS_TRUSTED_PROXIES", "127.0.0.0/8, ::1")
    reset_settings()


def _from(address: str) -> dict[str, str]:
    return {"X-Forwarded-For": f"{address}"}


async def _sign_in(client: httpx.AsyncClient, username: str, password: str, address: str) -> httpx.Response:
    return await client.post(TOKEN, json={"username": username, "password": password}, headers=_from(address))


async def test_failures_from_one_address_never_refuse_the_user_elsewhere(client: httpx.AsyncClient, world: Any,
                                                                       behind_proxy: None) -> None:
    org = await world.org()
    await world.user(org.id, username="alice", password=PASSWORD)
    for _ in range(10):
        r = await _sign_in(client, "alice", "wrong-password", "203.0.113.9")
        assert r.status_code == 401, r.text
    started = time.monotonic()
    r = await _sign_in(client, "alice", "wrong-password", "203.0.113.9")
    assert r.status_code == 429 and set(r.json()) == {"error"}, r.text
    assert 1 <= int(r.headers["Retry-After"]) <= 15 * 60
    assert time.monotonic() - started < 2, "the refusal was slept on"
    # The attacker's own right guess is refused too: that pair failed.
    assert (await _sign_in(client, "alice", PASSWORD, "203.0.113.9")).status_code == 429
    # Alice, from her own address, is never refused by the attacker's failures.
    for _ in range(3):
        assert (await _sign_in(client, "alice", PASSWORD, "198.51.100.7")).status_code == 200
    # The same address still signs in as someone else: the pair, not the address, is throttled.
    await world.user(org.id, username="bob", password=PASSWORD)
    assert (await _sign_in(client, "bob", PASSWORD, "203.0.113.9")).status_code == 200


async def test_a_success_clears_its_pairs_count(client: httpx.AsyncClient, world: Any, behind_proxy: None) -> None:
    org = await world.org()
    await world.user(org.id, username="carol", password=PASSWORD)
    for _ in range(9):
        assert (await _sign_in(client, "carol", "typo", "192.0.2.1")).status_code == 401
    assert (await _sign_in(client, "carol", PASSWORD, "192.0.2.1")).status_code == 200
    for _ in range(9):
        assert (await _sign_in(client, "carol", "typo", "192.0.2.1")).status_code == 401
    assert (await _sign_in(client, "carol", PASSWORD, "192.0.2.1")).status_code == 200


async def test_an_address_that_failed_100_times_is_refused_for_any_name(client: httpx.AsyncClient, world: Any,
                                                                      behind_proxy: None) -> None:
    org = await world.org()
    await world.user(org.id, username="dave", password=PASSWORD)
    for n in range(100):
        r = await _sign_in(client, f"nobody{n}", "guess", "203.0.113.50")
        assert r.status_code == 401, (n, r.text)
    r = await _sign_in(client, "dave", PASSWORD, "203.0.113.50")
    assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1
    assert (await _sign_in(client, "dave", PASSWORD, "203.0.113.51")).status_code == 200


async def test_forwarded_for_from_an_untrusted_peer_is_ignored(client: httpx.AsyncClient, world: Any) -> None:
    org = await world.org()
    await world.user(org.id, username="erin", password=PASSWORD)
    for n in range(10):  # each guess claims another address; all are the peer's
        assert (await _sign_in(client, "erin", "guess", f"10.9.0.{n}")).status_code == 401
    assert (await _sign_in(client, "erin", "guess", "10.9.1.1")).status_code == 429


async def test_forwarded_for_is_read_past_trusted_hops_only(client: httpx.AsyncClient, world: Any,
                                                           behind_proxy: None) -> None:
    """A client-written leftmost entry proves nothing: the hop our proxy saw is the address."""
    org = await world.org()
    await world.user(org.id, username="fay", password=PASSWORD)
    for n in range(10):
        r = await client.post(TOKEN, json={"username": "fay", "password": "guess"},
                              headers={"X-Forwarded-For": f"1.2.3.{n}, 203.0.113.77"})
        assert r.status_code == 401
    r = await client.post(TOKEN, json={"username": "fay", "password": "guess"},
                          headers={"X-Forwarded-For": "9.9.9.9, 203.0.113.77"})
    assert r.status_code == 429


@pytest.mark.parametrize(("trusted", "secure"), [(True, True), (False, False)])
async def test_the_session_cookie_is_secure_when_a_trusted_proxy_says_https(
        client: httpx.AsyncClient, world: Any, monkeypatch: pytest.MonkeyPatch, trusted: bool, secure: bool) -> None:
    if trusted:
        monkeypatch.setenv("ARREARS_TRUSTED_PROXIES", "127.0.0.1")
    reset_settings()
    r = await client.get("/app/login", headers={"X-Forwarded-Proto": "https"})
    assert r.status_code == 200
    cookie = r.headers["set-cookie"]
    assert cookie.startswith("arrears_session=")
    assert ("; Secure" in cookie) is secure, cookie


async def test_usernames_and_passwords_have_maximum_lengths(client: httpx.AsyncClient, world: Any) -> None:
    org = await world.org()
    await world.user(org.id, username="gus", password=PASSWORD)
    r = await client.post(TOKEN, json={"username": "u" * 151, "password": "x"})
    assert r.status_code == 400 and "username" in r.json()["errors"], r.text
    r = await client.post(TOKEN, json={"username": "gus", "password": "p" * 1025})
    assert r.status_code == 400 and "password" in r.json()["errors"], r.text
    assert (await client.post(TOKEN, json={"username": "gus", "password": PASSWORD})).status_code == 200


async def _login_keys(env: dict[str, Any]) -> int:
    """How many sign-in counters the limiter holds, in Redis or in memory."""
    if env["redis_url"]:
        import redis.asyncio as aioredis

        r = aioredis.from_url(env["redis_url"])
        try:
            return len([k async for k in r.scan_iter(match="*login*", count=1000)])
        finally:
            await r.aclose()
    from arrears.state import state

    memory = state.rate_limit_storage(None)
    return len({k for k in (*memory.events, *memory.storage, *memory.locks) if "login" in k})


async def test_the_limiters_memory_is_bounded(client: httpx.AsyncClient, world: Any, env: dict[str, Any],
                                             behind_proxy: None) -> None:
    await _sign_in(client, "warmup", "x", "192.0.2.200")
    base = await _login_keys(env)
    for n in range(300):  # distinct oversized names: refused before any counter is touched
        r = await _sign_in(client, f"{n}" + "x" * 5000, "guess", "192.0.2.201")
        assert r.status_code == 400
    assert await _login_keys(env) == base
    for n in range(150):  # distinct valid names from one address: it stops at its 100 failures
        await _sign_in(client, f"name{n}", "guess", "192.0.2.202")
    grown = await _login_keys(env) - base
    assert grown <= 102, grown
