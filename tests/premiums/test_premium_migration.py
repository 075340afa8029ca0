"""The premiums migration on the test engine (SQLite, or PostgreSQL with TEST_DATABASE_URL):
the template was upgraded from empty; here the premiums branch goes down and up again."""

from __future__ import annotations

import asyncio

from alembic import command
from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import create_async_engine

from arrears import migrate

TABLES = {"policies", "collections", "webhook_logs", "premium_idempotency_keys"}


def _tables(url: str) -> set[str]:
    async def read() -> set[str]:
        engine = create_async_engine(url)
        try:
            async with engine.connect() as conn:
                return set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
        finally:
            await engine.dispose()

    return asyncio.run(read())


def test_premiums_branch_down_and_up(db_url):
    assert TABLES <= _tables(db_url)
    assert "0005_premiums" in migrate._current_heads(db_url)
    try:
        command.downgrade(migrate.alembic_config(db_url), "0005_premiums@-1")
        left = _tables(db_url)
        assert not TABLES & left
        assert {"organisations", "api_keys", "domain_events"} <= left  # the foundation stays
    finally:
        migrate.upgrade(db_url)
    assert TABLES <= _tables(db_url) and "0005_premiums" in migrate._current_heads(db_url)
