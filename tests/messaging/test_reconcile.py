"""A worker killed at any point: claims run out, interrupted calls are settled per provider, and a
real worker process killed with SIGKILL neither loses nor repeats a message."""
# ruff: noqa: F811  (pytest fixtures imported from tests.faces.messaging.helpers)

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import update

from arrears.db import transaction, utcnow
from arrears.messaging import outbox, receipts
from arrears.messaging.models import Message
from arrears.worker import run_until_idle
from tests.faces.messaging.helpers import (  # noqa: F401
    caller_for,
    email,
    live,
    messages,
    queue,
    quick,
    set_org,
    sms,
    smsportal,
    smtp_server,
)

SMSPORTAL = {"smsportal_client_id": "client-1", "smsportal_api_secret": "s3cret"}


async def _interrupted(org, c, provider: str, draft: Any) -> Message:
    """A message whose worker died during the provider call: `sending`, claim expired."""
    await queue(org, c, [draft])
    [m] = await messages()
    now = utcnow()
    async with transaction() as s:
        await s.execute(update(Message).where(Message.id == m.id).values(
            status="sending", attempts=1, provider=provider, claimed_by="dead-worker",
            attempt_started_at=now - timedelta(seconds=10), claim_until=now - timedelta(seconds=1)))
    return m


async def _dlr(org, ref: str, status: str = "DELIVRD") -> Any:
    async with transaction() as s:
        return await receipts.smsportal(s, org.callback_token, {"Status": status, "UserReference": ref,
                                                                "EventId": 5, "Msisdn": "27821234567"})


async def _smsportal_org(world, monkeypatch, smsportal):
    monkeypatch.setenv("SMSPORTAL_API_URL", smsportal.url)
    org = await world.org()
    await set_org(org, **SMSPORTAL)
    return org, await caller_for(await world.user(org.id))


async def test_interrupted_smsportal_call_waits_for_the_delivery_report(env, world, live, smsportal, monkeypatch):
    monkeypatch.setenv("MESSAGING_RECONCILE_AFTER", "1m")
    org, c = await _smsportal_org(world, monkeypatch, smsportal)
    m = await _interrupted(org, c, "smsportal", sms("27821234567"))
    stats = await outbox.drain()
    [row] = await messages()
    assert stats.reconciled == 0 and row.status == "sending" and row.claimed_by == outbox.RECONCILING
    assert row.response.startswith("Outcome unknown: the worker stopped during the call to smsportal")
    assert smsportal.requests == []  # not sent again while we wait
    await _dlr(org, str(m.uuid))
    [row] = await messages()
    assert row.status == "delivered" and row.delivered_at is not None and row.sent_at is not None
    await outbox.drain()
    assert (await messages())[0].status == "delivered" and smsportal.requests == []


async def test_no_report_in_time_fails_at_most_once_and_a_late_report_still_counts(env, world, live, smsportal,
                                                                                   monkeypatch):
    monkeypatch.setenv("MESSAGING_RECONCILE_AFTER", "1s")
    org, c = await _smsportal_org(world, monkeypatch, smsportal)
    m = await _interrupted(org, c, "smsportal", sms("27821234567"))
    await outbox.drain()
    await asyncio.sleep(1.2)
    await outbox.drain()
    [row] = await messages()
    assert row.status == "failed" and row.error_code == outbox.OUTCOME_UNKNOWN
    assert "not sent again, so that it is never sent twice" in row.response
    assert smsportal.requests == []
    await _dlr(org, str(m.uuid))
    [row] = await messages()
    assert row.status == "delivered" and row.error_code is None and row.failed_at is None


async def test_resend_policy_sends_again_when_no_report_came(env, world, live, smsportal, monkeypatch):
    monkeypatch.setenv("MESSAGING_RECONCILE_AFTER", "1s")
    monkeypatch.setenv("MESSAGING_UNKNOWN_OUTCOME", "resend")
    org, c = await _smsportal_org(world, monkeypatch, smsportal)
    m = await _interrupted(org, c, "smsportal", sms("27821234567"))
    await outbox.drain()
    await asyncio.sleep(1.2)
    await outbox.drain()
    [row] = await messages()
    assert row.status == "sent" and row.attempts == 2
    assert list(smsportal.accepted) == [str(m.uuid)]


async def test_interrupted_simulation_call_is_simply_sent_again(env, world, quick):
    org = await world.org()
    c = await caller_for(await world.user(org.id))
    await _interrupted(org, c, "simulation", sms("27821234567"))
    await run_until_idle()
    await run_until_idle()
    [row] = await messages()
    assert row.status == "delivered" and row.attempts == 2


async def test_interrupted_smtp_session_fails_at_once(env, world, live, smtp_server, monkeypatch):
    monkeypatch.setenv("SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("SMTP_PORT", str(smtp_server.port))
    monkeypatch.setenv("SMTP_STARTTLS", "false")
    monkeypatch.setenv("SMTP_FROM", "a@acme.co.za")
    org = await world.org()
    c = await caller_for(await world.user(org.id))
    await _interrupted(org, c, "smtp", email("john@example.com"))
    await outbox.drain()
    [row] = await messages()
    assert row.status == "failed" and row.error_code == outbox.OUTCOME_UNKNOWN
    assert smtp_server.messages == []


async def test_claimed_but_never_attempted_rows_are_taken_again(env, world, live, smsportal, monkeypatch):
    org, c = await _smsportal_org(world, monkeypatch, smsportal)
    await queue(org, c, [sms("27821234567")])
    # The claim's end is set, not waited for: a stalled machine cannot make a live claim expire.
    async with transaction() as s:
        await s.execute(update(Message).values(claimed_by="dead-worker",
                                               claim_until=utcnow() + timedelta(hours=1)))
    await outbox.drain()
    assert (await messages())[0].status == "pending"  # the claim is still live
    async with transaction() as s:
        await s.execute(update(Message).values(claim_until=utcnow() - timedelta(seconds=1)))
    await outbox.drain()
    [row] = await messages()
    assert row.status == "sent" and row.attempts == 1 and len(smsportal.accepted) == 1


async def test_a_report_that_overtakes_the_answer_keeps_its_status_and_reason(env, world, live, smsportal,
                                                                             monkeypatch):
    """SMSPortal can post the delivery report before our worker has written the call's answer:
    the answer then adds the external id but never overwrites the report's status or reason."""
    org, c = await _smsportal_org(world, monkeypatch, smsportal)
    await queue(org, c, [sms("27821234567"), sms("27831234567")])
    rows = await messages()
    first_record = outbox.record

    async def report_first(lane, batch, results, *args, **kw):
        await _dlr(org, str(rows[0].uuid), "UNDELIV")
        await _dlr(org, str(rows[1].uuid), "DELIVRD")
        await first_record(lane, batch, results, *args, **kw)

    monkeypatch.setattr(outbox, "record", report_first)
    await outbox.drain()
    failed, delivered = await messages()
    assert (failed.status, failed.error_code, failed.response) == (
        "failed", "UNDELIVERED", "SMSPortal delivery report: UNDELIV")
    assert delivered.status == "delivered" and delivered.external_id is not None
    assert failed.external_id is not None and failed.claimed_by is None and len(smsportal.accepted) == 2


# ------------------------------------------------------------------ a real worker, killed


def _start_worker() -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "arrears", "worker", "--concurrency", "4"],
                            env=os.environ.copy(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


async def _expire_claims_of(pid: int, smsportal: Any) -> None:
    """What the killed worker `pid` held falls due now, as it would once its claims (MESSAGING_LEASE
    + the call's timeout) and the wait for delivery reports (MESSAGING_RECONCILE_AFTER) ran out:
    its claims end in the past, its calls started before the wait, and a drain is due. Only the
    dead worker's rows move, so the live ones keep their long leases; waiting them out cost ~20 s
    a run (their ends are the outbox's own SQL, checked above with claims set, not waited for).
    First every delivery report of what it had sent is in (the stand-in posts them 0.15 s after
    its answer), as after the real wait: a row still `sending` then was never taken."""
    await asyncio.sleep(0.3)  # a request it finished sending is answered
    if smsportal._tasks:
        await asyncio.wait(set(smsportal._tasks))
    past = utcnow() - timedelta(seconds=30)  # > MESSAGING_RECONCILE_AFTER and the lease
    mine = Message.claimed_by.like(f"%:{pid}:%")  # outbox.worker_name(): host:pid:random
    async with transaction() as s:
        await s.execute(update(Message).where(mine, Message.status == "sending").values(attempt_started_at=past))
        await s.execute(update(Message).where(mine).values(claim_until=past))
        await outbox.request_drain(s)


@pytest.mark.slow
@pytest.mark.timeout(900)  # the deadlines below: 2 × 240 s to start and kill, 300 s to finish
async def test_worker_killed_twice_loses_and_repeats_nothing(env, world, live, smsportal, monkeypatch):
    count = 120
    smsportal.delay = 0.1
    monkeypatch.setenv("MESSAGING_RATE_LIMIT", "40")
    monkeypatch.setenv("MESSAGING_TIMEOUT", "2s")
    # Leases and the reconcile wait well above a loaded machine's stalls (at a load of 20 a live
    # worker's call can outlast 1 s + the timeout, and was then settled and resent as if killed).
    monkeypatch.setenv("MESSAGING_LEASE", "10s")
    monkeypatch.setenv("MESSAGING_RECONCILE_AFTER", "10s")
    monkeypatch.setenv("MESSAGING_UNKNOWN_OUTCOME", "resend")
    monkeypatch.setenv("ARREARS_LOG_LEVEL", "WARNING")
    org, c = await _smsportal_org(world, monkeypatch, smsportal)

    async def report(m: dict[str, Any], event: int) -> None:  # SMSPortal's delivery reports
        await _dlr(org, str(m["CustomerId"]))

    smsportal.on_accept = report
    await queue(org, c, [sms(f"2782{i:07d}", f"Message {i}") for i in range(count)])
    procs = []
    # The deadlines only stop a stuck run: a worker process needs seconds to start on a busy
    # machine (30 s and more at a load of 20 on two cores), so they are generous.
    try:
        for kill_at in (count // 4, count // 2):
            proc = _start_worker()
            procs.append(proc)
            deadline = time.monotonic() + 240
            while len(smsportal.accepted) < kill_at:
                assert proc.poll() is None, "worker exited"
                assert time.monotonic() < deadline, f"only {len(smsportal.accepted)} sent"
                await asyncio.sleep(0.01)
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(10)
            await _expire_claims_of(proc.pid, smsportal)
        proc = _start_worker()
        procs.append(proc)
        deadline = time.monotonic() + 300
        while True:
            rows = await messages()
            if all(r.status in ("sent", "delivered", "failed") for r in rows):
                break
            assert time.monotonic() < deadline, {r.status for r in rows}
            await asyncio.sleep(0.2)
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(15)
                except subprocess.TimeoutExpired:
                    p.kill()
    rows = await messages()
    assert len(smsportal.accepted) == count and smsportal.duplicates == 0
    assert {str(r.uuid) for r in rows} == set(smsportal.accepted)
    assert all(r.status in ("sent", "delivered") for r in rows), {(r.status, r.error_code) for r in rows}
    for r in rows:  # each exactly as queued
        assert smsportal.accepted[str(r.uuid)]["content"] == r.content
