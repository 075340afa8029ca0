"""The strategy run's hand-over takes the `Caller` (issue 18, point 6): write access; another
organisation's caller (a user or the system) hands over nothing of this one. The run passes the
system caller named as the strategy, so the history and events keep `strategy:<id>`."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from arrears.accounts.models import Account, AccountStatusChange
from arrears.db import transaction
from arrears.errors import Forbidden
from arrears.events import DomainEvent
from arrears.identity.caller import Caller
from arrears.strategies.runner import _hand_over
from tests.accounts.test_task_callers import _account, _as


async def test_handing_over_needs_write_access_and_moves_only_the_callers_organisations_accounts(world):
    org, other = await world.org(), await world.org("Other Org")
    account = await _account(world, org.id)
    async with transaction() as s:
        with pytest.raises(Forbidden):
            await _hand_over(s, await _as(world, org.id, "admin", "read"), [account.id], "Smith Attorneys")
    for stranger in (await _as(world, other.id, "admin"), Caller.system(other.id, "strategy:x")):
        async with transaction() as s:
            assert await _hand_over(s, stranger, [account.id], "Smith Attorneys") == []
    async with transaction() as s:
        assert await s.scalar(select(Account.status).where(Account.id == account.id)) == "active"
        assert list(await s.scalars(select(AccountStatusChange.id))) == []
    async with transaction() as s:
        assert await _hand_over(s, Caller.system(org.id, "strategy:s1"), [account.id], "Smith Attorneys") \
            == [account.id]
    async with transaction() as s:
        row = await s.get(Account, account.id)
        assert row is not None and (row.status, row.status_reason) == ("handed_over", "Smith Attorneys")
        assert (await s.execute(select(AccountStatusChange.to_status, AccountStatusChange.actor))).all() == \
            [("handed_over", "strategy:s1")]
        assert list(await s.scalars(select(DomainEvent.actor).where(
            DomainEvent.type == "account.status_changed", DomainEvent.org_id == org.id))) == ["strategy:s1"]
