"""The firing rule in SQL (selection.due, written as two cases: an account with a state in this
strategy and one without) picks exactly the accounts the rule says, for every kind of state: none,
another strategy's, each position and variant, a wait not yet over, a repeat due or not, the next
step due or not; with and without a challenger. The reference is the rule written out in Python
(arrears.strategies.selection's text and StrategyStep's), over the same rows."""

from __future__ import annotations

import itertools
import uuid
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import and_, select

from arrears.db import transaction
from arrears.strategies.models import Strategy, StrategyAccountState, StrategyStep
from arrears.strategies.selection import Plan, account_rows, due, variant_expr, variant_of
from tests.strategies.helpers import REPORT_DAY, book, row, strategy, template

DAY = REPORT_DAY + timedelta(days=10)
N = 240


def _reference(plan: Plan, step: StrategyStep, r: Any, hashed: str) -> bool:
    """The rule as its text says it, one account at a time."""
    mine = r.s_strategy_id == plan.strategy.id
    variant = (r.s_variant if mine and r.s_variant is not None else hashed)
    pos = (r.s_position or 0) if mine else 0
    wait_over = not mine or r.s_next_due_on is None or r.s_next_due_on <= DAY

    def entry(s: StrategyStep) -> bool:
        if r.dpd is None or r.balance is None or r.dpd < s.min_days_past_due:
            return False
        return r.balance >= s.min_balance if s.min_balance is not None else r.balance > 0

    if plan.strategy.challenger_percent <= 0:
        variant = "A"  # without a challenger every account follows the champion's steps
    seq = plan.sequence(variant)
    if step not in seq:
        return False
    k = seq.index(step)
    before = seq[k - 1].position if k > 0 else 0
    if before <= pos < step.position and entry(step) and wait_over:
        return True
    if step.repeat_days and mine and r.s_position == step.position and r.s_last_fired_on is not None \
            and r.s_last_fired_on <= DAY - timedelta(days=step.repeat_days) and entry(step):
        nxt = seq[k + 1] if k + 1 < len(seq) else None
        return not (nxt is not None and entry(nxt) and wait_over)
    return False


@pytest.mark.parametrize("challenger", [0, 50])
async def test_due_in_sql_is_the_rule(rs, tmp_path, challenger):
    t = await rs.tenant()
    # Owing 30, 60, 90 days, or nothing (nothing to enter a step with).
    rows = [row(f"A{i}", f"Name {i}", f"082 123 4{i:03d}", **({"d30": 50} if i % 4 == 0 else
                                                             {"d60": 500} if i % 4 == 1 else
                                                             {"d90": 900} if i % 4 == 2 else {"current": 0}))
            for i in range(N)]
    ids = await book(t, tmp_path, rows)
    sid = await _strategy(t, challenger)
    other = uuid.uuid4()
    states = list(itertools.product([None, "mine", "other"], [None, 1, 2, 3], ["A", "B", None],
                               [None, DAY - timedelta(days=1), DAY + timedelta(days=1)],
                               [DAY - timedelta(days=6), DAY - timedelta(days=2)]))
    assert len(states) == 216
    async with transaction() as s:
        for i in range(N):
            # Every kind of state once (7 is prime to 216), each with the book's amounts in turn.
            whose, pos, var, next_due, fired = states[i * 7 % 216]
            account_id = ids[f"A{i}"]
            if whose is None:
                continue
            s.add(StrategyAccountState(account_id=account_id, org_id=t.org.id,
                                       strategy_id=sid if whose == "mine" else other, variant=var, position=pos,
                                       last_fired_on=fired if pos else None, next_due_on=next_due))
    async with transaction() as s:
        st = await s.get(Strategy, sid)
        steps = list(await s.scalars(select(StrategyStep).where(StrategyStep.strategy_id == sid)
                                     .order_by(StrategyStep.position)))
        plan = Plan(st, steps)
        acct = account_rows(t.org.id, DAY)
        everyone = (await s.execute(select(acct, variant_expr(acct, plan).label("variant")))).all()
        hashed_of = {r.account_id: _hashed(plan, r) for r in everyone}
        checked = fired = 0
        for step in steps:
            got = set(await s.scalars(select(acct.c.account_id).where(and_(due(acct, plan, step, DAY)))))
            want = {r.account_id for r in everyone if _reference(plan, step, r, hashed_of[r.account_id])}
            assert got == want, (step.position, step.variant, [r for r in everyone if r.account_id in got ^ want])
            checked += len(everyone)
            fired += len(want)
    assert checked == 4 * N and 50 < fired < checked  # some fire, some do not


def _hashed(plan: Plan, r: Any) -> str:
    return variant_of(plan.strategy.id, r.account_id, plan.strategy.challenger_percent)


async def _strategy(t: Any, challenger: int) -> uuid.UUID:
    sms = await template(t)
    return await strategy(t, [
        {"action": "sms", "messageTemplateId": sms, "minDaysPastDue": 0, "waitDays": 3},
        {"action": "sms", "messageTemplateId": sms, "minDaysPastDue": 60, "repeatDays": 5},
        {"action": "sms", "messageTemplateId": sms, "minDaysPastDue": 90, "minBalance": "600", "variant": "B"},
        {"action": "sms", "messageTemplateId": sms, "minDaysPastDue": 30, "variant": "A"},
    ], challengerPercent=challenger)

