"""Settling accounts after payments changed takes the `Caller` (issue 18, point 6): write access;
another organisation's caller moves nothing of this one, even when given its accounts; the moves
themselves stay the system's in the audit trail (they follow from the balances)."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select

from arrears.accounts.models import Account, AccountStatusChange
from arrears.db import transaction
from arrears.errors import Forbidden
from arrears.identity.caller import Caller
from arrears.payments import balances, service
from arrears.payments.models import Payment
from tests.accounts.test_task_callers import _as
from tests.faces.repaysync.conftest import RS
from tests.payments.helpers import loan_account


async def _paid_in_full(t) -> uuid.UUID:  # type: ignore[no-untyped-def]
    """A loan's account with a payment of its whole principal, written without settling."""
    _, acc = await loan_account(t)
    async with transaction() as s:
        s.add(Payment(org_id=t.org.id, account_id=uuid.UUID(acc), amount=Decimal("50000.00"), paid_on=date(2026, 11, 30),
                      created_by="test"))
    return uuid.UUID(acc)


async def _status(account_id: uuid.UUID) -> str:
    async with transaction() as s:
        return (await s.get(Account, account_id)).status  # type: ignore[union-attr]


async def test_settling_needs_write_access_and_moves_only_the_callers_organisations_accounts(rs: RS):
    t, other = await rs.tenant(), await rs.tenant("Other Org")
    acc = await _paid_in_full(t)
    assert await _status(acc) == "active"
    read_only = await _as(rs.world, t.org.id, "admin", "read")
    async with transaction() as s:
        with pytest.raises(Forbidden):
            await balances.settle(s, read_only, account_ids=[acc])
        with pytest.raises(Forbidden):
            await service.changed(s, read_only, [acc])
    for stranger in (await _as(rs.world, other.org.id, "admin"), Caller.system(other.org.id)):
        async with transaction() as s:
            assert await balances.settle(s, stranger, account_ids=[acc]) == 0
            await service.changed(s, stranger, [acc])
        assert await _status(acc) == "active"
    async with transaction() as s:
        assert await balances.settle(s, await _as(rs.world, t.org.id, "manager"), account_ids=[acc]) == 1
    assert await _status(acc) == "paid_up"
    async with transaction() as s:
        [moved] = list(await s.scalars(select(AccountStatusChange).where(AccountStatusChange.account_id == acc)))
    assert (moved.from_status, moved.to_status, moved.actor) == ("active", "paid_up", "system")
