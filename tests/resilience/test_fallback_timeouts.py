"""A Redis answer slower than the socket timeout once is not an outage: the rate-limit counters
ask Redis again instead of switching to this process's empty counters (which forgot, under load,
the sign-in attempts Redis held)."""

from __future__ import annotations

from typing import Any

from limits.aio.storage import MemoryStorage
from redis import exceptions as redis_exceptions

from arrears import outages
from arrears.ratelimit_fallback import COMPONENT, FallbackStorage


class SlowOnce(MemoryStorage):
    """A storage whose first `incr` times out, as a loaded Redis does."""

    def __init__(self, error: type[Exception]) -> None:
        super().__init__()
        self.error, self.calls = error, 0

    async def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        self.calls += 1
        if self.calls == 1:
            raise self.error("Timeout reading from socket")
        return await super().incr(key, expiry, amount=amount)


async def test_one_slow_answer_is_asked_again_not_counted_in_memory(env: Any) -> None:
    for error in (redis_exceptions.TimeoutError, TimeoutError):
        outages.recovered(COMPONENT)
        primary, memory = SlowOnce(error), MemoryStorage()
        storage = FallbackStorage(primary, memory)
        assert await storage.incr("login-pair:x", 60) == 1
        assert primary.calls == 2 and await memory.get("login-pair:x") == 0
        assert outages.redis_usable(COMPONENT)


async def test_two_slow_answers_fall_back(env: Any) -> None:
    class AlwaysSlow(MemoryStorage):
        async def incr(self, key: str, expiry: int, amount: int = 1) -> int:
            raise redis_exceptions.TimeoutError("Timeout reading from socket")

    outages.recovered(COMPONENT)
    memory = MemoryStorage()
    storage = FallbackStorage(AlwaysSlow(), memory)
    assert await storage.incr("login-pair:y", 60) == 1
    assert await memory.get("login-pair:y") == 1 and not outages.redis_usable(COMPONENT)
    outages.recovered(COMPONENT)
