"""Opt-outs and delivery statuses change only through a `Caller` the service authorises (issue 18,
point 6): an opt-out needs write access (an API key, opt-outs:write); a delivery status is a
provider's word (the system caller) alone; another organisation's rows are not found."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from arrears.db import transaction, utcnow
from arrears.errors import Forbidden, NotFound
from arrears.events import DomainEvent
from arrears.identity.caller import Caller
from arrears.messaging import optouts, receipts
from arrears.messaging.models import Message, OptOut
from tests.faces.messaging.helpers import caller_for, customer


async def _opt_outs(org_id: int) -> list[tuple[str, str | None]]:
    async with transaction(readonly=True) as s:
        rows = await s.execute(select(OptOut.channel, OptOut.created_by).where(OptOut.org_id == org_id)
                               .order_by(OptOut.channel))
        return [tuple(r) for r in rows.all()]


async def test_opt_outs_need_write_access_and_stay_in_their_organisation(world):
    org, other = await world.org(), await world.org("Other Org")
    john = await customer(org, "C1")
    reader = await caller_for(await world.user(org.id, role="admin", access="read"))
    key, _ = await world.api_key(org.id, ["templates:write"], kind="ins")
    unscoped = Caller(kind="api_key", org_id=org.id, api_key=key, access="write", scopes=frozenset(key.scopes))
    for who in (reader, unscoped):
        async with transaction() as s:
            with pytest.raises(Forbidden) as refused:
                await optouts.add(s, who, channel="sms", customer_id=john.id)
        assert refused.value.status == 403
    stranger = await caller_for(await world.user(other.id, role="admin"))
    async with transaction() as s:
        with pytest.raises(NotFound):  # another organisation's customer id
            await optouts.add(s, stranger, channel="sms", customer_id=john.id)
    assert await _opt_outs(org.id) == []

    officer = await caller_for(await world.user(org.id, role="collection_officer"))
    async with transaction() as s:
        [row] = await optouts.add(s, officer, channel="sms", customer_id=john.id)
        row_id = str(row.uuid)
    assert await _opt_outs(org.id) == [("sms", officer.actor)]
    for who, refusal in ((reader, Forbidden), (unscoped, Forbidden), (stranger, NotFound)):
        async with transaction() as s:
            with pytest.raises(refusal):
                await optouts.remove(s, who, row_id)
    for who in (reader, unscoped):
        async with transaction() as s:
            with pytest.raises(Forbidden):
                await optouts.remove_for(s, who, channel="sms", customer_id=john.id)
    async with transaction() as s:  # another organisation's customer: none of its opt-outs
        assert await optouts.remove_for(s, stranger, channel="sms", customer_id=john.id) == 0
    assert await _opt_outs(org.id) == [("sms", officer.actor)]
    async with transaction() as s:
        assert await optouts.remove_for(s, Caller.system(org.id, "cli"), channel="all", customer_id=john.id) == 1
    assert await _opt_outs(org.id) == []


async def _sent_message(org_id: int) -> int:
    async with transaction() as s:
        m = Message(org_id=org_id, channel="sms", recipient="27821234567", content="Hello", status="sent",
                    provider="smsportal", attempts=1, sent_at=utcnow())
        s.add(m)
        await s.flush()
        return m.id


async def test_only_a_providers_report_changes_a_delivery_status(world):
    org, other = await world.org(), await world.org("Other Org")
    message_id = await _sent_message(org.id)
    admin = await caller_for(await world.user(org.id, role="admin"))
    key, _ = await world.api_key(org.id, ["*"], kind="ins")
    for who, refusal in ((admin, Forbidden),
                         (Caller(kind="api_key", org_id=org.id, api_key=key, access="write", scopes=frozenset({"*"})),
                          Forbidden),
                         (receipts.provider_caller(other.id, "smsportal"), NotFound)):
        async with transaction() as s:
            with pytest.raises(refusal):
                await receipts.apply_status(s, who, await s.get(Message, message_id), "delivered")
    async with transaction() as s:
        assert (await s.get(Message, message_id)).status == "sent"
        assert await receipts.apply_status(s, receipts.provider_caller(org.id, "smsportal"),
                                           await s.get(Message, message_id), "delivered")
    async with transaction() as s:
        assert (await s.get(Message, message_id)).status == "delivered"
        actors = list(await s.scalars(select(DomainEvent.actor).where(DomainEvent.type == "message.delivered")))
    assert actors == ["provider:smsportal"]
