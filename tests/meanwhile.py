"""A deletion from another connection while a test's transaction holds what it deletes: given up
after 300 ms of waiting (PostgreSQL's lock_timeout, SQLite's busy wait), so that a test can assert
that it waited instead of hanging."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from arrears.db import transaction


async def delete_meanwhile(doomed: Any, pg: bool, db_url: str) -> None:
    """The deletion from another connection, given up after 300 ms of waiting."""
    if pg:
        async with transaction() as other:
            await other.execute(text("SET LOCAL lock_timeout = '300ms'"))
            await other.execute(doomed)
        return
    engine = create_async_engine(db_url, connect_args={"timeout": 0.3})  # SQLite's busy wait
    try:
        async with engine.begin() as conn:
            await conn.execute(doomed)
    finally:
        await engine.dispose()
