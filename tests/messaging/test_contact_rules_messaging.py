"""Contact rules applied to messages: permitted hours (fixed clock), opt-outs, the cap."""
# ruff: noqa: F811  (pytest fixtures imported from tests.faces.messaging.helpers)

from __future__ import annotations

import asyncio
import json
import subprocess
from datetime import UTC, datetime

import pytest

from arrears.identity.caller import Caller
from arrears.messaging import outbox, service
from tests.faces.messaging.helpers import caller_for, customer, messages, opt_outs, queue, quick, set_org, sms  # noqa: F401
from tests.inprocess_cli import arrears

# 2026-12-16 is the Day of Reconciliation (a Wednesday); 2026-11-28 is a Saturday.
HOLIDAY_MORNING = datetime(2026, 12, 16, 8, 0, tzinfo=UTC)  # 10:00 in Johannesburg
SATURDAY_AFTERNOON = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)  # 14:00 in Johannesburg
FRIDAY_EVENING = datetime(2026, 11, 27, 17, 59, 50, tzinfo=UTC)  # 19:59:50 in Johannesburg


@pytest.fixture
def clock(monkeypatch):
    class Clock:
        now = HOLIDAY_MORNING

        def __call__(self) -> datetime:
            return self.now

    c = Clock()
    for module in (service, outbox):
        monkeypatch.setattr(module, "utcnow", c)
    return c


@pytest.fixture
def hours_on(monkeypatch, quick):
    monkeypatch.setenv("MESSAGING_CONTACT_HOURS", "true")


async def _org(world):
    org = await world.org()
    return org, await caller_for(await world.user(org.id))


async def test_on_a_public_holiday_the_message_waits_for_the_next_permitted_minute(env, world, hours_on, clock):
    org, c = await _org(world)
    q = await queue(org, c, [sms("27821234567")])
    [m] = await messages()
    assert m.status == "pending" and m.next_attempt_at == datetime(2026, 12, 17, 6, 0, tzinfo=UTC)
    assert q.scheduled_for == m.next_attempt_at
    assert service.humanise_seconds(q.estimated_seconds).startswith("22 hours")
    await outbox.drain()
    assert (await messages())[0].status == "pending"  # not dropped, not sent
    clock.now = datetime(2026, 12, 17, 6, 0, 1, tzinfo=UTC)
    await outbox.drain()
    [m] = await messages()
    assert m.status == "sent" and m.sent_at == clock.now


async def test_saturday_afternoon_waits_for_monday_morning(env, world, hours_on, clock):
    clock.now = SATURDAY_AFTERNOON
    org, c = await _org(world)
    await queue(org, c, [sms("27821234567")])
    [m] = await messages()
    assert m.next_attempt_at == datetime(2026, 11, 30, 6, 0, tzinfo=UTC)  # Monday 08:00 SAST


async def test_a_message_whose_turn_comes_after_hours_is_deferred_not_sent(env, world, hours_on, clock):
    clock.now = FRIDAY_EVENING
    org, c = await _org(world)
    await queue(org, c, [sms("27821234567")])
    assert (await messages())[0].next_attempt_at == FRIDAY_EVENING  # permitted when queued
    clock.now = datetime(2026, 11, 27, 18, 0, 5, tzinfo=UTC)  # the worker gets to it at 20:00:05
    stats = await outbox.drain()
    [m] = await messages()
    assert stats.deferred == 1 and m.status == "pending" and m.attempts == 0
    assert m.next_attempt_at == datetime(2026, 11, 28, 7, 0, tzinfo=UTC)  # Saturday 09:00 SAST


async def test_the_organisations_time_zone_decides(env, world, hours_on, clock):
    clock.now = datetime(2026, 11, 24, 19, 30, tzinfo=UTC)  # Tuesday 21:30 SAST, 19:30 in London
    org, c = await _org(world)
    await set_org(org, timezone="Europe/London", holiday_country="GB")
    await queue(org, c, [sms("27821234567")])
    assert (await messages())[0].next_attempt_at == clock.now


async def test_hours_off_for_the_organisation_or_the_deployment(env, world, hours_on, clock, monkeypatch):
    org, c = await _org(world)
    await set_org(org, contact_hours="off")
    await queue(org, c, [sms("27821234567")])
    assert (await messages())[0].next_attempt_at == HOLIDAY_MORNING
    monkeypatch.setenv("MESSAGING_CONTACT_HOURS", "false")
    org2, c2 = await _org(world)
    await queue(org2, c2, [sms("27831234567")])
    assert (await messages())[1].next_attempt_at == HOLIDAY_MORNING


# ------------------------------------------------------------------ opt-outs and the cap


async def test_opted_out_customer_is_skipped_per_channel(env, world, quick):
    from arrears.db import transaction
    from arrears.messaging import optouts

    org, c = await _org(world)
    john = await customer(org)
    async with transaction() as s:
        await optouts.add(s, Caller.system(org.id, "test"), channel="sms", customer_id=john.id, reason="asked by phone")
    q = await queue(org, c, [sms("27821234567", customer_id=john.id), sms("27831234567")])
    assert q.skipped == 1 and q.reasons["OPTED_OUT"] == 1
    john_msg, other = await messages()
    assert john_msg.status == "failed" and john_msg.error_code == "OPTED_OUT"
    assert john_msg.response == "Not sent: the customer opted out of SMS messages"
    assert other.status == "pending"
    # E-mail is another channel: still allowed.
    from tests.faces.messaging.helpers import email

    q = await queue(org, c, [email("john@example.com", customer_id=john.id)])
    assert q.queued == 1


async def test_opt_out_arriving_while_queued_stops_the_message(env, world, quick):
    from arrears.db import transaction
    from arrears.messaging import optouts

    org, c = await _org(world)
    john = await customer(org)
    await queue(org, c, [sms("27821234567", customer_id=john.id)])
    async with transaction() as s:
        await optouts.add(s, Caller.system(org.id, "test"), channel="all", customer_id=john.id)
    stats = await outbox.drain()
    [m] = await messages()
    assert stats.skipped == 1 and m.status == "failed" and m.error_code == "OPTED_OUT" and m.attempts == 0


async def test_cap_counts_per_customer_and_channel_and_can_be_overridden(env, world, quick):
    org, c = await _org(world)
    john = await customer(org)
    q = await queue(org, c, [sms("27821234567", customer_id=john.id), sms("27821234567", customer_id=john.id)])
    assert (q.queued, q.skipped) == (1, 1)  # one message per channel per 24 h, even in one send
    q = await queue(org, c, [sms("27821234567", customer_id=john.id)])
    assert q.skipped == 1 and q.reasons["CAP_REACHED"] == 1
    q = await queue(org, c, [sms("27821234567", customer_id=john.id)], override_cap=True)
    assert q.queued == 1
    assert (await messages())[-1].cap_override_by == c.user_id


async def test_cap_setting_of_the_organisation(env, world, quick):
    org, c = await _org(world)
    await set_org(org, contact_cap="2", contact_cap_window="1h")
    john = await customer(org)
    q = await queue(org, c, [sms("27821234567", customer_id=john.id) for _ in range(3)])
    assert (q.queued, q.skipped) == (2, 1)
    [capped] = [m for m in await messages() if m.error_code == "CAP_REACHED"]
    assert "already had 2 SMS messages in the last hour" in capped.response


def _cli(*args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
    p = arrears(*args)  # in-process (tests/inprocess_cli.py); called in a thread
    if ok:
        assert p.returncode == 0, p.stderr + p.stdout
    return p


async def test_cli_opt_out_add_list_remove(env, world, quick):
    org, _ = await _org(world)
    john = await customer(org)
    r = await asyncio.to_thread(_cli, "opt-out", "add", "--org", str(org.id), "--customer", str(john.id),
                                "--channel", "sms", "--reason", "asked at the counter", "--json")
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out["opt_outs"][0]["channel"] == "sms" and out["opt_outs"][0]["customer_id"] == john.id
    [o] = await opt_outs()
    assert o.source == "cli" and o.reason == "asked at the counter" and o.created_by == "cli"
    r = await asyncio.to_thread(_cli, "opt-out", "list", "--org", str(org.id))
    assert json.loads(r.stdout)["total"] == 1
    await asyncio.to_thread(_cli, "opt-out", "remove", "--org", str(org.id), "--customer", str(john.id))
    assert await opt_outs() == []
    r = await asyncio.to_thread(_cli, "opt-out", "add", "--org", str(org.id), ok=False)
    assert r.returncode != 0 and "--customer" in r.stderr
