"""Starting a strategy run, its bulk outbox and its hand-over take the `Caller` (issue 18, point 6):
a writer (write access; a user a manager or an admin) in the strategy's and the organisation's own
organisation, else not found; another organisation's caller (a user or the system) hands over
nothing of this one. The run passes the system caller named as the strategy, so the history and
events keep `strategy:<id>`; the run's row names who started it."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from arrears.accounts.models import Account, AccountStatusChange
from arrears.db import transaction
from arrears.errors import Forbidden, NotFound
from arrears.events import DomainEvent
from arrears.identity.caller import Caller
from arrears.identity.models import Organisation
from arrears.messaging.bulk_outbox import queue_bulk
from arrears.messaging.models import Message
from arrears.strategies import runner
from arrears.strategies.models import StrategyRun
from arrears.strategies.runner import _hand_over
from tests.accounts.test_task_callers import _account, _as
from tests.strategies.helpers import strategy
from tests.strategies.test_bulk_run import _drafts


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


async def test_starting_a_run_needs_a_writer_and_a_strategy_of_the_callers_organisation(rs):
    t, other = await rs.tenant(), await rs.tenant("Other Org")
    sid = await strategy(t, [{"action": "call_task"}])
    for who, refusal in ((await _as(rs.world, t.org.id, "manager", "read"), Forbidden),
                         (await _as(rs.world, t.org.id, "calling_agent"), Forbidden),
                         (await _as(rs.world, other.org.id, "admin"), NotFound),
                         (Caller.system(other.org.id), NotFound)):
        async with transaction() as s:
            with pytest.raises(refusal):
                await runner.start_run(s, who, strategy_id=sid, trigger="manual", status="queued")
    async with transaction() as s:
        assert list(await s.scalars(select(StrategyRun.id))) == []
    manager = await _as(rs.world, t.org.id, "manager")
    async with transaction() as s:
        run = await runner.start_run(s, manager, strategy_id=sid, trigger="manual", status="queued")
        assert (run.org_id, run.strategy_id, run.started_by) == (t.org.id, sid, manager.actor)
        everyone = await runner.start_run(s, Caller.system(other.org.id), strategy_id=None, trigger="schedule",
                                          status="queued")  # the daily run: the caller's own organisation's
        assert (everyone.org_id, everyone.started_by) == (other.org.id, "system")


async def test_the_bulk_outbox_needs_write_access_in_the_organisation_it_is_given(rs):
    t, other = await rs.tenant(), await rs.tenant("Other Org")
    prefix = f"callers-{uuid.uuid4().hex[:6]}"
    for who, refusal in ((await _as(rs.world, t.org.id, "admin", "read"), Forbidden),
                         (await _as(rs.world, other.org.id, "admin"), NotFound),
                         (Caller.system(other.org.id, "strategy:x"), NotFound)):
        async with transaction() as s:
            with pytest.raises(refusal):
                await queue_bulk(s, who, await s.get(Organisation, t.org.id), _drafts(2, prefix), source="strategy")
    async with transaction() as s:
        assert list(await s.scalars(select(Message.id).where(Message.idempotency_key.like(f"{prefix}:%")))) == []
