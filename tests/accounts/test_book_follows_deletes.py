"""The book's tables (customers, debtor_accounts, accounts) have no foreign keys on PostgreSQL
(migration 0027; see arrears/accounts/models.py): triggers do what ON DELETE did. A loan's or a
book account's deletion takes its account owed, a customer's takes its accounts and unlinks its
book accounts, an organisation's takes its whole book and nobody else's (and a user's deletion
still unassigns their customers, through the foreign key that stays). The same holds on SQLite,
where the constraints stay. Both databases."""

from __future__ import annotations

import asyncio
from datetime import date
from decimal import Decimal
from pathlib import Path

from sqlalchemy import delete, func, select, update

from arrears.accounts import service as accounts
from arrears.accounts.models import Account, AccountStatusChange
from arrears.customers import service as customers
from arrears.customers.models import Customer, Loan
from arrears.db import transaction
from arrears.debtors.models import DebtorAccount
from arrears.debtors.service import lock_book
from arrears.events import DomainEvent as Event
from arrears.identity.caller import Caller
from arrears.identity.models import Organisation, User
from tests.accounts.test_task_callers import _as
from tests.faces.age_analysis.conftest import member
from tests.faces.age_analysis.helpers import HEADER, import_file, write_book

ROWS = [
    ["B1", "Alpha Ltd", "Ann", "082 123 4567", 100, 50, 0, 0, 0, 150],
    ["B2", "Beta CC", None, "0831234567", 0, 0, 0, 0, 0, 0],
    ["B3", "Gamma", "Gus", "011 555 1234", 0, 0, 0, 400, 600, 1000],
]


async def _book(client, world, tmp_path: Path, name: str):
    """An organisation with a book of three accounts, a loan for B1's customer, a manager."""
    org = await world.org(name)
    who = await member(client, world, org.id, "manager")
    await import_file(client, who.headers, write_book(tmp_path / f"{name}.csv", [HEADER, *ROWS]))
    async with transaction() as s:
        b1 = await s.scalar(select(Customer.id).where(Customer.org_id == org.id, Customer.customer_code == "B1"))
        assert b1 is not None
        s.add(Loan(org_id=org.id, customer_id=b1, loan_account_number=f"L-{name}", principal_amount=Decimal("500"),
                   interest_rate=Decimal("10"), loan_type="personal", tenure_months=6, loan_date=date(2025, 1, 1)))
        await s.flush()
        await accounts.sync_loan_accounts(s, Caller.system(org.id))
        await s.execute(update(Customer).where(Customer.org_id == org.id).values(
            assigned_collection_officer_id=who.user.id))
    return org, who.user


async def _count(model, *where) -> int:
    async with transaction() as s:
        return int(await s.scalar(select(func.count()).select_from(model).where(*where)) or 0)


async def _codes(org_id: int) -> list[tuple[str, str | None]]:
    """(kind + reference, the customer's code) of each account owed of the organisation."""
    async with transaction() as s:
        rows = await s.execute(
            select(Account.kind, func.coalesce(DebtorAccount.account_code, Loan.loan_account_number),
                   Customer.customer_code)
            .outerjoin(DebtorAccount, DebtorAccount.id == Account.debtor_account_id)
            .outerjoin(Loan, Loan.id == Account.loan_id)
            .outerjoin(Customer, Customer.id == Account.customer_id)
            .where(Account.org_id == org_id))
        return sorted((f"{k}:{ref}", code) for k, ref, code in rows)


async def test_deletions_follow_through_the_book_as_foreign_keys_did(client, world, tmp_path):
    org, manager = await _book(client, world, tmp_path, "Mine")
    other, _ = await _book(client, world, tmp_path, "Theirs")
    everything = [("book:B1", "B1"), ("book:B2", "B2"), ("book:B3", "B3"), ("loan:L-Mine", "B1")]
    assert await _codes(org.id) == everything
    assert await _count(AccountStatusChange, AccountStatusChange.org_id == org.id) == 1  # B2 paid up

    # A loan's deletion takes its account owed; a book account's, its own.
    async with transaction() as s:
        await s.execute(delete(Loan).where(Loan.org_id == org.id))
        await s.execute(delete(DebtorAccount).where(DebtorAccount.org_id == org.id,
                                                    DebtorAccount.account_code == "B3"))
    assert await _codes(org.id) == [("book:B1", "B1"), ("book:B2", "B2")]

    # A customer's deletion takes its accounts owed and unlinks its book accounts (kept, no customer).
    async with transaction() as s:
        await s.execute(delete(Customer).where(Customer.org_id == org.id, Customer.customer_code == "B2"))
    assert await _codes(org.id) == [("book:B1", "B1")]
    async with transaction() as s:
        book = dict((await s.execute(select(DebtorAccount.account_code, DebtorAccount.customer_id)
                                     .where(DebtorAccount.org_id == org.id))).all())
    assert set(book) == {"B1", "B2"} and book["B2"] is None and book["B1"] is not None
    assert await _count(AccountStatusChange, AccountStatusChange.org_id == org.id) == 0  # B2's history went with it

    # A user's deletion leaves their customers unassigned.
    assert await _count(Customer, Customer.assigned_collection_officer_id == manager.id) == 2
    async with transaction() as s:
        await s.execute(delete(User).where(User.id == manager.id))
    assert await _count(Customer, Customer.org_id == org.id) == 2
    assert await _count(Customer, Customer.assigned_collection_officer_id == manager.id) == 0

    # The organisation's deletion takes its whole book, and nobody else's.
    async with transaction() as s:
        await s.execute(delete(Organisation).where(Organisation.id == org.id))
    for model in (Account, DebtorAccount, Customer, Loan):
        assert await _count(model, model.org_id == org.id) == 0, model
    assert await _codes(other.id) == [("book:B1", "B1"), ("book:B2", "B2"), ("book:B3", "B3"),
                                      ("loan:L-Theirs", "B1")]
    assert await _count(Customer, Customer.org_id == other.id) == 3
    assert await _count(AccountStatusChange, AccountStatusChange.org_id == other.id) == 1


async def test_a_customer_deleted_while_the_book_job_runs_is_unlinked_once_the_job_commits(client, world, tmp_path):
    """The book's job (holding the book's lock) links a new book account to a customer it has read;
    the customer's deletion, meanwhile, waits for the job and then unlinks it — as the foreign key's
    check made them take turns. (SQLite: the writers take turns on the database's write lock.)"""
    org, _ = await _book(client, world, tmp_path, "Racing")
    async with transaction() as s:
        b3 = await s.scalar(select(Customer.id).where(Customer.org_id == org.id, Customer.customer_code == "B3"))
    job_linked, deleted = asyncio.Event(), asyncio.Event()

    async def job() -> None:
        async with transaction() as s:
            await lock_book(s, org.id)
            s.add(DebtorAccount(org_id=org.id, account_code="B3-2", customer_id=b3, customer_name="Gamma"))
            await s.flush()
            job_linked.set()
            await asyncio.sleep(0.5)
            assert not deleted.is_set()  # the deletion waits for the job

    async def delete_b3() -> None:
        await job_linked.wait()
        async with transaction() as s:
            await s.execute(delete(Customer).where(Customer.id == b3))
        deleted.set()

    await asyncio.gather(job(), delete_b3())
    async with transaction() as s:
        book = dict((await s.execute(select(DebtorAccount.account_code, DebtorAccount.customer_id)
                                     .where(DebtorAccount.org_id == org.id))).all())
    assert book["B3"] is None and book["B3-2"] is None
    assert await _codes(org.id) == [("book:B1", "B1"), ("book:B2", "B2"), ("loan:L-Racing", "B1")]


async def test_a_customer_deleted_while_the_book_job_updates_its_phone_waits_for_the_job(client, world, tmp_path):
    """The book's job (holding the book's lock) updates a customer's phone while a manager deletes
    that customer: the deletion takes the book's lock before the customer's row, so it waits for
    the job and then deletes what the job wrote. (Were the row locked first, the job's update would
    wait for the deletion and the deletion's trigger for the job's lock: PostgreSQL would fail one
    of them as a deadlock. SQLite: the writers take turns on the database's write lock.)"""
    org, _ = await _book(client, world, tmp_path, "Phoning")
    manager = await _as(world, org.id, "manager")
    async with transaction() as s:
        b3 = await s.scalar(select(Customer.id).where(Customer.org_id == org.id, Customer.customer_code == "B3"))
    assert b3 is not None
    job_locked, deleted = asyncio.Event(), asyncio.Event()

    async def job() -> None:
        async with transaction() as s:
            await lock_book(s, org.id)
            job_locked.set()
            await asyncio.sleep(0.5)  # the deletion has started meanwhile
            await s.execute(update(Customer).where(Customer.id == b3).values(phone="011 555 9999",
                                                                             phone_e164="+27115559999"))
            await asyncio.sleep(0.5)
            assert not deleted.is_set()  # the deletion waits for the job

    async def delete_b3() -> None:
        await job_locked.wait()
        async with transaction() as s:
            await customers.delete_customer(s, manager, b3)
        deleted.set()

    await asyncio.gather(job(), delete_b3())
    assert await _count(Customer, Customer.id == b3) == 0
    async with transaction() as s:
        gone = (await s.scalars(select(Event).where(Event.org_id == org.id, Event.type == "customer.deleted"))).all()
    assert [(e.subject_id, (e.before or {}).get("phone_e164")) for e in gone] == [(str(b3), "+27115559999")]
    assert await _codes(org.id) == [("book:B1", "B1"), ("book:B2", "B2"), ("loan:L-Phoning", "B1")]
