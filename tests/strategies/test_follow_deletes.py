"""`strategy_step_executions` and `strategy_account_states` have no foreign keys (a run writes a
row per account; see arrears/strategies/models.py): triggers made by migration 0026 do what their
ON DELETE did, and the runner checks the step, the run and the accounts once per chunk. Deleting a run unlinks its executions, a step's deletion takes its executions, a strategy's
takes its executions and unlinks its states, an account's takes its state, an organisation's takes
all of its own and nobody else's. Both databases."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import delete, select

from arrears.accounts.models import Account
from arrears.db import session_factory, transaction
from arrears.identity.caller import Caller
from arrears.identity.models import Organisation
from arrears.messaging.models import Message
from arrears.strategies import runner
from arrears.strategies.models import (
    Strategy,
    StrategyAccountState,
    StrategyRun,
    StrategyStep,
    StrategyStepExecution,
)
from tests.faces.repaysync.conftest import Tenant
from tests.meanwhile import delete_meanwhile
from tests.strategies.helpers import REPORT_DAY, book, run, strategy, template
from tests.strategies.helpers import row as book_row


async def _two_steps_fired(t: Tenant, tmp_path, prefix: str) -> uuid.UUID:
    """Three accounts; step 1 fired on the report day, step 2 the day after (two runs)."""
    await book(t, tmp_path, [book_row(f"{prefix}{i}", f"N{i}", f"082 123 456{i}", d30=100 + i) for i in range(3)],
               name=prefix)
    sms = await template(t)
    sid = await strategy(t, [{"action": "sms", "messageTemplateId": sms, "minDaysPastDue": 0, "waitDays": 1},
                             {"action": "call_task", "minDaysPastDue": 0}])
    assert (await run(t, REPORT_DAY)).accounts == 3
    assert (await run(t, REPORT_DAY + timedelta(days=1))).accounts == 3
    return sid


async def _executions(org_id: int) -> list[tuple[int, bool]]:
    """(position, linked to its run) per execution."""
    e = StrategyStepExecution
    async with transaction() as s:
        rows = await s.execute(select(e.position, e.run_id).where(e.org_id == org_id)
                               .order_by(e.position, e.account_id))
        return [(p, r is not None) for p, r in rows]


async def _states(org_id: int) -> list[uuid.UUID | None]:
    async with transaction() as s:
        return list(await s.scalars(select(StrategyAccountState.strategy_id)
                                    .where(StrategyAccountState.org_id == org_id)
                                    .order_by(StrategyAccountState.account_id)))


async def test_deletions_take_or_unlink_executions_and_states_as_foreign_keys_did(rs, tmp_path):
    t, other = await rs.tenant(), await rs.tenant("Other Lending")
    sid = await _two_steps_fired(t, tmp_path, "A")
    theirs = await _two_steps_fired(other, tmp_path, "B")
    fired = [(1, True)] * 3 + [(2, True)] * 3
    assert await _executions(t.org.id) == fired and await _states(t.org.id) == [sid] * 3

    async with transaction() as s:  # a run's deletion unlinks its executions
        first = await s.scalar(select(StrategyRun.id).where(StrategyRun.org_id == t.org.id,
                                                            StrategyRun.run_on == REPORT_DAY))
        await s.execute(delete(StrategyRun).where(StrategyRun.id == first))
    assert await _executions(t.org.id) == [(1, False)] * 3 + [(2, True)] * 3

    async with transaction() as s:  # an account's takes its executions and its state
        gone = await s.scalar(select(StrategyAccountState.account_id).where(StrategyAccountState.org_id == t.org.id)
                              .order_by(StrategyAccountState.account_id).limit(1))
        await s.execute(delete(Account).where(Account.id == gone))
    assert await _executions(t.org.id) == [(1, False)] * 2 + [(2, True)] * 2 and await _states(t.org.id) == [sid] * 2

    async with transaction() as s:  # a step's takes its executions
        await s.execute(delete(StrategyStep).where(StrategyStep.strategy_id == sid, StrategyStep.position == 2))
    assert await _executions(t.org.id) == [(1, False)] * 2

    async with transaction() as s:  # a strategy's takes its executions, and its accounts' states stay, unlinked
        await s.execute(delete(Strategy).where(Strategy.id == sid))
    assert await _executions(t.org.id) == [] and await _states(t.org.id) == [None] * 2

    async with transaction() as s:
        await s.execute(delete(Organisation).where(Organisation.id == t.org.id))
    assert await _executions(t.org.id) == [] and await _states(t.org.id) == []
    assert await _executions(other.org.id) == fired and await _states(other.org.id) == [theirs] * 3


async def test_an_organisation_deleted_takes_states_and_executions_of_another_strategy_too(rs, tmp_path):
    """The organisation's own triggers, not only the strategies' (a state whose strategy is gone)."""
    t = await rs.tenant()
    sid = await _two_steps_fired(t, tmp_path, "C")
    async with transaction() as s:
        await s.execute(delete(Strategy).where(Strategy.id == sid))
    assert await _states(t.org.id) == [None] * 3
    async with transaction() as s:
        await s.execute(delete(Organisation).where(Organisation.id == t.org.id))
    assert await _states(t.org.id) == []


async def _first_step(s: Any, t: Tenant) -> tuple[Any, Organisation, Any]:
    """A run started by hand and its first step planned, in `s`, nothing committed or fired yet."""
    r = await runner.start_run(s, Caller.system(t.org.id, "test"), strategy_id=None, trigger="manual", day=REPORT_DAY)
    org = await s.get(Organisation, t.org.id)
    assert org is not None
    plan = (await runner.load_plans(s, t.org.id))[0]
    work = await runner.plan_step(s, org, plan, plan.steps[0], REPORT_DAY, runner.CapTally(),
                                  runner.messaging_settings())
    return r, org, work


async def test_a_step_deleted_during_a_run_stops_it_without_orphans(rs, tmp_path):
    """The runner checks the step and the run once per chunk, as the foreign keys did per row."""
    t = await rs.tenant()
    await book(t, tmp_path, [book_row(f"D{i}", f"N{i}", f"082 123 456{i}", d30=100) for i in range(3)])
    sid = await strategy(t, [{"action": "sms", "messageTemplateId": await template(t), "minDaysPastDue": 0}])
    async with session_factory() as s:
        r, org, work = await _first_step(s, t)
        assert len(work.rows) == 3
        await s.commit()
        async with transaction() as other:
            await other.execute(delete(StrategyStep).where(StrategyStep.strategy_id == sid))
        with pytest.raises(runner.StepGone):
            await runner._fire(s, org, work, REPORT_DAY, r.id, s.commit, None, "step 1")
        await s.rollback()
    assert await _executions(t.org.id) == [] and await _states(t.org.id) == []


async def test_an_account_deleted_after_the_selection_is_left_out(rs, tmp_path):
    """The chunk's accounts are checked (and locked) once, as the account key checked each row: one
    deleted since the selection gets no execution, no message and no state; the others do."""
    t = await rs.tenant()
    ids = await book(t, tmp_path, [book_row(f"F{i}", f"N{i}", f"082 123 456{i}", d30=100) for i in range(3)])
    await strategy(t, [{"action": "sms", "messageTemplateId": await template(t), "minDaysPastDue": 0}])
    async with session_factory() as s:
        r, org, work = await _first_step(s, t)
        await s.commit()
        async with transaction() as other:
            await other.execute(delete(Account).where(Account.id == ids["F1"]))
        fired = await runner._fire(s, org, work, REPORT_DAY, r.id, s.commit, None, "step 1")
    assert fired == {ids["F0"], ids["F2"]}
    assert len(await _executions(t.org.id)) == 2 and len(await _states(t.org.id)) == 2
    async with transaction() as s:
        keys = set(await s.scalars(select(Message.idempotency_key).where(Message.org_id == t.org.id)))
    assert {k.split(":")[2] for k in keys} == {str(ids["F0"]), str(ids["F2"])}


async def test_a_chunk_holds_its_strategy_until_it_commits(rs, tmp_path, template_db, env):
    """While a chunk is being written, deleting its strategy or one of its accounts waits (on
    PostgreSQL the row locks the chunk takes once; on SQLite the database's one writer); after the
    commit the deletion takes the chunk's rows."""
    pg = template_db["kind"] == "pg"
    t = await rs.tenant()
    ids = await book(t, tmp_path, [book_row(f"E{i}", f"N{i}", f"082 123 456{i}", d30=100) for i in range(3)])
    sid = await strategy(t, [{"action": "sms", "messageTemplateId": await template(t), "minDaysPastDue": 0}])
    async with session_factory() as s:
        r, org, work = await _first_step(s, t)
        await s.commit()
        await runner._fire(s, org, work, REPORT_DAY, r.id, None, None, "step 1")  # no checkpoint: still open
        for doomed in (delete(Strategy).where(Strategy.id == sid), delete(Account).where(Account.id == ids["E1"])):
            with pytest.raises(Exception, match="lock timeout" if pg else "database is locked"):
                await delete_meanwhile(doomed, pg, env["db_url"])
        await s.commit()
    assert len(await _executions(t.org.id)) == 3
    async with transaction() as other:
        await other.execute(delete(Strategy).where(Strategy.id == sid))
    assert await _executions(t.org.id) == [] and await _states(t.org.id) == [None] * 3
