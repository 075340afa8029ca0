"""The synchronous dispatch the pharmacy face calls: rows written, sent at once, per-recipient
results, idempotency, inline retries, contact rules."""
# ruff: noqa: F811  (pytest fixtures imported from tests.faces.messaging.helpers)

from __future__ import annotations

import pytest

from arrears.db import transaction
from arrears.errors import Forbidden
from arrears.identity.caller import Caller
from arrears.jobs.models import Job
from arrears.messaging import optouts
from arrears.messaging.dispatch import Recipient, dispatch_now
from arrears.messaging.providers import ProviderNotConfigured
from tests.clocks import assert_paced, pace_on_a_simulated_clock
from tests.faces.messaging.helpers import (  # noqa: F401
    caller_for,
    customer,
    live,
    messages,
    quick,
    sendgrid,
    set_org,
    smsportal,
)
from tests.faces.messaging.standins import Reply

SMSPORTAL = {"smsportal_client_id": "client-1", "smsportal_api_secret": "s3cret"}


async def _org(world, monkeypatch, smsportal=None, sendgrid=None, access="write", role="admin"):
    org = await world.org("Good Pharmacy", kind="pharmacy")
    if smsportal is not None:
        monkeypatch.setenv("SMSPORTAL_API_URL", smsportal.url)
        await set_org(org, **SMSPORTAL)
    if sendgrid is not None:
        monkeypatch.setenv("SENDGRID_API_URL", sendgrid.url)
        await set_org(org, sendgrid_api_key="SG.test-key", sendgrid_from_email="accounts@pharm.co.za")
    return org, await caller_for(await world.user(org.id, access=access, role=role))


async def test_sms_results_per_recipient(env, world, live, smsportal, monkeypatch):
    org, c = await _org(world, monkeypatch, smsportal)
    john = await customer(org, "C1", phone="0821234567")
    jane = await customer(org, "C2", phone="0831234567")
    async with transaction() as s:
        await optouts.add(s, Caller.system(org.id, "test"), channel="sms", customer_id=jane.id)
    results = await dispatch_now(c, channel="sms", recipients=[
        Recipient(1, "082 123 4567", "Dear John, your account is overdue", customer_id=john.id),
        Recipient(2, None, "x"),
        Recipient(3, "12345", "x"),
        Recipient(4, "0831234567", "x", customer_id=jane.id),
    ])
    assert [(r.ref, r.status) for r in results] == [(1, "sent"), (2, "failed"), (3, "failed"), (4, "failed")]
    assert results[0].external_id == "1001" and results[0].to == "082 123 4567"
    assert results[1].error == "No phone number"
    assert results[2].error == "Invalid phone number: 12345"
    assert results[3].error == "Not sent: the customer opted out of SMS messages"
    rows = await messages()
    assert len(rows) == 4 and {m.source for m in rows} == {"pharmacy"}
    assert rows[0].recipient == "27821234567" and rows[0].status == "sent" and rows[0].customer_id == john.id
    assert list(smsportal.accepted) == [str(rows[0].uuid)]


async def test_email_results_with_sendgrids_reason(env, world, live, sendgrid, monkeypatch):
    org, c = await _org(world, monkeypatch, sendgrid=sendgrid)
    [ok] = await dispatch_now(c, channel="email", recipients=[
        Recipient(1, "John@Example.com", "Dear John", subject="Reminder", html="<p>Dear John</p>")])
    assert ok.status == "sent" and ok.external_id == sendgrid.sent[0]["_x_message_id"]
    await set_org(org, sendgrid_api_key="SG.wrong")
    [bad, none] = await dispatch_now(c, channel="email", recipients=[
        Recipient(2, "jane@example.com", "Dear Jane", subject="Reminder"),
        Recipient(3, None, "x", subject="Reminder", problem="No email address")])
    assert bad.status == "failed" and bad.error == (
        "SendGrid API error: The provided authorization grant is invalid, expired, or revoked")
    assert none.status == "failed" and none.error == "No email address"


async def test_same_idempotency_key_sends_once(env, world, live, smsportal, monkeypatch):
    org, c = await _org(world, monkeypatch, smsportal)
    recipients = [Recipient(7, "0821234567", "Dear John")]
    first = await dispatch_now(c, channel="sms", recipients=recipients, idempotency_key="req-1")
    again = await dispatch_now(c, channel="sms", recipients=recipients, idempotency_key="req-1")
    assert first[0].message_id == again[0].message_id and again[0].status == "sent"
    assert len(smsportal.requests) == 1 and len(await messages()) == 1
    other = await dispatch_now(c, channel="sms", recipients=[Recipient(8, "0831234567", "Dear Jane")],
                               idempotency_key="req-2")
    assert other[0].status == "sent" and len(smsportal.requests) == 2


async def test_concurrent_calls_with_one_key_send_once(env, world, live, smsportal, monkeypatch):
    import asyncio

    org, c = await _org(world, monkeypatch, smsportal)
    smsportal.delay = 0.2  # the first call is still sending when the second one writes
    recipients = [Recipient(7, "0821234567", "Dear John"), Recipient(8, "0831234567", "Dear Jane")]
    a, b = await asyncio.gather(*(dispatch_now(c, channel="sms", recipients=recipients, idempotency_key="req-1")
                                  for _ in range(2)))
    assert [r.message_id for r in a] == [r.message_id for r in b]
    assert len(await messages()) == 2 and len(smsportal.accepted) == 2 and smsportal.duplicates == 0
    # One ref listed twice under a key is one message; the second is refused with the reason.
    [once, twice] = await dispatch_now(c, channel="sms", recipients=[Recipient(9, "0841234567", "x"),
                                                                     Recipient(9, "0841234567", "x")],
                                       idempotency_key="req-2")
    assert once.status == "sent" and (twice.status, twice.error_code) == ("failed", "DUPLICATE")


async def test_transient_failure_is_retried_before_answering(env, world, live, smsportal, monkeypatch):
    org, c = await _org(world, monkeypatch, smsportal)
    smsportal.script.append(Reply(503, {"errors": [{"errorMessage": "busy"}]}))
    [r] = await dispatch_now(c, channel="sms", recipients=[Recipient(1, "0821234567", "Dear John")])
    assert r.status == "sent"
    [m] = await messages()
    assert m.retry_count == 1 and m.attempts == 2 and len(smsportal.requests) == 2


async def test_long_backoff_leaves_it_to_the_worker(env, world, live, smsportal, monkeypatch):
    monkeypatch.setenv("MESSAGING_RETRY_DELAY", "30s")
    org, c = await _org(world, monkeypatch, smsportal)
    smsportal.script.append(Reply(503, {"errors": [{"errorMessage": "busy"}]}))
    [r] = await dispatch_now(c, channel="sms", recipients=[Recipient(1, "0821234567", "Dear John")])
    assert r.status == "pending" and r.scheduled_for is not None and "busy" in r.error
    [m] = await messages()
    assert m.status == "pending" and m.claimed_by is None
    async with transaction(readonly=True) as s:
        from sqlalchemy import select

        kinds = (await s.scalars(select(Job.kind))).all()
    assert "messaging.drain" in kinds


async def test_outside_hours_is_pending_with_its_time(env, world, live, smsportal, monkeypatch):
    from datetime import UTC, datetime

    from arrears.messaging import outbox, service

    now = datetime(2026, 12, 16, 8, 0, tzinfo=UTC)  # a public holiday
    monkeypatch.setattr(service, "utcnow", lambda: now)
    monkeypatch.setattr(outbox, "utcnow", lambda: now)
    monkeypatch.setenv("MESSAGING_CONTACT_HOURS", "true")
    org, c = await _org(world, monkeypatch, smsportal)
    [r] = await dispatch_now(c, channel="sms", recipients=[Recipient(1, "0821234567", "Dear John")])
    assert r.status == "pending" and r.scheduled_for == datetime(2026, 12, 17, 6, 0, tzinfo=UTC)
    # The face can say why it waits (the pharmacy spec's per-debtor reason).
    assert r.error_code == "OUTSIDE_CONTACT_HOURS" and r.reason == (
        "Held: outside permitted contact hours; it will be sent at 2026-12-17T06:00:00Z")
    assert smsportal.requests == []


async def test_no_provider_or_no_write_access_writes_nothing(env, world, live, monkeypatch):
    org, c = await _org(world, monkeypatch)
    with pytest.raises(ProviderNotConfigured) as err:
        await dispatch_now(c, channel="email", recipients=[Recipient(1, "a@b.co.za", "x", subject="s")])
    assert err.value.status == 400
    _, reader = await _org(world, monkeypatch, access="read")
    with pytest.raises(Forbidden):
        await dispatch_now(reader, channel="sms", recipients=[Recipient(1, "0821234567", "x")])
    assert await messages() == []


async def test_many_recipients_are_all_sent_paced(env, world, live, smsportal, monkeypatch):
    monkeypatch.setenv("MESSAGING_RATE_LIMIT", "10")  # 20 rows claimed at a time
    org, c = await _org(world, monkeypatch, smsportal)
    clock = pace_on_a_simulated_clock(smsportal)  # the schedule is exact, whatever the load
    start = clock.now
    results = await dispatch_now(c, channel="sms", recipients=[
        Recipient(i, f"082{i:07d}", f"Dear {i}") for i in range(25)])
    assert [r.status for r in results] == ["sent"] * 25
    assert len(smsportal.accepted) == 25 and smsportal.duplicates == 0
    assert_paced(clock, smsportal.accept_times, start, 25, 10.0, 2)  # 2 a batch: 0.2 s of 10/s
