"""Migration 0032 (the customers' officer without a per-row foreign key on PostgreSQL, a trigger
on the users in its place) down and up on the test engine (SQLite, or PostgreSQL with
TEST_DATABASE_URL), and what the key did still done both ways: a user's deletion unassigns their
customers; an assignment holds its officer until it commits."""

from __future__ import annotations

import asyncio

from alembic import command
from sqlalchemy import text

from arrears import migrate
from arrears.customers import service as customers
from arrears.db import get_engine, transaction
from arrears.identity.caller import Caller
from tests.migration_steps import previous_revision, run_sql

REVISION = "0032_customers_officer_no_key"
TRIGGER = "trg_users_delete_officer"


def _schema(url: str) -> tuple[int, bool]:
    """(foreign keys of customers.assigned_collection_officer_id, whether the trigger is there)."""
    if url.startswith("postgresql"):
        keys = run_sql(url, "SELECT count(*) FROM pg_constraint WHERE contype = 'f' AND conrelid = "
                            "'customers'::regclass AND conname = 'fk_customers_assigned_collection_officer_id_users'")
        trigger = run_sql(url, "SELECT count(*) FROM pg_trigger WHERE tgname = :t", {"t": TRIGGER})
        return int(keys[0][0]), bool(trigger[0][0])  # type: ignore[call-overload]
    rows = run_sql(url, "PRAGMA foreign_key_list(customers)")
    trigger = run_sql(url, "SELECT count(*) FROM sqlite_master WHERE type = 'trigger' AND name = :t", {"t": TRIGGER})
    return sum(1 for r in rows if r[3] == "assigned_collection_officer_id"), bool(trigger[0][0])


def test_the_officer_loses_its_foreign_key_on_postgresql_and_gets_it_back(db_url):
    postgres = db_url.startswith("postgresql")
    assert _schema(db_url) == ((0, True) if postgres else (1, False))
    try:
        command.downgrade(migrate.alembic_config(db_url), previous_revision(REVISION))
        assert _schema(db_url) == (1, False)
    finally:
        migrate.upgrade(db_url)
    assert _schema(db_url) == ((0, True) if postgres else (1, False))


async def _assigned(world) -> tuple[int, int]:
    """A collection officer and a customer assigned to them: (officer id, customer id)."""
    org = await world.org("Officers")
    officer = await world.user(org.id, role="collection_officer")
    async with transaction() as s:
        customer = await customers.create_customer(s, Caller.system(org.id), {
            "name": "Assigned", "assigned_collection_officer_id": officer.id})
    return officer.id, customer.id


async def _officer_of(customer_id: int) -> int | None:
    async with transaction(readonly=True) as s:
        return await s.scalar(text("SELECT assigned_collection_officer_id FROM customers WHERE id = :c"),
                              {"c": customer_id})


async def _delete_user(user_id: int) -> None:
    async with transaction() as s:
        await s.execute(text("DELETE FROM memberships WHERE user_id = :u"), {"u": user_id})
        await s.execute(text("DELETE FROM users WHERE id = :u"), {"u": user_id})


async def test_a_deleted_officer_leaves_their_customers_unassigned(env, world):
    """Both databases: the trigger (PostgreSQL) or the key's ON DELETE SET NULL (SQLite)."""
    officer, customer = await _assigned(world)
    assert await _officer_of(customer) == officer
    await _delete_user(officer)
    assert await _officer_of(customer) is None


async def test_an_assignment_holds_its_officer_until_it_commits(env, world, db_url):
    """The officer is read FOR KEY SHARE (the lock the key's check took): on PostgreSQL a deletion
    of that user waits for the assignment's commit, and then unassigns the customer. SQLite: one
    writer at a time, the key does it."""
    officer, customer = await _assigned(world)
    async with transaction() as s:
        await s.execute(text("UPDATE customers SET assigned_collection_officer_id = NULL WHERE id = :c"),
                        {"c": customer})
    org_id = int(await _scalar("SELECT org_id FROM customers WHERE id = :c", {"c": customer}))
    if not db_url.startswith("postgresql"):
        async with transaction() as s:
            await customers.update_customer(s, Caller.system(org_id), customer,
                                            {"assigned_collection_officer_id": officer})
        await _delete_user(officer)
        assert await _officer_of(customer) is None
        return
    holding = asyncio.Event()
    release = asyncio.Event()

    async def assign() -> None:
        async with transaction() as s:
            await customers.update_customer(s, Caller.system(org_id), customer,
                                            {"assigned_collection_officer_id": officer})
            holding.set()
            await release.wait()

    assignment = asyncio.create_task(assign())
    await holding.wait()
    deletion = asyncio.create_task(_delete_user(officer))
    await asyncio.sleep(0.5)
    assert not deletion.done()  # waits for the assignment's lock on the officer
    waiting = await _scalar("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                            "AND query LIKE 'DELETE FROM users%'", {})
    assert waiting == 1
    release.set()
    await assignment
    await deletion
    assert await _officer_of(customer) is None


async def _scalar(sql: str, params: dict[str, object]) -> object:
    async with get_engine().connect() as conn:
        return await conn.scalar(text(sql), params)
