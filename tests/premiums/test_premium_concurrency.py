"""Races on the premium face and its domain: concurrent requests (or service calls) must end as
some sequential order of them would — never a 500, never a lost or doubled change or event.

The races show on PostgreSQL (TEST_DATABASE_URL); on SQLite writers queue at BEGIN, so the same
tests check the sequential answers there."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from arrears.db import transaction, utcnow
from arrears.errors import DomainError
from arrears.events import DomainEvent
from arrears.identity.caller import Caller
from arrears.premiums import idempotency, service
from arrears.premiums.models import Collection, IdempotencyRecord, Policy
from tests.faces.premium.conftest import SPEC_POLICY, add_collection, make_captive, put_policy
from tests.fixtures import flush_webhook_log  # noqa: F401

POLICY = "/api/webhooks/policies/update"
COLL = "/api/webhooks/collections/update"
BULK = "/api/webhooks/collections/bulk-update"
N = 4


@pytest.fixture
async def captive(world):
    return await make_captive(world)




async def _count(model, *where):
    async with transaction() as s:
        return await s.scalar(select(func.count()).select_from(model).where(*where))


async def _events(etype: str) -> int:
    return await _count(DomainEvent, DomainEvent.type == etype)


async def _warm_up(client, captive) -> None:
    """One request first (another policy): the app's first request sets things up, and would
    let the racing ones in one at a time."""
    await put_policy(client, captive, policy_number="POL_WARM", mandate_reference="MAN_WARM")


def _no_500(rs):
    assert all(r.status_code < 500 for r in rs), [(r.status_code, r.text) for r in rs]


# ---------------------------------------------------------------- Idempotency-Key


async def test_one_key_concurrent_policy_creates_all_get_the_one_answer(client, captive):
    """A retry sent while the first request is still running gets the first answer (as a retry
    sent after it would), and the policy is created once."""
    await _warm_up(client, captive)
    h = {**captive.headers, "Idempotency-Key": "create-1"}
    rs = await asyncio.gather(*[client.post(POLICY, headers=h, json=SPEC_POLICY) for _ in range(N)])
    _no_500(rs)
    assert [r.status_code for r in rs] == [200] * N, [r.text for r in rs]
    assert len({r.content for r in rs}) == 1
    assert rs[0].json()["data"]["message"] == "Policy created successfully"
    assert sum("Idempotent-Replayed" not in r.headers for r in rs) == 1
    assert await _count(Policy) == 2
    assert await _events("policy.created") == 2
    assert await _events("policy.updated") == 0
    assert await _count(IdempotencyRecord) == 1


async def test_one_key_concurrent_status_updates_all_get_the_one_answer(client, captive):
    await put_policy(client, captive)
    await add_collection(captive, "POL_123456", date(2024, 1, 15), "pending", reference="COL_1")
    h = {**captive.headers, "Idempotency-Key": "status-1"}
    body = {"collection_reference": "COL_1", "status": "submitted", "bank_reference": "B1"}
    rs = await asyncio.gather(*[client.post(COLL, headers=h, json=body) for _ in range(N)])
    _no_500(rs)
    assert [r.status_code for r in rs] == [200] * N, [r.text for r in rs]
    assert len({r.content for r in rs}) == 1
    assert rs[0].json()["data"]["collection"]["status"] == "submitted"
    assert await _events("collection.updated") == 2  # the creation and the one move


async def test_one_key_concurrent_bulk_updates_all_get_the_one_answer(client, captive):
    await put_policy(client, captive)
    h = {**captive.headers, "Idempotency-Key": "bulk-1"}
    body = {"collections": [{"policy_number": "POL_123456", "collection_date": f"2024-0{m}-15",
                             "status": "successful"} for m in (1, 2, 3)]}
    rs = await asyncio.gather(*[client.post(BULK, headers=h, json=body) for _ in range(N)])
    _no_500(rs)
    assert [r.status_code for r in rs] == [200] * N, [r.text for r in rs]
    assert len({r.content for r in rs}) == 1
    assert rs[0].json()["data"]["processed"] == 3
    assert await _count(Collection) == 3
    assert await _events("collection.updated") == 3


async def test_one_key_two_requests_at_once_the_other_is_422(client, captive):
    """The same key with another body: 422 IDEMPOTENCY_KEY_REUSED, as it is one after the other."""
    await _warm_up(client, captive)
    h = {**captive.headers, "Idempotency-Key": "create-2"}
    bodies = [SPEC_POLICY, {**SPEC_POLICY, "premium_amount": 1600.00}]
    rs = await asyncio.gather(*[client.post(POLICY, headers=h, json=b) for b in bodies])
    _no_500(rs)
    assert sorted(r.status_code for r in rs) == [200, 422], [r.text for r in rs]
    loser = next(r for r in rs if r.status_code == 422)
    assert loser.json()["error"]["code"] == "IDEMPOTENCY_KEY_REUSED"
    assert await _count(Policy) == 2
    assert await _events("policy.created") == 2
    assert await _events("policy.updated") == 0


async def test_one_expired_key_reused_by_concurrent_requests(client, captive):
    """Two retries meet an expired answer at once: both forget it, one runs, neither fails."""
    await put_policy(client, captive)
    async with transaction() as s:
        past = utcnow() - timedelta(days=2)
        s.add(IdempotencyRecord(org_id=captive.org.id, key="old", endpoint=POLICY, request_hash="x" * 64,
                                response_status=200, response_body="{}", created_at=past,
                                expires_at=past + idempotency.TTL))
    h = {**captive.headers, "Idempotency-Key": "old"}
    body = {**SPEC_POLICY, "client_name": "Jane Doe"}
    rs = await asyncio.gather(*[client.post(POLICY, headers=h, json=body) for _ in range(N)])
    _no_500(rs)
    assert [r.status_code for r in rs] == [200] * N, [r.text for r in rs]
    assert len({r.content for r in rs}) == 1
    assert rs[0].json()["data"]["message"] == "Policy updated successfully"
    assert await _events("policy.updated") == 1
    assert await _count(IdempotencyRecord) == 1


# ---------------------------------------------------------------- policies


async def test_concurrent_identical_creates_of_one_policy(client, captive):
    await _warm_up(client, captive)
    rs = await asyncio.gather(*[client.post(POLICY, headers=captive.headers, json=SPEC_POLICY)
                                for _ in range(N)])
    _no_500(rs)
    assert [r.status_code for r in rs] == [200] * N, [r.text for r in rs]
    messages = sorted(r.json()["data"]["message"] for r in rs)
    assert messages.count("Policy created successfully") == 1, messages
    assert len({r.json()["data"]["policy"]["id"] for r in rs}) == 1
    assert await _count(Policy) == 2
    assert await _events("policy.created") == 2
    assert await _events("policy.updated") == 0


async def test_concurrent_cancels_of_one_policy_cancel_once(client, captive):
    await put_policy(client, captive)
    for m in (1, 2):
        await add_collection(captive, "POL_123456", date(2024, m, 15), "pending")
    rs = await asyncio.gather(*[client.post(POLICY, headers=captive.headers,
                                            json={"policy_number": "POL_123456", "status": "cancelled"})
                                for _ in range(N)])
    _no_500(rs)
    assert [r.status_code for r in rs] == [200] * N, [r.text for r in rs]
    assert await _events("policy.cancelled") == 1
    assert await _events("policy.updated") == 0
    assert await _events("collection.updated") == 2 + 2  # two creations, two cancellations
    assert await _count(Collection, Collection.status == "cancelled") == 2


# ---------------------------------------------------------------- collections


async def test_concurrent_same_status_webhooks_move_once(client, captive):
    await put_policy(client, captive)
    await add_collection(captive, "POL_123456", date(2024, 1, 15), "pending", reference="COL_1")
    await add_collection(captive, "POL_123456", date(2024, 2, 15), "submitted", reference="COL_2")
    by_ref = {"collection_reference": "COL_1", "status": "submitted"}
    by_policy = {"policy_number": "POL_123456", "collection_date": "2024-02-15", "status": "successful"}
    rs = await asyncio.gather(*[client.post(COLL, headers=captive.headers, json=b)
                                for b in [by_ref, by_policy] * N])
    _no_500(rs)
    assert [r.status_code for r in rs] == [200] * 2 * N, [r.text for r in rs]
    assert await _events("collection.updated") == 2 + 2
    async with transaction() as s:
        statuses = dict((await s.execute(select(Collection.collection_reference, Collection.status))).all())
    assert statuses == {"COL_1": "submitted", "COL_2": "successful"}


async def test_concurrent_webhooks_naming_the_policy_only(client, captive):
    """No date, no reference: each finds the policy's open collection under a lock."""
    await put_policy(client, captive)
    await add_collection(captive, "POL_123456", date(2024, 1, 15), "submitted", reference="COL_1")
    rs = await asyncio.gather(*[client.post(COLL, headers=captive.headers,
                                            json={"policy_number": "POL_123456", "status": s})
                                for s in ("successful", "failed") * 2])
    _no_500(rs)
    ok = [r for r in rs if r.status_code == 200]
    assert {r.json()["data"]["collection"]["status"] for r in ok} == {ok[0].json()["data"]["collection"]["status"]}
    assert all(r.json()["error"]["code"] in ("COLLECTION_NOT_FOUND", "INVALID_STATUS_TRANSITION")
               for r in rs if r.status_code != 200), [r.text for r in rs]
    assert await _events("collection.updated") == 2


async def test_concurrent_recordings_of_one_collection(client, captive):
    await put_policy(client, captive)
    body = {"policy_number": "POL_123456", "collection_date": "2024-01-15", "status": "successful",
            "bank_reference": "B1"}
    rs = await asyncio.gather(*[client.post(COLL, headers=captive.headers, json=body) for _ in range(N)])
    _no_500(rs)
    assert [r.status_code for r in rs] == [200] * N, [r.text for r in rs]
    messages = [r.json()["data"]["message"] for r in rs]
    assert messages.count("Collection recorded successfully") == 1, messages
    assert len({r.json()["data"]["collection"]["collection_reference"] for r in rs}) == 1
    assert await _count(Collection) == 1
    assert await _events("collection.updated") == 1


async def test_concurrent_recordings_under_two_references_of_one_date(client, captive):
    """Two references for one policy and date: the second is 404, as it is sequentially."""
    await put_policy(client, captive)
    rs = await asyncio.gather(*[client.post(COLL, headers=captive.headers, json={
        "collection_reference": ref, "policy_number": "POL_123456", "collection_date": "2024-01-15",
        "status": "submitted"}) for ref in ("COL_A", "COL_B")])
    _no_500(rs)
    assert sorted(r.status_code for r in rs) == [200, 404], [r.text for r in rs]
    assert next(r for r in rs if r.status_code == 404).json()["error"]["code"] == "COLLECTION_NOT_FOUND"
    assert await _count(Collection) == 1
    assert await _events("collection.updated") == 1


async def test_concurrent_bulk_recordings_in_opposite_orders(client, captive):
    """Two bank answers recording the same new collections in opposite orders: no deadlock (500),
    each collection recorded once."""
    for n in range(3):
        await put_policy(client, captive, policy_number=f"POL_{n}", mandate_reference=f"MAN_{n}")
    items = [{"policy_number": f"POL_{n}", "collection_date": "2024-01-15", "status": "successful"}
             for n in range(3)]
    bodies = [{"collections": items}, {"collections": items[::-1]}] * 2
    rs = await asyncio.gather(*[client.post(BULK, headers=captive.headers, json=b) for b in bodies])
    _no_500(rs)
    assert [r.status_code for r in rs] == [200] * len(bodies), [r.text for r in rs]
    assert all(r.json()["data"]["processed"] == 3 and r.json()["data"]["errors"] == [] for r in rs)
    assert await _count(Collection) == 3
    assert await _events("collection.updated") == 3


async def test_concurrent_single_and_bulk_updates_of_one_collection(client, captive):
    await put_policy(client, captive)
    await add_collection(captive, "POL_123456", date(2024, 1, 15), "submitted", reference="COL_1")
    single = client.post(COLL, headers=captive.headers,
                         json={"collection_reference": "COL_1", "status": "successful"})
    bulk = client.post(BULK, headers=captive.headers, json={"collections": [
        {"collection_reference": "COL_1", "status": "successful"},
        {"policy_number": "POL_123456", "collection_date": "2024-02-15", "status": "pending"}]})
    rs = await asyncio.gather(single, bulk)
    _no_500(rs)
    assert [r.status_code for r in rs] == [200, 200], [r.text for r in rs]
    assert rs[1].json()["data"]["processed"] == 2
    assert await _events("collection.updated") == 1 + 1 + 1  # COL_1 created and moved, one recorded


# ---------------------------------------------------------------- the service


async def test_concurrent_create_collection_of_one_policy_and_date(world, env):
    """The debit-order run's create_collection, twice at once: one collection, the other 409."""
    org = await world.org("Gamma Captive", kind="cell_captive")
    actor = Caller.system(org.id)
    async with transaction() as s:
        await service.upsert_policy(s, actor, service.PolicyUpdateIn.model_validate(SPEC_POLICY))

    async def create() -> str:
        try:
            async with transaction() as s:
                p = await service.get_policy(s, org.id, "POL_123456")
                col = await service.create_collection(s, actor, p, collection_date=date(2024, 1, 15))
                return col.collection_reference
        except DomainError as exc:
            return exc.code

    outcomes = await asyncio.gather(*[create() for _ in range(N)])
    assert outcomes.count("COLLECTION_EXISTS") == N - 1, outcomes
    assert await _count(Collection) == 1
    assert await _events("collection.updated") == 1


async def test_concurrent_service_transitions_of_one_collection(world, env):
    """reconciliation's transition_collection, racing a webhook's update of one collection."""
    org = await world.org("Delta Captive", kind="cell_captive")
    actor = Caller.system(org.id)
    async with transaction() as s:
        r = await service.upsert_policy(s, actor, service.PolicyUpdateIn.model_validate(SPEC_POLICY))
        await service.create_collection(s, actor, r.policy, collection_date=date(2024, 1, 15),
                                        status="submitted", collection_reference="COL_1")

    async def via_lock(status: str) -> str:
        try:
            async with transaction() as s:
                col, pol = await service.get_collection(s, org.id, "COL_1", for_update=True)
                await service.transition_collection(s, actor, col, status, policy=pol)
                return "ok"
        except DomainError as exc:
            return exc.code

    async def via_webhook(status: str) -> str:
        async with transaction() as s:
            [res] = await service.update_collections(
                s, actor, [service.CollectionUpdateIn(collection_reference="COL_1", status=status)])
            return "ok" if res.error is None else res.error.code

    outcomes = await asyncio.gather(via_lock("successful"), via_webhook("successful"),
                                    via_lock("successful"), via_webhook("successful"))
    assert outcomes == ["ok"] * 4, outcomes
    assert await _events("collection.updated") == 2
