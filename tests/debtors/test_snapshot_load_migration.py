"""Migrations 0010 (fewer snapshot indexes, server-side timestamps on PostgreSQL) and 0011 (the
overdue index's keys moved to debtor_snapshot_ranks) down and up on the test engine (SQLite, or
PostgreSQL with TEST_DATABASE_URL)."""

from __future__ import annotations

import asyncio

from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import create_async_engine

from arrears import migrate

REVISION = "0010_snapshot_load"
DROPPED = {"ix_debtor_snapshots_report_id_overdue_amount", "ix_debtor_snapshots_report_id_total_balance"}
KEPT = {"ix_debtor_snapshots_report_id_sheet_row", "ix_debtor_snapshots_org_id_account_code"}
RANKED = "ix_debtor_snapshots_report_overdue_balance"  # 0011 moves its keys to debtor_snapshot_ranks


def _schema(url: str) -> tuple[set[str], dict[str, object]]:
    async def read() -> tuple[set[str], dict[str, object]]:
        engine = create_async_engine(url)
        try:
            async with engine.connect() as conn:
                def look(c):  # type: ignore[no-untyped-def]
                    found = inspect(c)
                    names = {i["name"] for i in found.get_indexes("debtor_snapshots")}
                    defaults = {col["name"]: col.get("default") for col in found.get_columns("debtor_snapshots")}
                    if found.has_table("debtor_snapshot_ranks"):
                        names.add("debtor_snapshot_ranks")
                    return names, defaults
                return await conn.run_sync(look)
        finally:
            await engine.dispose()

    return asyncio.run(read())


def test_the_revisions_end_the_debtor_book():
    script = ScriptDirectory.from_config(migrate.alembic_config("sqlite+aiosqlite:///unused.db"))
    assert script.get_revision(REVISION).down_revision == "0009_web_indexes"
    assert script.get_revision("0011_snapshot_ranks").down_revision == REVISION
    # 0012 (ids never reused, issue 20) follows the debtor book's last revision.
    assert script.get_revision("0012_ids_never_reused").down_revision == "0011_snapshot_ranks"
    # 0013 (waiting users) and 0014 (web sessions, issue 19) follow it, then the revisions of
    # issue 21: 0016 (report dates), 0017 (import profiles) and 0018 (the book job's indexes); then
    # 0019 (accounts owed and tasks, issue 22), 0020 (payments and promises), 0021 (the bank
    # numbers' fingerprints, issue 19), then 0022 (letters, issue 23), 0023 (collection
    # strategies, issue 23), 0024 (how letter steps send their letters, issue 23) and 0025 (cheaper
    # writes for the daily promise pass, issue 22), then 0026 (the strategy run's tables without
    # per-row foreign keys, issue 23), 0027 and 0028 (the book's job, issue 21), 0029 (the book
    # accounts' monthly update in place, issue 21) and 0030 (the promise pass without per-row keys,
    # issue 22), the newest.
    assert script.get_revision("0013_waiting_users").down_revision == "0012_ids_never_reused"
    assert script.get_revision("0014_web_sessions").down_revision == "0013_waiting_users"
    assert script.get_revision("0016_report_dates").down_revision == "0014_web_sessions"
    assert script.get_revision("0017_import_profiles").down_revision == "0016_report_dates"
    assert script.get_revision("0018_book_job_indexes").down_revision == "0017_import_profiles"
    assert script.get_revision("0019_accounts_tasks").down_revision == "0018_book_job_indexes"
    assert script.get_revision("0020_promises_payments").down_revision == "0019_accounts_tasks"
    assert script.get_revision("0021_bank_number_facts").down_revision == "0020_promises_payments"
    assert script.get_revision("0022_letters").down_revision == "0021_bank_number_facts"
    assert script.get_revision("0023_strategies").down_revision == "0022_letters"
    assert script.get_revision("0024_letter_delivery").down_revision == "0023_strategies"
    assert script.get_revision("0025_cheaper_promise_pass").down_revision == "0024_letter_delivery"
    assert script.get_revision("0026_cheaper_strategy_run").down_revision == "0025_cheaper_promise_pass"
    assert script.get_revision("0027_cheaper_book_job").down_revision == "0026_cheaper_strategy_run"
    assert script.get_revision("0028_customers_phone_hash").down_revision == "0027_cheaper_book_job"
    assert script.get_revision("0029_book_accounts_hot").down_revision == "0028_customers_phone_hash"
    # then 0030 (the promise pass's history, tasks and events without per-row keys, issue 22).
    assert script.get_revision("0030_promise_pass_no_keys").down_revision == "0029_book_accounts_hot"
    # then 0031 (an instalment's `covered` follows from its promise's paid amount, issue 22).
    assert script.get_revision("0031_instalments_covered").down_revision == "0030_promise_pass_no_keys"
    # then 0032 (the customers' officer without a per-row key on PostgreSQL, issue 21).
    assert script.get_revision("0032_customers_officer_no_key").down_revision == "0031_instalments_covered"
    assert "0032_customers_officer_no_key" in script.get_heads() and REVISION not in script.get_heads()
    assert "0031_instalments_covered" not in script.get_heads()
    assert "0030_promise_pass_no_keys" not in script.get_heads()
    assert "0029_book_accounts_hot" not in script.get_heads()
    assert "0028_customers_phone_hash" not in script.get_heads()
    assert "0027_cheaper_book_job" not in script.get_heads()
    assert "0026_cheaper_strategy_run" not in script.get_heads()
    assert "0025_cheaper_promise_pass" not in script.get_heads()
    assert "0023_strategies" not in script.get_heads() and "0024_letter_delivery" not in script.get_heads()
    assert "0020_promises_payments" not in script.get_heads()


def test_down_and_up(db_url):
    names, defaults = _schema(db_url)
    assert not names & DROPPED and KEPT <= names and RANKED not in names and "debtor_snapshot_ranks" in names
    postgres = db_url.startswith("postgresql")
    if postgres:
        assert "now()" in str(defaults["created_at"]) and "now()" in str(defaults["updated_at"])
        assert str(defaults["d150"]) == "0" and str(defaults["d180"]) == "0" and defaults["is_selected"] == "false"
    try:
        command.downgrade(migrate.alembic_config(db_url), REVISION)
        names, _ = _schema(db_url)
        assert RANKED in names and "debtor_snapshot_ranks" not in names
        command.downgrade(migrate.alembic_config(db_url), "0009_web_indexes")
        names, defaults = _schema(db_url)
        assert DROPPED <= names and KEPT <= names and RANKED in names
        assert defaults["created_at"] is None and defaults["d150"] is None
    finally:
        migrate.upgrade(db_url)
    names, defaults = _schema(db_url)
    assert not names & DROPPED and RANKED not in names and "debtor_snapshot_ranks" in names
    if postgres:
        assert "now()" in str(defaults["created_at"])
