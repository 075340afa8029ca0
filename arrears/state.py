"""The application state: the process-wide objects, in one place.

Engines (one per database URL), rate-limit counters' storage, and the objects the domains keep
for the process (the WebSocket hub, the partner HTTP client, the messaging pacer, the password
hasher, the parse pool) are built on first use through this object and closed together by
`close()`: the server's lifespan and every CLI command (the worker's included) end with it, and
tests reset this one object instead of each module's globals. `clock` is the time those objects
keep (the system's; a test's own when it injects one).

The core imports no domain, so a domain hands its object's recipe to `obtain()` (how to build
it, whether it is still usable, how to close it) from a module-level accessor of its own, e.g.
`arrears.realtime.hub.hub()`; the state keeps and closes what was built.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from arrears import config
from arrears.clock import SYSTEM, Clock

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

log = logging.getLogger("arrears.state")
T = TypeVar("T")


@dataclass
class _Held:
    value: Any
    close: Callable[[Any], Awaitable[None] | None] | None
    lasting: bool = False


class AppState:
    def __init__(self) -> None:
        self.engines: dict[str, AsyncEngine] = {}
        self.rate_limit_storages: dict[str | None, Any] = {}
        self.objects: dict[str, _Held] = {}  # in the order they were built
        self._lock = threading.RLock()  # the parse pool is obtained from worker threads too
        # The objects that keep time read it here: a test injects its own clock (reset() puts the
        # system's back), and objects built on another clock are rebuilt (their `usable`).
        self.clock: Clock = SYSTEM

    @property
    def settings(self) -> config.Settings:
        return config.get_settings()

    # -------------------------------------------------------------- the domains' objects

    def obtain(self, name: str, build: Callable[[], T], *,
               close: Callable[[T], Awaitable[None] | None] | None = None,
               usable: Callable[[T], bool] | None = None, lasting: bool = False) -> T:
        """The process's object `name`: built by `build` on first use, and again when `usable`
        says the kept one no longer is (made for another event loop, other settings, or closed);
        `close` is called on it by `close()`. A replaced object is dropped, not closed: it
        belongs to a loop that is gone or to a test that is over. A `lasting` object (one that
        holds nothing of a test's and is slow to start, like the parser's child processes) is
        kept by `reset()`; `close()` closes it like the others."""
        with self._lock:
            held = self.objects.get(name)
            if held is None or (usable is not None and not usable(held.value)):
                held = _Held(build(), close, lasting)
                self.objects.pop(name, None)
                self.objects[name] = held
            return held.value

    async def close_objects(self, *, keep_lasting: bool = False) -> None:
        with self._lock:
            held = [(n, h) for n, h in self.objects.items() if not (keep_lasting and h.lasting)]
            for name, _ in held:
                del self.objects[name]
        for name, item in reversed(held):  # the last built may use the earlier ones
            if item.close is None:
                continue
            try:
                result = item.close(item.value)
                if inspect.isawaitable(result):
                    await result
            except Exception:  # noqa: BLE001 - one object failing to close must not keep the others open
                log.warning("closing %s failed", name, exc_info=True)

    # -------------------------------------------------------------- the core's own

    def engine(self, url: str, build: Callable[[str], AsyncEngine]) -> AsyncEngine:
        """The engine of `url`, made by `build` (arrears.db.make_engine) the first time."""
        if url not in self.engines:
            self.engines[url] = build(url)
        return self.engines[url]

    def rate_limit_storage(self, url: str | None) -> Any:
        """Redis when REDIS_URL is set, memory otherwise (one per URL, kept for the process)."""
        if url not in self.rate_limit_storages:
            from limits.aio.storage import Storage
            from limits.storage import storage_from_string

            from arrears.ratelimit_fallback import FallbackStorage
            from arrears.ratelimit_memory import BoundedMemoryStorage

            # Memory counters hold at most this many sign-in keys (arrears.ratelimit_memory).
            memory = BoundedMemoryStorage(self.settings.limits.arrears_login_max_tracked)

            # redis-py is already a dependency; limits would otherwise want coredis. While Redis
            # is away the counters fall back to this process's memory (FallbackStorage).
            if url:
                redis = storage_from_string("async+" + url, implementation="redispy", key_prefix="arrears-rl",
                                            socket_connect_timeout=1, socket_timeout=2)
                assert isinstance(redis, Storage)  # an async+ URL gives the asyncio interface
                self.rate_limit_storages[url] = FallbackStorage(redis, memory)
            else:
                self.rate_limit_storages[url] = memory
        return self.rate_limit_storages[url]

    async def dispose_engines(self) -> None:
        engines = list(self.engines.values())
        self.engines.clear()
        for engine in engines:
            await engine.dispose()

    # -------------------------------------------------------------- the end

    async def close(self) -> None:
        """Close what this process opened (the domains' objects, then the engines); the next
        use builds afresh."""
        await self.close_objects()
        await self.dispose_engines()

    async def reset(self) -> None:
        """Close everything but the lasting objects, and forget the settings and counters (a
        test's fresh start)."""
        await self.close_objects(keep_lasting=True)
        await self.dispose_engines()
        self.rate_limit_storages.clear()
        self.clock = SYSTEM
        config.reset_settings()


def in_thread(close: Callable[[T], None]) -> Callable[[T], Awaitable[None]]:
    """A blocking close (one that waits for processes, say), run off the event loop."""
    async def closing(value: T) -> None:
        await asyncio.to_thread(close, value)

    return closing


def on_this_loop(close: Callable[[T], Awaitable[None]], loop_of: Callable[[T], Any]) -> Callable[[T], Awaitable[None] | None]:
    """An async close for an object bound to one event loop: skipped on any other loop."""
    def closing(value: T) -> Awaitable[None] | None:
        with contextlib.suppress(RuntimeError):
            if loop_of(value) is asyncio.get_running_loop():
                return close(value)
        return None

    return closing


state = AppState()
