"""Migration 0027 (the book's tables without per-row foreign keys on PostgreSQL, triggers in their
place, partial unique indexes for accounts' loan and book account) down and up on the test engine
(SQLite, or PostgreSQL with TEST_DATABASE_URL). SQLite keeps its constraints both ways."""

from __future__ import annotations

from alembic import command

from arrears import migrate
from tests.migration_steps import previous_revision, run_sql

REVISION = "0027_cheaper_book_job"
TABLES = ("customers", "debtor_accounts", "accounts")
TRIGGERS = ("trg_organisations_delete_book", "trg_customers_delete_accounts", "trg_debtor_accounts_delete_accounts",
            "trg_loans_delete_accounts")


def _schema(url: str) -> tuple[int, set[str], str]:
    """(foreign keys of the book's tables, the triggers of this migration, the loan index's definition)."""
    if url.startswith("postgresql"):
        keys = run_sql(url, "SELECT count(*) FROM pg_constraint WHERE contype = 'f' AND conrelid::regclass::text "
                         f"IN ({', '.join(repr(t) for t in TABLES)})")[0][0]
        triggers = {str(r[0]) for r in run_sql(url, "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal")}
        index = " ".join(str(r[0]) for r in run_sql(url, "SELECT indexdef FROM pg_indexes "
                                                      "WHERE indexname = 'uq_accounts_loan_id'"))
    else:
        keys = sum(len(run_sql(url, f"PRAGMA foreign_key_list({t})")) for t in TABLES)
        triggers = {str(r[0]) for r in run_sql(url, "SELECT name FROM sqlite_master WHERE type = 'trigger'")}
        index = " ".join(str(r[0]) for r in run_sql(url, "SELECT sql FROM sqlite_master WHERE tbl_name = 'accounts'"))
    assert isinstance(keys, int)
    return keys, triggers & set(TRIGGERS), index


def test_the_book_tables_lose_their_foreign_keys_on_postgresql_and_get_them_back(db_url):
    postgres = db_url.startswith("postgresql")
    keys, triggers, index = _schema(db_url)
    if postgres:
        assert (keys, triggers) == (0, set(TRIGGERS))  # the customers' officer's went in 0032
        assert "WHERE (loan_id IS NOT NULL)" in index
    else:
        assert (keys, triggers) == (8, set())  # organisation ×3, officer, customer ×2, book account, loan
        assert "uq_accounts_loan_id UNIQUE (loan_id)" in index
    try:
        command.downgrade(migrate.alembic_config(db_url), previous_revision(REVISION))
        keys, triggers, index = _schema(db_url)
        assert (keys, triggers) == (8, set())
        assert "IS NOT NULL)" not in index if postgres else "UNIQUE (loan_id)" in index
    finally:
        migrate.upgrade(db_url)
    assert _schema(db_url)[:2] == ((0, set(TRIGGERS)) if postgres else (8, set()))
