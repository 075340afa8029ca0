"""Outbound webhooks end to end: domain events → delivery rows → signed POSTs to a real receiver on
127.0.0.1, verified with the `standardwebhooks` package; retries, FAILED, 410, manual retry, SSRF."""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta

import pytest
from standardwebhooks.webhooks import Webhook

from arrears.db import utcnow
from tests.partners.fixtures import advance, delivery_rows, drain, fire
from tests.partners.receiver import Reply

pytestmark = pytest.mark.usefixtures("allow_private")

DELIVERY_FIELDS = {"id", "subscriptionId", "webhookId", "eventType", "payload", "responseCode", "responseBody",
                   "attemptCount", "status", "lastError", "scheduledFor", "deliveredAt", "createdAt"}


def verify(secret: str, req) -> dict:
    """What a receiver does with any Standard Webhooks library."""
    return Webhook(secret).verify(req.body, {k: v for k, v in req.headers.items()})


async def setup_sub(partner, receiver, events=None, **retry):
    c = await partner.create_client()
    body = {"retryConfig": retry} if retry else {}
    s = await partner.subscribe(c["id"], receiver.url, events or ["policy.updated"], **body)
    return c, s


async def test_event_is_delivered_signed(client, partner, receiver):
    c, s = await setup_sub(partner, receiver, ["policy.updated", "policy.created"])
    [ev] = await fire(partner.org.id, "policy.updated", {"policy": {"id": "POL_1", "premium": "120.50"}})
    assert await drain() == 1
    assert len(receiver.requests) == 1
    req = receiver.requests[0]
    assert req.method == "POST" and req.path == "/hooks"
    assert req.headers["content-type"] == "application/json"
    payload = verify(s["secret"], req)
    assert payload == {"type": "policy.updated", "timestamp": payload["timestamp"],
                       "data": {"policy": {"id": "POL_1", "premium": "120.50"}}}
    assert payload["timestamp"].endswith("Z")
    assert req.headers["webhook-signature"].startswith("v1,")
    assert abs(int(req.headers["webhook-timestamp"]) - time.time()) < 10

    [d] = await partner.deliveries(c["id"], s["id"])
    assert set(d) == DELIVERY_FIELDS
    assert d["status"] == "DELIVERED" and d["attemptCount"] == 1 and d["responseCode"] == 200
    assert d["eventType"] == "policy.updated" and d["payload"] == payload
    assert d["subscriptionId"] == s["id"] and d["webhookId"] == req.headers["webhook-id"]
    assert d["deliveredAt"].endswith("Z") and d["scheduledFor"].endswith("Z") and d["lastError"] is None
    listed = (await client.get(f"/api/v1/api-clients/{c['id']}/webhooks", headers=partner.headers)).json()
    assert listed["data"][0]["_count"] == {"deliveries": 1}
    assert ev.type == "policy.updated"


async def test_only_matching_active_subscriptions_of_the_org_get_rows(client, partner, receiver, world):
    c, s = await setup_sub(partner, receiver, ["policy.created"])
    paused = await partner.subscribe(c["id"], receiver.url, ["policy.created"])
    await client.put(f"/api/v1/api-clients/{c['id']}/webhooks/{paused['id']}", json={"status": "PAUSED"},
                     headers=partner.headers)
    suspended = await partner.create_client(name="Suspended")
    await partner.subscribe(suspended["id"], receiver.url, ["policy.created"])
    await client.put(f"/api/v1/api-clients/{suspended['id']}", json={"status": "SUSPENDED"},
                     headers=partner.headers)
    other = await world.org("Other Org")

    await fire(partner.org.id, "policy.cancelled")  # not subscribed
    await fire(partner.org.id, "user.created")  # not a webhook event at all
    await fire(other.id, "policy.created")  # another organisation's event
    assert await delivery_rows() == []
    await fire(partner.org.id, "policy.created", count=3)
    rows = await delivery_rows()
    assert len(rows) == 3 and {r.subscription_id for r in rows} == {__import__("uuid").UUID(s["id"])}
    assert await drain() == 3
    assert len(receiver.requests) == 3
    assert len({r.headers["webhook-id"] for r in receiver.requests}) == 3


async def test_rolled_back_event_sends_nothing(partner, receiver):
    from arrears import events
    from arrears.db import transaction

    await setup_sub(partner, receiver)
    with pytest.raises(RuntimeError):
        async with transaction() as s:
            await events.record(s, org_id=partner.org.id, type="policy.updated", actor="x",
                                subject_type="policy", subject_id=1, data={"policy": {}})
            raise RuntimeError("the change failed")
    assert await delivery_rows() == []


async def test_delivered_through_the_job_queue(partner, receiver):
    from sqlalchemy import func, select

    from arrears.db import transaction
    from arrears.jobs.models import Job
    from arrears.worker import run_until_idle

    await setup_sub(partner, receiver)
    await fire(partner.org.id, count=5)
    await fire(partner.org.id, count=5)
    async with transaction(readonly=True) as s:
        # One drain job serves both transactions: the second found the first one still queued.
        assert await s.scalar(select(func.count()).select_from(Job)
                              .where(Job.kind == "partners.webhooks.drain")) == 1
    await run_until_idle()
    assert len(receiver.requests) == 10
    assert {r.status for r in await delivery_rows()} == {"DELIVERED"}


async def test_retries_with_backoff_then_delivered_with_the_same_webhook_id(partner, receiver):
    c, s = await setup_sub(partner, receiver, maxRetries=3, retryDelay=10, backoffMultiplier=3)
    receiver.reply(Reply(500), Reply(503, body=b"down"))
    await fire(partner.org.id)
    before = utcnow()
    await drain()
    [d] = await partner.deliveries(c["id"], s["id"])
    assert d["status"] == "PENDING" and d["attemptCount"] == 1 and d["responseCode"] == 500
    assert d["lastError"] == "HTTP 500"
    wait = datetime.fromisoformat(d["scheduledFor"].replace("Z", "+00:00")) - before
    assert timedelta(seconds=10) <= wait <= timedelta(seconds=13)  # retryDelay, + up to 20 % jitter
    assert await drain() == 0  # not due yet

    await advance(13)
    await drain()
    [d] = await partner.deliveries(c["id"], s["id"])
    assert d["attemptCount"] == 2 and d["responseCode"] == 503 and d["responseBody"] == "down"
    wait = datetime.fromisoformat(d["scheduledFor"].replace("Z", "+00:00")) - utcnow()
    assert timedelta(seconds=28) <= wait <= timedelta(seconds=36)  # 10 × 3¹

    await advance(36)
    await drain()
    [d] = await partner.deliveries(c["id"], s["id"])
    assert d["status"] == "DELIVERED" and d["attemptCount"] == 3 and d["responseCode"] == 200
    ids = {r.headers["webhook-id"] for r in receiver.requests}
    assert ids == {d["webhookId"]} and len(receiver.requests) == 3
    for req in receiver.requests:
        verify(s["secret"], req)  # each attempt signed afresh, same id


async def test_failed_after_the_last_retry(partner, receiver):
    c, s = await setup_sub(partner, receiver, maxRetries=1, retryDelay=1)
    receiver.default = Reply(500)
    await fire(partner.org.id)
    await drain()
    await advance(5)
    await drain()
    await advance(5)
    assert await drain() == 0
    [d] = await partner.deliveries(c["id"], s["id"])
    assert d["status"] == "FAILED" and d["attemptCount"] == 2 and d["deliveredAt"] is None
    assert len(receiver.requests) == 2
    r = await partner.http.get(f"/api/v1/api-clients/{c['id']}/webhooks/{s['id']}/deliveries",
                               params={"status": "failed"}, headers=partner.headers)
    assert len(r.json()["data"]) == 1


async def test_max_retries_zero_means_one_attempt(partner, receiver):
    c, s = await setup_sub(partner, receiver, maxRetries=0)
    receiver.default = Reply(400)
    await fire(partner.org.id)
    await drain()
    [d] = await partner.deliveries(c["id"], s["id"])
    assert d["status"] == "FAILED" and d["attemptCount"] == 1 and d["responseCode"] == 400


async def test_retry_after_is_honoured(partner, receiver):
    c, s = await setup_sub(partner, receiver, retryDelay=1)
    receiver.reply(Reply(429, headers={"Retry-After": "120"}))
    await fire(partner.org.id)
    await drain()
    [d] = await partner.deliveries(c["id"], s["id"])
    wait = datetime.fromisoformat(d["scheduledFor"].replace("Z", "+00:00")) - utcnow()
    assert timedelta(seconds=115) <= wait <= timedelta(seconds=121)
    assert d["status"] == "PENDING" and d["responseCode"] == 429


async def test_gone_pauses_the_subscription(client, partner, receiver):
    c, s = await setup_sub(partner, receiver)
    receiver.reply(Reply(410))
    await fire(partner.org.id)
    await drain()
    [d] = await partner.deliveries(c["id"], s["id"])
    assert d["status"] == "FAILED" and d["responseCode"] == 410 and d["attemptCount"] == 1
    sub = (await client.get(f"/api/v1/api-clients/{c['id']}/webhooks/{s['id']}", headers=partner.headers)).json()
    assert sub["status"] == "PAUSED" and "410 Gone" in sub["pausedReason"]
    await fire(partner.org.id)  # while paused, nothing is queued
    assert len(await delivery_rows()) == 1
    r = await client.post(f"/api/v1/api-clients/{c['id']}/webhooks/{s['id']}/deliveries/{d['id']}/retry",
                          headers=partner.headers)
    assert r.status_code == 409
    r = await client.put(f"/api/v1/api-clients/{c['id']}/webhooks/{s['id']}", json={"status": "ACTIVE"},
                         headers=partner.headers)
    assert r.json()["status"] == "ACTIVE" and r.json()["pausedReason"] is None
    await fire(partner.org.id)
    await drain()
    assert [x["status"] for x in await partner.deliveries(c["id"], s["id"])] == ["DELIVERED", "FAILED"]


async def test_manual_retry_of_a_failed_delivery(client, partner, receiver):
    c, s = await setup_sub(partner, receiver, maxRetries=0)
    receiver.reply(Reply(500))
    await fire(partner.org.id)
    await drain()
    [d] = await partner.deliveries(c["id"], s["id"])
    assert d["status"] == "FAILED"
    url = f"/api/v1/api-clients/{c['id']}/webhooks/{s['id']}/deliveries/{d['id']}/retry"
    r = await client.post(url, headers=partner.headers)
    assert r.status_code == 202, r.text
    assert r.json()["status"] == "PENDING" and set(r.json()) == DELIVERY_FIELDS
    await drain()
    [d2] = await partner.deliveries(c["id"], s["id"])
    assert d2["status"] == "DELIVERED" and d2["attemptCount"] == 2 and d2["id"] == d["id"]
    assert [r.headers["webhook-id"] for r in receiver.requests] == [d["webhookId"]] * 2
    # Replaying a delivered one sends it once more.
    assert (await client.post(url, headers=partner.headers)).status_code == 202
    await drain()
    [d3] = await partner.deliveries(c["id"], s["id"])
    assert d3["status"] == "DELIVERED" and d3["attemptCount"] == 3
    for bad in (url.replace(d["id"], "nope"), url.replace(d["id"], s["id"])):
        assert (await client.post(bad, headers=partner.headers)).status_code == 404


async def test_manual_retry_through_the_job_queue(client, partner, receiver):
    from arrears.worker import run_until_idle

    c, s = await setup_sub(partner, receiver, maxRetries=0)
    receiver.reply(Reply(500))
    await fire(partner.org.id)
    await run_until_idle()
    [d] = await partner.deliveries(c["id"], s["id"])
    r = await client.post(f"/api/v1/api-clients/{c['id']}/webhooks/{s['id']}/deliveries/{d['id']}/retry",
                          headers=partner.headers)
    assert r.status_code == 202
    await run_until_idle()
    assert (await partner.deliveries(c["id"], s["id"]))[0]["status"] == "DELIVERED"


async def test_timeouts_and_connection_errors_are_retried(partner, receiver):
    c, s = await setup_sub(partner, receiver, timeout=1, retryDelay=1)
    receiver.reply(Reply(200, delay=3))
    await fire(partner.org.id)
    started = time.monotonic()
    await drain()
    assert time.monotonic() - started < 2.5
    [d] = await partner.deliveries(c["id"], s["id"])
    assert d["status"] == "PENDING" and d["responseCode"] is None and "Timed out" in d["lastError"]

    await receiver.stop()  # nobody listens any more
    await advance(5)
    await drain()
    [d] = await partner.deliveries(c["id"], s["id"])
    assert d["attemptCount"] == 2 and d["status"] == "PENDING" and "ConnectError" in d["lastError"]


async def test_redirects_are_not_followed(partner, receiver):
    c, s = await setup_sub(partner, receiver, maxRetries=0)
    receiver.reply(Reply(302, headers={"Location": "http://169.254.169.254/latest/"}))
    await fire(partner.org.id)
    await drain()
    [d] = await partner.deliveries(c["id"], s["id"])
    assert d["status"] == "FAILED" and d["responseCode"] == 302 and "redirects are not followed" in d["lastError"]
    assert len(receiver.requests) == 1


async def test_large_response_bodies_are_cut(partner, receiver):
    c, s = await setup_sub(partner, receiver)
    receiver.reply(Reply(200, body=b"x" * 1_000_000))
    await fire(partner.org.id)
    await drain()
    [d] = await partner.deliveries(c["id"], s["id"])
    assert d["status"] == "DELIVERED" and 0 < len(d["responseBody"]) <= 2048


async def test_private_address_refused_at_delivery_time(partner, receiver, monkeypatch):
    c, s = await setup_sub(partner, receiver, retryDelay=1)
    monkeypatch.setenv("ARREARS_WEBHOOKS_ALLOW_PRIVATE", "false")  # e.g. DNS now points inside
    await fire(partner.org.id)
    await drain()
    [d] = await partner.deliveries(c["id"], s["id"])
    assert d["status"] == "PENDING" and "refused to connect" in d["lastError"]
    assert receiver.requests == []


async def test_worker_dying_mid_send_resends_with_the_same_id(partner, receiver):
    from arrears.partners import delivery

    c, s = await setup_sub(partner, receiver, maxRetries=1)
    await fire(partner.org.id)
    [claimed] = await delivery.claim(10)  # the attempt is counted and leased, then the worker dies
    assert await drain() == 0  # leased: nobody else sends it meanwhile
    await advance(delivery.LEASE.total_seconds() + 1)
    await drain()
    [d] = await partner.deliveries(c["id"], s["id"])
    assert d["status"] == "DELIVERED" and d["attemptCount"] == 2
    assert receiver.requests[0].headers["webhook-id"] == d["webhookId"] == f"msg_{claimed.id.hex}"

    # A worker lost on the last attempt leaves the delivery FAILED, with the reason.
    await fire(partner.org.id)
    await delivery.claim(10)
    await advance(delivery.LEASE.total_seconds() + 1)
    await delivery.claim(10)
    await advance(delivery.LEASE.total_seconds() + 1)
    await drain()
    d = (await partner.deliveries(c["id"], s["id"]))[0]
    assert d["status"] == "FAILED" and d["attemptCount"] == 2 and "stopped" in d["lastError"]


async def test_a_stale_result_does_not_overwrite_a_newer_attempt(partner, receiver):
    from arrears.partners import delivery

    await setup_sub(partner, receiver, maxRetries=3)
    await fire(partner.org.id)
    [first] = await delivery.claim(10)
    await advance(delivery.LEASE.total_seconds() + 1)
    [second] = await delivery.claim(10)
    await delivery.record([delivery.Outcome(second, code=200, body="ok")])
    await delivery.record([delivery.Outcome(first, code=500, error="HTTP 500")])  # arrives late
    [row] = await delivery_rows()
    assert row.status == "DELIVERED" and row.attempt_count == 2


async def test_deleting_the_subscription_drops_its_deliveries(client, partner, receiver):
    c, s = await setup_sub(partner, receiver)
    await fire(partner.org.id, count=2)
    await client.delete(f"/api/v1/api-clients/{c['id']}/webhooks/{s['id']}", headers=partner.headers)
    assert await delivery_rows() == []
    assert await drain() == 0


async def test_deliveries_pagination(client, partner, receiver):
    c, s = await setup_sub(partner, receiver)
    await fire(partner.org.id, count=60)
    base = f"/api/v1/api-clients/{c['id']}/webhooks/{s['id']}/deliveries"
    r = await client.get(base, headers=partner.headers)
    assert r.json()["pagination"] == {"page": 1, "limit": 50, "total": 60, "totalPages": 2}
    assert len(r.json()["data"]) == 50
    r = await client.get(base, params={"limit": 100, "status": "PENDING"}, headers=partner.headers)
    assert len(r.json()["data"]) == 60
    assert (await client.get(base, params={"limit": 101}, headers=partner.headers)).status_code == 400
    assert (await client.get(base, params={"status": "LOST"}, headers=partner.headers)).status_code == 400


async def test_payload_without_data_describes_the_subject(partner, receiver):
    c, s = await setup_sub(partner, receiver, ["upload.completed"])
    from arrears import events
    from arrears.db import transaction

    async with transaction() as session:
        await events.record(session, org_id=partner.org.id, type="upload.completed", actor="system",
                            subject_type="upload", subject_id="u-1", after={"rows": 10})
    await drain()
    body = json.loads(receiver.requests[0].body)
    assert body["data"] == {"subjectType": "upload", "subjectId": "u-1", "after": {"rows": 10}}
