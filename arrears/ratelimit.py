"""Rate-limit counters shared by every face: Redis when REDIS_URL is set, memory otherwise."""

from __future__ import annotations

import time
from dataclasses import dataclass

from limits import RateLimitItem, parse
from limits.aio.storage import Storage
from limits.aio.strategies import MovingWindowRateLimiter

from arrears.config import get_settings


def storage() -> Storage:
    """Built and kept by the application state (arrears.state)."""
    from arrears.state import state

    storage: Storage = state.rate_limit_storage(get_settings().redis_url)
    return storage


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
    from arrears.state import state

    state.rate_limit_storages.clear()
