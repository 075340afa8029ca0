"""Every premium endpoint, called by another captive with the first captive's ids (policy
numbers, collection references, dates, idempotency keys): nothing of the first captive is seen,
found or changed."""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, select

from arrears.db import transaction
from arrears.events import DomainEvent
from arrears.premiums.models import Collection, Policy
from tests.faces.premium.conftest import SPEC_POLICY, add_collection, make_captive, put_policy

POLICY = "/api/webhooks/policies/update"
COLL = "/api/webhooks/collections/update"
BULK = "/api/webhooks/collections/bulk-update"
LOGS = "/api/webhooks/logs"


async def _state(org_id):
    """Everything of a captive that an endpoint could change."""
    async with transaction() as s:
        policies = [(p.policy_number, p.status, p.client_name, str(p.premium_amount), p.updated_at)
                    for p in await s.scalars(select(Policy).where(Policy.org_id == org_id)
                                             .order_by(Policy.id))]
        cols = [(c.collection_reference, c.status, str(c.amount), c.bank_reference, c.updated_at)
                for c in await s.scalars(select(Collection).where(Collection.org_id == org_id)
                                         .order_by(Collection.id))]
        n = await s.scalar(select(func.count()).select_from(DomainEvent)
                           .where(DomainEvent.org_id == org_id))
    return policies, cols, n


async def _two_captives(client, world, captive):
    other = await make_captive(world, "Beta Captive")
    await put_policy(client, captive)
    await add_collection(captive, "POL_123456", date(2024, 1, 15), "submitted", reference="COL_A")
    await add_collection(captive, "POL_123456", date(2024, 2, 15), "pending", reference="COL_B")
    h = {**captive.headers, "Idempotency-Key": "bank-evt-1"}
    r = await client.post(COLL, headers=h, json={"collection_reference": "COL_B", "status": "submitted",
                                                  "bank_reference": "MINE"})
    assert r.status_code == 200
    return other


async def test_collection_update_with_another_captives_ids(client, world, captive):
    other = await _two_captives(client, world, captive)
    mine = await _state(captive.org.id)
    for body, code in [
        ({"collection_reference": "COL_A", "status": "successful"}, "COLLECTION_NOT_FOUND"),
        ({"collection_reference": "COL_A", "policy_number": "POL_123456", "status": "failed",
          "collection_date": "2024-01-15"}, "POLICY_NOT_FOUND"),
        ({"policy_number": "POL_123456", "status": "failed"}, "POLICY_NOT_FOUND"),
        ({"policy_number": "POL_123456", "status": "failed", "collection_date": "2024-01-15"},
         "POLICY_NOT_FOUND"),
        ({"policy_number": "POL_123456", "status": "pending", "collection_date": "2024-03-15"},
         "POLICY_NOT_FOUND"),
    ]:
        r = await client.post(COLL, headers=other.headers, json=body)
        assert (r.status_code, r.json()["error"]["code"]) == (404, code), body
    assert await _state(captive.org.id) == mine
    assert (await _state(other.org.id))[1] == []


async def test_bulk_with_another_captives_ids(client, world, captive):
    other = await _two_captives(client, world, captive)
    mine = await _state(captive.org.id)
    r = await client.post(BULK, headers=other.headers, json={"collections": [
        {"collection_reference": "COL_A", "status": "successful"},
        {"collection_reference": "COL_B", "status": "cancelled"},
        {"policy_number": "POL_123456", "status": "failed"},
        {"policy_number": "POL_123456", "status": "pending", "collection_date": "2024-03-15"}]})
    assert r.status_code == 200
    body = r.json()
    assert body["data"]["processed"] == 0 and body["data"]["results"] == []
    assert [(e["index"], e["code"]) for e in body["data"]["errors"]] == [
        (0, "COLLECTION_NOT_FOUND"), (1, "COLLECTION_NOT_FOUND"), (2, "POLICY_NOT_FOUND"),
        (3, "POLICY_NOT_FOUND")]
    assert await _state(captive.org.id) == mine


async def test_policy_update_with_another_captives_policy_number(client, world, captive):
    other = await _two_captives(client, world, captive)
    mine = await _state(captive.org.id)
    # A partial update names a policy the other captive does not have: refused, not applied.
    r = await client.post(POLICY, headers=other.headers,
                          json={"policy_number": "POL_123456", "status": "cancelled"})
    assert r.status_code == 400 and "does not exist yet" in r.json()["error"]["message"]
    # A full one creates the other captive's own policy of that number.
    r = await client.post(POLICY, headers=other.headers,
                          json={**SPEC_POLICY, "client_name": "Someone Else", "status": "cancelled"})
    assert r.status_code == 200 and r.json()["data"]["message"] == "Policy created successfully"
    assert await _state(captive.org.id) == mine  # COL_B is still submitted, COL_A too


async def test_idempotency_key_of_another_captive_is_not_replayed(client, world, captive):
    other = await _two_captives(client, world, captive)
    await put_policy(client, other)
    await add_collection(other, "POL_123456", date(2024, 2, 15), "pending", reference="COL_B")
    r = await client.post(COLL, headers={**other.headers, "Idempotency-Key": "bank-evt-1"},
                          json={"collection_reference": "COL_B", "status": "submitted",
                                "bank_reference": "MINE"})
    assert r.status_code == 200 and "Idempotent-Replayed" not in r.headers
    [c] = (await _state(other.org.id))[1]
    assert c[:2] == ("COL_B", "submitted")


async def test_logs_of_another_captive_are_not_listed(client, world, captive):
    other = await _two_captives(client, world, captive)
    r = await client.get(LOGS, headers=other.headers, params={"limit": 100})
    assert r.status_code == 200
    assert [x["endpoint"] for x in r.json()["data"]] == []  # this read is logged after it answers
    r = await client.get(LOGS, headers=captive.headers, params={"limit": 100})
    assert {x["endpoint"] for x in r.json()["data"]} == {POLICY, COLL}
