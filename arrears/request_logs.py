"""The one way a per-request log row is written (the RepaySync API log, the partner usage rows,
the premium webhook log): always after the request's own transaction, in a transaction of its
own, so that a request that failed and rolled back is logged like one that succeeded, and a log
write never waits behind the request's locks nor breaks the request.

A log declares how its rows are written:
- immediately (`queued=False`): `await record(log, row)` inserts the row before returning;
- queued (`queued=True`, for hot endpoints): `submit(log, row)` queues it and a writer inserts
  the queue in one statement per FLUSH_INTERVAL; `flush()` writes this loop's queues now (a
  reader of the log calls it first). A request then pays no round trip for its line.

A log's `prepare` may complete its rows inside the write's transaction (e.g. the premium log
files a refused key's request under the key's captive); it returns the rows as column dicts.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from arrears.db import get_engine, transaction

log = logging.getLogger(__name__)

# Seconds between writes of a queued log: a write is a transaction of its own (three round trips),
# so at low rates a short interval costs the requests a round trip each; a reader flushes its own
# process's queue first anyway.
FLUSH_INTERVAL = 1.0

Prepare = Callable[[AsyncSession, list[Any]], Awaitable[list[dict[str, Any]]]]


@dataclass(frozen=True, eq=False)
class RequestLog:
    name: str
    table: Any  # the model's Table (Model.__table__)
    queued: bool = False
    prepare: Prepare | None = None  # rows → column dicts; by default the rows are column dicts


async def _write(engine: AsyncEngine, target: RequestLog, rows: list[Any]) -> None:
    try:
        async with transaction(engine=engine) as s:
            values = await target.prepare(s, rows) if target.prepare else rows
            # Core insert (one multi-row INSERT): the ORM's bulk path costs more CPU than the rows.
            await s.execute(insert(target.table), values)
    except Exception as exc:  # the log must never break anything
        from arrears import outages

        if outages.db_unavailable(exc):  # the answer went out; an outage is logged once elsewhere
            log.info("%d %s log rows lost: the database is unavailable", len(rows), target.name)
        else:
            log.exception("could not write %d %s log rows", len(rows), target.name)


class _Writer:
    """Per event loop, database and log: a queue of rows, and the task that writes them."""

    def __init__(self) -> None:
        self._queues: dict[tuple[asyncio.AbstractEventLoop, AsyncEngine, RequestLog], list[Any]] = {}
        self._timers: dict[asyncio.AbstractEventLoop, asyncio.Task[None]] = {}
        self._writes: set[asyncio.Task[None]] = set()

    def submit(self, target: RequestLog, row: Any) -> None:
        loop = asyncio.get_running_loop()
        self._queues.setdefault((loop, get_engine(), target), []).append(row)
        timer = self._timers.get(loop)
        if timer is None or timer.done():
            self._timers[loop] = loop.create_task(self._flush_later(), name="request-log-flush")

    async def _flush_later(self) -> None:
        await asyncio.sleep(FLUSH_INTERVAL)
        await self.flush()

    async def flush(self) -> None:
        """Write this loop's queues now, and wait for every write of this loop in flight."""
        loop = asyncio.get_running_loop()
        for key in [k for k in self._queues if k[0] is loop]:
            rows = self._queues.pop(key)
            task = loop.create_task(_write(key[1], key[2], rows))
            self._writes.add(task)
            task.add_done_callback(self._writes.discard)
        mine = [t for t in list(self._writes) if t.get_loop() is loop]
        if mine:
            await asyncio.gather(*mine, return_exceptions=True)


_writer = _Writer()


def submit(target: RequestLog, row: Any) -> None:
    """Queue one row of a queued log (written within FLUSH_INTERVAL)."""
    assert target.queued, f"the {target.name} log is written with record()"
    _writer.submit(target, row)


async def record(target: RequestLog, row: Any) -> None:
    """Write one request's row: now, or queued for a queued log."""
    if target.queued:
        _writer.submit(target, row)
    else:
        await _write(get_engine(), target, [row])


async def flush() -> None:
    """Write every queued row of this event loop (before reading a log, and at shutdown)."""
    await _writer.flush()
