"""Opening a task and completing tasks by interactions take the `Caller` (issue 18, point 6): write
access in the account's own organisation; another organisation's account is not found and its
interactions close nothing here."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from arrears.accounts.models import Account
from arrears.customers.models import Interaction
from arrears.db import transaction
from arrears.errors import Forbidden, NotFound
from arrears.identity import service as identity
from arrears.identity.caller import Caller
from arrears.tasks import service as tasks
from arrears.tasks.models import Task
from tests.web.test_web_agents import _customer_with_loan

DUE = date.today() + timedelta(days=3)


async def _account(world, org_id: int) -> Account:
    _, loan_id = await _customer_with_loan(world, org_id)
    async with transaction() as s:
        return (await s.scalars(select(Account).where(Account.loan_id == loan_id))).one()


async def _as(world, org_id: int, role: str, access: str = "write") -> Caller:
    user = await world.user(org_id, role=role, access=access)
    async with transaction() as s:
        return await identity.caller_for_user(s, user.id, org_id)


async def _tasks(org_id: int) -> list[tuple[str, str]]:
    async with transaction() as s:
        return [tuple(r) for r in (await s.execute(select(Task.status, Task.created_by)
                                                   .where(Task.org_id == org_id))).all()]


async def test_opening_a_task_needs_write_access_on_an_account_of_ones_own(world):
    org, other = await world.org(), await world.org("Other Org")
    account = await _account(world, org.id)
    for who, refusal in ((await _as(world, org.id, "calling_agent", "read"), Forbidden),
                         (await _as(world, other.id, "admin"), NotFound),
                         (Caller.system(other.id), NotFound)):
        async with transaction() as s:
            with pytest.raises(refusal) as err:
                await tasks.open_task(s, who, await s.get(Account, account.id), kind="call", due_date=DUE,
                                      source="manual", assignee_id=None)
        assert err.value.status == (404 if refusal is NotFound else 403)
    assert await _tasks(org.id) == [] and await _tasks(other.id) == []
    async with transaction() as s:
        await tasks.open_task(s, Caller.system(org.id, "strategy"), await s.get(Account, account.id), kind="call",
                              due_date=DUE, source="manual", assignee_id=None)
    assert await _tasks(org.id) == [("open", "strategy")]


async def test_interactions_complete_tasks_only_in_the_callers_organisation(world):
    org, other = await world.org(), await world.org("Other Org")
    account = await _account(world, org.id)
    async with transaction() as s:
        await tasks.open_task(s, Caller.system(org.id), await s.get(Account, account.id), kind="call", due_date=DUE,
                              source="manual", assignee_id=None)
        # Written as a row (no event): the subscriber would complete the task on its own.
        call = Interaction(org_id=org.id, account_id=account.id,
                           interaction_type="calling", disposition="promise_to_pay")
        s.add(call)
        await s.flush()
        call_id = call.id
    reader = await _as(world, org.id, "calling_agent", "read")
    stranger = await _as(world, other.id, "admin")
    async with transaction() as s:
        with pytest.raises(Forbidden):
            await tasks.complete_for_interactions(s, reader, [call_id])
    async with transaction() as s:
        assert await tasks.complete_for_interactions(s, stranger, [call_id]) == 0
    assert await _tasks(org.id) == [("open", "system")]
    async with transaction() as s:
        assert await tasks.complete_for_interactions(s, Caller.system(org.id, "user:7"), [call_id]) == 1
    async with transaction() as s:
        closed_by = await s.scalar(select(Task.closed_by).where(Task.org_id == org.id))
    assert await _tasks(org.id) == [("done", "system")] and closed_by == f"interaction:{call_id}"
