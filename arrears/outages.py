"""When PostgreSQL or Redis goes away for a moment: tell an outage from a bug, fall back, say so once.

- `db_unavailable(exc)`: the exception means the database cannot be reached (refused, shutting
  down, connection cut, pool exhausted), so the right answer is 503 with Retry-After, not 500.
- `redis_unavailable(exc)`: the same for Redis.
- `fallback(component, exc)` / `recovered(component)`: a component (the rate limiter, the
  WebSocket fan-out, the messaging pacer) works without Redis. The first failure of an outage is
  logged once and counted; the component retries Redis at most every `REDIS_RETRY_SECONDS`, and
  the first success logs the recovery. `/metrics` shows the state, `/readyz` reports "degraded".
- `DbBackoff`: a worker's wait between attempts while the database is away.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import Counter, Gauge

log = logging.getLogger("arrears.outages")

DB_RETRY_AFTER = 5  # seconds a client is told to wait when the database is away
REDIS_RETRY_SECONDS = 1.0  # how often a component in fallback tries Redis again

REDIS_FALLBACKS = Counter("arrears_redis_fallbacks_total",
                          "Outages during which a component fell back from Redis to this process",
                          ["component"])
REDIS_FALLBACK_CALLS = Counter("arrears_redis_fallback_calls_total",
                               "Calls served by a component's local fallback while Redis was away",
                               ["component"])
REDIS_DEGRADED = Gauge("arrears_redis_degraded", "1 while the component runs on its local fallback",
                       ["component"])
DB_UNAVAILABLE = Counter("arrears_db_unavailable_total",
                         "Database unreachable: 503 answers (server) or backoffs (worker)", ["where"])

# SQLSTATEs meaning "the server is not there right now": class 08 (connection exception),
# admin/crash shutdown, cannot connect now, too many connections.
_DB_SQLSTATES = {"57P01", "57P02", "57P03", "53300"}
_NET_ERRNOS = {errno.ECONNREFUSED, errno.ECONNRESET, errno.EHOSTUNREACH, errno.ENETUNREACH,
               errno.EPIPE, errno.ETIMEDOUT, errno.ECONNABORTED}


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    cur: BaseException | None = exc
    while cur is not None and cur not in seen and len(seen) < 10:
        seen.append(cur)
        orig = getattr(cur, "orig", None)  # SQLAlchemy's DBAPIError wraps the driver's error
        cur = orig if isinstance(orig, BaseException) else (cur.__cause__ or cur.__context__)
    return seen


def db_unavailable(exc: BaseException) -> bool:
    """True when `exc` says the database cannot be reached, rather than a bug or bad data."""
    from sqlalchemy import exc as sa_exc

    for e in _chain(exc):
        if isinstance(e, sa_exc.DBAPIError) and e.connection_invalidated:
            return True
        if isinstance(e, sa_exc.TimeoutError):  # the pool had no connection to give in time
            return True
        if isinstance(e, (ConnectionError, TimeoutError)):  # refused, reset, timed out
            return True
        if isinstance(e, OSError) and e.errno in _NET_ERRNOS:
            return True
        state = getattr(e, "sqlstate", None) or getattr(e, "pgcode", None)
        if isinstance(state, str) and (state.startswith("08") or state in _DB_SQLSTATES):
            return True
        if type(e).__module__.startswith("asyncpg") and (
                type(e).__name__ == "ConnectionDoesNotExistError" or "connection is closed" in str(e)):
            return True
    return False


def redis_unavailable(exc: BaseException) -> bool:
    try:
        from redis import exceptions as r_exc
    except ImportError:  # pragma: no cover - redis is a dependency
        return False
    for e in _chain(exc):
        if isinstance(e, (r_exc.ConnectionError, r_exc.TimeoutError, ConnectionError, TimeoutError)):
            return True
        if type(e).__module__.startswith("limits") and type(e).__name__ == "StorageError":
            return True
    return False


# ------------------------------------------------------------------ Redis fallbacks, per component


@dataclass
class _State:
    down_since: float | None = None
    last_try: float = 0.0
    calls: int = field(default=0)


_states: dict[str, _State] = {}


def _state(component: str) -> _State:
    return _states.setdefault(component, _State())


def redis_usable(component: str) -> bool:
    """Try Redis now? Always while it works; during an outage, once every REDIS_RETRY_SECONDS."""
    st = _state(component)
    if st.down_since is None:
        return True
    now = time.monotonic()
    if now - st.last_try >= REDIS_RETRY_SECONDS:
        st.last_try = now
        return True
    return False


def fallback(component: str, exc: BaseException | None = None) -> None:
    """This call of `component` is served without Redis. Logged once per outage."""
    st = _state(component)
    REDIS_FALLBACK_CALLS.labels(component).inc()
    if st.down_since is None:
        st.down_since = st.last_try = time.monotonic()
        REDIS_FALLBACKS.labels(component).inc()
        REDIS_DEGRADED.labels(component).set(1)
        log.warning("redis unavailable: %s falls back to this process (%s)", component,
                    type(exc).__name__ if exc else "no connection",
                    extra={"event": "redis.fallback", "component": component})


def recovered(component: str) -> None:
    """`component` reached Redis again: back to the shared state. Logged once."""
    st = _state(component)
    if st.down_since is not None:
        took = time.monotonic() - st.down_since
        st.down_since = None
        REDIS_DEGRADED.labels(component).set(0)
        log.warning("redis back: %s uses Redis again after %.1fs", component, took,
                    extra={"event": "redis.recovered", "component": component})


def degraded_components() -> list[str]:
    return sorted(c for c, st in _states.items() if st.down_since is not None)


def reset() -> None:
    """Forget outage state (tests)."""
    _states.clear()


# ------------------------------------------------------------------ readiness


async def redis_ping(url: str, within: float = 1.0) -> bool:
    import redis.asyncio as aioredis

    client = aioredis.from_url(url, socket_connect_timeout=within, socket_timeout=within,
                               retry_on_timeout=False, retry=None)
    try:
        return bool(await asyncio.wait_for(client.ping(), within))
    except Exception:  # noqa: BLE001 - any failure means "not there"
        return False
    finally:
        await client.aclose()


# ------------------------------------------------------------------ workers while the database is away


class DbBackoff:
    """Exponential backoff with jitter between a worker's tries while the database is away; logs
    the outage once and its end once."""

    def __init__(self, *, first: float = 0.5, cap: float = 10.0, where: str = "worker") -> None:
        self.first, self.cap, self.where = first, cap, where
        self.failures = 0
        self.since: float | None = None

    async def wait(self, exc: BaseException) -> None:
        if self.failures == 0:
            self.since = time.monotonic()
            log.warning("database unavailable: %s backs off and retries (%s)", self.where,
                        type(exc).__name__, extra={"event": "db.unavailable", "where": self.where})
        self.failures += 1
        DB_UNAVAILABLE.labels(self.where).inc()
        ceiling = min(self.cap, self.first * 2 ** (self.failures - 1))
        await asyncio.sleep(random.uniform(ceiling / 2, ceiling))

    def ok(self) -> None:
        if self.failures:
            log.warning("database back: %s reconnected after %.1fs", self.where,
                        time.monotonic() - (self.since or time.monotonic()),
                        extra={"event": "db.recovered", "where": self.where})
        self.failures = 0
        self.since = None


async def readiness(get_engine: Callable[[], Any]) -> tuple[dict[str, object], int]:
    """/readyz: 503 while the database is away (a proxy takes the server out of rotation);
    200 "degraded" with "redis": "unavailable" while only Redis is away (the fallbacks serve)."""
    from sqlalchemy import text

    from arrears.config import get_settings

    body: dict[str, object] = {"status": "ready", "database": "ok"}
    try:
        async with asyncio.timeout(5), get_engine().connect() as conn:
            await conn.execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 - report, never crash the probe
        body.update(status="unavailable", database="unavailable", error=type(exc).__name__)
        return body, 503
    url = get_settings().redis_url
    if url:
        if await redis_ping(url):
            body["redis"] = "ok"
        else:
            body.update(status="degraded", redis="unavailable")
    fallbacks = degraded_components()
    if fallbacks:
        body["fallbacks"] = fallbacks
        if body["status"] == "ready":
            body["status"] = "degraded"
    return body, 200
