"""The outbox with the simulation provider: queue, drain, retries, receipts, statuses."""
# ruff: noqa: F811  (pytest fixtures imported from tests.faces.messaging.helpers)

from __future__ import annotations

from arrears.messaging.providers import simulation as sim
from arrears.worker import run_until_idle
from tests.faces.messaging.helpers import caller_for, messages, queue, quick, sms  # noqa: F401


async def test_simulated_messages_are_sent_then_delivered(env, world, quick):
    org = await world.org()
    user = await world.user(org.id)
    c = await caller_for(user)
    q = await queue(org, c, [sms("27821234567"), sms("27831234567")])
    assert q.queued == 2 and q.skipped == 0
    assert [m.status for m in await messages()] == ["pending", "pending"]
    await run_until_idle()
    rows = await messages()
    assert {m.status for m in rows} == {"delivered"}, [(m.status, m.response) for m in rows]
    assert all(m.external_id and m.sent_at and m.delivered_at and m.provider == "simulation" for m in rows)


async def test_simulated_outcomes_by_test_number(env, world, quick):
    org = await world.org()
    user = await world.user(org.id)
    c = await caller_for(user)
    await queue(org, c, [sms(sim.SMS_INVALID), sms(sim.SMS_BUSY), sms(sim.SMS_UNDELIVERABLE),
                         sms(sim.SMS_NO_REPORT), sms(sim.SMS_BUSY_ONCE)], max_retries=2)
    for _ in range(6):
        await run_until_idle()
    by = {m.recipient: m for m in await messages()}
    assert by[sim.SMS_INVALID].status == "failed" and by[sim.SMS_INVALID].error_code == "PROVIDER_REJECTED"
    assert by[sim.SMS_INVALID].retry_count == 0
    assert by[sim.SMS_BUSY].status == "failed" and by[sim.SMS_BUSY].error_code == "RETRIES_EXHAUSTED"
    assert by[sim.SMS_BUSY].retry_count == 2 and by[sim.SMS_BUSY].attempts == 3
    assert by[sim.SMS_UNDELIVERABLE].status == "failed" and by[sim.SMS_UNDELIVERABLE].error_code == "UNDELIVERED"
    assert by[sim.SMS_NO_REPORT].status == "sent"
    assert by[sim.SMS_BUSY_ONCE].status == "delivered" and by[sim.SMS_BUSY_ONCE].retry_count == 1


async def test_queueing_needs_write_access_in_the_organisation(env, world, quick):
    """queue_messages takes the Caller (issue 18, point 6): a read-only member is refused, another
    organisation's caller finds no such organisation, and neither writes a message or a job."""
    import pytest
    from sqlalchemy import func, select

    from arrears.db import transaction
    from arrears.errors import Forbidden, NotFound
    from arrears.identity.caller import Caller
    from arrears.jobs.models import Job

    org, other = await world.org(), await world.org("Other Org")
    reader = await caller_for(await world.user(org.id, role="admin", access="read"))
    stranger = await caller_for(await world.user(other.id))
    for who, error in ((reader, Forbidden), (stranger, NotFound), (Caller.system(other.id), NotFound)):
        with pytest.raises(error):
            await queue(org, who, [sms("27821234567")])
    assert await messages() == []
    async with transaction(readonly=True) as s:
        assert await s.scalar(select(func.count()).select_from(Job)) == 0
    q = await queue(org, Caller.system(org.id, "bench"), [sms("27821234567")])
    assert q.queued == 1 and [(m.org_id, m.user_id) for m in await messages()] == [(org.id, None)]
