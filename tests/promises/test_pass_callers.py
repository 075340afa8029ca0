"""The promise pass and the accounts' following of promises take the `Caller` (issue 18, point 6):
write access; another organisation's caller (a user or the system) evaluates and moves nothing of
this one, even when given its accounts. The pass's events and tasks are the caller's (`system`
for the daily job and the hooks, `cli` for the CLI)."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select, update

from arrears.accounts.models import Account, AccountStatusChange
from arrears.db import transaction
from arrears.errors import Forbidden
from arrears.events import DomainEvent
from arrears.identity.caller import Caller
from arrears.promises.evaluate import evaluate
from arrears.promises.service import follow_accounts
from arrears.tasks.models import Task
from tests.accounts.test_task_callers import _as
from tests.faces.repaysync.conftest import RS
from tests.promises.helpers import days, loan_account, promise, state, today


async def _actors(org_id: int, type_: str) -> list[str]:
    async with transaction() as s:
        return list(await s.scalars(select(DomainEvent.actor).where(DomainEvent.org_id == org_id,
                                                                   DomainEvent.type == type_)))


async def test_a_pass_needs_write_access_and_evaluates_only_the_callers_organisations_promises(rs: RS):
    t, other = await rs.tenant(), await rs.tenant("Other Org")
    _, acc = await loan_account(t)
    p = await promise(t, acc, [("500.00", await today(t) + days(1))])
    late = await today(t) + days(10)  # its date and the grace days past, nothing paid: broken
    async with transaction() as s:
        with pytest.raises(Forbidden):
            await evaluate(s, await _as(rs.world, t.org.id, "admin", "read"), today=late)
    for stranger in (await _as(rs.world, other.org.id, "admin"), Caller.system(other.org.id)):
        async with transaction() as s:
            out = await evaluate(s, stranger, account_ids=[uuid.UUID(acc)], today=late)
            assert (out.kept, out.broken, out.reopened, out.tasks, out.open) == (0, 0, 0, 0, 0)
            out = await evaluate(s, stranger, today=late)
            assert (out.broken, out.tasks, out.open) == (0, 0, 0)
    assert (await state(p["id"]))[0].status == "open" and await _actors(t.org.id, "promise.broken") == []
    async with transaction() as s:
        out = await evaluate(s, Caller.system(t.org.id, "cli"), today=late)
    assert (out.broken, out.tasks) == (1, 1) and (await state(p["id"]))[0].status == "broken"
    assert await _actors(t.org.id, "promise.broken") == ["cli"]
    async with transaction() as s:
        assert list(await s.scalars(select(Task.created_by).where(Task.org_id == t.org.id))) == ["cli"]
        assert list(await s.scalars(select(Task.id).where(Task.org_id == other.org.id))) == []


async def test_following_an_accounts_promises_needs_write_access_in_its_organisation(rs: RS):
    t, other = await rs.tenant(), await rs.tenant("Other Org")
    _, acc = await loan_account(t)
    await promise(t, acc, [("500.00", await today(t) + days(5))])
    account_id = uuid.UUID(acc)
    async with transaction() as s:  # promised by the promise; as if a person had set it back
        await s.execute(update(Account).where(Account.id == account_id).values(status="active"))

    async def status() -> tuple[str, list[str]]:
        async with transaction() as s:
            return (str(await s.scalar(select(Account.status).where(Account.id == account_id))),
                    list(await s.scalars(select(AccountStatusChange.actor)
                                         .where(AccountStatusChange.account_id == account_id)
                                         .order_by(AccountStatusChange.id))))

    before = await status()
    async with transaction() as s:
        with pytest.raises(Forbidden):
            await follow_accounts(s, await _as(rs.world, t.org.id, "admin", "read"), [account_id])
    for stranger in (await _as(rs.world, other.org.id, "admin"), Caller.system(other.org.id)):
        async with transaction() as s:
            assert await follow_accounts(s, stranger, [account_id]) == 0
            assert await follow_accounts(s, stranger, None) == 0
    assert await status() == before and before[0] == "active"
    async with transaction() as s:
        assert await follow_accounts(s, Caller.system(t.org.id), None) == 1
    assert await status() == ("promised", [*before[1], "system"])
