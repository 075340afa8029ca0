"""Rate-limit counters shared by every face: Redis when REDIS_URL is set, memory otherwise."""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import lru_cache

from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.storage import storage_from_string

from arrears.config import get_settings
from arrears.ratelimit_fallback import FallbackStorage


@lru_cache
def _storage(url: str | None) -> Storage:
    if url:
        # redis-py is already a dependency; limits would otherwise want coredis.
        shared = storage_from_string("async+" + url, implementation="redispy", key_prefix="arrears-rl",
                                     socket_connect_timeout=1, socket_timeout=2)
        return FallbackStorage(shared)  # memory while Redis is away
    return MemoryStorage()


def storage() -> Storage:
    return _storage(get_settings().redis_url)


def limiter() -> MovingWindowRateLimiter:
    return MovingWindowRateLimiter(storage())


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    limit: int
    remaining: int
    reset_at: float  # epoch seconds when a slot frees up
    retry_after: int


async def hit(rule: str | RateLimitItem, *keys: str, cost: int = 1) -> Verdict:
    """Count one request against `rule` (e.g. "10/15 minutes") for the given key parts."""
    item = parse(rule) if isinstance(rule, str) else rule
    lim = limiter()
    allowed = await lim.hit(item, *keys, cost=cost)
    stats = await lim.get_window_stats(item, *keys)


    retry = max(0, int(stats.reset_time - time.time()) + 1) if not allowed else 0
    return Verdict(allowed, item.amount, max(0, stats.remaining), stats.reset_time, retry)


async def peek(rule: str | RateLimitItem, *keys: str) -> Verdict:
    item = parse(rule) if isinstance(rule, str) else rule
    lim = limiter()
    stats = await lim.get_window_stats(item, *keys)


    ok = stats.remaining > 0
    retry = 0 if ok else max(0, int(stats.reset_time - time.time()) + 1)
    return Verdict(ok, item.amount, max(0, stats.remaining), stats.reset_time, retry)


async def clear(rule: str | RateLimitItem, *keys: str) -> None:
    item = parse(rule) if isinstance(rule, str) else rule
    await limiter().clear(item, *keys)


def reset_storage_cache() -> None:
    _storage.cache_clear()
