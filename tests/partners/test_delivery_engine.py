"""The delivery engine against a real receiver: bounded concurrency, parallel drains, follow-up
scheduling, and (on PostgreSQL) the hand-over between producers and a finishing drain."""

from __future__ import annotations

import asyncio
import time

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from arrears.db import transaction, utcnow
from arrears.jobs.models import Job
from arrears.partners import delivery, fanout
from tests.partners.fixtures import delivery_rows, fire
from tests.partners.receiver import Reply

pytestmark = pytest.mark.usefixtures("allow_private")


async def _subscribe(partner, receiver, **retry):
    c = await partner.create_client()
    body = {"retryConfig": retry} if retry else {}
    return c, await partner.subscribe(c["id"], receiver.url, ["policy.updated"], **body)


async def test_sends_concurrently_within_the_bound(partner, receiver):
    await _subscribe(partner, receiver)
    receiver.default = Reply(200, delay=0.2)
    await fire(partner.org.id, count=40)
    started = time.monotonic()
    assert await delivery.drain(concurrency=10) == 40
    elapsed = time.monotonic() - started
    assert 0.75 < elapsed < 3.0, elapsed  # 4 waves of 10, not 40 one after another
    assert {r.status for r in await delivery_rows()} == {"DELIVERED"}


async def test_two_drains_never_send_one_delivery_twice(partner, receiver):
    await _subscribe(partner, receiver)
    receiver.default = Reply(200, delay=0.01)
    await fire(partner.org.id, count=60)
    counts = await asyncio.gather(delivery.drain(concurrency=8), delivery.drain(concurrency=8))
    assert sum(counts) == 60
    ids = [r.headers["webhook-id"] for r in receiver.requests]
    assert len(ids) == 60 and len(set(ids)) == 60


async def test_a_retry_schedules_the_next_drain(partner, receiver):
    await _subscribe(partner, receiver, retryDelay=30, backoffMultiplier=1)
    receiver.reply(Reply(500))
    await fire(partner.org.id)
    await delivery.drain()
    async with transaction(readonly=True) as s:
        follow = (await s.scalars(select(Job).where(Job.kind == fanout.DRAIN_JOB, Job.status == "queued",
                                                    Job.dedupe_key.is_not(None)))).all()
    assert len(follow) == 1
    [row] = await delivery_rows()
    assert abs((follow[0].run_at - row.scheduled_for).total_seconds()) <= 1.0
    assert follow[0].run_at > utcnow()


async def test_fan_out_is_one_row_per_subscription_and_event(partner, receiver):
    from arrears.partners.models import WebhookDelivery

    c, s = await _subscribe(partner, receiver)
    await partner.subscribe(c["id"], receiver.url + "/b", ["policy.updated", "policy.created"])
    [ev] = await fire(partner.org.id)
    rows = await delivery_rows()
    assert len(rows) == 2 and {r.event_id for r in rows} == {ev.uuid}
    assert {r.attempt_limit for r in rows} == {4}
    async with transaction() as session:
        with pytest.raises(IntegrityError):
            async with session.begin_nested():
                session.add(WebhookDelivery(org_id=partner.org.id, subscription_id=rows[0].subscription_id,
                                            event_id=ev.uuid, event_type="policy.updated", payload={}))
                await session.flush()


async def test_postgres_drain_waits_for_producers_that_relied_on_it(partner, receiver, env):
    if "postgresql" not in env["db_url"]:
        pytest.skip("the advisory-lock hand-over is PostgreSQL's; SQLite serialises writers")
    await _subscribe(partner, receiver)
    async with transaction() as producer:
        await fanout.request_drain(producer)  # holds the shared lock until it commits
        assert await delivery.settle() is True  # cannot take the lock: schedules a drain in 1 s instead
        async with transaction(readonly=True) as s:
            n = await s.scalar(select(func.count()).select_from(Job)
                               .where(Job.kind == fanout.DRAIN_JOB, Job.dedupe_key.is_not(None)))
        assert n == 1


async def test_a_stopped_drain_hands_back_what_it_had_not_sent(partner, receiver):
    await _subscribe(partner, receiver, maxRetries=0)
    receiver.default = Reply(200, delay=1.0)
    await fire(partner.org.id, count=10)
    task = asyncio.create_task(delivery.drain(concurrency=2))
    while len(receiver.requests) < 2:
        await asyncio.wait_for(receiver.arrived.wait(), 5)
        receiver.arrived.clear()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    rows = await delivery_rows()
    counted = sorted(r.attempt_count for r in rows)
    assert counted == [0] * 8 + [1] * 2  # the two in flight were sent; the rest were handed back
    assert all(r.lease_until is None for r in rows if r.attempt_count == 0)
    receiver.default = Reply(200)
    await delivery.drain(concurrency=4)
    rows = await delivery_rows()
    assert [r.status for r in rows].count("DELIVERED") == 8  # the two lost in flight wait for their lease
