"""Migration 0028 (the customers' phone index a hash index on PostgreSQL) down and up on the test
engine (SQLite, or PostgreSQL with TEST_DATABASE_URL). SQLite keeps its B-tree both ways; a
customer is still found by its number, in its own organisation only, either way."""

from __future__ import annotations

from alembic import command

from arrears import migrate
from tests.migration_steps import previous_revision, run_sql

REVISION = "0028_customers_phone_hash"
FIND = "SELECT customer_code FROM customers WHERE org_id = :org AND phone_e164 = '+27820000028' ORDER BY 1"


def _indexes(url: str) -> dict[str, str]:
    """The customers' phone indexes: {name: definition}."""
    if url.startswith("postgresql"):
        rows = run_sql(url, "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'customers' "
                         "AND indexdef LIKE '%phone_e164%'")
    else:
        rows = run_sql(url, "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'customers' "
                         "AND sql LIKE '%phone_e164%'")
    return {str(name): str(sql) for name, sql in rows}


def _orgs(url: str) -> tuple[int, int]:
    made = []
    for name in ("Phone Hash A", "Phone Hash B"):
        made.append(int(run_sql(url, "INSERT INTO organisations (uuid, name, kind, status, is_default, settings, "
                                  "callback_token, created_at, updated_at) VALUES (:uuid, :name, 'business', "
                                  "'active', false, '{}', :token, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP) RETURNING id",
                             {"uuid": f"0b0e0000-0000-4000-8000-00000000002{len(made)}", "name": name,
                              "token": f"phone-hash-{len(made)}"})[0][0]))
    for org, code in ((made[0], "PH1"), (made[0], "PH2"), (made[1], "PH3")):
        run_sql(url, "INSERT INTO customers (uuid, org_id, customer_code, name, phone_e164, created_at, updated_at) "
                  "VALUES (:uuid, :org, :code, :code, '+27820000028', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)",
             {"uuid": f"0c0e0000-0000-4000-8000-0000000000{code[-1]}0", "org": org, "code": code})
    return made[0], made[1]


def test_the_phone_index_is_a_hash_index_on_postgresql_and_comes_back_as_a_btree(db_url):
    postgres = db_url.startswith("postgresql")
    first, second = _orgs(db_url)
    try:
        if postgres:
            assert set(_indexes(db_url)) == {"ix_customers_phone_e164"}
            assert "USING hash (phone_e164)" in _indexes(db_url)["ix_customers_phone_e164"]
        else:
            assert set(_indexes(db_url)) == {"ix_customers_org_id_phone_e164"}
        assert run_sql(db_url, FIND, {"org": first}) == [("PH1",), ("PH2",)]
        try:
            command.downgrade(migrate.alembic_config(db_url), previous_revision(REVISION))
            assert set(_indexes(db_url)) == {"ix_customers_org_id_phone_e164"}
            assert "(org_id, phone_e164)" in _indexes(db_url)["ix_customers_org_id_phone_e164"]
            assert run_sql(db_url, FIND, {"org": second}) == [("PH3",)]
        finally:
            migrate.upgrade(db_url)
        assert set(_indexes(db_url)) == ({"ix_customers_phone_e164"} if postgres else {"ix_customers_org_id_phone_e164"})
        assert run_sql(db_url, FIND, {"org": second}) == [("PH3",)]
    finally:
        run_sql(db_url, "DELETE FROM customers WHERE customer_code IN ('PH1', 'PH2', 'PH3')")
        run_sql(db_url, "DELETE FROM organisations WHERE name IN ('Phone Hash A', 'Phone Hash B')")
