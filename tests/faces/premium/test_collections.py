"""POST /api/webhooks/collections/update and /bulk-update: every spec example, the lookups
(reference, policy + date, policy alone), the whole state machine over HTTP, bulk with mixed
items, and another captive's references."""

from __future__ import annotations

import itertools
from datetime import date

import pytest
from sqlalchemy import select

from arrears.db import transaction
from arrears.events import DomainEvent
from arrears.premiums.models import Collection
from arrears.premiums.state import STATUSES
from tests.faces.premium.conftest import add_collection, make_captive, put_policy

URL = "/api/webhooks/collections/update"
BULK = "/api/webhooks/collections/bulk-update"
COLLECTION_KEYS = {"id", "collection_reference", "policy_number", "client_name", "amount", "status",
                   "collection_date", "processed_at", "investec_reference", "bank_reference",
                   "failure_reason", "transaction_date", "created_at", "updated_at"}


async def _collections(org_id):
    async with transaction() as s:
        return list((await s.scalars(select(Collection).where(Collection.org_id == org_id)
                                     .order_by(Collection.id))).all())


async def _events(org_id):
    async with transaction() as s:
        return list((await s.scalars(select(DomainEvent).where(
            DomainEvent.org_id == org_id, DomainEvent.type == "collection.updated")
            .order_by(DomainEvent.id))).all())


async def test_spec_example_by_reference(client, captive):
    await put_policy(client, captive)
    await add_collection(captive, "POL_123456", date(2024, 1, 15), "submitted", reference="COL_123456")
    r = await client.post(URL, headers=captive.headers, json={
        "collection_reference": "COL_123456", "status": "successful", "amount": 1500.00,
        "failure_reason": None, "investec_reference": "INV_789012", "bank_reference": "BANK_345678",
        "transaction_date": "2024-01-15"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"data"} and body["data"]["message"] == "Collection updated successfully"
    c = body["data"]["collection"]
    assert set(c) == COLLECTION_KEYS
    assert c["collection_reference"] == "COL_123456" and c["policy_number"] == "POL_123456"
    assert c["client_name"] == "John Doe" and c["amount"] == 1500.00 and c["status"] == "successful"
    assert c["collection_date"] == "2024-01-15" and c["processed_at"].endswith("Z")
    assert c["investec_reference"] == "INV_789012" and c["bank_reference"] == "BANK_345678"
    assert c["transaction_date"] == "2024-01-15" and c["failure_reason"] is None
    [stored] = await _collections(captive.org.id)
    assert (stored.status, stored.bank_reference, stored.investec_reference) == (
        "successful", "BANK_345678", "INV_789012")
    assert stored.transaction_date == date(2024, 1, 15) and stored.processed_at is not None
    ev = (await _events(captive.org.id))[-1]
    assert ev.data == {"collection": c, "cell_captive": {"id": str(captive.org.uuid), "name": captive.org.name},
                       "updated_by": "webhook"}
    assert ev.before["status"] == "submitted" and ev.after["status"] == "successful"
    assert ev.actor.startswith("api_key:pct_")


async def test_spec_curl_example(client, captive):
    await put_policy(client, captive)
    await add_collection(captive, "POL_123456", date(2024, 1, 15), "submitted", reference="COL_123456")
    r = await client.post(URL, headers=captive.headers, json={
        "collection_reference": "COL_123456", "status": "successful",
        "investec_reference": "INV_789012", "bank_reference": "BANK_345678"})
    assert r.status_code == 200 and r.json()["data"]["collection"]["amount"] == 1500.0


async def test_spec_alternative_records_an_unknown_collection(client, captive):
    await put_policy(client, captive)
    body = {"policy_number": "POL_123456", "status": "failed", "failure_reason": "Insufficient funds",
            "collection_date": "2024-01-15"}
    r = await client.post(URL, headers=captive.headers, json=body)
    assert r.status_code == 200, r.text
    c = r.json()["data"]["collection"]
    assert c["status"] == "failed" and c["amount"] == 1500.0  # the policy's premium
    assert c["failure_reason"] == "Insufficient funds" and c["processed_at"] is not None
    assert c["collection_reference"].startswith("COL_")
    # The same report again finds it: a harmless 200, no second collection, no new event.
    r = await client.post(URL, headers=captive.headers, json=body)
    assert r.status_code == 200 and r.json()["data"]["collection"]["id"] == c["id"]
    assert len(await _collections(captive.org.id)) == 1 and len(await _events(captive.org.id)) == 1
    # An amount sent with an unknown collection is used.
    r = await client.post(URL, headers=captive.headers, json={
        "policy_number": "POL_123456", "status": "pending", "collection_date": "2024-02-15",
        "amount": "99.95", "collection_reference": "COL_NEW"})
    assert r.status_code == 200 and r.json()["data"]["collection"]["amount"] == 99.95
    assert r.json()["data"]["collection"]["collection_reference"] == "COL_NEW"


async def test_policy_number_alone_finds_the_latest_open_collection(client, captive):
    await put_policy(client, captive)
    await add_collection(captive, "POL_123456", date(2024, 1, 15), "successful", reference="C1")
    await add_collection(captive, "POL_123456", date(2024, 2, 15), "submitted", reference="C2")
    await add_collection(captive, "POL_123456", date(2024, 3, 15), "pending", reference="C3")
    await add_collection(captive, "POL_123456", date(2024, 4, 15), "cancelled", reference="C4")
    r = await client.post(URL, headers=captive.headers, json={"policy_number": "POL_123456",
                                                              "status": "submitted"})
    assert r.status_code == 200 and r.json()["data"]["collection"]["collection_reference"] == "C3"
    r = await client.post(URL, headers=captive.headers, json={"policy_number": "POL_123456",
                                                              "status": "cancelled"})
    assert r.json()["data"]["collection"]["collection_reference"] == "C3"
    r = await client.post(URL, headers=captive.headers, json={"policy_number": "POL_123456",
                                                              "status": "failed"})
    assert r.json()["data"]["collection"]["collection_reference"] == "C2"
    r = await client.post(URL, headers=captive.headers, json={"policy_number": "POL_123456",
                                                              "status": "failed"})
    assert r.status_code == 404 and r.json()["error"]["code"] == "COLLECTION_NOT_FOUND"


@pytest.mark.parametrize(("body", "status", "code"), [
    ({"collection_reference": "COL_NOPE", "status": "successful"}, 404, "COLLECTION_NOT_FOUND"),
    ({"policy_number": "POL_NOPE", "status": "failed"}, 404, "POLICY_NOT_FOUND"),
    ({"policy_number": "POL_NOPE", "status": "failed", "collection_date": "2024-01-15"}, 404,
     "POLICY_NOT_FOUND"),
    ({"collection_reference": "COL_1", "policy_number": "POL_OTHER", "status": "failed"}, 404,
     "COLLECTION_NOT_FOUND"),
    ({"collection_reference": "COL_X", "policy_number": "POL_123456", "collection_date": "2024-01-15",
      "status": "failed"}, 404, "COLLECTION_NOT_FOUND"),
    ({"collection_reference": "COL_1", "status": "paid"}, 400, "INVALID_STATUS"),
    ({"collection_reference": "COL_1", "status": None}, 400, "INVALID_STATUS"),
    ({"collection_reference": "COL_1"}, 400, "VALIDATION_ERROR"),
    ({"status": "failed"}, 400, "VALIDATION_ERROR"),
    ({"collection_reference": "COL_1", "status": "failed", "amount": -1}, 400, "VALIDATION_ERROR"),
    ({"collection_reference": "COL_1", "status": "failed", "amount": None}, 400, "VALIDATION_ERROR"),
    ({"collection_reference": "COL_1", "status": "failed", "transaction_date": "15-01-2024"}, 400,
     "VALIDATION_ERROR"),
    ({"policy_number": "POL_123456", "status": "failed", "collection_date": "2024-02-30"}, 400,
     "VALIDATION_ERROR"),
])
async def test_errors_change_nothing(client, captive, body, status, code):
    await put_policy(client, captive)
    await add_collection(captive, "POL_123456", date(2024, 1, 15), "submitted", reference="COL_1")
    r = await client.post(URL, headers=captive.headers, json=body)
    assert r.status_code == status, r.text
    assert r.json() == {"error": {"message": r.json()["error"]["message"], "code": code}}
    [c] = await _collections(captive.org.id)
    assert c.status == "submitted" and c.processed_at is None
    assert len(await _events(captive.org.id)) == 1


@pytest.mark.parametrize(("current", "target"), list(itertools.product(STATUSES, STATUSES)))
async def test_every_transition_over_http(client, captive, current, target):
    allowed = {("pending", "submitted"), ("pending", "cancelled"), ("submitted", "successful"),
               ("submitted", "failed"), ("submitted", "cancelled")}
    await put_policy(client, captive)
    await add_collection(captive, "POL_123456", date(2024, 1, 15), current, reference="COL_1")
    before = (await _collections(captive.org.id))[0]
    r = await client.post(URL, headers=captive.headers, json={"collection_reference": "COL_1",
                                                              "status": target})
    [after] = await _collections(captive.org.id)
    n_events = len(await _events(captive.org.id))
    if current == target:
        assert r.status_code == 200 and after.status == current and n_events == 1
        assert after.updated_at == before.updated_at
    elif (current, target) in allowed:
        assert r.status_code == 200 and after.status == target and n_events == 2
        final = target in ("successful", "failed", "cancelled")
        assert (after.processed_at is not None) == final
        assert (r.json()["data"]["collection"]["processed_at"] is not None) == final
    else:
        assert r.status_code == 409, r.text
        assert r.json()["error"]["code"] == "INVALID_STATUS_TRANSITION"
        assert after.status == current and after.updated_at == before.updated_at and n_events == 1


async def test_final_collection_keeps_its_amount_but_takes_late_references(client, captive):
    await put_policy(client, captive)
    await add_collection(captive, "POL_123456", date(2024, 1, 15), "successful", reference="COL_1")
    r = await client.post(URL, headers=captive.headers, json={"collection_reference": "COL_1",
                                                              "status": "successful", "amount": 1.0})
    assert r.status_code == 409 and r.json()["error"]["code"] == "INVALID_STATUS_TRANSITION"
    r = await client.post(URL, headers=captive.headers, json={"collection_reference": "COL_1",
                                                              "status": "successful",
                                                              "bank_reference": "LATE_1"})
    assert r.status_code == 200 and r.json()["data"]["collection"]["bank_reference"] == "LATE_1"
    assert len(await _events(captive.org.id)) == 2


async def test_another_captives_data_is_not_found(client, world, captive):
    other = await make_captive(world, "Beta Captive")
    await put_policy(client, captive)
    await add_collection(captive, "POL_123456", date(2024, 1, 15), "submitted", reference="COL_A")
    for body, code in [({"collection_reference": "COL_A", "status": "successful"}, "COLLECTION_NOT_FOUND"),
                       ({"policy_number": "POL_123456", "status": "failed"}, "POLICY_NOT_FOUND"),
                       ({"policy_number": "POL_123456", "status": "failed",
                         "collection_date": "2024-01-15"}, "POLICY_NOT_FOUND")]:
        r = await client.post(URL, headers=other.headers, json=body)
        assert r.status_code == 404 and r.json()["error"]["code"] == code
    r = await client.post(BULK, headers=other.headers,
                          json={"collections": [{"collection_reference": "COL_A", "status": "failed"}]})
    assert r.json()["data"]["errors"][0]["code"] == "COLLECTION_NOT_FOUND"
    [c] = await _collections(captive.org.id)
    assert c.status == "submitted" and await _collections(other.org.id) == []


# ---------------------------------------------------------------- bulk


async def test_bulk_spec_example(client, captive):
    await put_policy(client, captive)
    await put_policy(client, captive, policy_number="POL_789012")
    await add_collection(captive, "POL_123456", date(2024, 1, 15), "submitted", reference="COL_123456")
    await add_collection(captive, "POL_789012", date(2024, 1, 15), "submitted", reference="COL_789012")
    r = await client.post(BULK, headers=captive.headers, json={"collections": [
        {"collection_reference": "COL_123456", "status": "successful", "investec_reference": "INV_789012"},
        {"policy_number": "POL_789012", "status": "failed", "failure_reason": "Account closed"}]})
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"data", "message"} and body["message"] == "Processed 2 collections, 0 errors"
    assert set(body["data"]) == {"processed", "results", "errors"}
    assert body["data"]["processed"] == 2 and body["data"]["errors"] == []
    r0, r1 = body["data"]["results"]
    assert set(r0) == {"index", "collection", "status"} and r0["index"] == 0 and r0["status"] == "updated"
    assert set(r0["collection"]) == COLLECTION_KEYS
    assert r0["collection"]["investec_reference"] == "INV_789012"
    assert r1["index"] == 1 and r1["collection"]["status"] == "failed"
    assert r1["collection"]["failure_reason"] == "Account closed"


async def test_bulk_mixed_items_each_on_its_own(client, captive):
    await put_policy(client, captive)
    await add_collection(captive, "POL_123456", date(2024, 1, 15), "submitted", reference="COL_1")
    await add_collection(captive, "POL_123456", date(2024, 2, 15), "successful", reference="COL_2")
    items = [
        {"collection_reference": "COL_1", "status": "successful"},                       # ok
        {"collection_reference": "COL_2", "status": "pending"},                          # backwards
        {"collection_reference": "COL_NOPE", "status": "failed"},                        # unknown
        {"collection_reference": "COL_1", "status": "bogus"},                            # bad status
        "not an object",
        {"policy_number": "POL_NOPE", "status": "failed"},                               # no policy
        {"policy_number": "POL_123456", "collection_date": "2024-03-15", "status": "pending"},  # recorded
        {"policy_number": "POL_123456", "status": "submitted"},                          # finds #6
        {"collection_reference": "COL_1", "status": "successful", "amount": "1.001"},    # bad amount
    ]
    r = await client.post(BULK, headers=captive.headers, json={"collections": items})
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    assert [x["index"] for x in data["results"]] == [0, 6, 7]
    assert [(e["index"], e["code"]) for e in data["errors"]] == [
        (1, "INVALID_STATUS_TRANSITION"), (2, "COLLECTION_NOT_FOUND"), (3, "INVALID_STATUS"),
        (4, "VALIDATION_ERROR"), (5, "POLICY_NOT_FOUND"), (8, "VALIDATION_ERROR")]
    assert all(set(e) == {"index", "code", "message"} and e["message"] for e in data["errors"])
    assert data["processed"] == 3
    assert r.json()["message"] == "Processed 3 collections, 6 errors"
    assert data["results"][2]["collection"]["id"] == data["results"][1]["collection"]["id"]
    by_ref = {c.collection_reference: c for c in await _collections(captive.org.id)}
    assert by_ref["COL_1"].status == "successful" and by_ref["COL_2"].status == "successful"
    assert len(by_ref) == 3
    new = next(c for ref, c in by_ref.items() if ref not in ("COL_1", "COL_2"))
    assert new.status == "submitted" and new.collection_date == date(2024, 3, 15)
    assert len(await _events(captive.org.id)) == 2 + 3


@pytest.mark.parametrize("collections", [[], [{"collection_reference": "C", "status": "failed"}] * 101,
                                         "nope", None])
async def test_bulk_size_and_shape(client, captive, collections):
    r = await client.post(BULK, headers=captive.headers, json={"collections": collections})
    assert r.status_code == 400, r.text
    assert r.json()["error"]["code"] == "VALIDATION_ERROR"


async def test_bulk_of_100_is_accepted(client, captive):
    await put_policy(client, captive)
    items = [{"policy_number": "POL_123456", "collection_date": f"2024-{1 + i // 28:02d}-{1 + i % 28:02d}",
              "status": "pending"} for i in range(100)]
    r = await client.post(BULK, headers=captive.headers, json={"collections": items})
    assert r.status_code == 200 and r.json()["data"]["processed"] == 100
    assert len(await _collections(captive.org.id)) == 100
