"""The premium services take the `Caller` and authorise (issue 18, point 6): a read-only caller
is refused before anything changes, and another organisation's caller finds nothing of this
one's (a 404) or changes nothing of it."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from arrears.db import transaction
from arrears.errors import Forbidden, NotFound
from arrears.events import DomainEvent
from arrears.identity import service as identity
from arrears.identity.caller import Caller
from arrears.premiums import service
from arrears.premiums.debit_orders.files import generate_files
from arrears.premiums.debit_orders.runs import advance_policy, open_run
from arrears.premiums.models import Collection, Policy
from arrears.premiums.schemas import PolicyUpdateIn, parse_collection_update
from tests.premiums.debit_orders.helpers import captive, policy

ON = date(2026, 12, 1)


async def _read_only(world, org_id: int) -> Caller:
    user = await world.user(org_id, role="admin", access="read")
    async with transaction() as s:
        return await identity.caller_for_user(s, user.id, org_id)


async def _state(org_id: int) -> tuple[int, list[tuple[str, str]], list[tuple[str, str]]]:
    """The organisation's events, policies and collections: what a refused call must not change."""
    async with transaction(readonly=True) as s:
        n = await s.scalar(select(func.count()).select_from(DomainEvent).where(DomainEvent.org_id == org_id))
        pols = (await s.execute(select(Policy.policy_number, Policy.client_name)
                                .where(Policy.org_id == org_id).order_by(Policy.id))).all()
        cols = (await s.execute(select(Collection.collection_reference, Collection.status)
                                .where(Collection.org_id == org_id).order_by(Collection.id))).all()
    return int(n or 0), [tuple(p) for p in pols], [tuple(c) for c in cols]


async def _world(world):
    """A captive with one policy and one pending collection (COL_1)."""
    org = await captive(world)
    pol = await policy(org.id, "POL_1", due="2026-12-01")
    async with transaction() as s:
        await service.create_collection(s, Caller.system(org.id), pol, collection_date=ON,
                                        collection_reference="COL_1")
    return org


async def _attempts(s, caller: Caller, org_id: int) -> list:
    """Every premium service that changes data, aimed at `org_id`'s rows."""
    pol = await service.get_policy(s, org_id, "POL_1")
    col, _ = await service.get_collection(s, org_id, "COL_1")
    run, _ = await open_run(s, Caller.system(org_id), ON)
    update = PolicyUpdateIn(policy_number="POL_1", client_name="Changed", premium_amount="99.00",
                            frequency="monthly")
    return [
        lambda: service.upsert_policy(s, caller, update),
        lambda: service.link_customer(s, caller, pol, None),
        lambda: service.cancel_pending_collections(s, caller, pol),
        lambda: service.create_collection(s, caller, pol, collection_date=date(2027, 1, 1)),
        lambda: service.transition_collection(s, caller, col, "submitted"),
        lambda: service.transition_collections(s, caller, [col], "submitted"),
        lambda: service.update_collections(
            s, caller, [parse_collection_update({"collection_reference": "COL_1", "status": "submitted"})]),
        lambda: advance_policy(s, caller, pol, ON),
        lambda: generate_files(s, run, caller),
    ]


async def test_a_read_only_caller_is_refused(world):
    org = await _world(world)
    reader = await _read_only(world, org.id)
    before = await _state(org.id)
    for i in range(9):
        async with transaction() as s:
            attempt = (await _attempts(s, reader, org.id))[i]
            with pytest.raises(Forbidden) as err:
                await attempt()
        assert err.value.status == 403
    assert (await _state(org.id))[1:] == before[1:]
    assert await _count(org.id, "policy.updated") == 0
    assert await _count(org.id, "collection.updated") == 1  # COL_1's creation


async def _count(org_id: int, type_: str) -> int:
    async with transaction(readonly=True) as s:
        return int(await s.scalar(select(func.count()).select_from(DomainEvent).where(
            DomainEvent.org_id == org_id, DomainEvent.type == type_)) or 0)


async def test_another_organisations_caller_finds_nothing_or_changes_nothing(world):
    org = await _world(world)
    other = await captive(world, "Beta Captive")
    outsider = Caller.system(other.id)
    before = await _state(org.id)
    refused = []
    for i in range(9):
        async with transaction() as s:
            attempt = (await _attempts(s, outsider, org.id))[i]
            try:
                await attempt()
            except NotFound as exc:
                assert exc.status == 404
                refused.append(i)
    # link_customer, create_collection, transition_collection(s), advance_policy and
    # generate_files are handed this organisation's rows: 404. upsert_policy and
    # update_collections work in the caller's organisation, cancel_pending_collections finds
    # none of this policy's collections there.
    assert refused == [1, 3, 4, 5, 7, 8]
    assert (await _state(org.id))[1:] == before[1:]
    assert await _count(org.id, "collection.updated") == 1
    assert await _count(org.id, "policy.updated") == 0
    # What the outsider did stayed in its own organisation: its own new POL_1, and no collection
    # (it has no COL_1 to move).
    assert (await _state(other.id))[1:] == ([("POL_1", "Changed")], [])
