"""Issue 19, point 2: the sign-in limiter's memory is bounded. Kept in memory (no Redis, or while
Redis is away), it holds at most ARREARS_LOGIN_MAX_TRACKED sign-in counters, the least recently
used forgotten first, so a stranger spraying names from many addresses cannot grow it."""

from __future__ import annotations

import tracemalloc
from typing import Any

import httpx
import pytest
from limits import parse
from limits.aio.strategies import MovingWindowRateLimiter

from arrears import ratelimit
from arrears.config import reset_settings
from arrears.ratelimit_memory import BoundedMemoryStorage
from tests.security.conftest import PASSWORD

PAIR, ADDRESS = parse("10/15 minutes"), parse("100/15 minutes")


async def test_the_oldest_sign_in_counters_go_past_the_cap() -> None:
    store = BoundedMemoryStorage(max_keys=100)
    lim = MovingWindowRateLimiter(store)
    for n in range(1000):
        assert await lim.hit(PAIR, f"login-pair:{n:032x}:198.51.100.{n % 250}")
    assert store.tracked() == 100 and len(store.events) == 100 and len(store.recent) == 100
    assert await lim.test(PAIR, f"login-pair:{999:032x}:198.51.100.{999 % 250}")
    # The newest are kept, the oldest forgotten.
    assert [k.split(":")[1] for k in list(store.recent)[-1:]] == [f"{999:032x}"]
    assert (await lim.get_window_stats(PAIR, f"login-pair:{0:032x}:198.51.100.0")).remaining == 10
    assert (await lim.get_window_stats(PAIR, f"login-pair:{999:032x}:198.51.100.249")).remaining == 9


async def test_a_key_in_use_stays_while_strangers_spray() -> None:
    """An address that keeps failing is used most recently: spraying does not forget it."""
    store = BoundedMemoryStorage(max_keys=100)
    lim = MovingWindowRateLimiter(store)
    for n in range(500):
        await lim.hit(ADDRESS, "login-ip:203.0.113.9")
        await lim.hit(PAIR, f"login-pair:{n:032x}:192.0.2.{n % 250}")
    assert store.tracked() == 100
    assert (await lim.get_window_stats(ADDRESS, "login-ip:203.0.113.9")).remaining == 0


async def test_other_counters_are_never_evicted_by_sign_ins() -> None:
    """API keys' quotas are not strangers' keys: sign-in spraying leaves them alone."""
    store = BoundedMemoryStorage(max_keys=100)
    lim = MovingWindowRateLimiter(store)
    quota = parse("5/minute")
    assert await lim.hit(quota, "premium", "read", "key-1")
    for n in range(300):
        await lim.hit(PAIR, f"login-pair:{n:032x}:192.0.2.1")
    assert (await lim.get_window_stats(quota, "premium", "read", "key-1")).remaining == 4
    assert store.tracked() == 100


async def _fill(lim: MovingWindowRateLimiter, net: int) -> None:
    """250 addresses with a full window (100 failures each) and 250 pairs with theirs (10)."""
    for n in range(250):
        address = f"10.{net}.0.{n}"
        for _ in range(100):
            await lim.hit(ADDRESS, f"login-ip:{address}")
        for _ in range(10):
            await lim.hit(PAIR, f"login-pair:{n:032x}:{address}")


@pytest.mark.slow
async def test_memory_per_counter_is_small_and_capped() -> None:
    """What the cap costs: 500 full counters at a cap of 500, then 500 more: no growth."""
    store = BoundedMemoryStorage(max_keys=500)
    lim = MovingWindowRateLimiter(store)
    tracemalloc.start()
    try:
        await _fill(lim, 0)
        full, _ = tracemalloc.get_traced_memory()
        await _fill(lim, 1)
        after, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert store.tracked() == 500
    per_failure = full / (250 * 110)
    assert per_failure < 400, per_failure  # about 150 bytes a failure in a window
    assert after < full * 1.1, (full, after)  # replaced, not added


@pytest.fixture
def small_cap(env: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("ARREARS_TRUSTED_PROXIES", "127.0.0.0/8, ::1")
    monkeypatch.setenv("ARREARS_LOGIN_MAX_TRACKED", "100")
    monkeypatch.delenv("REDIS_URL", raising=False)  # the memory store (Redis keys expire by themselves)
    reset_settings()
    ratelimit.reset_storage_cache()
    yield
    ratelimit.reset_storage_cache()


async def test_spraying_names_from_many_addresses_stays_under_the_cap(client: httpx.AsyncClient, world: Any,
                                                                     small_cap: Any) -> None:
    org = await world.org()
    await world.user(org.id, username="hana", password=PASSWORD)
    for n in range(120):  # each sign-in makes a pair counter and an address counter
        r = await client.post("/api/auth/token/", json={"username": f"spray{n}", "password": "guess"},
                              headers={"X-Forwarded-For": f"198.51.{n // 250}.{n % 250}"})
        assert r.status_code == 401, r.text
    store = ratelimit.storage()
    assert isinstance(store, BoundedMemoryStorage) and store.tracked() == 100
    # The throttle still works for the addresses in use.
    for _ in range(10):
        r = await client.post("/api/auth/token/", json={"username": "hana", "password": "guess"},
                              headers={"X-Forwarded-For": "203.0.113.5"})
        assert r.status_code == 401
    r = await client.post("/api/auth/token/", json={"username": "hana", "password": "guess"},
                          headers={"X-Forwarded-For": "203.0.113.5"})
    assert r.status_code == 429
    assert store.tracked() == 100
