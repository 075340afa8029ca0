"""The debit-order migration on the test engine (SQLite, or PostgreSQL with TEST_DATABASE_URL):
the template was upgraded from empty; here it goes down (dropping only its tables) and up again,
and the premiums branch keeps one head."""

from __future__ import annotations

import asyncio

from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import create_async_engine

from arrears import migrate

TABLES = {"debit_order_settings", "debit_order_runs", "debit_order_items", "debit_order_files",
          "reconciliation_records"}
REVISION = "0007_debit_orders"


def _tables(url: str) -> set[str]:
    async def read() -> set[str]:
        engine = create_async_engine(url)
        try:
            async with engine.connect() as conn:
                return set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
        finally:
            await engine.dispose()

    return asyncio.run(read())


def _down_chain(script: ScriptDirectory, head: str) -> set[str]:
    """The revisions below `head` by down_revision (0021 only depends on this branch: it
    continues the main one, so it is not this branch's head)."""
    seen: set[str] = set()
    stack = [head]
    while stack:
        rev = script.get_revision(stack.pop())
        if rev is not None and rev.revision not in seen:
            seen.add(rev.revision)
            down = rev.down_revision
            stack.extend((down,) if isinstance(down, str) else (down or ()))
    return seen


def test_debit_orders_is_the_one_head_of_the_premiums_branch():
    script = ScriptDirectory.from_config(migrate.alembic_config("sqlite+aiosqlite:///unused.db"))
    premium_heads = [h for h in script.get_heads() if "0005_premiums" in _down_chain(script, h)]
    # 0015 (bank details encrypted at rest, issue 19) follows the debit orders on their branch.
    assert premium_heads == ["0015_encrypt_bank_details"]
    assert script.get_revision("0015_encrypt_bank_details").down_revision == REVISION


def test_down_and_up(env, db_url):  # env: the test's own SECRET_KEY and rows (0015 decrypts on the way down)
    assert TABLES <= _tables(db_url)
    before = migrate._current_heads(db_url)
    # The branch's head after REVISION is 0015; 0021 (issue 19) depends on it, so the database
    # names the main chain's head (0021 or a later revision) instead.
    script = ScriptDirectory.from_config(migrate.alembic_config("sqlite+aiosqlite:///unused.db"))
    assert "0015_encrypt_bank_details" not in before and any(
        "0021_bank_number_facts" in {r.revision for r in script.iterate_revisions(h, "base")} for h in before)
    try:
        command.downgrade(migrate.alembic_config(db_url), "0005_premium_policy_customer_fk")  # below REVISION (and 0015)
        left = _tables(db_url)
        assert not TABLES & left
        assert {"policies", "collections", "organisations"} <= left
    finally:
        migrate.upgrade(db_url)
    assert TABLES <= _tables(db_url) and migrate._current_heads(db_url) == before
