"""The application state: the process-wide objects, in one place.

Engines (one per database URL) and rate-limit counters' storage are built on first use through
this object and closed together by `close()`: the server's lifespan, the worker and the CLI end
with it, and tests reset this one object instead of each module's globals.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from arrears import config

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine


class AppState:
    def __init__(self) -> None:
        self.engines: dict[str, AsyncEngine] = {}
        self.rate_limit_storages: dict[str | None, Any] = {}

    @property
    def settings(self) -> config.Settings:
        return config.get_settings()

    def engine(self, url: str) -> AsyncEngine:
        from arrears.db import make_engine

        if url not in self.engines:
            self.engines[url] = make_engine(url)
        return self.engines[url]

    def rate_limit_storage(self, url: str | None) -> Any:
        """Redis when REDIS_URL is set, memory otherwise (one per URL, kept for the process)."""
        if url not in self.rate_limit_storages:
            from limits.aio.storage import MemoryStorage, Storage
            from limits.storage import storage_from_string

            from arrears.ratelimit_fallback import FallbackStorage

            # redis-py is already a dependency; limits would otherwise want coredis. While Redis
            # is away the counters fall back to this process's memory (FallbackStorage).
            if url:
                redis = storage_from_string("async+" + url, implementation="redispy", key_prefix="arrears-rl",
                                            socket_connect_timeout=1, socket_timeout=2)
                assert isinstance(redis, Storage)  # an async+ URL gives the asyncio interface
                self.rate_limit_storages[url] = FallbackStorage(redis)
            else:
                self.rate_limit_storages[url] = MemoryStorage()
        return self.rate_limit_storages[url]

    async def dispose_engines(self) -> None:
        engines = list(self.engines.values())
        self.engines.clear()
        for engine in engines:
            await engine.dispose()

    async def close(self) -> None:
        """Close what this process opened; the next use builds afresh."""
        await self.dispose_engines()

    async def reset(self) -> None:
        """Close everything and forget the settings and counters (a test's fresh start)."""
        await self.close()
        self.rate_limit_storages.clear()
        config.reset_settings()


state = AppState()
