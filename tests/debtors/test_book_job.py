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
