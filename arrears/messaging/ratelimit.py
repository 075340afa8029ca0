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

The pacers are the application state's (`arrears.state`): one memory pacer per process (every lane
of every drain in it shares its timeline) and, with Redis, one Redis client per event loop. They
keep time by `state.clock`, so a test that injects a clock of its own checks the schedule exactly
(on Redis too: the scripts then take the clock's time instead of the server's).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from arrears import outages
from arrears.clock import SYSTEM, Clock
from arrears.config import get_settings
from arrears.state import on_this_loop, state

KEY_PREFIX = "arrears:msg-pace:"

# The scripts' `now`: the server's clock (one timeline for every worker), or the one a test
# injected, passed as the last argument.
_NOW = """
local now
if ARGV[{n}] then
  now = tonumber(ARGV[{n}])
else
  local t = redis.call('TIME')
  now = tonumber(t[1]) + tonumber(t[2]) / 1000000
end
"""

_RESERVE = _NOW.format(n=2) + """
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
local slot = tonumber(ARGV[1])
if tat < now - slot then tat = now end
local nxt = tat + slot
redis.call('SET', KEYS[1], string.format('%.6f', nxt), 'PX', math.floor(math.max(nxt - now, 0) * 1000) + 60000)
return string.format('%.6f', tat - now)
"""

_PENALISE = _NOW.format(n=2) + """
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
local want = now + tonumber(ARGV[1])
if want > tat then
  redis.call('SET', KEYS[1], string.format('%.6f', want), 'PX', math.floor(tonumber(ARGV[1]) * 1000) + 60000)
  tat = want
end
return string.format('%.6f', tat - now)
"""

_BACKLOG = _NOW.format(n=1) + """
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then return '0' end
return string.format('%.6f', tat - now)
"""


class Pacer:
    clock: Clock = SYSTEM  # what acquire() sleeps on

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
            await self.clock.sleep(wait)


class MemoryPacer(Pacer):
    def __init__(self, clock: Clock = SYSTEM) -> None:
        self._tat: dict[str, float] = {}
        self.clock = clock

    async def reserve(self, account: str, count: int, rate: float) -> float:
        now = self.clock.time()
        slot = count / rate
        tat = self._tat.get(account, 0.0)
        if tat < now - slot:
            tat = now
        self._tat[account] = tat + slot
        return tat - now

    async def penalise(self, account: str, seconds: float) -> None:
        want = self.clock.time() + seconds
        if want > self._tat.get(account, 0.0):
            self._tat[account] = want

    async def backlog(self, account: str) -> float:
        return max(0.0, self._tat.get(account, 0.0) - self.clock.time())


class RedisPacer(Pacer):
    def __init__(self, url: str, clock: Clock = SYSTEM) -> None:
        import redis.asyncio as aioredis

        self.clock = clock
        self._redis = aioredis.from_url(url, socket_connect_timeout=1, socket_timeout=2)
        self._reserve = self._redis.register_script(_RESERVE)
        self._penalise = self._redis.register_script(_PENALISE)
        self._backlog = self._redis.register_script(_BACKLOG)

    def _now(self) -> list[str]:
        # The server's clock unless a test's is injected (the system clocks of workers differ).
        return [repr(self.clock.time())] if self.clock.simulated else []

    async def reserve(self, account: str, count: int, rate: float) -> float:
        if not self.clock.simulated:  # the server's clock; the wait runs from its answer
            return float(await self._reserve(keys=[KEY_PREFIX + account], args=[repr(count / rate)]))
        # A test's clock may have moved on (another task's sleep) while the call was out: the
        # wait is counted from the time the script was given, so the slot is kept exactly.
        start = self.clock.time()
        wait = float(await self._reserve(keys=[KEY_PREFIX + account], args=[repr(count / rate), repr(start)]))
        return wait - (self.clock.time() - start)

    async def penalise(self, account: str, seconds: float) -> None:
        await self._penalise(keys=[KEY_PREFIX + account], args=[repr(float(seconds)), *self._now()])

    async def backlog(self, account: str) -> float:
        return float(await self._backlog(keys=[KEY_PREFIX + account], args=self._now()))

    async def aclose(self) -> None:
        await self._redis.aclose()


@dataclass
class _Shared:
    loop: asyncio.AbstractEventLoop
    url: str
    pacer: FallbackPacer


def memory_pacer() -> MemoryPacer:
    """The process's own timeline (kept by the state): every lane of every drain in it shares it,
    and the Redis pacers of every loop fall back to it while Redis is away."""
    clock = state.clock
    return state.obtain("messaging.memory_pacer", lambda: MemoryPacer(clock), usable=lambda p: p.clock is clock)


def pacer() -> Pacer:
    """The process's pacer: Redis's shared timeline when REDIS_URL is set (a client per event
    loop, as a redis-py connection belongs to one), this process's memory otherwise."""
    url = get_settings().redis_url
    if not url:
        return memory_pacer()
    loop = asyncio.get_running_loop()
    clock = state.clock

    def build() -> _Shared:
        return _Shared(loop, url, FallbackPacer(RedisPacer(url, clock), memory_pacer))

    return state.obtain("messaging.pacer", build,
                        usable=lambda s: s.loop is loop and s.url == url and s.pacer.clock is clock,
                        close=on_this_loop(lambda s: s.pacer.aclose(), lambda s: s.loop)).pacer


# ------------------------------------------------------------------ through a Redis outage
# The shared timeline while Redis answers, this process's own pace while it does not (so N workers
# may send N x the rate for the outage), and the shared timeline again once Redis is back. Logged
# once per outage (arrears.outages).

FALLBACK_COMPONENT = "messaging-pacer"
_T = TypeVar("_T")


class FallbackPacer(Pacer):
    def __init__(self, shared: RedisPacer, local: Callable[[], MemoryPacer]) -> None:
        self.shared = shared
        self.local = local  # the process's memory pacer (a getter: the state may rebuild it)
        self.clock = shared.clock

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

