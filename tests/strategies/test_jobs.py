"""When strategies run: the daily chain at the organisation's chosen time (seeded by the first
strategy and at worker start), a run after every completed upload (queued by the book hook after the
promises' evaluation, run after that upload's transaction), and the daily job itself."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select, update

from arrears.db import transaction
from arrears.jobs.models import Job
from arrears.jobs.registry import JobContext
from arrears.strategies import jobs
from arrears.strategies.models import StrategyRun
from arrears.wiring import worker_started
from arrears.worker import run_until_idle
from tests.promises.helpers import today
from tests.strategies.helpers import book, row, template


async def _runs(org_id):
    async with transaction() as s:
        return list(await s.scalars(select(StrategyRun).where(StrategyRun.org_id == org_id)
                                    .order_by(StrategyRun.started_at)))


async def test_daily_chain_at_the_chosen_time_and_a_run_after_each_upload(rs, tmp_path):
    t = await rs.tenant()
    await book(t, tmp_path, [row("A1", "Alpha", "082 123 4567", d30=100)])
    assert await _runs(t.org.id) == []  # no strategy yet: the upload queued no run
    body = {"name": "Daily", "isDefault": True, "runTime": "23:59",
            "steps": [{"action": "sms", "messageTemplateId": await template(t), "minDaysPastDue": 30}]}
    r = await t.client.post("/api/v1/strategies", json=body, headers=await t.h("manager"))
    assert r.status_code == 201, r.text
    day = await today(t)
    async with transaction() as s:
        chain = {j.dedupe_key: j for j in await s.scalars(select(Job).where(Job.kind == jobs.DAILY))}
    zone = ZoneInfo("Africa/Johannesburg")
    for d in (day, day + timedelta(days=1)):
        job = chain[jobs.daily_key(t.org.id, d)]
        assert job.run_at == datetime.combine(d, time(23, 59), tzinfo=zone).astimezone(UTC)
    await worker_started()  # seeding again adds nothing
    async with transaction() as s:
        assert len(list(await s.scalars(select(Job).where(Job.kind == jobs.DAILY)))) == 2

    # An upload: the run after it sees the new book (A2), after the promises' evaluation committed.
    await book(t, tmp_path, [row("A1", "Alpha", "082 123 4567", d30=100),
                             row("A2", "Beta", "083 123 4567", d30=200)], name="second", report_day=day - timedelta(30))
    runs = await _runs(t.org.id)
    assert [x.trigger for x in runs] == ["upload"] and runs[0].status == "completed"
    async with transaction() as s:  # the hook queued it in the book job's transaction, as its own job
        [after] = list(await s.scalars(select(Job).where(Job.kind == jobs.AFTER_UPLOAD)))
        assert after.status == "done" and after.org_id == t.org.id

    # Today's daily job, made due now: it queues tomorrow's (already there) and runs.
    async with transaction() as s:
        await s.execute(update(Job).where(Job.dedupe_key == jobs.daily_key(t.org.id, day))
                        .values(run_at=datetime.now(UTC) - timedelta(seconds=1)))
    await run_until_idle()
    runs = await _runs(t.org.id)
    assert [x.trigger for x in runs] == ["upload", "schedule"]
    assert runs[1].status == "completed" and runs[1].accounts == 0  # the upload's run did today's steps
    async with transaction() as s:
        assert (await s.scalar(select(Job.status).where(Job.dedupe_key == jobs.daily_key(t.org.id, day)))) == "done"
        nxt = await s.scalar(select(Job).where(Job.dedupe_key == jobs.daily_key(t.org.id, day + timedelta(days=2))))
    assert nxt is None  # the job queues the next day's only (tomorrow's was there): no runaway chain


async def test_a_daily_job_for_an_organisation_without_strategies_ends_the_chain(rs):
    t = await rs.tenant()
    day = await today(t)
    await jobs.daily(JobContext(0, jobs.DAILY, {"org_id": t.org.id, "date": day.isoformat()}, t.org.id, 1, 5))
    async with transaction() as s:
        assert list(await s.scalars(select(Job).where(Job.kind == jobs.DAILY))) == []
    assert await _runs(t.org.id) == []
