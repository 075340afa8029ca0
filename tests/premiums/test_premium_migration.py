"""The premiums migration on the test engine (SQLite, or PostgreSQL with TEST_DATABASE_URL):
the template was upgraded from empty; here the premiums branch goes down and up again."""

from __future__ import annotations

import asyncio

from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import create_async_engine

from arrears import migrate
from tests.premiums.debit_orders.test_migration import _down_chain

TABLES = {"policies", "collections", "webhook_logs", "premium_idempotency_keys"}
FK_REVISION = "0005_premium_policy_customer_fk"


def _script() -> ScriptDirectory:
    return ScriptDirectory.from_config(migrate.alembic_config("sqlite+aiosqlite:///unused.db"))


def _applied(url: str, revision: str) -> bool:
    """The revision is applied: it is a current head or below one."""
    script = _script()
    return any(revision in {r.revision for r in script.iterate_revisions(head, "base")}
               for head in migrate._current_heads(url))


def _tables(url: str) -> set[str]:
    async def read() -> set[str]:
        engine = create_async_engine(url)
        try:
            async with engine.connect() as conn:
                return set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
        finally:
            await engine.dispose()

    return asyncio.run(read())


def _customer_fks(url: str) -> list[dict]:
    async def read() -> list[dict]:
        engine = create_async_engine(url)
        try:
            async with engine.connect() as conn:
                fks = await conn.run_sync(lambda c: inspect(c).get_foreign_keys("policies"))
        finally:
            await engine.dispose()
        return [fk for fk in fks if fk["constrained_columns"] == ["customer_id"]]

    return asyncio.run(read())


def test_one_head_on_the_premiums_branch():
    """Everything built on the premiums tables (the customer key, debit orders…) is one chain."""
    script = _script()
    # By down_revision: 0021 (issue 19) depends on the branch but continues the main chain.
    premium_heads = [h for h in script.get_heads() if "0005_premiums" in _down_chain(script, h)]
    assert len(premium_heads) == 1, premium_heads
    assert FK_REVISION in {r.revision for r in script.iterate_revisions(premium_heads[0], "base")}


def test_policy_customer_fk_down_and_up(env, db_url):  # env: the test's own SECRET_KEY and rows (0015 decrypts on the way down)
    [fk] = _customer_fks(db_url)
    assert fk["referred_table"] == "customers" and fk["options"].get("ondelete") == "SET NULL"
    try:
        command.downgrade(migrate.alembic_config(db_url), "0005_premiums")
        assert _customer_fks(db_url) == []
        assert TABLES <= _tables(db_url)  # only the key went
    finally:
        migrate.upgrade(db_url)
    assert len(_customer_fks(db_url)) == 1 and _applied(db_url, FK_REVISION)


def test_premiums_branch_down_and_up(env, db_url):  # env: the test's own SECRET_KEY and rows (0015 decrypts on the way down)
    assert TABLES <= _tables(db_url)
    assert _applied(db_url, "0005_premiums") and _applied(db_url, FK_REVISION)
    try:
        command.downgrade(migrate.alembic_config(db_url), "0005_premiums-1")
        left = _tables(db_url)
        assert not TABLES & left
        assert {"organisations", "api_keys", "domain_events"} <= left  # the foundation stays
    finally:
        migrate.upgrade(db_url)
    assert TABLES <= _tables(db_url) and _applied(db_url, FK_REVISION)
