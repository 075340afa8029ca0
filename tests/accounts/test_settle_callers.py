"""Settling the book's derived statuses takes the `Caller` (issue 18, point 6): write access in its
own organisation; another organisation's caller moves nothing here. The moves stay the system's in
the audit trail (they follow from the balances)."""

from __future__ import annotations

import pytest
from sqlalchemy import select, update

from arrears.accounts import service as accounts
from arrears.accounts.models import Account, AccountStatusChange
from arrears.db import transaction
from arrears.errors import Forbidden
from arrears.identity.caller import Caller
from tests.accounts.test_accounts_domain import _accounts, _book
from tests.accounts.test_task_callers import _as


async def _statuses(org_id: int) -> dict[str, str]:
    return {d.account_code: a.status for a, d in await _accounts(org_id)}


async def _history(org_id: int) -> list[tuple[str, str, str]]:
    async with transaction() as s:
        return [tuple(r) for r in (await s.execute(
            select(AccountStatusChange.from_status, AccountStatusChange.to_status, AccountStatusChange.actor)
            .where(AccountStatusChange.org_id == org_id).order_by(AccountStatusChange.id))).all()]


async def test_settling_needs_write_access_and_moves_only_the_callers_organisation(client, world, tmp_path):
    org, _ = await _book(client, world, tmp_path)
    other = await world.org("Other Org")
    b2 = next(a for a, d in await _accounts(org.id) if d.account_code == "B2")
    async with transaction() as s:  # B2 owes nothing but is active again (as a person could have set it)
        await s.execute(update(Account).where(Account.id == b2.id).values(status="active"))
    before = await _history(org.id)
    assert before == [("active", "paid_up", "system")]
    async with transaction() as s:
        with pytest.raises(Forbidden):
            await accounts.settle_book_statuses(s, await _as(world, org.id, "admin", "read"))
    for stranger in (await _as(world, other.id, "admin"), Caller.system(other.id)):
        async with transaction() as s:
            assert await accounts.settle_book_statuses(s, stranger) == 0
    assert await _statuses(org.id) == {"B1": "active", "B2": "active", "B3": "active"}
    assert await _history(org.id) == before and await _history(other.id) == []
    async with transaction() as s:
        assert await accounts.settle_book_statuses(s, await _as(world, org.id, "manager")) == 1
    assert await _statuses(org.id) == {"B1": "active", "B2": "paid_up", "B3": "active"}
    assert await _history(org.id) == [*before, ("active", "paid_up", "system")]
