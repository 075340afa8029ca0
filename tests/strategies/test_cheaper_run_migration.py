"""Migration 0026 (no foreign keys on the executions and states, their ON DELETE kept by triggers)
down and up on the test engine (SQLite, or PostgreSQL with TEST_DATABASE_URL): the keys come back
with their ON DELETE and the triggers go; up again, the reverse. The triggers' effects are
tests/strategies/test_follow_deletes.py's."""

from __future__ import annotations

import asyncio

from alembic import command
from sqlalchemy import inspect, text
from sqlalchemy.ext.asyncio import create_async_engine

from arrears import migrate

REVISION = "0026_cheaper_strategy_run"
KEYS = {
    ("strategy_step_executions", "account_id", "accounts", "CASCADE"),
    ("strategy_step_executions", "org_id", "organisations", "CASCADE"),
    ("strategy_step_executions", "strategy_id", "strategies", "CASCADE"),
    ("strategy_step_executions", "step_id", "strategy_steps", "CASCADE"),
    ("strategy_step_executions", "run_id", "strategy_runs", "SET NULL"),
    ("strategy_account_states", "account_id", "accounts", "CASCADE"),
    ("strategy_account_states", "org_id", "organisations", "CASCADE"),
    ("strategy_account_states", "strategy_id", "strategies", "SET NULL"),
}


def _schema(url: str) -> tuple[set[tuple[str, str, str, str]], set[str], bool]:
    """(the two tables' foreign keys, the strategy triggers, executions' ids never reused on SQLite)."""
    async def go() -> tuple[set[tuple[str, str, str, str]], set[str], bool]:
        engine = create_async_engine(url)
        try:
            async with engine.connect() as conn:
                def keys(sync: object) -> set[tuple[str, str, str, str]]:
                    found = set()
                    insp = inspect(sync)
                    for table in ("strategy_step_executions", "strategy_account_states"):
                        for fk in insp.get_foreign_keys(table):
                            found.add((table, fk["constrained_columns"][0], fk["referred_table"],
                                       str((fk.get("options") or {}).get("ondelete", "")).upper()))
                    return found

                fks = await conn.run_sync(keys)
                if url.startswith("postgresql"):
                    sql = "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal"
                    autoincrement = True
                else:
                    sql = "SELECT name FROM sqlite_master WHERE type = 'trigger'"
                    made = await conn.scalar(text("SELECT sql FROM sqlite_master WHERE name = 'strategy_step_executions'"))
                    autoincrement = "AUTOINCREMENT" in str(made).upper()
                triggers = {r[0] for r in await conn.execute(text(sql)) if "strategy" in r[0]}
                return fks, triggers, autoincrement
        finally:
            await engine.dispose()

    return asyncio.run(go())


TRIGGERS = {"trg_organisations_delete_strategy_executions", "trg_organisations_delete_strategy_states",
            "trg_accounts_delete_strategy_executions", "trg_accounts_delete_strategy_states",
            "trg_strategies_delete_strategy_executions", "trg_strategies_unlink_strategy_states",
            "trg_strategy_steps_delete_strategy_executions", "trg_strategy_runs_unlink_strategy_executions"}


def test_the_keys_come_back_down_and_go_up(db_url):
    from alembic.script import ScriptDirectory

    previous = ScriptDirectory.from_config(migrate.alembic_config(db_url)).get_revision(REVISION).down_revision
    assert isinstance(previous, str)
    assert _schema(db_url) == (set(), TRIGGERS, True)
    try:
        command.downgrade(migrate.alembic_config(db_url), previous)
        assert _schema(db_url) == (KEYS, set(), True)
    finally:
        migrate.upgrade(db_url)
    assert _schema(db_url) == (set(), TRIGGERS, True)
