"""One log: messages of every face in the customer's timeline and a debtor's communications."""

from __future__ import annotations

from pathlib import Path

import pytest

from arrears.db import transaction
from arrears.messaging import service
from arrears.messaging.dispatch import Recipient, dispatch_now
from arrears.worker import run_until_idle
from tests.faces.age_analysis.helpers import BOOK, import_file, write_book
from tests.faces.messaging.helpers import caller_for

TEMPLATE = "Hi [CustomerName], account [AccountCode] owes R[TotalBalance]."


@pytest.fixture
async def book(client, world, quick, tmp_path: Path):
    org = await world.org("Acme")
    admin = await world.user(org.id, role="admin")
    headers = {"Authorization": f"Bearer {await world.token(client, admin.username)}"}
    uid = await import_file(client, headers, write_book(tmp_path / "book.xlsx", BOOK))
    accounts = (await client.get(f"/api/uploads/{uid}/accounts", headers=headers)).json()["accounts"]
    return org, admin, headers, uid, {a["account_code"]: a for a in accounts}


async def test_messages_of_both_faces_show_in_the_timeline_and_communications(client, world, book):
    org, admin, headers, uid, accounts = book
    r = await client.post("/api/messaging/send", headers=headers,
                          json={"account_ids": [accounts["A1"]["id"]], "message_template": TEMPLATE})
    assert r.status_code == 202
    await run_until_idle()
    c = await caller_for(admin)
    from arrears.debtors import service as debtors

    async with transaction(readonly=True) as s:
        entry = await debtors.snapshot_with_book(s, c, accounts["A1"]["id"])
    snapshot, account, customer = entry.snapshot, entry.account, entry.customer
    # The pharmacy face's e-mail to the same debtor, through the synchronous dispatch.
    [res] = await dispatch_now(c, channel="email", recipients=[Recipient(
        snapshot.id, "alpha@example.com", "Dear Alpha", subject="Overdue", customer_id=customer.id,
        debtor_account_id=account.id, account_id=snapshot.uuid)])
    assert res.status == "sent"
    async with transaction(readonly=True) as s:
        comms = await service.communications(s, c, snapshot.id)
        by_uuid = await service.communications(s, c, snapshot.uuid)
    assert [m.channel for m in comms] == ["email", "sms"] and [m.id for m in by_uuid] == [m.id for m in comms]
    r = await client.get(f"/api/customers/{customer.id}/timeline/", headers=headers)
    assert r.status_code == 200, r.text
    kinds = [e["type"] for e in r.json()]
    assert "message.sms" in kinds and "message.email" in kinds
    sms_entry = next(e for e in r.json() if e["type"] == "message.sms")
    assert sms_entry["summary"] == "SMS to 27821234567: delivered"


async def test_communications_of_another_organisation_are_not_found(client, world, book):
    org, admin, headers, uid, accounts = book
    other = await world.org("Other")
    stranger = await caller_for(await world.user(other.id, role="admin"))
    from arrears.errors import NotFound

    async with transaction(readonly=True) as s:
        with pytest.raises(NotFound):
            await service.communications(s, stranger, accounts["A1"]["id"])
