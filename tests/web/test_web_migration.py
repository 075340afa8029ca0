"""The web-index migration on the test engine (SQLite, or PostgreSQL with TEST_DATABASE_URL):
on the debtor book's branch, additive, and down and up again."""

from __future__ import annotations

import asyncio

from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import create_async_engine

from arrears import migrate

REVISION = "0009_web_indexes"
INDEX = "ix_debtor_snapshots_report_overdue_balance"


def _indexes(url: str) -> dict[str, list[str]]:
    async def read() -> dict[str, list[str]]:
        engine = create_async_engine(url)
        try:
            async with engine.connect() as conn:
                found = await conn.run_sync(lambda c: inspect(c).get_indexes("debtor_snapshots"))
        finally:
            await engine.dispose()
        return {i["name"]: list(i["column_names"]) for i in found}

    return asyncio.run(read())


def test_the_revision_follows_the_debtor_book():
    script = ScriptDirectory.from_config(migrate.alembic_config("sqlite+aiosqlite:///unused.db"))
    revision = script.get_revision(REVISION)
    assert revision.down_revision == "0003_debtors"
    assert "0003_debtors" not in script.get_heads()
    assert script.get_revision("0010_snapshot_load").down_revision == REVISION


def test_down_and_up(db_url):
    # 0011 (the head) moved the index's keys to debtor_snapshot_ranks; under it the index is back.
    assert INDEX not in _indexes(db_url)
    try:
        command.downgrade(migrate.alembic_config(db_url), "0010_snapshot_load")
        assert _indexes(db_url)[INDEX] == ["report_id", "overdue_amount", "total_balance"]
        command.downgrade(migrate.alembic_config(db_url), "0003_debtors")  # under 0009
        after = _indexes(db_url)
        assert INDEX not in after and "ix_debtor_snapshots_report_id_overdue_amount" in after
    finally:
        migrate.upgrade(db_url)
    assert INDEX not in _indexes(db_url)
