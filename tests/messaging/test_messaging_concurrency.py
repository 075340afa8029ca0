"""Messaging under concurrency: requests and workers racing each other must neither lose nor
duplicate a message, an opt-out, a receipt, an event or a template. A concurrent duplicate gets
what a sequential one gets (a replay, CAP_REACHED, the spec's 409), never a 500.

On SQLite writers queue behind one lock, so these races show on PostgreSQL (TEST_DATABASE_URL)."""
# ruff: noqa: F811  (pytest fixtures imported from tests.faces.messaging.helpers)

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select, update

from arrears.db import transaction, utcnow
from arrears.identity.caller import Caller
from arrears.messaging.models import Message, MessageReceipt, MessageTemplate, OptOut
from tests.faces.age_analysis.helpers import BOOK, import_file, write_book
from tests.faces.messaging.helpers import (  # noqa: F401
    caller_for,
    customer,
    domain_events,
    messages,
    opt_outs,
    queue,
    quick,
    sms,
)
from tests.rows import count_rows

TEMPLATE = "Hi [CustomerName], account [AccountCode] owes R[TotalBalance]. Please contact us."
BODY = "Dear [CustomerName], account [AccountCode] is overdue: R[TotalBalance]."




_count = count_rows


# ------------------------------------------------------------------ sends and the contact cap


async def test_one_selection_sent_three_times_at_once_queues_each_account_once(client, world, quick,
                                                                              tmp_path: Path):
    """Three clicks of "send" on the same accounts at once: as three clicks one after the other,
    each account gets one message (the cap of one a day); the others are CAP_REACHED."""
    org = await world.org("Acme Collections")
    headers = await world.login_headers(client, org.id, role="collection_officer")
    uid = await import_file(client, headers, write_book(tmp_path / "book.xlsx", BOOK))
    r = await client.get(f"/api/uploads/{uid}/accounts", headers=headers, params={"per_page": 100})
    ids = [a["id"] for a in r.json()["accounts"]]
    body = {"account_ids": ids, "message_template": TEMPLATE}
    rs = await asyncio.gather(*(client.post("/api/messaging/send", headers=headers, json=body)
                                for _ in range(3)))
    assert [r.status_code for r in rs] == [202, 202, 202], [r.text for r in rs]
    assert sum(r.json()["queued_count"] for r in rs) == 3  # A1, A2, A4 have mobile numbers
    assert sorted(r.json()["skipped_reasons"].get("CAP_REACHED", 0) for r in rs) == [0, 3, 3]
    rows = await messages(org_id=org.id)
    live = [m for m in rows if m.status != "failed"]
    assert len(live) == 3 and len({m.account_id for m in live}) == 3
    assert sum(1 for m in rows if m.error_code == "CAP_REACHED") == 6


async def test_concurrent_sends_to_one_customer_respect_the_daily_cap(world, quick):
    """Five requests each queueing one SMS to the same customer at the same moment: the cap of
    one per day lets exactly one through, as it would one after the other."""
    org = await world.org()
    c = await caller_for(await world.user(org.id))
    john = await customer(org, "C1", phone="0821234567")
    outs = await asyncio.gather(*(queue(org, c, [sms("0821234567", f"Reminder {i}", customer_id=john.id)])
                                  for i in range(5)))
    assert sum(o.queued for o in outs) == 1
    assert sum(o.reasons.get("CAP_REACHED", 0) for o in outs) == 4
    rows = await messages(org_id=org.id)
    assert len(rows) == 5 and [m.status for m in rows].count("pending") == 1
    # A bare number (no customer) is capped the same way.
    outs = await asyncio.gather(*(queue(org, c, [sms("0831234567", f"Hello {i}")]) for i in range(5)))
    assert sum(o.queued for o in outs) == 1


async def test_concurrent_sends_with_the_cap_overridden_all_go(world, quick):
    org = await world.org()
    c = await caller_for(await world.user(org.id, role="manager"))
    john = await customer(org, "C1", phone="0821234567")
    outs = await asyncio.gather(*(queue(org, c, [sms("0821234567", f"R {i}", customer_id=john.id)],
                                        override_cap=True) for i in range(3)))
    assert sum(o.queued for o in outs) == 3


# ------------------------------------------------------------------ opt-outs


async def test_the_same_opt_out_posted_at_once_is_one_opt_out(client, world):
    org = await world.org()
    headers = await world.login_headers(client, org.id)
    body = {"recipient": "082 123 4567", "channel": "sms", "reason": "asked on the phone"}
    rs = await asyncio.gather(*(client.post("/api/v1/opt-outs", headers=headers, json=body) for _ in range(5)))
    assert [r.status_code for r in rs] == [201] * 5, [r.text for r in rs]
    assert {r.json()["data"][0]["id"] for r in rs} == {(await opt_outs())[0].uuid.__str__()}
    assert len(await opt_outs()) == 1
    assert len(await domain_events("customer.opted_out")) == 1


async def test_stop_replies_arriving_at_once_opt_out_once(client, world):
    org = await world.org()
    john = await customer(org, phone="082 123 4567")
    url = f"/providers/smsportal/replies/{org.callback_token}"
    replies = [{"Id": 100 + i, "Msisdn": "27821234567", "IncomingData": "STOP", "Received": 1700000000 + i}
               for i in range(5)]
    rs = await asyncio.gather(*(client.post(url, json=reply) for reply in replies))
    assert [r.status_code for r in rs] == [200] * 5, [r.text for r in rs]
    outs = await opt_outs()
    assert {(o.channel, o.customer_id, o.recipient) for o in outs} == {
        ("sms", None, "27821234567"), ("sms", john.id, None)}
    assert len(outs) == 2
    assert len(await domain_events("customer.opted_out")) == 2


# ------------------------------------------------------------------ delivery reports


async def _sent_by_smsportal(world) -> tuple[Any, Message]:
    """A message the SMSPortal account accepted (status sent, its id 4711)."""
    org = await world.org()
    c = await caller_for(await world.user(org.id))
    out = await queue(org, c, [sms("0821234567")], drain=False)
    now = utcnow()
    async with transaction() as s:
        await s.execute(update(Message).where(Message.id == out.ids[0]).values(
            status="sent", provider="smsportal", external_id="4711", attempts=1, sent_at=now,
            attempt_started_at=now))
    [m] = await messages(org_id=org.id)
    return org, m


def _dlr(m: Message, status: str, received: int) -> dict[str, Any]:
    return {"Status": status, "EventId": 4711, "Msisdn": m.recipient, "Received": received,
            "UserReference": str(m.uuid)}


async def test_one_delivery_report_posted_twice_at_once_applies_once(client, world):
    org, m = await _sent_by_smsportal(world)
    url = f"/providers/smsportal/dlr/{org.callback_token}"
    rs = await asyncio.gather(*(client.post(url, json=_dlr(m, "DELIVRD", 1700000000)) for _ in range(4)))
    assert [r.status_code for r in rs] == [200] * 4, [r.text for r in rs]
    assert sum(r.json()["applied"] for r in rs) == 1
    assert sum(r.json()["duplicates"] for r in rs) == 3
    assert await _count(MessageReceipt, MessageReceipt.message_id == m.id) == 1
    [m] = await messages(org_id=org.id)
    assert m.status == "delivered"
    assert len(await domain_events("message.delivered")) == 1


async def test_different_reports_of_one_delivery_at_once_emit_one_event(client, world):
    """The network reports the same delivery several times (new timestamps each time): each is
    kept, but the message moves to delivered once and `message.delivered` is emitted once."""
    org, m = await _sent_by_smsportal(world)
    url = f"/providers/smsportal/dlr/{org.callback_token}"
    rs = await asyncio.gather(*(client.post(url, json=_dlr(m, "DELIVRD", 1700000000 + i)) for i in range(4)))
    assert [r.status_code for r in rs] == [200] * 4, [r.text for r in rs]
    assert sum(r.json()["applied"] for r in rs) == 1
    assert sum(r.json()["unchanged"] for r in rs) == 3
    assert await _count(MessageReceipt, MessageReceipt.message_id == m.id) == 4
    [m] = await messages(org_id=org.id)
    assert m.status == "delivered"
    assert len(await domain_events("message.delivered")) == 1


async def test_a_failure_and_a_delivery_report_at_once_never_both_apply(client, world):
    """DELIVRD and UNDELIV at the same time: whichever applies first stands (a failure never
    undoes a delivery, a delivery never follows a failure) and one event says which."""
    org, m = await _sent_by_smsportal(world)
    url = f"/providers/smsportal/dlr/{org.callback_token}"
    for _ in range(3):
        rs = await asyncio.gather(client.post(url, json=_dlr(m, "DELIVRD", 1700000000)),
                                  client.post(url, json=_dlr(m, "UNDELIV", 1700000001)))
        assert [r.status_code for r in rs] == [200, 200]
    [m] = await messages(org_id=org.id)
    delivered = await domain_events("message.delivered")
    failed = await domain_events("message.failed")
    assert len(delivered) + len(failed) == 1
    assert m.status == ("delivered" if delivered else "failed")


# ------------------------------------------------------------------ templates


async def test_templates_created_with_one_name_at_once_are_one_template(client, world):
    """Names are unique whatever their case: five creates of one name at once (three written
    differently) make one template; the others get the 409 a later create gets."""
    org = await world.org()
    headers = await world.login_headers(client, org.id)
    for n in range(3):  # a few rounds: the race is a matter of timing
        names = [f"Notice {n}", f"Notice {n}", f"notice {n}", f"NOTICE {n}", f"Notice  {n}"]
        rs = await asyncio.gather(*(client.post("/api/v1/templates", headers=headers,
                                                json={"name": name, "body": BODY}) for name in names))
        assert sorted(r.status_code for r in rs) == [201, 409, 409, 409, 409], [r.text for r in rs]
        for r in rs:
            if r.status_code == 409:
                assert r.json()["error"] == "TEMPLATE_NAME_TAKEN" and "already exists" in r.json()["message"]
    assert await _count(MessageTemplate, MessageTemplate.org_id == org.id) == 3
    assert len(await domain_events("message_template.created")) == 3


async def test_two_templates_renamed_to_one_name_at_once_keep_names_unique(client, world):
    org = await world.org()
    headers = await world.login_headers(client, org.id)
    for n in range(3):
        ids = []
        for name in (f"First {n}", f"Second {n}", f"Third {n}"):
            r = await client.post("/api/v1/templates", headers=headers, json={"name": name, "body": BODY})
            ids.append(r.json()["id"])
        targets = [f"Final {n}", f"final {n}", f"Final {n}"]
        rs = await asyncio.gather(*(client.put(f"/api/v1/templates/{i}", headers=headers, json={"name": name})
                                    for i, name in zip(ids, targets, strict=True)))
        assert sorted(r.status_code for r in rs) == [200, 409, 409], [r.text for r in rs]
        assert all(r.json()["error"] == "TEMPLATE_NAME_TAKEN" for r in rs if r.status_code == 409)
        async with transaction(readonly=True) as s:
            names = (await s.scalars(select(MessageTemplate.name).where(MessageTemplate.org_id == org.id))).all()
        assert [x.lower() for x in names].count(f"final {n}") == 1


# ------------------------------------------------------------------ the outbox


async def test_two_workers_claiming_at_once_take_each_message_once(world, quick):
    from arrears.messaging import outbox
    from arrears.messaging.settings import messaging_settings

    org = await world.org()
    c = await caller_for(await world.user(org.id))
    await queue(org, c, [sms(f"08212345{n:02d}") for n in range(40)], drain=False)
    settings = messaging_settings()
    lanes, _ = await outbox._lanes(settings, None)
    [lane] = lanes
    claims = await asyncio.gather(*(outbox.claim(lane, f"worker-{i}", 15, settings) for i in range(4)))
    taken = [cl.id for batch in claims for cl in batch]
    assert len(taken) == len(set(taken)) == 40
    rows = await messages(org_id=org.id)
    owners = {m.id: m.claimed_by for m in rows}
    for i, batch in enumerate(claims):
        assert all(owners[cl.id] == f"worker-{i}" for cl in batch)


async def test_two_drains_at_once_send_each_message_once(world, quick):
    from arrears.messaging import outbox

    org = await world.org()
    c = await caller_for(await world.user(org.id))
    await queue(org, c, [sms(f"08212345{n:02d}") for n in range(30)], drain=False)
    stats = await asyncio.gather(*(outbox.drain(me=f"drain-{i}") for i in range(3)))
    assert sum(st.sent for st in stats) == 30
    rows = await messages(org_id=org.id)
    assert all(m.status in ("sent", "delivered") and m.attempts == 1 for m in rows)
    assert len({m.external_id for m in rows}) == 30


async def test_drains_settling_at_once_schedule_one_drain_without_failing(world, quick):
    """Several drains finishing together each schedule the next drain for the same second: one
    job, no unique violation."""
    from arrears.jobs.models import Job
    from arrears.messaging import outbox
    from arrears.messaging.settings import messaging_settings

    org = await world.org()
    c = await caller_for(await world.user(org.id))
    out = await queue(org, c, [sms("0821234567")], drain=False)
    settings = messaging_settings()
    for n in range(3):
        async with transaction() as s:
            await s.execute(update(Message).where(Message.id == out.ids[0]).values(
                next_attempt_at=utcnow() + timedelta(minutes=5 + n)))
        results = await asyncio.gather(*(outbox.settle(settings) for _ in range(6)), return_exceptions=True)
        assert results == [True] * 6, results
        assert await _count(Job, Job.kind == outbox.DRAIN_JOB, Job.dedupe_key.is_not(None)) == n + 1


async def test_opt_out_counted_once_when_a_customer_and_number_race(world):
    """An opt-out by customer and by number of the same person at once are two rows (one per
    key), never an error."""
    from arrears.messaging import optouts

    org = await world.org()
    john = await customer(org, phone="082 123 4567")

    async def add(**kw: Any) -> Any:
        async with transaction() as s:
            return await optouts.add(s, Caller.system(org.id, "t"), channel="sms", source="api", **kw)

    await asyncio.gather(*([add(customer_id=john.id) for _ in range(3)]
                           + [add(recipient="0821234567") for _ in range(3)]))
    assert await _count(OptOut, OptOut.org_id == org.id) == 2
