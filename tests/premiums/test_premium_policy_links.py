"""A policy's links: cancelling it cancels its pending collections (through the state machine,
with their events), and its policyholder is a customer of the same captive (foreign key, ON
DELETE SET NULL)."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import delete, select, text

from arrears.db import transaction
from arrears.errors import NotFound
from arrears.events import DomainEvent
from arrears.identity.caller import Caller
from arrears.premiums import service
from arrears.premiums.models import Collection, Policy
from arrears.premiums.schemas import PolicyUpdateIn


async def _captive(world, name="Alpha Captive"):
    org = await world.org(name, kind="cell_captive")
    async with transaction() as s:
        await service.upsert_policy(s, Caller.system(org.id), PolicyUpdateIn(
            policy_number="POL_1", client_name="Thandi Nkosi", premium_amount="250.50",
            frequency="monthly", bank_account_number="62001234567", bank_branch_code="250655"))
    return org


async def _collections(org_id):
    async with transaction() as s:
        rows = await s.scalars(select(Collection).where(Collection.org_id == org_id)
                               .order_by(Collection.collection_date))
        return {c.collection_reference: c for c in rows}


async def _events(org_id, type_):
    async with transaction() as s:
        return list((await s.scalars(select(DomainEvent).where(
            DomainEvent.org_id == org_id, DomainEvent.type == type_).order_by(DomainEvent.id))).all())


async def _cancel(org, **kw):
    async with transaction() as s:
        return await service.upsert_policy(s, Caller.system(org.id, "user:9"),
                                           PolicyUpdateIn(policy_number="POL_1", status="cancelled", **kw))


async def test_cancelling_a_policy_cancels_its_pending_collections(world):
    org = await _captive(world)
    async with transaction() as s:
        actor = Caller.system(org.id)
        policy = await service.get_policy(s, org.id, "POL_1")
        for i, status in enumerate(["pending", "pending", "submitted", "successful", "failed"], 1):
            await service.create_collection(s, actor, policy, collection_date=date(2026, i, 1),
                                            collection_reference=f"C{i}", status=status)
    before = {e.id for e in await _events(org.id, "collection.updated")}
    result = await _cancel(org)
    assert result.event_type == "policy.cancelled"
    assert sorted(c.collection_reference for c in result.cancelled_collections) == ["C1", "C2"]
    cols = await _collections(org.id)
    assert {r: c.status for r, c in cols.items()} == {
        "C1": "cancelled", "C2": "cancelled", "C3": "submitted", "C4": "successful", "C5": "failed"}
    for ref in ("C1", "C2"):
        assert cols[ref].processed_at is not None
        assert cols[ref].failure_reason == service.POLICY_CANCELLED_REASON
    new = [e for e in await _events(org.id, "collection.updated") if e.id not in before]
    assert sorted(e.data["collection"]["collection_reference"] for e in new) == ["C1", "C2"]
    assert all(e.before["status"] == "pending" and e.after["status"] == "cancelled"
               and e.actor == "user:9" for e in new)
    # Cancelled again: nothing changes, nothing more is recorded.
    again = await _cancel(org)
    assert again.event_type is None and again.cancelled_collections == []
    assert len(await _events(org.id, "collection.updated")) == len(before) + 2


async def test_other_policy_changes_leave_collections_alone(world):
    org = await _captive(world)
    async with transaction() as s:
        policy = await service.get_policy(s, org.id, "POL_1")
        await service.create_collection(s, Caller.system(org.id), policy,
                                        collection_date=date(2026, 1, 1), collection_reference="C1")
    async with transaction() as s:
        result = await service.upsert_policy(s, Caller.system(org.id), PolicyUpdateIn(
            policy_number="POL_1", status="lapsed", client_name="T. Nkosi"))
    assert result.event_type == "policy.updated" and result.cancelled_collections == []
    assert (await _collections(org.id))["C1"].status == "pending"


async def test_another_captives_collections_are_never_cancelled(world):
    org = await _captive(world)
    other = await _captive(world, "Beta Captive")  # also has a POL_1
    async with transaction() as s:
        for o in (org, other):
            policy = await service.get_policy(s, o.id, "POL_1")
            await service.create_collection(s, Caller.system(o.id), policy,
                                            collection_date=date(2026, 1, 1),
                                            collection_reference=f"C_{o.id}")
    await _cancel(org)
    assert (await _collections(org.id))[f"C_{org.id}"].status == "cancelled"
    assert (await _collections(other.id))[f"C_{other.id}"].status == "pending"


async def _customer(org_id, code="CUST1"):
    from arrears.customers.models import Customer

    async with transaction() as s:
        c = Customer(org_id=org_id, customer_code=code, name="Thandi Nkosi")
        s.add(c)
        await s.flush()
        return c.id


async def test_policyholder_link_and_deleting_the_customer(world):
    org = await _captive(world)
    other = await world.org("Beta Captive", kind="cell_captive")
    mine, theirs = await _customer(org.id), await _customer(other.id)
    async with transaction() as s:
        policy = await service.get_policy(s, org.id, "POL_1")
        with pytest.raises(NotFound):  # another captive's customer is not found
            await service.link_customer(s, Caller.system(org.id), policy, theirs)
        assert await service.link_customer(s, Caller.system(org.id), policy, mine) is True
        assert await service.link_customer(s, Caller.system(org.id), policy, mine) is False
    [ev] = [e for e in await _events(org.id, "policy.updated") if "customer_id" in (e.after or {})]
    assert ev.before == {"customer_id": None} and ev.after == {"customer_id": mine}
    assert ev.data["policy"]["customer_id"] == mine
    from arrears.customers.models import Customer

    async with transaction() as s:
        await s.execute(delete(Customer).where(Customer.id == mine))
    async with transaction() as s:
        policy = await service.get_policy(s, org.id, "POL_1")
        assert policy.customer_id is None  # the policy stays, the link goes


async def test_the_database_refuses_a_link_to_no_customer(world):
    org = await _captive(world)
    with pytest.raises(Exception) as info:
        async with transaction() as s:
            await s.execute(text("UPDATE policies SET customer_id = 987654 WHERE org_id = :o"),
                            {"o": org.id})
    assert "foreign key" in str(info.value).lower()
    async with transaction() as s:
        assert (await s.scalar(select(Policy.customer_id).where(Policy.org_id == org.id))) is None


async def test_the_policyholders_timeline_shows_the_policy_and_its_collections(world):
    from arrears.customers import service as customers
    from arrears.customers import timeline as customer_timeline
    from arrears.identity import service as identity

    org = await _captive(world)
    other = await _captive(world, "Beta Captive")
    async with transaction() as s:
        manager = await identity.create_user(s, Caller.system(org.id), username="tl-manager",
                                             password="Sup3r-secret-pw", role="manager")
        caller = await identity.caller_for_user(s, manager.id, org.id)
        thandi = await customers.create_customer(s, caller, {"name": "Thandi Nkosi"})
        actor = Caller.system(org.id)
        policy = await service.get_policy(s, org.id, "POL_1")
        assert await service.link_customer(s, actor, policy, thandi.id)
        await service.create_collection(s, actor, policy, collection_date=date(2026, 3, 1),
                                        collection_reference="C-MAR", status="pending")
        # The other captive's policy of the same number is not this customer's.
        other_policy = await service.get_policy(s, other.id, "POL_1")
        await service.create_collection(s, Caller.system(other.id), other_policy,
                                        collection_date=date(2026, 3, 1), collection_reference="C-OTHER")
    async with transaction(readonly=True) as s:
        caller = await identity.caller_for_user(s, manager.id, org.id)
        entries = await customer_timeline.timeline(s, caller, thandi.id)
    by_type = {e.type: e for e in entries}
    assert "Policy POL_1: premium R250.50 monthly (active)" == by_type["policy"].summary
    assert by_type["collection.pending"].data["collection_reference"] == "C-MAR"
    assert not any("C-OTHER" in e.summary for e in entries)
