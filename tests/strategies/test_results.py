"""Results per strategy, step and variant, counted on executions, messages, tasks, promises and
payments the tests make: what counts as contacted, the 30-day windows at their edges, cancelled
promises and reversed payments left out, the challenger's rows, who may read them (API)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal

from sqlalchemy import func, select, update

from arrears.db import transaction
from arrears.messaging.models import Message
from arrears.payments.models import Payment
from arrears.promises.models import Promise
from arrears.strategies import results
from arrears.strategies.models import StrategyStepExecution
from arrears.tasks.models import Task
from tests.strategies.helpers import REPORT_DAY, book, caller, row, run, strategy, template

D = REPORT_DAY


async def _promise(t, account_id, made_on, status="open"):
    async with transaction() as s:
        s.add(Promise(org_id=t.org.id, account_id=account_id, amount=Decimal("10.00"), made_on=made_on,
                      due_date=made_on + timedelta(days=7), status=status, created_by="test"))


async def _payment(t, account_id, amount, paid_on, status="recorded"):
    async with transaction() as s:
        s.add(Payment(org_id=t.org.id, account_id=account_id, amount=Decimal(amount), paid_on=paid_on, status=status,
                      source="api", created_by="test"))


async def _setup(rs, tmp_path):
    t = await rs.tenant()
    ids = await book(t, tmp_path, [row("A1", "Alpha", "082 123 4567", d30=100),
                                   row("A2", "Beta", "083 123 4567", d30=200),
                                   row("A3", "Gamma", "084 123 4567", d30=300),
                                   row("A4", "Delta", None, d30=400)])
    sms = await template(t)
    sid = await strategy(t, [{"action": "sms", "messageTemplateId": sms, "minDaysPastDue": 30, "waitDays": 1},
                             {"action": "call_task", "minDaysPastDue": 30}])
    assert (await run(t, D)).accounts == 4  # A4 has no phone: its SMS step is skipped, it still moves on
    assert (await run(t, D + timedelta(days=1))).tasks == 4
    return t, ids, sid


async def test_results_count_contacts_promises_and_payments_within_30_days(rs, tmp_path):
    t, ids, sid = await _setup(rs, tmp_path)
    async with transaction() as s:
        # A1's SMS delivered, A2's failed, A3's still in the outbox.
        for code, status in (("A1", "delivered"), ("A2", "failed"), ("A3", "pending")):
            await s.execute(update(Message).where(Message.org_id == t.org.id,
                                                  Message.idempotency_key.like(f"%:{ids[code]}:%"))
                            .values(status=status))
        await s.execute(update(Task).where(Task.account_id == ids["A1"]).values(status="done"))
        await s.execute(update(Task).where(Task.account_id == ids["A3"]).values(status="cancelled"))
    await _promise(t, ids["A2"], D + timedelta(days=5))  # within both steps' windows
    await _promise(t, ids["A3"], D + timedelta(days=40))  # too late for either
    await _promise(t, ids["A1"], D + timedelta(days=2), status="cancelled")  # not counted
    await _payment(t, ids["A1"], "50.00", D + timedelta(days=10))
    await _payment(t, ids["A1"], "999.00", D + timedelta(days=10), status="reversed")  # not counted
    await _payment(t, ids["A3"], "25.50", D - timedelta(days=1))  # before the steps
    await _payment(t, ids["A4"], "12.34", D + timedelta(days=30))  # the last day of step 1's window
    await _payment(t, ids["A2"], "7.00", D + timedelta(days=31))  # step 2's last day, past step 1's

    manager = await caller(t)
    async with transaction() as s:
        out = await results.results(s, manager, sid)
    by_pos = {r["position"]: r for r in out["steps"]}
    assert [(r["position"], r["variant"]) for r in out["steps"]] == [(1, "A"), (2, "A")]
    one, two = by_pos[1], by_pos[2]
    assert (one["entered"], one["contacted"], one["promised"], one["paid"]) == (4, 1, 1, 2)
    assert one["collected"] == Decimal("62.34")
    assert (two["entered"], two["contacted"], two["promised"], two["paid"]) == (4, 1, 1, 3)
    assert two["collected"] == Decimal("69.34")
    assert one["contactedRate"] == 25.0 and two["paidRate"] == 75.0
    assert out["variants"] == [{"variant": "A", "entered": 8, "contacted": 2, "promised": 2, "paid": 5,
                                "collected": Decimal("131.68"), "contactedRate": 25.0, "promisedRate": 25.0,
                                "paidRate": 62.5}]
    # A range of days: only step 2's executions (the day after the report).
    async with transaction() as s:
        later = await results.results(s, manager, sid, since=D + timedelta(days=1))
    assert [r["entered"] for r in later["steps"]] == [0, 4]


async def test_champion_and_challenger_rows_follow_the_executions(rs, tmp_path):
    t = await rs.tenant()
    await book(t, tmp_path, [row(f"C{i:02d}", f"Cust {i}", f"082 555 {i:04d}", d30=100 + i) for i in range(40)])
    sms = await template(t)
    sid = await strategy(t, [{"action": "sms", "messageTemplateId": sms, "minDaysPastDue": 30}],
                         challengerPercent=50)
    await run(t, D)
    manager = await caller(t)
    async with transaction() as s:
        split = dict((await s.execute(select(StrategyStepExecution.variant, func.count())
                                      .where(StrategyStepExecution.strategy_id == sid)
                                      .group_by(StrategyStepExecution.variant))).all())
        out = await results.results(s, manager, sid)
    assert set(split) == {"A", "B"} and sum(split.values()) == 40
    assert {r["variant"]: r["entered"] for r in out["steps"]} == split
    assert {v["variant"]: v["entered"] for v in out["variants"]} == split
    assert all(r["contacted"] == 0 for r in out["steps"])  # nothing sent yet: all pending in the outbox


async def test_results_api_roles_and_other_organisations(rs, tmp_path):
    t, ids, sid = await _setup(rs, tmp_path)
    await _payment(t, ids["A1"], "10.10", D + timedelta(days=3))
    url = f"/api/v1/strategies/{sid}/results"
    for role, access in (("manager", "write"), ("admin", "read"), ("manager", "read")):
        r = await t.client.get(url, headers=await t.h(role, access=access))
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["windowDays"] == 30 and [s["entered"] for s in body["steps"]] == [4, 4]
        assert '"collected":10.10' in r.text.replace(" ", "")  # money digit for digit
    for role in ("calling_agent", "field_officer", "collection_officer"):
        r = await t.client.get(url, headers=await t.h(role))
        assert r.status_code == 403 and r.json()["error"] == "FORBIDDEN"
    other = await rs.tenant("Other Org")
    r = await t.client.get(url, headers=await other.h("manager"))
    assert r.status_code == 404 and r.json()["error"] == "NOT_FOUND"
    assert (await t.client.get(f"/api/v1/strategies/{uuid.uuid4()}/results",
                               headers=await t.h("manager"))).status_code == 404
    r = await t.client.get(url, params={"from": "yesterday"}, headers=await t.h("manager"))
    assert r.status_code in (400, 422) and "from" in r.text
    r = await t.client.get(url, params={"from": (D + timedelta(days=1)).isoformat()}, headers=await t.h("manager"))
    assert [s["entered"] for s in r.json()["steps"]] == [0, 4]
