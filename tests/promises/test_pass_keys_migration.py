"""Migration 0030 (history, tasks and events without per-row foreign keys on PostgreSQL, triggers
in their place; accounts' status out of its index, with room for heap-only updates; the
organisation's indexes of events and history gone) down and up on the test engine (SQLite, or
PostgreSQL with TEST_DATABASE_URL). SQLite keeps its constraints both ways."""

from __future__ import annotations

from alembic import command

from arrears import migrate
from tests.migration_steps import previous_revision, run_sql

REVISION = "0030_promise_pass_no_keys"
TABLES = ("account_status_changes", "tasks", "domain_events")
TRIGGERS = ("trg_organisations_delete_history_tasks_events", "trg_accounts_delete_history_tasks",
            "trg_users_unassign_tasks")
INDEXES = ("ix_accounts_org_id", "ix_accounts_org_id_status", "ix_domain_events_org_id",
           "ix_account_status_changes_org_id")


def _schema(url: str) -> tuple[int, set[str], set[str], str | None]:
    """(foreign keys of the three tables, this migration's triggers, which of INDEXES exist,
    accounts' storage options)."""
    if url.startswith("postgresql"):
        keys = run_sql(url, "SELECT count(*) FROM pg_constraint WHERE contype = 'f' AND conrelid::regclass::text "
                         f"IN ({', '.join(repr(t) for t in TABLES)})")[0][0]
        triggers = {str(r[0]) for r in run_sql(url, "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal")}
        indexes = {str(r[0]) for r in run_sql(url, "SELECT indexname FROM pg_indexes")}
        options = run_sql(url, "SELECT array_to_string(reloptions, ',') FROM pg_class WHERE relname = 'accounts'")[0][0]
    else:
        keys = sum(len(run_sql(url, f"PRAGMA foreign_key_list({t})")) for t in TABLES)
        triggers = {str(r[0]) for r in run_sql(url, "SELECT name FROM sqlite_master WHERE type = 'trigger'")}
        indexes = {str(r[0]) for r in run_sql(url, "SELECT name FROM sqlite_master WHERE type = 'index'")}
        options = None
    assert isinstance(keys, int)
    return keys, triggers & set(TRIGGERS), indexes & set(INDEXES), None if options is None else str(options)


def test_history_tasks_and_events_lose_their_keys_on_postgresql_and_get_them_back(db_url):
    postgres = db_url.startswith("postgresql")
    after = ((0, set(TRIGGERS), {"ix_accounts_org_id"}, "fillfactor=70") if postgres
             else (6, set(), {"ix_accounts_org_id"}, None))  # organisation ×3, account ×2, assignee
    before = (6, set(), {"ix_accounts_org_id_status", "ix_domain_events_org_id", "ix_account_status_changes_org_id"},
              None)
    assert _schema(db_url) == after
    try:
        command.downgrade(migrate.alembic_config(db_url), previous_revision(REVISION))
        assert _schema(db_url) == before
    finally:
        migrate.upgrade(db_url)
    assert _schema(db_url) == after
