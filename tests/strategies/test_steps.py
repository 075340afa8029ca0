"""Steps fire on the right day: entry rules (days past due, balance), waits, repeats; exactly once
per account, step and day however often the run is repeated."""

from __future__ import annotations

from datetime import timedelta

from tests.strategies.helpers import REPORT_DAY, book, executions, messages, row, run, strategy, template


async def test_steps_fire_in_order_after_their_waits(rs, tmp_path):
    t = await rs.tenant()
    ids = await book(t, tmp_path, [row("A1", "Alpha", "082 123 4567", d30=100),
                                   row("A2", "Beta", "083 123 4567", d60=500),
                                   row("A3", "Gamma", "084 123 4567", current=50)])
    sms = await template(t)
    await strategy(t, [
        {"action": "sms", "messageTemplateId": sms, "minDaysPastDue": 30, "waitDays": 3},
        {"action": "call_task", "minDaysPastDue": 60},
    ])
    # A1: 30 days on the report date; A2: 60; A3 nothing overdue.
    first = await run(t, REPORT_DAY)
    assert first.accounts == 2 and first.messages == 2
    fired = {(e.account_id, e.position) for e in await executions(t)}
    assert fired == {(ids["A1"], 1), (ids["A2"], 1)}
    # Again the same day: nothing more.
    again = await run(t, REPORT_DAY)
    assert again.accounts == 0 and len(await messages(t)) == 2
    # Two days on, the wait (3 days) is not over.
    assert (await run(t, REPORT_DAY + timedelta(days=2))).accounts == 0
    # Three days on: A2 (63 days) gets the call; A1 (33 days) needs 60.
    third = await run(t, REPORT_DAY + timedelta(days=3))
    assert third.tasks == 1
    assert {(e.account_id, e.position) for e in await executions(t)} == fired | {(ids["A2"], 2)}
    assert (await run(t, REPORT_DAY + timedelta(days=29))).tasks == 0  # A1: 59 days past due
    assert (await run(t, REPORT_DAY + timedelta(days=30))).tasks == 1  # A1 reaches 60
