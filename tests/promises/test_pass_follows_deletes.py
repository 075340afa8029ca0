"""What the daily pass writes per account — history rows, call tasks, events — has no foreign keys
on PostgreSQL (migration 0030): triggers do what ON DELETE did, and the writers hold what the keys
checked (the organisation once per transaction with its events, the account by its UPDATE or the
task's INSERT, the assignee). An account's deletion takes its history and tasks, a user's
unassigns their tasks, an organisation's takes its history, tasks and events and nobody else's; a
deletion meanwhile waits for the pass, then takes what it wrote. Both databases (SQLite keeps
its keys)."""

from __future__ import annotations

import pytest
from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError

from arrears import events
from arrears.accounts.models import Account, AccountStatusChange
from arrears.db import session_factory, transaction
from arrears.events import DomainEvent
from arrears.identity.caller import Caller
from arrears.identity.models import Organisation, User
from arrears.promises.evaluate import evaluate
from arrears.promises.models import Promise
from arrears.tasks.models import Task
from tests.faces.repaysync.conftest import RS, Tenant
from tests.meanwhile import delete_meanwhile
from tests.promises.helpers import days, loan_account, promise, run, today


async def _broken(t: Tenant, n: int) -> list[str]:
    """n loan accounts, each with a promise nobody kept, evaluated: a task, history and events each."""
    accounts = [(await loan_account(t))[1] for _ in range(n)]
    day = await today(t)
    for acc in accounts:
        await promise(t, acc, [("100.00", day)], role="calling_agent")
    out = await run(t, day + days(3))
    assert (out.broken, out.tasks) == (n, n)
    return accounts


async def _count(model, *where) -> int:
    async with transaction() as s:
        return int(await s.scalar(select(func.count()).select_from(model).where(*where)) or 0)


async def _written(org_id: int) -> tuple[int, int, int]:
    """(history rows, tasks, events) of the organisation."""
    return (await _count(AccountStatusChange, AccountStatusChange.org_id == org_id),
            await _count(Task, Task.org_id == org_id), await _count(DomainEvent, DomainEvent.org_id == org_id))


async def test_deletions_take_or_unassign_what_the_pass_wrote_as_foreign_keys_did(rs: RS):
    t, other = await rs.tenant(), await rs.tenant()
    gone, kept = await _broken(t, 2)
    await _broken(other, 1)
    theirs = await _written(other.org.id)
    # promised, then active again: two history rows per account; one task each
    assert await _count(AccountStatusChange, AccountStatusChange.account_id == gone) == 2
    assert await _count(Task, Task.account_id == gone) == 1

    # An account's deletion takes its history and tasks, not the other account's.
    async with transaction() as s:
        await s.execute(delete(Promise).where(Promise.account_id == gone))
        await s.execute(delete(Account).where(Account.id == gone))
    assert await _count(AccountStatusChange, AccountStatusChange.account_id == gone) == 0
    assert await _count(Task, Task.account_id == gone) == 0
    assert await _count(AccountStatusChange, AccountStatusChange.account_id == kept) == 2
    assert await _count(Task, Task.account_id == kept) == 1

    # A user's deletion unassigns their tasks (SET NULL), keeping the tasks.
    async with transaction() as s:
        agent = await s.scalar(select(Task.assignee_id).where(Task.account_id == kept))
        assert agent is not None
        await s.execute(update(Promise).where(Promise.agent_id == agent).values(agent_id=None))
        await s.execute(delete(User).where(User.id == agent))
    async with transaction() as s:
        assert list(await s.scalars(select(Task.assignee_id).where(Task.account_id == kept))) == [None]

    # An organisation's deletion takes its history, tasks and events, and nobody else's.
    assert all(await _written(t.org.id))
    async with transaction() as s:
        await s.execute(delete(Organisation).where(Organisation.id == t.org.id))
    assert await _written(t.org.id) == (0, 0, 0)
    assert await _written(other.org.id) == theirs


async def test_a_pass_holds_its_organisation_accounts_and_agent_until_it_commits(rs: RS, template_db, env):
    """While a pass's transaction is open, deleting its organisation, one of the accounts it moved
    or the agent its tasks are assigned to waits (on PostgreSQL the locks the pass holds instead of
    the keys; on SQLite the database's one writer); after the commit the deletion takes the rows."""
    pg = template_db["kind"] == "pg"
    t = await rs.tenant()
    accounts = [(await loan_account(t))[1] for _ in range(2)]
    day = await today(t)
    for acc in accounts:
        await promise(t, acc, [("100.00", day)], role="calling_agent")
    async with transaction() as s:
        agent = await s.scalar(select(Promise.agent_id).where(Promise.account_id == accounts[0]))
    async with session_factory() as s:
        out = await evaluate(s, Caller.system(t.org.id), today=day + days(3))
        assert out.tasks == 2
        for doomed in (delete(Organisation).where(Organisation.id == t.org.id),
                       delete(Account).where(Account.id == accounts[0]),
                       delete(User).where(User.id == agent)):
            with pytest.raises(Exception, match="lock timeout" if pg else "database is locked"):
                await delete_meanwhile(doomed, pg, env["db_url"])
        await s.commit()
    assert await _count(Task, Task.org_id == t.org.id) == 2
    async with transaction() as s:
        await s.execute(delete(Organisation).where(Organisation.id == t.org.id))
    assert await _written(t.org.id) == (0, 0, 0)


async def test_an_event_for_an_organisation_deleted_first_is_refused(rs: RS, template_db):
    """What the key refused, the hold refuses: an event (and so a task or history row, which always
    come with one) for an organisation deleted before the writer held it."""
    t = await rs.tenant()
    async with transaction() as s:
        await s.execute(delete(Organisation).where(Organisation.id == t.org.id))
    expected = events.OrganisationGone if template_db["kind"] == "pg" else IntegrityError
    async with session_factory() as s:
        with pytest.raises(expected):
            await events.record(s, org_id=t.org.id, type="test.event", actor="system", subject_type="org",
                                subject_id=t.org.id)
        await s.rollback()


async def test_the_hold_is_taken_once_per_transaction_and_again_after_its_savepoint_rolled_back(rs: RS, template_db):
    t = await rs.tenant()
    pg = template_db["kind"] == "pg"
    async with session_factory() as s, s.begin():
        info = s.sync_session.info
        savepoint = await s.begin_nested()
        await events.hold_organisation(s, t.org.id)
        first = list(info.get("arrears_held_orgs", []))
        await savepoint.rollback()
        await events.hold_organisation(s, t.org.id)  # the savepoint's lock went with it: taken again
        second = list(info.get("arrears_held_orgs", []))
        await events.hold_organisation(s, t.org.id)  # then held: nothing more
        third = list(info.get("arrears_held_orgs", []))
    if not pg:  # SQLite keeps its keys: nothing to hold
        assert first == second == third == []
        return
    assert len(first) == len(second) == 1 and first[0][0] is not second[0][0] and third == second
