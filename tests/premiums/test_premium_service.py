"""The premium service API a debit-order run uses: create collections, move them through the
state machine (one or many), with one audit event per change and nothing changed on refusal."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import event, select

from arrears import events
from arrears.db import get_engine, transaction
from arrears.errors import DomainError
from arrears.events import DomainEvent
from arrears.identity.caller import Caller
from arrears.premiums import service
from arrears.premiums.models import Collection
from arrears.premiums.schemas import PolicyUpdateIn, parse_collection_update
from arrears.premiums.state import InvalidTransition


async def _setup(world, name="Alpha Captive", numbers=("POL_1",), status="active"):
    org = await world.org(name, kind="cell_captive")
    async with transaction() as s:
        for number in numbers:
            result = await service.upsert_policy(s, Caller.system(org.id), PolicyUpdateIn(
                policy_number=number, client_name="Thandi Nkosi", premium_amount="250.50",
                frequency="monthly", status=status, bank_account_number="62001234567",
                bank_branch_code="250655", next_collection_date="2026-12-01"))
            assert result.created
    return org


async def _events(org_id, type_=None):
    async with transaction() as s:
        q = select(DomainEvent).where(DomainEvent.org_id == org_id).order_by(DomainEvent.id)
        if type_:
            q = q.where(DomainEvent.type == type_)
        return list((await s.scalars(q)).all())


async def _new(org, on=date(2026, 12, 1), number="POL_1", **kw):
    async with transaction() as s:
        policy = await service.get_policy(s, org.id, number)
        return await service.create_collection(s, Caller.system(org.id), policy,
                                               collection_date=on, **kw)


async def test_create_collection_defaults_and_event(world):
    org = await _setup(world)
    async with transaction() as s:
        policy = await service.get_policy(s, org.id, "POL_1")
        col = await service.create_collection(s, Caller.system(org.id, "debit_order_run:1"),
                                              policy, collection_date=date(2026, 12, 1))
    assert col.status == "pending" and col.amount == Decimal("250.50")
    assert col.collection_reference.startswith("COL_") and col.processed_at is None
    [ev] = await _events(org.id, "collection.updated")
    assert ev.actor == "debit_order_run:1" and ev.before is None
    assert ev.subject_type == "collection" and ev.subject_id == str(col.uuid)
    assert ev.data["updated_by"] == "system"
    assert ev.data["collection"]["collection_reference"] == col.collection_reference
    assert ev.data["collection"]["amount"] == 250.5
    assert ev.data["cell_captive"] == {"id": str(org.uuid), "name": "Alpha Captive"}


async def test_create_collection_rules(world):
    org = await _setup(world, numbers=("POL_1", "POL_2"))
    await _new(org, amount=Decimal("99.99"), collection_reference="COL_A")
    with pytest.raises(DomainError) as info:  # one collection per policy and date
        await _new(org)
    assert info.value.code == "COLLECTION_EXISTS" and info.value.status == 409
    with pytest.raises(DomainError):  # references are unique per captive
        await _new(org, on=date(2027, 1, 1), number="POL_2", collection_reference="COL_A")
    done = await _new(org, on=date(2027, 2, 1), status="failed")
    assert done.processed_at is not None
    async with transaction() as s:
        policy = await service.get_policy(s, org.id, "POL_2")
        policy.status = "lapsed"
    with pytest.raises(DomainError) as info:
        await _new(org, on=date(2027, 3, 1), number="POL_2")
    assert info.value.code == "POLICY_NOT_ACTIVE"
    # Another captive's policy is not found through this captive's actor.
    other = await world.org("Beta Captive", kind="cell_captive")
    async with transaction() as s:
        policy = await service.get_policy(s, org.id, "POL_1")
        with pytest.raises(service.PolicyNotFound):
            await service.create_collection(s, Caller.system(other.id), policy,
                                            collection_date=date(2027, 4, 1))
        with pytest.raises(service.PolicyNotFound):
            await service.get_policy(s, other.id, "POL_1")


async def test_transition_one(world):
    org = await _setup(world)
    col = await _new(org, collection_reference="COL_1")
    actor = Caller.system(org.id, "debit_order_run:7")
    async with transaction() as s:
        c, p = await service.get_collection(s, org.id, "COL_1", for_update=True)
        assert await service.transition_collection(s, actor, c, "submitted", policy=p) is True
        assert await service.transition_collection(s, actor, c, "submitted") is False  # repeat
        assert await service.transition_collection(s, actor, c, "failed",
                                                   failure_reason="Insufficient funds") is True
    async with transaction() as s:
        c, _ = await service.get_collection(s, org.id, "COL_1")
        assert c.status == "failed" and c.failure_reason == "Insufficient funds"
        assert c.processed_at is not None
        with pytest.raises(InvalidTransition):
            await service.transition_collection(s, actor, c, "successful")
        assert c.status == "failed"  # refused before anything changed
    evs = await _events(org.id, "collection.updated")
    assert [e.data["collection"]["status"] for e in evs] == ["pending", "submitted", "failed"]
    assert evs[2].before == {"status": "submitted", "failure_reason": None, "processed_at": None}
    assert all(e.actor == "debit_order_run:7" for e in evs[1:])
    assert col.id == c.id


async def test_transition_many_is_all_or_nothing(world):
    org = await _setup(world, numbers=("POL_1", "POL_2", "POL_3"))
    for n in ("POL_1", "POL_2", "POL_3"):
        await _new(org, number=n, collection_reference=f"C_{n}")
    actor = Caller.system(org.id)
    async with transaction() as s:
        cols = list((await s.scalars(select(Collection).order_by(Collection.id))).all())
        changed = await service.transition_collections(s, actor, cols, "submitted",
                                                       bank_reference="FILE_1")
        assert len(changed) == 3
    async with transaction() as s:
        cols = list((await s.scalars(select(Collection).order_by(Collection.id))).all())
        await service.transition_collection(s, actor, cols[0], "successful")
    async with transaction() as s:
        cols = list((await s.scalars(select(Collection).order_by(Collection.id))).all())
        with pytest.raises(InvalidTransition):  # cols[0] is final: nothing moves
            await service.transition_collections(s, actor, cols, "cancelled")
    async with transaction() as s:
        statuses = [c.status for c in (await s.scalars(select(Collection).order_by(Collection.id))).all()]
    assert statuses == ["successful", "submitted", "submitted"]
    assert len(await _events(org.id, "collection.updated")) == 3 + 3 + 1


async def test_a_failed_item_keeps_the_events_of_the_others(world):
    """A savepoint rollback must not drop the pending events of the items before it."""
    org = await _setup(world)
    await _new(org, collection_reference="COL_1")
    seen = []
    events.on_commit(seen.append)
    try:
        async with transaction() as s:
            items = [parse_collection_update({"collection_reference": "COL_1", "status": "submitted"}),
                     parse_collection_update({"collection_reference": "COL_1", "status": "pending"}),
                     parse_collection_update({"collection_reference": "NOPE", "status": "failed"}),
                     parse_collection_update({"collection_reference": "COL_1", "status": "successful"})]
            results = await service.update_collections(s, Caller.system(org.id), items)
    finally:
        events._publishers.remove(seen.append)
    assert [r.error.code if r.error else "ok" for r in results] == [
        "ok", "INVALID_STATUS_TRANSITION", "COLLECTION_NOT_FOUND", "ok"]
    assert [e.data["collection"]["status"] for e in seen if e.type == "collection.updated"] == [
        "submitted", "successful"]


async def test_bulk_loads_in_two_queries(world):
    numbers = tuple(f"POL_{i}" for i in range(30))
    org = await _setup(world, numbers=numbers)
    for i, n in enumerate(numbers[:20]):
        await _new(org, number=n, collection_reference=f"COL_{i}")
    items = ([parse_collection_update({"collection_reference": f"COL_{i}", "status": "submitted"})
              for i in range(20)]
             + [parse_collection_update({"policy_number": n, "collection_date": "2026-12-01",
                                         "status": "submitted"}) for n in numbers[20:]]
             + [parse_collection_update({"policy_number": "POL_0", "status": "successful"})])
    selects = []

    def count(conn, cursor, statement, params, context, executemany):
        if statement.lstrip().upper().startswith("SELECT") and (
                "collections" in statement or "policies" in statement):
            selects.append(statement)

    engine = get_engine().sync_engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        async with transaction() as s:
            results = await service.update_collections(s, Caller.system(org.id), items)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert all(r.error is None for r in results), [r.error for r in results if r.error]
    assert results[-1].collection.status == "successful"
    assert len(selects) <= 2, selects


async def test_bulk_of_100_writes_in_batches_without_savepoints(world):
    """100 moves: two loading queries, one UPDATE (executemany), no savepoint per item, and
    still one event per item, in the items' order."""
    numbers = tuple(f"POL_{i}" for i in range(100))
    org = await _setup(world, numbers=numbers)
    async with transaction() as s:
        actor = Caller.system(org.id)
        for i, n in enumerate(numbers):
            policy = await service.get_policy(s, org.id, n)
            await service.create_collection(s, actor, policy, collection_date=date(2026, 12, 1),
                                            collection_reference=f"COL_{i}")
    items = [parse_collection_update({"collection_reference": f"COL_{i}", "status": "submitted",
                                      "bank_reference": f"B{i}"}) for i in range(100)]
    items[50] = parse_collection_update({"collection_reference": "COL_50", "status": "successful"})
    statements: list[tuple[str, bool]] = []

    def seen(conn, cursor, statement, params, context, executemany):
        statements.append((" ".join(statement.split()[:2]).upper(), executemany))

    engine = get_engine().sync_engine
    event.listen(engine, "before_cursor_execute", seen)
    try:
        async with transaction() as s:
            results = await service.update_collections(s, Caller.system(org.id), items)
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert [r.error.code if r.error else "ok" for r in results] == (
        ["ok"] * 50 + ["INVALID_STATUS_TRANSITION"] + ["ok"] * 49)
    assert not [st for st, _ in statements if st.startswith(("SAVEPOINT", "RELEASE"))]
    updates = [many for st, many in statements if st == "UPDATE COLLECTIONS"]
    assert updates == [True], statements
    # The 99 events go out as one batched INSERT: the whole bulk is a handful of round trips.
    assert [st for st, _ in statements if st == "INSERT INTO"] == ["INSERT INTO"], statements
    assert len(statements) <= 8, statements
    evs = await _events(org.id, "collection.updated")
    moved = [e for e in evs if e.before is not None]
    assert [e.data["collection"]["collection_reference"] for e in moved] == [
        f"COL_{i}" for i in range(100) if i != 50]
    async with transaction() as s:
        cols = {c.collection_reference: c for c in await s.scalars(
            select(Collection).where(Collection.org_id == org.id))}
    assert cols["COL_50"].status == "pending" and cols["COL_99"].status == "submitted"
    assert cols["COL_7"].bank_reference == "B7"
