"""Issue 20 §3: an integer id a face has shown is never given to another row, on both databases
(SQLite needs AUTOINCREMENT: migration 0012 rebuilds the tables and keeps every row and id)."""

from __future__ import annotations

import sqlite3

from alembic import command

from arrears import migrate


async def test_deleting_the_newest_customer_does_not_free_its_id(client, rs):
    acme = await rs.tenant()
    h = await acme.h("manager")
    first = await acme.customer("manager", name="Ada")
    newest = await acme.customer("manager", name="Bea")
    assert (await client.delete(f"/api/customers/{newest['id']}/", headers=h)).status_code == 200
    again = await acme.customer("manager", name="Cy")
    assert again["id"] > newest["id"] > first["id"]
    # The old id stays gone: it reaches nobody, and the new customer answers on its own id.
    assert (await client.get(f"/api/customers/{newest['id']}/", headers=h)).status_code == 404
    assert (await client.get(f"/api/customers/{again['id']}/", headers=h)).json()["name"] == "Cy"


async def test_loans_and_interactions_ids_are_not_reused(client, rs):
    acme = await rs.tenant()
    h = await acme.h("manager")
    customer = await acme.customer("manager")
    loan = await acme.loan(customer["id"], "manager")
    assert (await client.delete(f"/api/loans/{loan['id']}/", headers=h)).status_code in (200, 204)
    assert (await acme.loan(customer["id"], "manager"))["id"] > loan["id"]


def _sql(path: str, table: str) -> str:
    with sqlite3.connect(path) as conn:
        return conn.execute("SELECT sql FROM sqlite_master WHERE name = ?", (table,)).fetchone()[0]


def test_the_sqlite_migration_keeps_rows_ids_and_children(tmp_path):
    path = tmp_path / "old.db"
    url = f"sqlite+aiosqlite:///{path}"
    migrate.upgrade(url)
    command.downgrade(migrate.alembic_config(url), "0012_ids_never_reused-1")
    assert "AUTOINCREMENT" not in _sql(str(path), "customers")
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("INSERT INTO organisations (id, uuid, name, kind, status, is_default, settings,"
                     " callback_token, created_at, updated_at) VALUES (7, 'a0000000-0000-4000-8000-000000000007',"
                     " 'Acme', 'business', 'active', 0, '{}', 'token', '2026-01-01', '2026-01-01')")
        for cid in (3, 5, 9):
            conn.execute("INSERT INTO customers (id, uuid, org_id, customer_code, name, created_at, updated_at)"
                         " VALUES (?, ?, 7, ?, ?, '2026-01-01', '2026-01-01')",
                         (cid, f"c0000000-0000-4000-8000-00000000000{cid}", f"C{cid}", f"Customer {cid}"))
    migrate.upgrade(url)
    assert "AUTOINCREMENT" in _sql(str(path), "customers")
    assert "AUTOINCREMENT" in _sql(str(path), "organisations")
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA foreign_keys=ON")
        assert conn.execute("SELECT id, org_id, name FROM customers ORDER BY id").fetchall() == [
            (3, 7, "Customer 3"), (5, 7, "Customer 5"), (9, 7, "Customer 9")]
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        conn.execute("DELETE FROM customers WHERE id = 9")
        conn.execute("INSERT INTO customers (uuid, org_id, customer_code, name, created_at, updated_at)"
                     " VALUES ('c0000000-0000-4000-8000-000000000010', 7, 'C10', 'New', '2026-01-01',"
                     " '2026-01-01')")
        assert conn.execute("SELECT max(id) FROM customers").fetchone() == (10,)
        indexes = {r[0] for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'customers'")}
    assert {"ix_customers_org_id_phone_e164", "ix_customers_org_id_officer"} <= indexes
