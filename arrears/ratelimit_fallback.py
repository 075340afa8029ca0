"""Rate-limit counters that survive a Redis outage: the shared Redis storage while it answers,
this process's memory while it does not (so a limit is at worst N x the limit across N
processes for the outage), and Redis again as soon as it is back (tried at most every
`outages.REDIS_RETRY_SECONDS`, so an outage costs no connect attempt per request)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from limits.aio.storage import MemoryStorage, MovingWindowSupport, Storage
from redis import exceptions as redis_exceptions

from arrears import outages

COMPONENT = "ratelimit"
T = TypeVar("T")


class FallbackStorage(Storage, MovingWindowSupport):
    """A `limits` storage that delegates to Redis, or to memory while Redis is away."""

    STORAGE_SCHEME = None  # built here, never from a URL

    def __init__(self, primary: Storage, memory: MemoryStorage | None = None) -> None:
        super().__init__()
        self.primary = primary
        self.memory = memory or MemoryStorage()

    async def _call(self, op: Callable[[Any], Awaitable[T]]) -> T:
        if outages.redis_usable(COMPONENT):
            try:
                try:
                    result = await op(self.primary)
                except (TimeoutError, redis_exceptions.TimeoutError):
                    # A slow answer is not yet an outage: a loaded server (or event loop) can pass
                    # the socket timeout once, and switching to this process's empty counters then
                    # would forget the attempts Redis holds (the sign-in lockout among them). Ask
                    # once more; a hit the first call did count is counted twice: stricter, never looser.
                    result = await op(self.primary)
            except Exception as exc:
                if not outages.redis_unavailable(exc):
                    raise
                outages.fallback(COMPONENT, exc)
            else:
                outages.recovered(COMPONENT)
                return result
        else:
            outages.fallback(COMPONENT)
        return await op(self.memory)

    async def acquire_entry(self, key: str, limit: int, expiry: int, amount: int = 1) -> bool:
        return await self._call(lambda s: s.acquire_entry(key, limit, expiry, amount=amount))

    async def get_moving_window(self, key: str, limit: int, expiry: int) -> tuple[float, int]:
        return await self._call(lambda s: s.get_moving_window(key, limit, expiry))

    @property
    def base_exceptions(self) -> tuple[type[Exception], ...]:
        return ()  # the delegates' errors pass through as they are

    async def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        return await self._call(lambda s: s.incr(key, expiry, amount=amount))

    async def get(self, key: str) -> int:
        return await self._call(lambda s: s.get(key))

    async def get_expiry(self, key: str) -> float:
        return await self._call(lambda s: s.get_expiry(key))

    async def clear(self, key: str) -> None:
        await self._call(lambda s: s.clear(key))

    async def check(self) -> bool:
        return await self._call(lambda s: s.check())

    async def reset(self) -> int | None:
        await self.memory.reset()
        return await self._call(lambda s: s.reset())
