"""Promises on book accounts kept by a later report's fall in balance (with its evidence), a
partial fall, recorded payments winning over reports; the organisation's time zone at midnight;
the daily job chain (seeded at worker start, one per organisation and local day); RepaySync
interactions with promise fields (JSON and the bulk CSV). Both databases."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from sqlalchemy import select, update

from arrears.db import transaction
from arrears.identity.caller import Caller
from arrears.identity.service import get_org, set_org_settings
from arrears.jobs.models import Job
from arrears.promises.calendar import org_today
from arrears.promises.evaluate import evaluate
from arrears.promises.jobs import DAILY, daily_key, local_midnight
from arrears.promises.models import Promise, covered
from arrears.worker import Worker
from tests.faces.age_analysis.helpers import HEADER, import_file, write_book
from tests.faces.repaysync.conftest import RS
from tests.promises.helpers import book_account, days, loan_account, pay, promise, state, today

K1 = ["K1", "Kappa Ltd", "Kim", "082 123 4567", 0, 400, 600, 0, 0, 1000]


def _k1(total: int) -> list[object]:
    return ["K1", "Kappa Ltd", "Kim", "082 123 4567", 0, total, 0, 0, 0, total]


async def test_a_later_report_whose_balance_fell_keeps_the_promise_with_its_evidence(rs: RS, tmp_path: Path):
    t = await rs.tenant()
    acc = await book_account(t, tmp_path, [K1])
    day = await today(t)
    p = await promise(t, acc, [("300.00", day + days(5))], role="calling_agent")
    row, _ = await state(p["id"])
    assert row.baseline_balance == Decimal("1000.00") and row.baseline_report_id is not None

    # A newer report: the balance fell by 100 only. Partly paid, still open.
    await import_file(t.client, await t.h("manager"), write_book(tmp_path / "r2.csv", [HEADER, _k1(900)]))
    row, plan = await state(p["id"])
    assert (row.status, row.paid_amount, covered(row.paid_amount, plan)[0]) == ("open", Decimal("100.00"), Decimal("100.00"))
    # Another: it fell by 350 from the baseline. Kept, and the promise says which report and the balances.
    await import_file(t.client, await t.h("manager"), write_book(tmp_path / "r3.csv", [HEADER, _k1(650)]))
    row, plan = await state(p["id"])
    assert (row.status, row.paid_amount, covered(row.paid_amount, plan)[0]) == ("kept", Decimal("350.00"), Decimal("300.00"))
    assert row.evidence is not None and row.evidence["reportId"] > row.baseline_report_id
    assert (row.evidence["baselineBalance"], row.evidence["balance"], row.evidence["fall"]) == (
        "1000.00", "650.00", "350.00")
    body = (await t.client.get(f"/api/v1/promises/{p['id']}", headers=await t.h())).json()
    assert body["status"] == "kept" and body["evidence"]["reportId"] == row.evidence["reportId"]


async def test_recorded_payments_win_over_a_reports_fall(rs: RS, tmp_path: Path):
    t = await rs.tenant()
    acc = await book_account(t, tmp_path, [K1])
    day = await today(t)
    p = await promise(t, acc, [("300.00", day + days(5))])
    await pay(t, acc, "50.00", day)
    await import_file(t.client, await t.h("manager"), write_book(tmp_path / "r2.csv", [HEADER, _k1(500)]))
    row, _ = await state(p["id"])
    assert (row.status, row.paid_amount, row.evidence) == ("open", Decimal("50.00"), None)


async def test_the_organisations_time_zone_decides_today_at_midnight(rs: RS):
    t = await rs.tenant()
    async with transaction() as s:
        org = await get_org(s, t.org.id)
        # Johannesburg (the default): UTC+2, so 22:00 UTC is local midnight.
        assert local_midnight(org, date(2026, 12, 8)) == datetime(2026, 12, 7, 22, 0, tzinfo=UTC)
        assert await org_today(s, t.org.id, datetime(2026, 12, 7, 21, 59, 59, tzinfo=UTC)) == date(2026, 12, 7)
        assert await org_today(s, t.org.id, datetime(2026, 12, 7, 22, 0, tzinfo=UTC)) == date(2026, 12, 8)
        await set_org_settings(s, Caller.system(org.id), org, {"timezone": "America/New_York"})
        assert local_midnight(org, date(2026, 12, 8)) == datetime(2026, 12, 8, 5, 0, tzinfo=UTC)
        assert await org_today(s, t.org.id, datetime(2026, 12, 8, 4, 59, tzinfo=UTC)) == date(2026, 12, 7)
    _, acc = await loan_account(t)
    day = await today(t)
    p = await promise(t, acc, [("10.00", day)])
    last_grace = local_midnight(org, day + days(3)) - timedelta(seconds=1)  # 23:59:59 of the last day of grace
    async with transaction() as s:
        out = await evaluate(s, Caller.system(t.org.id), today=await org_today(s, t.org.id, last_grace))
        assert out.broken == 0
        out = await evaluate(s, Caller.system(t.org.id),
                             today=await org_today(s, t.org.id, last_grace + timedelta(seconds=1)))
        assert out.broken == 1
    assert (await state(p["id"]))[0].status == "broken"


async def test_the_daily_job_chain_is_seeded_and_evaluates_at_local_midnight(rs: RS):
    t = await rs.tenant()
    _, acc = await loan_account(t)
    day = await today(t)
    p = await promise(t, acc, [("10.00", day)])
    async with transaction() as s:
        org = await get_org(s, t.org.id)
        jobs = {j.dedupe_key: j for j in await s.scalars(select(Job).where(Job.kind == DAILY))}
    # The promise started the chain: today's job (due at once) and tomorrow's at its local midnight.
    assert set(jobs) == {daily_key(t.org.id, day), daily_key(t.org.id, day + days(1))}
    assert jobs[daily_key(t.org.id, day + days(1))].run_at == local_midnight(org, day + days(1))
    # Lost (deleted): the worker's start seeds it again.
    async with transaction() as s:
        await s.execute(Job.__table__.delete().where(Job.kind == DAILY))
    await Worker(kinds={DAILY}, concurrency=1).run(until_idle=True)
    async with transaction() as s:
        keys = set(await s.scalars(select(Job.dedupe_key).where(Job.kind == DAILY)))
    assert keys == {daily_key(t.org.id, day), daily_key(t.org.id, day + days(1))}
    assert (await state(p["id"]))[0].status == "open"  # today's job ran: nothing late yet

    # The job of the day after grace (run now, as if it were that local midnight) breaks it and
    # queues its next day.
    later = day + days(3)
    async with transaction() as s:
        from arrears.promises.jobs import schedule

        await schedule(s, t.org.id, later)
        await s.execute(update(Job).where(Job.dedupe_key == daily_key(t.org.id, later))
                        .values(run_at=datetime.now(UTC)))
    await Worker(kinds={DAILY}, concurrency=1).run(until_idle=True)
    assert (await state(p["id"]))[0].status == "broken"
    async with transaction() as s:
        nxt = (await s.scalars(select(Job).where(Job.dedupe_key == daily_key(t.org.id, later + days(1))))).one()
        assert nxt.status == "queued" and nxt.run_at == local_midnight(org, later + days(1))


async def test_an_interaction_records_a_promise_in_its_transaction(rs: RS):
    t = await rs.tenant()
    loan, acc = await loan_account(t)
    day = await today(t)
    h = await t.h("calling_agent")
    body = {"loan": loan["id"], "comment": "will pay", "disposition": "promise_to_pay",
            "promise_amount": "250.00", "promise_date": (day + days(4)).isoformat()}
    r = await t.client.post("/api/interactions/calling/create/", json=body, headers=h)
    assert r.status_code == 201, r.text
    out = r.json()
    assert out["promise_amount"] == "250.00" and out["promise_date"] == (day + days(4)).isoformat()
    async with transaction() as s:
        p = (await s.scalars(select(Promise).where(Promise.account_id == uuid.UUID(acc)))).one()
    assert (p.interaction_id, p.amount, p.agent_id) == (out["id"], Decimal("250.00"), (await t.member("calling_agent")).id)
    # Without them: the spec's shape exactly.
    plain = await t.client.post("/api/interactions/calling/create/", json={"loan": loan["id"], "disposition": "called"},
                                headers=h)
    assert plain.status_code == 201 and "promise_amount" not in plain.json() and "promise_date" not in plain.json()
    # One without the other, a past date, a bad amount: 400 naming the field.
    for bad, field in (({"promise_amount": "5"}, "promise_date"), ({"promise_date": day.isoformat()}, "promise_amount"),
                       ({"promise_amount": "5", "promise_date": (day - days(1)).isoformat()}, "promise_date"),
                       ({"promise_amount": "-5", "promise_date": day.isoformat()}, "promise_amount")):
        r = await t.client.post("/api/interactions/calling/create/",
                                json={"loan": loan["id"], "disposition": "called"} | bad, headers=h)
        assert r.status_code == 400 and field in r.json()["errors"], (bad, r.text)
    # On an account (beyond the spec) too.
    r = await t.client.post("/api/interactions/field/create/", headers=await t.h("field_officer"), json={
        "account": acc, "disposition": "promise_to_pay", "promise_amount": 99.5, "promise_date": day.isoformat()})
    assert r.status_code == 201, r.text and r.json()["promise_amount"] == "99.50"
    async with transaction() as s:
        rows = list(await s.scalars(select(Promise).where(Promise.account_id == uuid.UUID(acc))
                                    .order_by(Promise.created_at)))
    assert [(x.status, x.amount) for x in rows] == [("cancelled", Decimal("250.00")), ("open", Decimal("99.50"))]


async def test_the_bulk_csv_takes_promise_columns(rs: RS, tmp_path: Path):
    t = await rs.tenant()
    loan, acc = await loan_account(t)
    loan2, acc2 = await loan_account(t)
    day = await today(t)
    csv = ("loan_id,account,disposition,interaction_type,promise_amount,promise_date\n"
           f"{loan['id']},,promise_to_pay,calling,120.00,{(day + days(2)).isoformat()}\n"
           f",{acc2},visited,field,,\n"
           f"{loan2['id']},,promise_to_pay,calling,120.00,\n"
           f"{loan2['id']},,promise_to_pay,calling,1.234,{day.isoformat()}\n"
           f",{acc2},promise_to_pay,field,30,{day.isoformat()}\n").encode()
    r = await t.client.post("/api/interactions/bulk/upload/", headers=await t.h("manager"), files={"file": ("i.csv", csv)})
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["records_created"] == 3
    assert [(e["line"], sorted(e["errors"])) for e in body["errors"]] == [(4, ["promise_date"]), (5, ["promise_amount"])]
    async with transaction() as s:
        rows = (await s.execute(select(Promise.account_id, Promise.amount, Promise.interaction_id)
                                .where(Promise.org_id == t.org.id).order_by(Promise.amount))).all()
    assert [(str(a), m) for a, m, _ in rows] == [(acc2, Decimal("30.00")), (acc, Decimal("120.00"))]
    assert all(i is not None for _, _, i in rows)
