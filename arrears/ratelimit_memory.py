"""Rate-limit counters in this process's memory with a hard cap on the keys strangers can make.

The sign-in throttle's keys are made by whoever sends a sign-in (an address, a username digest):
a stranger spraying names from many addresses would add keys for as long as they keep sending.
Those keys are kept in least-recently-used order and the oldest is forgotten once more than
`max_keys` are held, so their memory is at most `max_keys` counters (each a moving window of at
most its rule's amount of entries). Forgetting a counter only lets its address or pair start
afresh; keys that are in use are the recently used ones, and an address that keeps failing keeps
its own counter fresh. Keys of authenticated callers (API keys' quotas) are bounded by the number
of keys and never evicted by a stranger's spraying."""

from __future__ import annotations

from collections import OrderedDict

from limits.aio.storage import MemoryStorage

#: Counter keys that strangers make (limits prefixes every key with its namespace, `LIMITER/`).
STRANGERS = ("LIMITER/login-",)


class BoundedMemoryStorage(MemoryStorage):
    STORAGE_SCHEME = None  # type: ignore[assignment]  # built here, never from a URL

    def __init__(self, max_keys: int, bounded: tuple[str, ...] = STRANGERS) -> None:
        super().__init__()
        self.max_keys = max_keys
        self.bounded = bounded
        self.recent: OrderedDict[str, None] = OrderedDict()  # bounded keys, oldest first

    def _touch(self, key: str) -> None:
        if not key.startswith(self.bounded):
            return
        self.recent[key] = None
        self.recent.move_to_end(key)
        while len(self.recent) > self.max_keys:
            oldest, _ = self.recent.popitem(last=False)
            self._forget(oldest)

    def _forget(self, key: str) -> None:
        self.storage.pop(key, None)
        self.expirations.pop(key, None)
        self.events.pop(key, None)
        self.locks.pop(key, None)

    async def acquire_entry(self, key: str, limit: int, expiry: int, amount: int = 1) -> bool:
        try:
            return await super().acquire_entry(key, limit, expiry, amount=amount)
        finally:
            self._touch(key)

    async def incr(self, key: str, expiry: float, amount: int = 1) -> int:
        try:
            return await super().incr(key, expiry, amount=amount)
        finally:
            self._touch(key)

    async def clear(self, key: str) -> None:
        await super().clear(key)
        self.recent.pop(key, None)

    async def reset(self) -> int | None:
        self.recent.clear()
        return await super().reset()

    def tracked(self) -> int:
        """How many bounded keys hold a counter (tests, metrics)."""
        return len({k for k in (*self.events, *self.storage, *self.locks) if k.startswith(self.bounded)})
