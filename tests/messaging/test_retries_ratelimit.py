"""Retries with exponential backoff (honouring Retry-After) and the shared per-account rate."""
# ruff: noqa: F811  (pytest fixtures imported from tests.faces.messaging.helpers)

from __future__ import annotations

import asyncio
import math
import time
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from arrears.db import transaction, utcnow
from arrears.jobs.models import Job
from arrears.messaging import ratelimit
from arrears.messaging.models import Message
from arrears.messaging.outbox import DRAIN_JOB, aware, retry_delay
from arrears.messaging.settings import MessagingSettings
from arrears.worker import Worker, run_until_idle
from tests.clocks import SimulatedClock, assert_paced, pace_on_a_simulated_clock
from tests.faces.messaging.helpers import (  # noqa: F401
    caller_for,
    live,
    messages,
    queue,
    quick,
    set_org,
    sms,
    smsportal,
)
from tests.faces.messaging.standins import Reply

SMSPORTAL = {"smsportal_client_id": "client-1", "smsportal_api_secret": "s3cret"}


def test_backoff_doubles_from_the_retry_delay_and_honours_retry_after(monkeypatch):
    monkeypatch.setenv("MESSAGING_RETRY_DELAY", "5s")
    s = MessagingSettings()
    for n, base in ((1, 5), (2, 10), (3, 20), (4, 40)):
        waits = [retry_delay(s, n, None) for _ in range(50)]
        assert all(base <= w <= base * 1.1 for w in waits)
    assert retry_delay(s, 1, 30.0) >= 30.0
    assert retry_delay(s, 3, 1.0) >= 20.0  # Retry-After never shortens the backoff


async def _org(world, monkeypatch, smsportal):
    monkeypatch.setenv("SMSPORTAL_API_URL", smsportal.url)
    org = await world.org()
    await set_org(org, **SMSPORTAL)
    return org, await caller_for(await world.user(org.id))


async def test_transient_failure_waits_for_the_backoff(env, world, live, smsportal, monkeypatch):
    # A backoff far longer than a loaded machine's stalls: "not before its time" cannot be
    # overtaken by the clock; the wait is then ended by moving the due times, not by sleeping.
    monkeypatch.setenv("MESSAGING_RETRY_DELAY", "30s")
    org, c = await _org(world, monkeypatch, smsportal)
    smsportal.script.append(Reply(503, {"errors": [{"errorMessage": "Service unavailable"}]}))
    await queue(org, c, [sms("27821234567")])
    await run_until_idle()
    [m] = await messages()
    assert m.status == "pending" and m.retry_count == 1 and m.attempts == 1
    assert m.response == "SMSPortal HTTP 503: Service unavailable (retry 1 of 3)"
    # The backoff runs from the moment the failure was recorded (the row's updated_at), not from
    # the start of the attempt: how long the call and its commit took is no part of it.
    wait = (m.next_attempt_at - m.updated_at).total_seconds()
    assert 30.0 <= wait <= 33.0
    await run_until_idle()
    assert (await messages())[0].status == "pending"  # not before its time
    # The drain is scheduled for the whole second after the message falls due.
    due = math.ceil(m.next_attempt_at.timestamp())
    async with transaction() as s:
        [job] = (await s.scalars(select(Job).where(Job.kind == DRAIN_JOB, Job.status == "queued"))).all()
        assert aware(job.run_at).timestamp() == due and job.dedupe_key == f"{DRAIN_JOB}@{due}"
        past = utcnow() - timedelta(seconds=1)
        job.run_at = past
        await s.execute(update(Message).where(Message.id == m.id).values(next_attempt_at=past))
    await run_until_idle()
    [m] = await messages()
    assert m.status == "sent" and m.attempts == 2 and len(smsportal.requests) == 2


async def test_429_retry_after_is_honoured_for_the_message_and_the_account(env, world, live, smsportal,
                                                                          monkeypatch):
    monkeypatch.setenv("MESSAGING_RETRY_DELAY", "0s")
    org, c = await _org(world, monkeypatch, smsportal)
    smsportal.script.append(Reply(429, {"errors": [{"errorMessage": "Too many requests"}]},
                                  {"Retry-After": "2"}))
    await queue(org, c, [sms("27821234567")])
    started = time.monotonic()
    await run_until_idle()
    [m] = await messages()
    assert m.status == "pending" and m.retry_count == 1
    assert (m.next_attempt_at - m.updated_at).total_seconds() >= 2.0
    # Another message on the same account waits for the Retry-After too.
    await queue(org, c, [sms("27831234567")])
    while True:
        await run_until_idle()
        rows = await messages()
        if all(r.status == "sent" for r in rows):
            break
        await asyncio.sleep(0.2)
        assert time.monotonic() - started < 60  # only stops a stuck run
    second_call_at = smsportal.requests[1].at
    assert second_call_at - smsportal.requests[0].at >= 1.9


async def test_rate_limit_paces_the_sends(env, world, live, smsportal, monkeypatch):
    monkeypatch.setenv("MESSAGING_RATE_LIMIT", "20")
    org, c = await _org(world, monkeypatch, smsportal)
    await queue(org, c, [sms(f"2782{i:07d}") for i in range(60)])
    clock = pace_on_a_simulated_clock(smsportal)
    start = clock.now
    await run_until_idle()
    assert len(smsportal.accepted) == 60 and smsportal.duplicates == 0
    assert_paced(clock, smsportal.accept_times, start, 60, 20.0, 4)  # 4 a batch: 0.2 s of 20/s


async def test_two_workers_share_one_rate(env, world, live, smsportal, monkeypatch):
    monkeypatch.setenv("MESSAGING_RATE_LIMIT", "20")
    org, c = await _org(world, monkeypatch, smsportal)
    await queue(org, c, [sms(f"2782{i:07d}") for i in range(60)])
    from arrears.db import transaction
    from arrears.messaging.outbox import request_drain

    async with transaction() as s:
        await request_drain(s, at=None)  # a second drain job: each worker takes one
    clock = pace_on_a_simulated_clock(smsportal)
    start = clock.now
    w1, w2 = Worker(concurrency=2, poll_seconds=0.1), Worker(concurrency=2, poll_seconds=0.1)
    await asyncio.gather(w1.run(until_idle=True), w2.run(until_idle=True))
    await run_until_idle()
    assert len(smsportal.accepted) == 60 and smsportal.duplicates == 0
    # One timeline for both drains: the slots they were given never overlap.
    assert_paced(clock, smsportal.accept_times, start, 60, 20.0, 4)


async def test_pacer_spaces_reservations_evenly_in_memory():
    # The clock is ours and stands still: the schedule's arithmetic is checked exactly.
    clock = SimulatedClock()
    pacer = ratelimit.MemoryPacer(clock)
    account = "acct:test"
    waits = await asyncio.gather(*(pacer.reserve(account, 1, 10.0) for _ in range(20)))
    assert sorted(waits) == pytest.approx([0.1 * k for k in range(20)])
    assert await pacer.backlog(account) == pytest.approx(2.0)
    clock.now += 0.5
    assert await pacer.backlog(account) == pytest.approx(1.5)
    await pacer.penalise(account, 5.0)
    assert await pacer.backlog(account) == pytest.approx(5.0)
    await pacer.penalise(account, 1.0)  # a shorter penalty never brings the schedule forward
    assert await pacer.backlog(account) == pytest.approx(5.0)
    clock.now += 10.0
    assert await pacer.backlog(account) == 0.0 and await pacer.reserve(account, 1, 10.0) == 0.0


async def test_pacer_spaces_reservations_evenly_on_redis(redis_url):
    # Redis keeps the schedule on its own clock, which a test cannot set: each bound below is
    # widened by the time the calls themselves took, however long a loaded machine makes that.
    # An account of this run only: a Redis database may be shared with another run of the suite,
    # and a fixed key let one run's reservations (or its clean-up) land in the other's schedule.
    account = f"acct:test:{uuid.uuid4().hex}"
    a, b = ratelimit.RedisPacer(redis_url), ratelimit.RedisPacer(redis_url)  # two workers
    try:
        started = time.monotonic()
        waits = await asyncio.gather(*(p.reserve(account, 1, 10.0) for p in [a, b] * 10))
        elapsed = time.monotonic() - started
        # Slot i starts 0.1 s × i after the first; a wait is measured from the moment its call
        # ran, up to `elapsed` after the first call: the k-th shortest wait lies in
        # [0.1 k − elapsed, 0.1 k].
        for k, w in enumerate(sorted(waits)):
            assert 0.1 * k - elapsed - 0.02 <= w <= 0.1 * k + 0.02, (k, w, elapsed)
        backlog = await a.backlog(account)
        since = time.monotonic() - started
        assert 2.0 - since - 0.02 <= backlog <= 2.01, (backlog, since)
        penalised = time.monotonic()
        await a.penalise(account, 5.0)
        backlog = await b.backlog(account)
        assert 5.0 - (time.monotonic() - penalised) - 0.1 <= backlog <= 5.01, backlog
    finally:
        await a.aclose()
        await b.aclose()


async def test_pacer_on_redis_keeps_an_injected_clock_exactly(redis_url):
    # With a test's clock the scripts take its time instead of the server's: the same exact
    # arithmetic as in memory, shared by two workers' clients.
    account = f"acct:test:{uuid.uuid4().hex}"
    clock = SimulatedClock()
    a, b = ratelimit.RedisPacer(redis_url, clock), ratelimit.RedisPacer(redis_url, clock)
    try:
        waits = await asyncio.gather(*(p.reserve(account, 1, 10.0) for p in [a, b] * 10))
        assert sorted(waits) == pytest.approx([0.1 * k for k in range(20)])
        assert await b.backlog(account) == pytest.approx(2.0)
        clock.now += 0.5
        assert await a.backlog(account) == pytest.approx(1.5)
        await a.penalise(account, 5.0)
        assert await b.backlog(account) == pytest.approx(5.0)
        clock.now += 0.1  # some of the penalty has passed
        await a.acquire(account, 1, 10.0)  # sleeps on our clock until the penalty is over
        assert clock.wakes == [pytest.approx(clock.now)] and await a.backlog(account) == pytest.approx(0.1)
    finally:
        await a.aclose()
        await b.aclose()


async def test_pacer_keeps_its_schedule_when_slightly_late_and_restarts_after_a_pause():
    clock = SimulatedClock()  # ours: the lateness is exact, whatever the machine's load
    p = ratelimit.MemoryPacer(clock)
    assert await p.reserve("a", 1, 10.0) == 0.0  # slot [now, now + 0.1)
    clock.now += 0.15  # woke 0.05 s late: the next slot was due 0.05 s ago
    assert await p.reserve("a", 1, 10.0) == pytest.approx(-0.05)  # send at once; the schedule is kept
    clock.now += 0.5  # a pause: start again from now, no burst
    assert await p.reserve("a", 1, 10.0) == 0.0
    assert await p.reserve("a", 1, 10.0) == pytest.approx(0.1)
