"""Migration 0018 (the officer index over assigned customers only) down and up on the test engine
(SQLite, or PostgreSQL with TEST_DATABASE_URL), and the query it serves still using an index."""

from __future__ import annotations

import asyncio

from alembic import command
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from arrears import migrate

REVISION = "0018_book_job_indexes"
INDEX = "ix_customers_org_id_officer"


def _run(url: str, sql: str, **params: object) -> list[str]:
    async def go() -> list[str]:
        engine = create_async_engine(url)
        try:
            async with engine.connect() as conn:
                return [" ".join(str(v) for v in row) for row in (await conn.execute(text(sql), params))]
        finally:
            await engine.dispose()

    return asyncio.run(go())


def _definition(url: str) -> str:
    if url.startswith("postgresql"):
        rows = _run(url, "SELECT indexdef FROM pg_indexes WHERE indexname = :name", name=INDEX)
    else:
        rows = _run(url, "SELECT sql FROM sqlite_master WHERE type = 'index' AND name = :name", name=INDEX)
    assert len(rows) == 1, rows
    return rows[0]


def _plan(url: str) -> str:
    query = "SELECT id FROM customers WHERE org_id = 1 AND assigned_collection_officer_id = 7"
    if url.startswith("postgresql"):
        return "\n".join(_pg_plan(url, query))
    return "\n".join(_run(url, "EXPLAIN QUERY PLAN " + query))


def _pg_plan(url: str, query: str) -> list[str]:
    async def go() -> list[str]:
        engine = create_async_engine(url)
        try:
            async with engine.connect() as conn:
                await conn.execute(text("SET enable_seqscan = off"))
                return [row[0] for row in await conn.execute(text("EXPLAIN " + query))]
        finally:
            await engine.dispose()

    return asyncio.run(go())


def _previous() -> str:
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(migrate.alembic_config("sqlite+aiosqlite:///unused.db"))
    down = script.get_revision("0018_book_job_indexes").down_revision
    assert isinstance(down, str)
    return down


def test_the_officer_index_holds_assigned_customers_only_and_goes_back(db_url):
    assert "assigned_collection_officer_id IS NOT NULL" in _definition(db_url)
    assert INDEX in _plan(db_url)  # one officer's customers: the partial index answers
    try:
        command.downgrade(migrate.alembic_config(db_url), _previous())
        assert "IS NOT NULL" not in _definition(db_url)
    finally:
        migrate.upgrade(db_url)
    assert "assigned_collection_officer_id IS NOT NULL" in _definition(db_url)
    assert INDEX in _plan(db_url)
