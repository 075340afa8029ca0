"""The accounts' bulk services take the `Caller` (issue 18, point 6): syncing the book's and the
loans' accounts, the derived moves (`paid_up`/`active`) and following promises (`promised`/`active`) need
write access, and another organisation's caller (a user or the system) changes nothing here. The
book's sync stays the system's in the audit trail; the moves asked for are the caller's."""

from __future__ import annotations

import pytest
from sqlalchemy import delete, select

from arrears.accounts import service as accounts
from arrears.accounts.models import Account, AccountStatusChange
from arrears.db import transaction
from arrears.errors import Forbidden
from arrears.identity.caller import Caller
from tests.accounts.test_accounts_domain import _book
from tests.accounts.test_settle_callers import _history, _statuses
from tests.accounts.test_task_callers import _account, _as


async def test_syncing_the_book_needs_write_access_and_makes_only_the_callers_organisations_accounts(
        client, world, tmp_path):
    org, _ = await _book(client, world, tmp_path)
    other = await world.org("Other Org")
    async with transaction() as s:  # the book as it was before its job made the accounts
        await s.execute(delete(AccountStatusChange).where(AccountStatusChange.org_id == org.id))
        await s.execute(delete(Account).where(Account.org_id == org.id))
    async with transaction() as s:
        with pytest.raises(Forbidden):
            await accounts.sync_book_accounts(s, await _as(world, org.id, "admin", "read"))
    for stranger in (await _as(world, other.id, "admin"), Caller.system(other.id)):
        async with transaction() as s:
            assert await accounts.sync_book_accounts(s, stranger) == 0
    assert await _statuses(org.id) == {} and await _history(org.id) == [] and await _history(other.id) == []
    async with transaction() as s:
        assert await accounts.sync_book_accounts(s, await _as(world, org.id, "manager")) == 3
    assert await _statuses(org.id) == {"B1": "active", "B2": "paid_up", "B3": "active"}
    assert await _history(org.id) == [("active", "paid_up", "system")]


async def test_derived_moves_need_write_access_and_move_only_the_callers_organisations_accounts(
        client, world, tmp_path):
    org, _ = await _book(client, world, tmp_path)
    other = await world.org("Other Org")
    async with transaction() as s:
        b2 = await s.scalar(select(Account.id).where(Account.org_id == org.id, Account.status == "paid_up"))
    wanted = [(b2, "paid_up", "active")]
    before = await _history(org.id)
    async with transaction() as s:
        with pytest.raises(Forbidden):
            await accounts.apply_derived(s, await _as(world, org.id, "admin", "read"), wanted)
    for stranger in (await _as(world, other.id, "admin"), Caller.system(other.id)):
        async with transaction() as s:
            assert await accounts.apply_derived(s, stranger, wanted) == 0
    assert await _statuses(org.id) == {"B1": "active", "B2": "paid_up", "B3": "active"}
    assert await _history(org.id) == before and await _history(other.id) == []
    manager = await _as(world, org.id, "manager")
    async with transaction() as s:
        assert await accounts.apply_derived(s, manager, wanted) == 1
    assert await _statuses(org.id) == {"B1": "active", "B2": "active", "B3": "active"}
    assert await _history(org.id) == [*before, ("paid_up", "active", manager.actor)]


async def _status(account_id) -> tuple[str, list[tuple[str, str, str]]]:
    async with transaction() as s:
        status = await s.scalar(select(Account.status).where(Account.id == account_id))
        moves = (await s.execute(select(AccountStatusChange.from_status, AccountStatusChange.to_status,
                                        AccountStatusChange.actor)
                                 .where(AccountStatusChange.account_id == account_id)
                                 .order_by(AccountStatusChange.id))).all()
    return status, [tuple(m) for m in moves]


async def test_following_promises_needs_write_access_and_moves_only_the_callers_organisations_accounts(world):
    org, other = await world.org(), await world.org("Other Org")
    account = await _account(world, org.id)
    with_open = select(Account.id).where(Account.id == account.id)  # as if it had an open promise
    async with transaction() as s:
        with pytest.raises(Forbidden):
            await accounts.follow_promises(s, await _as(world, org.id, "admin", "read"), [account.id], with_open)
    for stranger in (await _as(world, other.id, "admin"), Caller.system(other.id)):
        async with transaction() as s:
            assert await accounts.follow_promises(s, stranger, [account.id], with_open) == 0
            assert await accounts.follow_promises(s, stranger, select(Account.id), with_open) == 0
    assert await _status(account.id) == ("active", []) and await _history(other.id) == []
    async with transaction() as s:
        assert await accounts.follow_promises(s, Caller.system(org.id, "user:7"), [account.id], with_open) == 1
    assert await _status(account.id) == ("promised", [("active", "promised", "user:7")])


async def test_syncing_loans_needs_write_access_and_makes_only_the_callers_organisations_accounts(world):
    org, other = await world.org(), await world.org("Other Org")
    account = await _account(world, org.id)
    async with transaction() as s:  # the loan as it was before its event made the account
        await s.execute(delete(Account).where(Account.id == account.id))

    async def accounts_of_the_loan() -> list[tuple[int, str]]:
        async with transaction() as s:
            return [tuple(r) for r in (await s.execute(select(Account.org_id, Account.status)
                                                       .where(Account.loan_id == account.loan_id))).all()]

    async with transaction() as s:
        with pytest.raises(Forbidden):
            await accounts.sync_loan_accounts(s, await _as(world, org.id, "admin", "read"), account.loan_id)
    for stranger in (await _as(world, other.id, "admin"), Caller.system(other.id)):
        async with transaction() as s:
            assert await accounts.sync_loan_accounts(s, stranger, account.loan_id) == 0
            assert await accounts.sync_loan_accounts(s, stranger) == 0
    assert await accounts_of_the_loan() == []
    async with transaction() as s:
        assert await accounts.sync_loan_accounts(s, Caller.system(org.id), account.loan_id) == 1
    assert await accounts_of_the_loan() == [(org.id, "active")]
