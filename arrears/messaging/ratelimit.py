"""Pacing messages to a provider account: MESSAGING_RATE_LIMIT messages per second, shared by
every worker (Redis when REDIS_URL is set, this process's memory otherwise).

A generic cell rate algorithm: the account keeps one "theoretical arrival time" (TAT), the end of
the last slot given out. Reserving n messages takes the slot [TAT, TAT + n/rate) and moves TAT to
its end; the caller sleeps until its slot starts. So batches leave evenly spaced at exactly the
rate, whichever worker sends them, and never before their slot: no window of time ever holds
more than the rate allows. A sender that wakes up a little late (a busy CPU, a slow commit)
keeps its schedule: when TAT is behind the clock by at most one slot it is not reset, so the
late batch goes at once and the average stays at the rate. After a longer pause the schedule
starts again from now (no burst). A provider's Retry-After pushes the TAT of the whole account
forward (`penalise`). On Redis the arithmetic is one Lua script using the server's clock, so
workers on machines whose clocks differ still share one timeline.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from arrears import outages
from arrears.config import get_settings

KEY_PREFIX = "arrears:msg-pace:"

_RESERVE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
local slot = tonumber(ARGV[1])
if tat < now - slot then tat = now end
local nxt = tat + slot
redis.call('SET', KEYS[1], string.format('%.6f', nxt), 'PX', math.floor(math.max(nxt - now, 0) * 1000) + 60000)
return string.format('%.6f', tat - now)
"""

_PENALISE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
local want = now + tonumber(ARGV[1])
if want > tat then
  redis.call('SET', KEYS[1], string.format('%.6f', want), 'PX', math.floor(tonumber(ARGV[1]) * 1000) + 60000)
  tat = want
end
return string.format('%.6f', tat - now)
"""

_BACKLOG = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then return '0' end
return string.format('%.6f', tat - now)
"""


class Pacer:
    async def reserve(self, account: str, count: int, rate: float) -> float:
        """Reserve `count` messages' worth of the account's time; seconds to wait before sending
        (zero or negative: send now)."""
        raise NotImplementedError

    async def penalise(self, account: str, seconds: float) -> None:
        """Nobody sends on this account for `seconds` (the provider's Retry-After)."""
        raise NotImplementedError

    async def backlog(self, account: str) -> float:
        """Seconds of already-reserved sending ahead on this account."""
        raise NotImplementedError

    async def acquire(self, account: str, count: int, rate: float) -> None:
        wait = await self.reserve(account, count, rate)
        if wait > 0:
            await asyncio.sleep(wait)


class MemoryPacer(Pacer):
    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._tat: dict[str, float] = {}
        self._clock = clock  # tests pass their own, to check the arithmetic exactly

    async def reserve(self, account: str, count: int, rate: float) -> float:
        now = self._clock()
        slot = count / rate
        tat = self._tat.get(account, 0.0)
        if tat < now - slot:
            tat = now
        self._tat[account] = tat + slot
        return tat - now

    async def penalise(self, account: str, seconds: float) -> None:
        want = self._clock() + seconds
        if want > self._tat.get(account, 0.0):
            self._tat[account] = want

    async def backlog(self, account: str) -> float:
        return max(0.0, self._tat.get(account, 0.0) - self._clock())


class RedisPacer(Pacer):
    def __init__(self, url: str) -> None:
        import redis.asyncio as aioredis

        self._redis = aioredis.from_url(url, socket_connect_timeout=1, socket_timeout=2)
        self._reserve = self._redis.register_script(_RESERVE)
        self._penalise = self._redis.register_script(_PENALISE)
        self._backlog = self._redis.register_script(_BACKLOG)

    async def reserve(self, account: str, count: int, rate: float) -> float:
        return float(await self._reserve(keys=[KEY_PREFIX + account], args=[repr(count / rate)]))

    async def penalise(self, account: str, seconds: float) -> None:
        await self._penalise(keys=[KEY_PREFIX + account], args=[repr(float(seconds))])

    async def backlog(self, account: str) -> float:
        return float(await self._backlog(keys=[KEY_PREFIX + account]))

    async def aclose(self) -> None:
        await self._redis.aclose()


@dataclass
class _Cached:
    loop: Any
    url: str | None
    pacer: Pacer


_cached: _Cached | None = None
_memory = MemoryPacer()  # one per process: every lane of every drain in it shares the timeline


def pacer() -> Pacer:
    """The process's pacer (Redis when REDIS_URL is set), per event loop for Redis."""
    global _cached
    url = get_settings().redis_url
    if not url:
        return _memory
    loop = asyncio.get_running_loop()
    if _cached is None or _cached.loop is not loop or _cached.url != url:
        _cached = _Cached(loop, url, FallbackPacer(RedisPacer(url), lambda: _memory))
    return _cached.pacer


def reset() -> None:
    """Forget local state (tests)."""
    global _cached, _memory
    _cached = None
    _memory = MemoryPacer()


# ------------------------------------------------------------------ through a Redis outage
# The shared timeline while Redis answers, this process's own pace while it does not (so N workers
# may send N x the rate for the outage), and the shared timeline again once Redis is back. Logged
# once per outage (arrears.outages).

FALLBACK_COMPONENT = "messaging-pacer"
_T = TypeVar("_T")


class FallbackPacer(Pacer):
    def __init__(self, shared: RedisPacer, local: Callable[[], MemoryPacer]) -> None:
        self.shared = shared
        self.local = local  # the process's memory pacer (a getter: tests replace it)

    async def _call(self, op: Callable[[Pacer], Awaitable[_T]]) -> _T:
        if outages.redis_usable(FALLBACK_COMPONENT):
            try:
                result = await op(self.shared)
            except Exception as exc:
                if not outages.redis_unavailable(exc):
                    raise
                outages.fallback(FALLBACK_COMPONENT, exc)
            else:
                outages.recovered(FALLBACK_COMPONENT)
                return result
        else:
            outages.fallback(FALLBACK_COMPONENT)
        return await op(self.local())

    async def reserve(self, account: str, count: int, rate: float) -> float:
        return await self._call(lambda p: p.reserve(account, count, rate))

    async def penalise(self, account: str, seconds: float) -> None:
        await self._call(lambda p: p.penalise(account, seconds))

    async def backlog(self, account: str) -> float:
        return await self._call(lambda p: p.backlog(account))

    async def aclose(self) -> None:
        await self.shared.aclose()
