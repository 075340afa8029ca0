"""The partner API under concurrency: creates racing each other, webhook deliveries claimed by
two drains, a manual retry racing a drain, and the per-key counters (usage rows, rate limits).
Nothing may be lost or duplicated, and a concurrent request gets what a sequential one gets,
never a 500.

On SQLite writers queue behind one lock, so these races show on PostgreSQL (TEST_DATABASE_URL)."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from sqlalchemy import select, update

from arrears.db import transaction, utcnow
from arrears.identity import crypto
from arrears.partners import delivery
from arrears.partners.models import PartnerRequest, WebhookDelivery, WebhookSubscription
from tests.partners.fixtures import CLIENT_BODY, delivery_rows, fire
from tests.rows import count_rows

_count = count_rows


async def _events(type_: str) -> list[Any]:
    from arrears.events import DomainEvent

    async with transaction(readonly=True) as s:
        return list((await s.scalars(select(DomainEvent).where(DomainEvent.type == type_)
                                     .order_by(DomainEvent.id))).all())


# ------------------------------------------------------------------ creates


async def test_clients_created_at_once_are_each_created_once(client, partner):
    """The spec has no unique field on a client (two may share a name): five creates at once are
    five clients, each with its own event, none an error."""
    rs = await asyncio.gather(*(client.post("/api/v1/api-clients", json=CLIENT_BODY, headers=partner.headers)
                                for _ in range(5)))
    assert [r.status_code for r in rs] == [201] * 5, [r.text for r in rs]
    assert len({r.json()["id"] for r in rs}) == 5
    r = await client.get("/api/v1/api-clients", headers=partner.headers)
    assert r.json()["pagination"]["total"] == 5
    assert len(await _events("api_client.created")) == 5


async def test_keys_created_at_once_are_distinct(client, partner):
    c = await partner.create_client()
    rs = await asyncio.gather(*(client.post("/api/v1/api-keys", json={"clientId": c["id"], "name": "Key"},
                                            headers=partner.headers) for _ in range(5)))
    assert [r.status_code for r in rs] == [201] * 5, [r.text for r in rs]
    assert len({r.json()["keyId"] for r in rs}) == 5 and len({r.json()["key"] for r in rs}) == 5
    for r in rs:  # every key shown works
        assert (await client.get("/api/v1/rate-limits",
                                 headers=partner.key_headers(r.json()["key"]))).status_code == 200


async def test_webhook_subscriptions_created_at_once_each_get_every_event_once(client, partner, receiver,
                                                                              allow_private):
    c = await partner.create_client()
    url = f"/api/v1/api-clients/{c['id']}/webhooks"
    rs = await asyncio.gather(*(client.post(url, json={"url": receiver.url, "events": ["policy.updated"]},
                                            headers=partner.headers) for _ in range(4)))
    assert [r.status_code for r in rs] == [201] * 4, [r.text for r in rs]
    assert await _count(WebhookSubscription) == 4
    assert len(await _events("webhook_subscription.created")) == 4
    await fire(partner.org.id, count=3)
    rows = await delivery_rows()
    assert len(rows) == 12 and len({(d.subscription_id, d.event_id) for d in rows}) == 12
    await delivery.drain()
    assert len(receiver.requests) == 12
    assert {d.status for d in await delivery_rows()} == {"DELIVERED"}


# ------------------------------------------------------------------ deliveries


async def _subscribed(partner: Any, receiver: Any, events: int) -> tuple[dict[str, Any], dict[str, Any]]:
    c = await partner.create_client()
    sub = await partner.subscribe(c["id"], receiver.url)
    await fire(partner.org.id, count=events)
    return c, sub


async def test_two_claims_at_once_take_each_delivery_once(partner, receiver, allow_private):
    await _subscribed(partner, receiver, 30)
    claims = await asyncio.gather(*(delivery.claim(12) for _ in range(4)))
    taken = [c.id for batch in claims for c in batch]
    assert len(taken) == len(set(taken)) == 30
    rows = await delivery_rows()
    assert all(d.attempt_count == 1 and d.lease_until is not None for d in rows)


async def test_two_drains_at_once_deliver_each_event_once(partner, receiver, allow_private):
    await _subscribed(partner, receiver, 25)
    attempts = await asyncio.gather(*(delivery.drain() for _ in range(3)))
    assert sum(attempts) == 25
    ids = [r.headers["webhook-id"] for r in receiver.requests]
    assert len(ids) == len(set(ids)) == 25
    rows = await delivery_rows()
    assert all(d.status == "DELIVERED" and d.attempt_count == 1 for d in rows)


async def test_a_retry_racing_a_drain_never_sends_one_delivery_twice_at_once(client, partner, receiver,
                                                                            allow_private):
    """A worker died while sending a delivery (its lease ran out). The admin asks for it to go
    now while a drain claims it: either the drain has it (the retry waits, then schedules it) or
    the retry does, but never are two attempts of one delivery in flight together."""
    from arrears.partners import service, webhooks

    c, sub = await _subscribed(partner, receiver, 1)
    [d] = await delivery_rows()
    now = utcnow()
    async with transaction() as s:
        await s.execute(update(WebhookDelivery).where(WebhookDelivery.id == d.id).values(
            attempt_count=1, lease_until=now - timedelta(minutes=1), scheduled_for=now - timedelta(minutes=5)))
    token = partner.headers["Authorization"].split(" ", 1)[1]
    claimed_meanwhile: list[Any] = []

    async with transaction() as s:
        pc = await service.authenticate(s, token)
        real_get = s.get

        async def get(cls: Any, ident: Any, **kw: Any) -> Any:
            row = await real_get(cls, ident, **kw)
            if cls is WebhookDelivery:
                # A drain claims while the retry's transaction is open (SQLite: it waits for it).
                task = asyncio.create_task(delivery.claim(10))
                done, _ = await asyncio.wait({task}, timeout=1.0)
                claimed_meanwhile.append(task)
            return row

        s.get = get  # type: ignore[method-assign]
        await webhooks.retry_delivery(s, pc, c["id"], sub["id"], str(d.id))
    first = await claimed_meanwhile[0]
    second = await delivery.claim(10)
    assert len(first) + len(second) == 1, (first, second)
    [d] = await delivery_rows()
    assert d.attempt_count == 2


async def test_retries_of_one_failed_delivery_at_once_add_one_attempt(client, partner, receiver,
                                                                     allow_private):
    from tests.partners.receiver import Reply

    c = await partner.create_client()
    sub = await partner.subscribe(c["id"], receiver.url, retryConfig={"maxRetries": 0})
    receiver.reply(Reply(status=500))
    await fire(partner.org.id)
    await delivery.drain()
    [d] = await delivery_rows()
    assert d.status == "FAILED" and d.attempt_count == 1
    url = f"/api/v1/api-clients/{c['id']}/webhooks/{sub['id']}/deliveries/{d.id}/retry"
    rs = await asyncio.gather(*(client.post(url, headers=partner.headers) for _ in range(3)))
    assert [r.status_code for r in rs] == [202] * 3, [r.text for r in rs]
    await delivery.drain()
    [d] = await delivery_rows()
    assert d.status == "DELIVERED" and d.attempt_count == 2
    assert len(receiver.requests) == 2


# ------------------------------------------------------------------ counters of a key


async def test_requests_of_one_key_at_once_are_each_counted(client, partner):
    """Usage rows and the rate-limit windows are counted per request, not read-modify-write: ten
    requests at once with a key allowed five a minute are five answers and five 429s, and ten
    usage rows."""
    c = await partner.create_client(scopes=["*"])
    key = await partner.create_key(c["id"], rateLimitOverride=5)
    h = partner.key_headers(key["key"])
    async with transaction() as s:  # used a moment ago (see the next test for a key's first use)
        from arrears.identity.models import ApiKey

        await s.execute(update(ApiKey).where(ApiKey.key_id == key["keyId"]).values(last_used_at=utcnow()))
    rs = await asyncio.gather(*(client.get(f"/api/v1/api-clients/{c['id']}", headers=h) for _ in range(10)))
    codes = sorted(r.status_code for r in rs)
    assert codes == [200] * 5 + [429] * 5, [r.text for r in rs]
    assert all(r.json()["error"] == "RATE_LIMIT_EXCEEDED" for r in rs if r.status_code == 429)
    assert await _count(PartnerRequest, PartnerRequest.api_key_id == key["id"]) == 10
    r = await client.get(f"/api/v1/api-clients/{c['id']}/usage", headers=partner.headers)
    assert r.status_code == 200, r.text
    usage = r.json()
    assert (usage["totalRequests"], usage["successfulRequests"], usage["failedRequests"]) == (10, 5, 5)
    assert usage["topErrorCodes"] == [{"statusCode": 429, "count": 5}]


async def test_first_requests_of_a_new_key_at_once_are_never_500(client, partner):
    c = await partner.create_client(scopes=["*"])
    key = await partner.create_key(c["id"])
    h = partner.key_headers(key["key"])
    rs = await asyncio.gather(*(client.get(f"/api/v1/api-clients/{c['id']}", headers=h) for _ in range(8)))
    assert [r.status_code for r in rs] == [200] * 8, [r.text for r in rs]
    # The use is still stamped: by whichever request found the database's write lock free.
    from arrears.identity.models import ApiKey

    async with transaction(readonly=True) as s:
        stamped = await s.scalar(select(ApiKey.last_used_at).where(ApiKey.key_hash == crypto.hash_key(key["key"])))
    assert stamped is not None
