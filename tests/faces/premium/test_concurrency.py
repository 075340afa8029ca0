"""Concurrent webhooks: row locks keep the state machine honest, a race to create a policy or a
collection never ends in a 500, and one Idempotency-Key runs its request once."""

from __future__ import annotations

import asyncio
from datetime import date

from sqlalchemy import func, select

from arrears.db import transaction
from arrears.events import DomainEvent
from arrears.premiums.models import Collection, Policy
from tests.faces.premium.conftest import SPEC_POLICY, add_collection, put_policy

COLL = "/api/webhooks/collections/update"
POLICY = "/api/webhooks/policies/update"


async def _count(model, *where):
    async with transaction() as s:
        return await s.scalar(select(func.count()).select_from(model).where(*where))


async def test_two_final_statuses_at_once(client, captive):
    await put_policy(client, captive)
    await add_collection(captive, "POL_123456", date(2024, 1, 15), "submitted", reference="COL_1")
    rs = await asyncio.gather(*[
        client.post(COLL, headers=captive.headers, json={"collection_reference": "COL_1", "status": s})
        for s in ("successful", "failed", "cancelled", "successful")])
    codes = sorted(r.status_code for r in rs)
    winners = {r.json()["data"]["collection"]["status"] for r in rs if r.status_code == 200}
    assert len(winners) == 1 and 409 in codes, [r.text for r in rs]
    assert await _count(DomainEvent, DomainEvent.type == "collection.updated") == 2


async def test_racing_creations(client, captive):
    rs = await asyncio.gather(*[client.post(POLICY, headers=captive.headers,
                                            json={**SPEC_POLICY, "client_name": f"Name {i}"})
                                for i in range(4)])
    assert [r.status_code for r in rs] == [200] * 4, [r.text for r in rs]
    assert await _count(Policy) == 1
    assert await _count(DomainEvent, DomainEvent.type == "policy.created") == 1
    body = {"policy_number": "POL_123456", "collection_date": "2024-01-15", "status": "pending"}
    rs = await asyncio.gather(*[client.post(COLL, headers=captive.headers, json=body) for _ in range(4)])
    assert [r.status_code for r in rs] == [200] * 4, [r.text for r in rs]
    assert await _count(Collection) == 1


async def test_one_idempotency_key_runs_once(client, captive):
    await put_policy(client, captive)
    h = {**captive.headers, "Idempotency-Key": "same"}
    body = {"policy_number": "POL_123456", "collection_date": "2024-01-15", "status": "pending"}
    rs = await asyncio.gather(*[client.post(COLL, headers=h, json=body) for _ in range(3)])
    # The later requests wait for the first to commit, then replay its answer.
    assert [r.status_code for r in rs] == [200] * 3, [r.text for r in rs]
    assert len({r.content for r in rs}) == 1
    assert await _count(DomainEvent, DomainEvent.type == "collection.updated") == 1
