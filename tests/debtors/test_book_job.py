"""The book's job on a fresh book as issue 21 made it cheaper: every new customer gets its own UUID
(version 7 in the file's order on PostgreSQL, random on SQLite), every account its customer, the
report its ranks, and a second run of the job changes nothing."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from sqlalchemy import func, select

from arrears.customers.models import Customer
from arrears.db import transaction
from arrears.debtors import imports
from arrears.debtors.models import DebtorAccount, DebtorSnapshot, DebtorSnapshotRank
from tests.faces.age_analysis.conftest import member  # noqa: F401
from tests.faces.age_analysis.helpers import HEADER, import_file, write_book
from tests.fixtures import cheap_password_hashing  # noqa: F401

COUNT = 300


@pytest.fixture
async def officer(client, world):
    org = await world.org("Fresh Book Org")
    return org, await member(client, world, org.id, "manager")


async def _book(org_id: int) -> tuple[list[Customer], dict[str, DebtorAccount], int]:
    async with transaction(readonly=True) as s:
        customers = list((await s.scalars(select(Customer).where(Customer.org_id == org_id))).all())
        accounts = {a.account_code: a for a in (await s.scalars(
            select(DebtorAccount).where(DebtorAccount.org_id == org_id))).all()}
        report_id = await s.scalar(select(DebtorSnapshot.report_id).where(DebtorSnapshot.org_id == org_id).limit(1))
        ranks = await s.scalar(select(func.count()).select_from(DebtorSnapshotRank)
                               .where(DebtorSnapshotRank.report_id == report_id))
    return customers, accounts, int(ranks or 0)


async def test_a_fresh_book_gets_distinct_customer_uuids_linked_accounts_and_ranks(client, officer, tmp_path: Path,
                                                                                  db_url):
    org, who = officer
    # Codes in descending order: the file's order is not the codes' order.
    codes = [f"F{n:04d}" for n in range(COUNT, 0, -1)]
    rows = [HEADER, *([code, f"Customer {code}", None, f"082{n:07d}", n, 0, 0, 0, 0, n]
                      for n, code in enumerate(codes, 1))]
    upload = await import_file(client, who.headers, write_book(tmp_path / "fresh.csv", rows))

    customers, accounts, ranks = await _book(org.id)
    assert sorted(c.customer_code for c in customers) == sorted(codes)
    assert len({c.uuid for c in customers}) == COUNT
    by_code = {c.customer_code: c for c in customers}
    assert all(accounts[code].customer_id == by_code[code].id for code in codes)
    assert ranks == COUNT
    if db_url.startswith("postgresql"):
        # Version 7, one job's prefix, numbered in the file's order.
        assert {uuid.UUID(str(c.uuid)).version for c in customers} == {7}
        assert [c.customer_code for c in sorted(customers, key=lambda c: str(c.uuid))] == codes

    # The job again (a retried attempt): nothing created, nothing changed.
    assert await imports.update_book(upload) == 0
    again, accounts_again, ranks_again = await _book(org.id)
    assert {(c.customer_code, c.uuid) for c in again} == {(c.customer_code, c.uuid) for c in customers}
    assert {code: a.customer_id for code, a in accounts_again.items()} == {
        code: a.customer_id for code, a in accounts.items()}
    assert ranks_again == COUNT


async def test_account_codes_that_make_one_customer_code_share_one_customer(client, officer, tmp_path: Path):
    """A customer's code is the account code's first 50 characters: two accounts of one report whose
    codes start alike make one customer, which both belong to. (On PostgreSQL the customers' insert
    goes without ON CONFLICT first; the second of the two fails it on the unique index, and the
    insert runs again in the savepoint's place with ON CONFLICT DO NOTHING.)"""
    org, who = officer
    stem = "L" * 50
    codes = [f"{stem}-1", f"{stem}-2", "SHORT"]
    rows = [HEADER, *([code, f"Customer {n}", None, f"082{n:07d}", n, 0, 0, 0, 0, n]
                      for n, code in enumerate(codes, 1))]
    upload = await import_file(client, who.headers, write_book(tmp_path / "alike.csv", rows))

    customers, accounts, ranks = await _book(org.id)
    assert sorted(c.customer_code for c in customers) == sorted([stem, "SHORT"])
    by_code = {c.customer_code: c for c in customers}
    assert sorted(accounts) == sorted(codes)
    assert accounts[codes[0]].customer_id == accounts[codes[1]].customer_id == by_code[stem].id
    assert accounts["SHORT"].customer_id == by_code["SHORT"].id
    assert by_code[stem].name == "Customer 1"  # the first of the two in the file
    assert ranks == 3

    assert await imports.update_book(upload) == 0  # again: nothing created, nothing changed
    again, accounts_again, _ = await _book(org.id)
    assert {(c.customer_code, c.uuid) for c in again} == {(c.customer_code, c.uuid) for c in customers}
    assert {code: a.customer_id for code, a in accounts_again.items()} == {
        code: a.customer_id for code, a in accounts.items()}


async def test_a_customer_made_meanwhile_by_another_writer_is_the_accounts_customer(client, officer, tmp_path: Path,
                                                                                   db_url):
    """Customers are also made outside the book's lock (the API, customer imports). One made with a
    code of the report, not yet committed when the book's job looks for the report's customers, is
    the one its account belongs to once it commits: on PostgreSQL the job's insert waits for it on
    the unique index, fails when it commits, and inserts again with ON CONFLICT DO NOTHING (on
    SQLite every writer takes turns: it is made first, and the job finds it)."""
    import asyncio

    from sqlalchemy import text

    from arrears.db import get_engine
    from arrears.worker import run_until_idle
    from tests.faces.age_analysis.helpers import post_file

    org, who = officer
    codes = ["RACE1", "RACE2"]
    rows = [HEADER, *([code, f"Customer {code}", None, f"082{n:07d}", n, 0, 0, 0, 0, n]
                      for n, code in enumerate(codes, 1))]
    other = await get_engine().connect()
    try:
        writer = await other.begin()
        made = await other.scalar(text(
            "INSERT INTO customers (uuid, org_id, customer_code, name, created_at, updated_at) VALUES "
            "('0d0e0000-0000-4000-8000-000000000001', :org, 'RACE1', 'Made by the API', CURRENT_TIMESTAMP, "
            "CURRENT_TIMESTAMP) RETURNING id"), {"org": org.id})
        if not db_url.startswith("postgresql"):
            await writer.commit()
        r = await post_file(client, who.headers, write_book(tmp_path / "race.csv", rows))
        assert r.status_code == 202, r.text
        worker = asyncio.create_task(run_until_idle())
        if db_url.startswith("postgresql"):
            async with get_engine().connect() as watch:  # the job's insert waits for the other writer
                for _ in range(600):
                    waiting = await watch.scalar(text(
                        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                        "AND wait_event = 'transactionid' AND query LIKE '%INSERT INTO customers%'"))
                    await watch.rollback()  # pg_stat_activity is read once per transaction
                    if waiting:
                        break
                    await asyncio.sleep(0.05)
                assert waiting == 1
            await writer.commit()
        await worker
    finally:
        await other.close()

    customers, accounts, _ = await _book(org.id)
    by_code = {c.customer_code: c for c in customers}
    assert sorted(by_code) == codes
    assert by_code["RACE1"].id == made and by_code["RACE1"].name == "Made by the API"
    assert {code: accounts[code].customer_id for code in codes} == {code: by_code[code].id for code in codes}
