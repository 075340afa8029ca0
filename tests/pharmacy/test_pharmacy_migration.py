"""The pharmacy debtors migration on the test engine (SQLite, or PostgreSQL with
TEST_DATABASE_URL): one head after the debtor book and messaging; down and up again keeps the book."""

from __future__ import annotations

import asyncio

from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.ext.asyncio import create_async_engine

from arrears import migrate

REVISION = "0008_pharmacy_debtors"
COLUMNS = {"email", "telephone_raw", "is_medical_aid_control", "settled_at"}


def _script() -> ScriptDirectory:
    return ScriptDirectory.from_config(migrate.alembic_config("sqlite+aiosqlite:///unused.db"))


def _columns(url: str) -> set[str]:
    async def read() -> set[str]:
        engine = create_async_engine(url)
        try:
            async with engine.connect() as conn:
                cols = await conn.run_sync(lambda c: inspect(c).get_columns("debtor_accounts"))
        finally:
            await engine.dispose()
        return {c["name"] for c in cols}

    return asyncio.run(read())


def _sql(url: str, statement: str) -> list[tuple]:
    async def run() -> list[tuple]:
        engine = create_async_engine(url)
        try:
            async with engine.begin() as conn:
                result = await conn.execute(text(statement))
                return [tuple(r) for r in result.all()] if result.returns_rows else []
        finally:
            await engine.dispose()

    return asyncio.run(run())


def _chain(script: ScriptDirectory, head: str) -> set[str]:
    """The revisions below a head by down_revision only: its domain's branch."""
    out: set[str] = set()
    todo = [head]
    while todo:
        rev = script.get_revision(todo.pop())
        out.add(rev.revision)
        down = rev.down_revision
        todo += [d for d in ((down,) if isinstance(down, str) else (down or ())) if d not in out]
    return out


def test_one_head_after_the_debtor_book_and_messaging():
    script = _script()
    heads = [h for h in script.get_heads() if "0004_messaging" in _chain(script, h)]
    assert heads == [REVISION]
    below = {r.revision for r in script.iterate_revisions(REVISION, "base")}
    assert {"0003_debtors", "0004_messaging"} <= below
    revision = script.get_revision(REVISION)
    assert revision.down_revision == "0004_messaging" and "0003_debtors" in revision.dependencies


def test_down_and_up_keeps_the_book(db_url):
    assert COLUMNS <= _columns(db_url)
    try:
        command.downgrade(migrate.alembic_config(db_url), f"{REVISION}@-1")
        assert not (COLUMNS & _columns(db_url))
        assert "account_code" in _columns(db_url)
    finally:
        migrate.upgrade(db_url)
    assert COLUMNS <= _columns(db_url)
