"""Migration 0018 (the officer index over assigned customers only) down and up on the test engine
(SQLite, or PostgreSQL with TEST_DATABASE_URL), and the query it serves still using an index."""

from __future__ import annotations

from alembic import command

from arrears import migrate
from tests.migration_steps import previous_revision, run_sql

REVISION = "0018_book_job_indexes"
INDEX = "ix_customers_org_id_officer"


def _first(url: str, sql: str, params: dict[str, object] | None = None, *, before: list[str] | None = None) -> list[str]:
    return [str(row[0]) for row in run_sql(url, sql, params, before=before or ())]


def _definition(url: str) -> str:
    if url.startswith("postgresql"):
        rows = _first(url, "SELECT indexdef FROM pg_indexes WHERE indexname = :name", {"name": INDEX})
    else:
        rows = _first(url, "SELECT sql FROM sqlite_master WHERE type = 'index' AND name = :name", {"name": INDEX})
    assert len(rows) == 1, rows
    return rows[0]


def _plan(url: str) -> str:
    query = "SELECT id FROM customers WHERE org_id = 1 AND assigned_collection_officer_id = 7"
    if url.startswith("postgresql"):
        return "\n".join(_first(url, "EXPLAIN " + query, before=["SET LOCAL enable_seqscan = off"]))
    return "\n".join(" ".join(str(v) for v in row) for row in run_sql(url, "EXPLAIN QUERY PLAN " + query))


def test_the_officer_index_holds_assigned_customers_only_and_goes_back(db_url):
    assert "assigned_collection_officer_id IS NOT NULL" in _definition(db_url)
    assert INDEX in _plan(db_url)  # one officer's customers: the partial index answers
    try:
        command.downgrade(migrate.alembic_config(db_url), previous_revision(REVISION))
        assert "IS NOT NULL" not in _definition(db_url)
    finally:
        migrate.upgrade(db_url)
    assert "assigned_collection_officer_id IS NOT NULL" in _definition(db_url)
    assert INDEX in _plan(db_url)
