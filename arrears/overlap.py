"""Python's work done while the database executes a statement (the machine's other core), rather
than one waiting for the other: the statement is sent, then the work runs in slices, each slice
giving the event loop a turn so the statement's replies (and a COPY's rows) go on being read and
sent; then its result is awaited.

The work must not use the database connection (asyncpg runs one query at a time on it) nor
depend on the statement's outcome: it is what comes next prepared in advance. Whatever happens to
the statement, the work's slices are not cut short by it and the statement is awaited before
anything is raised, so the connection is never left in the middle of a query."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Iterator
from typing import TypeVar

T = TypeVar("T")


async def meanwhile(statement: Awaitable[T], work: Iterator[None] | None) -> T:
    """Await `statement`, running slices of `work` (a generator that yields between slices) until
    the statement is done; what is left of the work stays in the generator for the next call or
    for its owner to finish (`finish`)."""
    if work is None:
        return await statement
    task = asyncio.ensure_future(statement)
    try:
        await asyncio.sleep(0)  # the task's first turn: the statement is sent
        while not task.done():
            if next(work, StopIteration) is StopIteration:
                break
            await asyncio.sleep(0)  # the statement's turn: its replies read, its rows sent
    finally:
        result = await task  # never leave the connection mid-query, whatever the work raised
    return result


def finish(work: Iterator[None] | None) -> None:
    """Whatever is left of `work`, done now."""
    for _ in work or ():
        pass
