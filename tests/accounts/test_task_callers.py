"""Opening tasks (one, many, from a SELECT) and completing tasks by interactions or by accounts take
the `Caller` (issue 18, point 6): write access in the account's own organisation; another
organisation's account is not found (or opens and closes nothing) and its interactions close
nothing here."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import Integer, literal, select

from arrears.accounts.models import Account
from arrears.customers.models import Interaction
from arrears.db import transaction
from arrears.errors import Forbidden, NotFound
from arrears.events import DomainEvent
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


async def _events(org_id: int, type_: str) -> list[str]:
    async with transaction() as s:
        return list(await s.scalars(select(DomainEvent.actor).where(DomainEvent.org_id == org_id,
                                                                   DomainEvent.type == type_)))


async def test_opening_many_tasks_needs_write_access_on_accounts_of_ones_own(world):
    org, other = await world.org(), await world.org("Other Org")
    account = await _account(world, org.id)
    for who, refusal in ((await _as(world, org.id, "admin", "read"), Forbidden),
                         (await _as(world, other.id, "admin"), NotFound),
                         (Caller.system(other.id), NotFound)):
        async with transaction() as s:
            with pytest.raises(refusal):
                await tasks.open_tasks(s, who, [(account.id, None)], kind="call", due_date=DUE, source="strategy")
    assert await _tasks(org.id) == [] and await _tasks(other.id) == []
    async with transaction() as s:
        assert await tasks.open_tasks(s, Caller.system(org.id, "strategy:s1"), [(account.id, None)], kind="call",
                                      due_date=DUE, source="strategy", note="Step 1") == 1
    assert await _tasks(org.id) == [("open", "strategy:s1")]
    assert await _events(org.id, "task.created") == ["strategy:s1"]


async def test_opening_tasks_from_a_select_opens_only_the_callers_organisations(world):
    org, other = await world.org(), await world.org("Other Org")
    account = await _account(world, org.id)
    rows = select(Account.id, literal(None, Integer)).where(Account.id == account.id)
    async with transaction() as s:
        with pytest.raises(Forbidden):
            await tasks.open_tasks_from(s, await _as(world, org.id, "admin", "read"), rows, kind="call",
                                        due_date=DUE, source="broken_promise")
    for stranger in (await _as(world, other.id, "admin"), Caller.system(other.id)):
        async with transaction() as s:
            assert await tasks.open_tasks_from(s, stranger, rows, kind="call", due_date=DUE,
                                               source="broken_promise") == 0
    assert await _tasks(org.id) == [] and await _tasks(other.id) == []
    assert await _events(other.id, "task.created") == []
    async with transaction() as s:
        assert await tasks.open_tasks_from(s, Caller.system(org.id), rows, kind="call", due_date=DUE,
                                           source="broken_promise") == 1
    assert await _tasks(org.id) == [("open", "system")]
    assert await _events(org.id, "task.created") == ["system"]


async def test_completing_the_tasks_of_accounts_needs_write_access_in_their_organisation(world):
    org, other = await world.org(), await world.org("Other Org")
    account = await _account(world, org.id)
    async with transaction() as s:
        await tasks.open_task(s, Caller.system(org.id), await s.get(Account, account.id), kind="call", due_date=DUE,
                              source="manual", assignee_id=None)
    async with transaction() as s:
        with pytest.raises(Forbidden):
            await tasks.complete_for_accounts(s, await _as(world, org.id, "admin", "read"), [account.id],
                                              closed_by="promise:x")
    for stranger in (await _as(world, other.id, "admin"), Caller.system(other.id)):
        async with transaction() as s:
            assert await tasks.complete_for_accounts(s, stranger, [account.id], closed_by="promise:x") == 0
    assert await _tasks(org.id) == [("open", "system")] and await _events(org.id, "task.updated") == []
    async with transaction() as s:
        assert await tasks.complete_for_accounts(s, Caller.system(org.id, "user:7"), [account.id],
                                                 closed_by="promise:x") == 1
        closed_by = await s.scalar(select(Task.closed_by).where(Task.org_id == org.id))
    assert await _tasks(org.id) == [("done", "system")] and closed_by == "promise:x"
    assert await _events(org.id, "task.updated") == ["user:7"]
