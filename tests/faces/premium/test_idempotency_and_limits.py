"""Idempotency-Key replays and the per-key rate limits of the premium face."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import func, select, update

from arrears import config
from arrears.db import transaction, utcnow
from arrears.events import DomainEvent
from arrears.premiums.models import Collection, IdempotencyRecord
from tests.faces.premium.conftest import SPEC_POLICY, add_collection, make_captive, put_policy

POLICY = "/api/webhooks/policies/update"
COLL = "/api/webhooks/collections/update"
BULK = "/api/webhooks/collections/bulk-update"
LOGS = "/api/webhooks/logs"


async def _count(model, org_id):
    async with transaction() as s:
        return await s.scalar(select(func.count()).select_from(model).where(model.org_id == org_id))


async def test_replay_returns_the_first_answer(client, captive):
    await put_policy(client, captive)
    body = {"policy_number": "POL_123456", "collection_date": "2024-01-15", "status": "pending"}
    h = {**captive.headers, "Idempotency-Key": "evt-0001"}
    first = await client.post(COLL, headers=h, json=body)
    assert first.status_code == 200 and "Idempotent-Replayed" not in first.headers
    # Meanwhile the collection moves on; the replay still answers what the first request did.
    await client.post(COLL, headers=captive.headers, json={**body, "status": "submitted"})
    again = await client.post(COLL, headers=h, json=dict(reversed(list(body.items()))))
    assert again.status_code == 200 and again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert await _count(Collection, captive.org.id) == 1
    async with transaction() as s:
        n = await s.scalar(select(func.count()).select_from(DomainEvent)
                           .where(DomainEvent.type == "collection.updated"))
    assert n == 2  # the replay changed nothing


async def test_same_key_other_request_is_422(client, captive):
    h = {**captive.headers, "Idempotency-Key": "k-1"}
    assert (await client.post(POLICY, headers=h, json=SPEC_POLICY)).status_code == 200
    r = await client.post(POLICY, headers=h, json={**SPEC_POLICY, "premium_amount": 1600})
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "IDEMPOTENCY_KEY_REUSED"
    r = await client.post(COLL, headers=h, json={"policy_number": "POL_123456", "status": "failed"})
    assert r.status_code == 422  # another endpoint is another request too


async def test_keys_belong_to_one_captive_and_expire(client, world, captive):
    other = await make_captive(world, "Beta Captive")
    for c in (captive, other):
        r = await client.post(POLICY, headers={**c.headers, "Idempotency-Key": "shared"}, json=SPEC_POLICY)
        assert r.json()["data"]["message"] == "Policy created successfully"
    async with transaction() as s:
        await s.execute(update(IdempotencyRecord).values(expires_at=utcnow() - timedelta(seconds=1)))
    r = await client.post(POLICY, headers={**captive.headers, "Idempotency-Key": "shared"},
                          json={**SPEC_POLICY, "premium_amount": 1700})
    assert r.status_code == 200 and r.json()["data"]["policy"]["premium_amount"] == 1700


async def test_errors_are_not_kept(client, captive):
    """An error changed nothing: a retry with the same key runs again."""
    h = {**captive.headers, "Idempotency-Key": "retry-me"}
    body = {"policy_number": "POL_123456", "collection_date": "2024-01-15", "status": "pending"}
    r = await client.post(COLL, headers=h, json=body)
    assert r.status_code == 404 and r.json()["error"]["code"] == "POLICY_NOT_FOUND"
    await put_policy(client, captive)
    r = await client.post(COLL, headers=h, json=body)
    assert r.status_code == 200


async def test_bulk_replay(client, captive):
    await put_policy(client, captive)
    await add_collection(captive, "POL_123456", date(2024, 1, 15), "submitted", reference="COL_1")
    h = {**captive.headers, "Idempotency-Key": "bulk-1"}
    body = {"collections": [{"collection_reference": "COL_1", "status": "successful"},
                            {"collection_reference": "COL_1", "status": "pending"}]}
    first = await client.post(BULK, headers=h, json=body)
    again = await client.post(BULK, headers=h, json=body)
    assert first.json() == again.json() and again.headers["Idempotent-Replayed"] == "true"
    assert first.json()["message"] == "Processed 1 collections, 1 errors"


@pytest.mark.parametrize("key", ["", " ", "x" * 256, "naïve"])
async def test_bad_keys(client, captive, key):
    r = await client.post(POLICY, headers={**captive.headers, "Idempotency-Key": key.encode("utf-8")},
                          json=SPEC_POLICY)
    assert r.status_code == 400 and r.json()["error"]["code"] == "INVALID_IDEMPOTENCY_KEY"


# ---------------------------------------------------------------- rate limits


def _limits(monkeypatch, **env: str) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    config.reset_settings()


async def test_standard_limit_per_key(client, world, captive, monkeypatch):
    _limits(monkeypatch, ARREARS_PREMIUM_RATE_LIMIT="3")
    remaining = []
    for _ in range(3):
        r = await client.post(POLICY, headers=captive.headers, json=SPEC_POLICY)
        assert r.status_code == 200
        assert r.headers["X-RateLimit-Limit"] == "3"
        assert int(r.headers["X-RateLimit-Reset"]) > utcnow().timestamp()
        remaining.append(int(r.headers["X-RateLimit-Remaining"]))
    assert remaining == [2, 1, 0]
    r = await client.get(LOGS, headers=captive.headers)  # the log counts as a standard endpoint
    assert r.status_code == 429
    assert r.json()["error"]["code"] == "RATE_LIMIT_EXCEEDED"
    assert 0 < int(r.headers["Retry-After"]) <= 3600 and r.headers["X-RateLimit-Remaining"] == "0"
    # Bulk has its own bucket; another key of the same captive has its own count.
    r = await client.post(BULK, headers=captive.headers, json={"collections": [
        {"policy_number": "POL_123456", "status": "pending", "collection_date": "2024-01-01"}]})
    assert r.status_code == 200 and r.headers["X-RateLimit-Limit"] == str(config.get_settings().premium.bulk_rate)
    _, raw = await world.api_key(captive.org.id, ["*"])
    assert (await client.post(POLICY, headers={"Authorization": f"Bearer {raw}"},
                              json=SPEC_POLICY)).status_code == 200


async def test_bulk_limit(client, captive, monkeypatch):
    _limits(monkeypatch, ARREARS_PREMIUM_BULK_RATE_LIMIT="2")
    await put_policy(client, captive)
    body = {"collections": [{"policy_number": "POL_123456", "status": "pending", "collection_date": "2024-01-01"}]}
    codes = [(await client.post(BULK, headers=captive.headers, json=body)).status_code for _ in range(3)]
    assert codes == [200, 200, 429]
    assert (await client.post(POLICY, headers=captive.headers, json=SPEC_POLICY)).status_code == 200


async def test_key_override_raises_the_standard_limit(client, world, captive, monkeypatch):
    _limits(monkeypatch, ARREARS_PREMIUM_RATE_LIMIT="1")
    _, raw = await world.api_key(captive.org.id, ["*"], rate_limit_override=5)
    h = {"Authorization": f"Bearer {raw}"}
    codes = [(await client.get(LOGS, headers=h)).status_code for _ in range(6)]
    assert codes == [200] * 5 + [429]
