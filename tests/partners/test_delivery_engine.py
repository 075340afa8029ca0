"""The delivery engine against a real receiver: bounded concurrency, parallel drains, follow-up
scheduling, and the hand-over between producers and a finishing drain."""

from __future__ import annotations

import asyncio

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
    assert await delivery.drain(concurrency=10) == 40
    # In parallel, never more than the bound (counted by the receiver, not by a wall clock that
    # a loaded machine stretches).
    assert 5 <= receiver.max_in_flight <= 10, receiver.max_in_flight
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


async def test_a_drain_never_finishes_under_a_producer_that_relied_on_it(partner, receiver, env):
    """A producer that saw a queued drain must not be left with its deliveries unsent."""
    from arrears import events

    await _subscribe(partner, receiver)
    if "postgresql" in env["db_url"]:
        async with transaction() as producer:
            await fanout.request_drain(producer)  # holds the shared lock until it commits
            assert await delivery.settle() is True  # cannot take the lock: schedules a drain in 1 s instead
            async with transaction(readonly=True) as s:
                n = await s.scalar(select(func.count()).select_from(Job)
                                   .where(Job.kind == fanout.DRAIN_JOB, Job.dedupe_key.is_not(None)))
            assert n == 1
        return
    # SQLite: writers take the write lock at BEGIN, so the drain's settling waits for the producer
    # to commit and then sees its delivery.
    async with transaction() as producer:
        await events.record(producer, org_id=partner.org.id, type="policy.updated", actor="user:1",
                            subject_type="policy", subject_id=1, data={"policy": {"id": "POL_1"}})
        settling = asyncio.create_task(delivery.settle())
        await asyncio.sleep(0.5)
        assert not settling.done()
    assert await asyncio.wait_for(settling, 10) is False  # something is due: the drain goes on
    assert await delivery.drain() == 1
    assert [r.status for r in await delivery_rows()] == ["DELIVERED"]


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
