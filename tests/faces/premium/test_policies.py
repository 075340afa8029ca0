"""POST /api/webhooks/policies/update: create or update by policy_number, only the fields sent
change, every value validated, exactly one audit event per change (the most specific)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from arrears.db import transaction
from arrears.events import DomainEvent
from arrears.identity.sealed import reveal
from arrears.premiums.models import Policy
from tests.faces.premium.conftest import SPEC_POLICY, make_captive, put_policy

URL = "/api/webhooks/policies/update"


async def _events(org_id):
    async with transaction() as s:
        return list((await s.scalars(select(DomainEvent).where(
            DomainEvent.org_id == org_id, DomainEvent.type.like("policy.%")).order_by(DomainEvent.id))).all())


async def _policy(org_id, number="POL_123456"):
    async with transaction() as s:
        return await s.scalar(select(Policy).where(Policy.org_id == org_id, Policy.policy_number == number))


async def test_spec_example_creates_the_policy(client, captive):
    r = await client.post(URL, json=SPEC_POLICY, headers=captive.headers)
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"data"} and set(body["data"]) == {"policy", "message"}
    assert body["data"]["message"] == "Policy created successfully"
    p = body["data"]["policy"]
    assert p["policy_number"] == "POL_123456" and p["client_name"] == "John Doe"
    assert p["client_email"] == "john.doe@example.com" and p["client_phone"] == "+27123456789"
    assert p["premium_amount"] == 1500.00 and isinstance(p["premium_amount"], float)
    assert p["frequency"] == "monthly" and p["status"] == "active"
    assert p["mandate_reference"] == "MAN_789012"
    assert p["bank_account_number"] == "******7890"  # never echoed in full
    assert p["bank_branch_code"] == "123456" and p["bank_account_type"] == "current"
    assert p["next_collection_date"] == "2024-02-01" and p["collection_day"] == 1
    assert p["customer_id"] is None
    assert p["created_at"].endswith("Z") and len(p["id"]) == 36
    stored = await _policy(captive.org.id)
    assert reveal(stored.bank_account_number) == "1234567890" and str(stored.premium_amount) == "1500.00"
    [ev] = await _events(captive.org.id)
    assert ev.type == "policy.created" and ev.actor.startswith("api_key:pct_")
    assert ev.data["policy"] == p and ev.data["updated_by"] == "webhook"
    assert ev.data["cell_captive"] == {"id": str(captive.org.uuid), "name": captive.org.name}


async def test_spec_curl_example_minimal_policy(client, captive):
    r = await client.post(URL, headers=captive.headers, json={
        "policy_number": "POL_123456", "client_name": "John Doe", "client_email": "john.doe@example.com",
        "premium_amount": 1500.00, "frequency": "monthly", "status": "active"})
    assert r.status_code == 200, r.text
    p = r.json()["data"]["policy"]
    assert p["bank_account_number"] is None and p["next_collection_date"] is None
    assert p["collection_day"] is None and p["bank_account_type"] == "current"


async def test_only_the_fields_sent_change(client, captive):
    await put_policy(client, captive)
    r = await client.post(URL, headers=captive.headers,
                          json={"policy_number": "POL_123456", "premium_amount": "1600.50"})
    assert r.status_code == 200
    assert r.json()["data"]["message"] == "Policy updated successfully"
    p = r.json()["data"]["policy"]
    assert p["premium_amount"] == 1600.5 and p["client_name"] == "John Doe"
    assert p["client_email"] == "john.doe@example.com" and p["next_collection_date"] == "2024-02-01"
    evs = await _events(captive.org.id)
    assert [e.type for e in evs] == ["policy.created", "policy.updated"]
    assert evs[1].before == {"premium_amount": 1500.0} and evs[1].after == {"premium_amount": 1600.5}
    # null clears an optional field
    r = await client.post(URL, headers=captive.headers, json={"policy_number": "POL_123456",
                                                              "client_email": None})
    assert r.json()["data"]["policy"]["client_email"] is None


async def test_extra_debit_order_fields(client, captive):
    p = await put_policy(client, captive, bank_account_type="savings", collection_day=31,
                         next_collection_date="2026-01-31", bank_account_holder="J Doe",
                         client_id_number="8001015009087", bank_account_number="62001234567")
    assert p["bank_account_type"] == "savings" and p["collection_day"] == 31
    assert p["bank_account_holder"] == "J Doe" and p["client_id_number"] == "*********9087"
    stored = await _policy(captive.org.id)
    assert reveal(stored.client_id_number) == "8001015009087"
    assert reveal(stored.bank_account_number) == "62001234567"
    p = await put_policy(client, captive, bank_account_type="Cheque")  # the name SA banks print
    assert p["bank_account_type"] == "current"


async def test_exactly_one_event_per_change_the_most_specific(client, captive):
    await put_policy(client, captive)
    steps = [({"status": "lapsed"}, "policy.updated"),
             ({"status": "active"}, "policy.activated"),
             ({"status": "active", "client_name": "John Q Doe"}, "policy.updated"),
             ({"status": "cancelled", "premium_amount": 10}, "policy.cancelled"),
             ({"status": "active", "client_name": "John Doe"}, "policy.activated")]
    for fields, expected in steps:
        r = await client.post(URL, headers=captive.headers, json={"policy_number": "POL_123456", **fields})
        assert r.status_code == 200, r.text
        assert (await _events(captive.org.id))[-1].type == expected
    assert len(await _events(captive.org.id)) == 1 + len(steps)
    # The same values again: nothing changes, nothing is recorded.
    r = await client.post(URL, headers=captive.headers, json={"policy_number": "POL_123456",
                                                              "status": "active", "premium_amount": 10.0})
    assert r.status_code == 200 and r.json()["data"]["message"].startswith("Policy unchanged")
    assert len(await _events(captive.org.id)) == 1 + len(steps)


BAD = [
    ({"frequency": "weekly"}, "frequency", "VALIDATION_ERROR"),
    ({"status": "pending"}, "status", "INVALID_STATUS"),
    ({"premium_amount": 0}, "premium_amount", "VALIDATION_ERROR"),
    ({"premium_amount": -5}, "premium_amount", "VALIDATION_ERROR"),
    ({"premium_amount": 10.001}, "premium_amount", "VALIDATION_ERROR"),
    ({"premium_amount": "ten"}, "premium_amount", "VALIDATION_ERROR"),
    ({"premium_amount": True}, "premium_amount", "VALIDATION_ERROR"),
    ({"premium_amount": 1e13}, "premium_amount", "VALIDATION_ERROR"),
    ({"next_collection_date": "2024-13-01"}, "next_collection_date", "VALIDATION_ERROR"),
    ({"next_collection_date": "01/02/2024"}, "next_collection_date", "VALIDATION_ERROR"),
    ({"next_collection_date": 20240201}, "next_collection_date", "VALIDATION_ERROR"),
    ({"bank_branch_code": "12345"}, "bank_branch_code", "VALIDATION_ERROR"),
    ({"bank_branch_code": "12345a"}, "bank_branch_code", "VALIDATION_ERROR"),
    ({"bank_account_number": "12AB5678"}, "bank_account_number", "VALIDATION_ERROR"),
    ({"bank_account_type": "credit"}, "bank_account_type", "VALIDATION_ERROR"),
    ({"client_email": "not-an-email"}, "client_email", "VALIDATION_ERROR"),
    ({"client_phone": "12345"}, "client_phone", "VALIDATION_ERROR"),
    ({"client_id_number": "8001015009088"}, "client_id_number", "VALIDATION_ERROR"),
    ({"collection_day": 32}, "collection_day", "VALIDATION_ERROR"),
    ({"client_name": "   "}, "client_name", "VALIDATION_ERROR"),
    ({"policy_number": ""}, "policy_number", "VALIDATION_ERROR"),
    ({"policy_number": "POL 1"}, "policy_number", "VALIDATION_ERROR"),
]


@pytest.mark.parametrize(("fields", "field", "code"), BAD, ids=[f"{b[1]}={list(b[0].values())[0]!r}" for b in BAD])
async def test_validation(client, captive, fields, field, code):
    r = await client.post(URL, headers=captive.headers, json={**SPEC_POLICY, **fields})
    assert r.status_code == 400, r.text
    assert set(r.json()) == {"error"} and r.json()["error"]["code"] == code
    assert field in r.json()["error"]["message"]
    assert await _policy(captive.org.id) is None and await _events(captive.org.id) == []


async def test_a_new_policy_needs_its_core_fields(client, captive):
    r = await client.post(URL, headers=captive.headers, json={"policy_number": "POL_9", "client_name": "X"})
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "VALIDATION_ERROR"
    assert "premium_amount" in r.json()["error"]["message"] and "frequency" in r.json()["error"]["message"]
    r = await client.post(URL, headers=captive.headers, json={"client_name": "X"})
    assert r.status_code == 400 and "policy_number" in r.json()["error"]["message"]
    await put_policy(client, captive)
    r = await client.post(URL, headers=captive.headers, json={"policy_number": "POL_123456",
                                                              "client_name": None})
    assert r.status_code == 400 and "client_name" in r.json()["error"]["message"]
    r = await client.post(URL, headers=captive.headers, content=b"{not json",
                          )
    assert r.status_code == 400 and r.json()["error"]["code"] == "VALIDATION_ERROR"


async def test_same_policy_number_in_two_captives(client, world, captive):
    other = await make_captive(world, "Beta Captive")
    a = await put_policy(client, captive)
    b = await put_policy(client, other, client_name="Someone Else")
    assert a["id"] != b["id"] and b["client_name"] == "Someone Else"
    assert (await _policy(captive.org.id)).client_name == "John Doe"
    assert [e.type for e in await _events(other.org.id)] == ["policy.created"]


async def test_cancelling_cancels_the_pending_collections(client, captive):
    from datetime import date

    from arrears.premiums.models import Collection
    from tests.faces.premium.conftest import add_collection

    await put_policy(client, captive)
    await add_collection(captive, "POL_123456", date(2024, 1, 15), "pending", reference="COL_P")
    await add_collection(captive, "POL_123456", date(2024, 2, 15), "submitted", reference="COL_S")
    r = await client.post(URL, headers=captive.headers,
                          json={"policy_number": "POL_123456", "status": "cancelled"})
    assert r.status_code == 200
    assert r.json()["data"]["message"] == "Policy updated successfully; 1 pending collection cancelled"
    assert r.json()["data"]["policy"]["status"] == "cancelled"
    async with transaction() as s:
        cols = {c.collection_reference: c.status for c in await s.scalars(
            select(Collection).where(Collection.org_id == captive.org.id))}
    assert cols == {"COL_P": "cancelled", "COL_S": "submitted"}
    # The collection webhook sees the cancelled collection as final.
    r = await client.post("/api/webhooks/collections/update", headers=captive.headers,
                          json={"collection_reference": "COL_P", "status": "submitted"})
    assert r.status_code == 409 and r.json()["error"]["code"] == "INVALID_STATUS_TRANSITION"
