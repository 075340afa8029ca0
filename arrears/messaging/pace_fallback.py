"""The messaging pacer through a Redis outage: the shared timeline while Redis answers, this
process's own pace while it does not (so N workers may send N x the rate for the outage), and the
shared timeline again once Redis is back. Logged once per outage (arrears.outages)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from arrears import outages
from arrears.messaging.ratelimit import MemoryPacer, Pacer, RedisPacer

COMPONENT = "messaging-pacer"
T = TypeVar("T")


class FallbackPacer(Pacer):
    def __init__(self, shared: RedisPacer, local: Callable[[], MemoryPacer]) -> None:
        self.shared = shared
        self.local = local  # the process's memory pacer (a getter: tests replace it)

    async def _call(self, op: Callable[[Pacer], Awaitable[T]]) -> T:
        if outages.redis_usable(COMPONENT):
            try:
                result = await op(self.shared)
            except Exception as exc:
                if not outages.redis_unavailable(exc):
                    raise
                outages.fallback(COMPONENT, exc)
            else:
                outages.recovered(COMPONENT)
                return result
        else:
            outages.fallback(COMPONENT)
        return await op(self.local())

    async def reserve(self, account: str, count: int, rate: float) -> float:
        return await self._call(lambda p: p.reserve(account, count, rate))

    async def penalise(self, account: str, seconds: float) -> None:
        await self._call(lambda p: p.penalise(account, seconds))

    async def backlog(self, account: str) -> float:
        return await self._call(lambda p: p.backlog(account))

    async def aclose(self) -> None:
        await self.shared.aclose()
