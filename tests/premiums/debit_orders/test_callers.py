"""The debit-order services take the `Caller` and apply `authority` themselves (issue 18, point 6):
settings (and the daily schedule) are the captive's admins'; runs, answers, resolutions and
settling a manager's or admin's with write access, or a key's with collections:write; another
captive's records are not found. The faces' answers for every role are in
tests/security/test_money_roles.py."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from arrears.db import transaction
from arrears.errors import Forbidden, NotFound
from arrears.identity import service as identity
from arrears.identity.caller import Caller
from arrears.jobs.models import Job
from arrears.premiums.debit_orders.daily import DAILY, schedule_daily
from arrears.premiums.debit_orders.models import DebitOrderRun, ReconciliationRecord
from arrears.premiums.debit_orders.reconciliation import import_answer, resolve_record
from arrears.premiums.debit_orders.runs import open_run
from arrears.premiums.debit_orders.settings import get_settings, update_settings
from arrears.premiums.debit_orders.settlement import settle
from tests.premiums.debit_orders.helpers import captive, count, policy, start

JAN31 = date(2024, 1, 31)


async def _as(world, org_id: int, role: str, access: str = "write") -> Caller:
    user = await world.user(org_id, role=role, access=access)
    async with transaction() as s:
        return await identity.caller_for_user(s, user.id, org_id)


async def _key(world, org_id: int, scopes: list[str]) -> Caller:
    key, _ = await world.api_key(org_id, scopes)
    return Caller(kind="api_key", org_id=org_id, api_key=key, access="write", scopes=frozenset(scopes))


async def test_settings_and_the_schedule_are_the_captives_admins(world):
    org = await captive(world)
    refused = [await _as(world, org.id, "manager"), await _as(world, org.id, "admin", "read"),
               await _key(world, org.id, ["*"])]
    for who in refused:
        async with transaction() as s:
            with pytest.raises(Forbidden) as err:
                await update_settings(s, who, {"schedule_enabled": True})
        assert err.value.status == 403
        async with transaction() as s:
            with pytest.raises(Forbidden):
                await schedule_daily(s, who, JAN31)
    async with transaction() as s:
        assert (await get_settings(s, org.id)).schedule_enabled is False
    assert await count(Job, Job.kind == DAILY) == 0
    admin = await _as(world, org.id, "admin")
    async with transaction() as s:
        change = await update_settings(s, admin, {"schedule_enabled": True})
        await schedule_daily(s, admin, JAN31)
    assert change.schedule_turned_on and await count(Job, Job.kind == DAILY) == 1


async def test_moving_money_needs_a_manager_or_a_scoped_key(world):
    org = await captive(world)
    await policy(org.id, "P1", due="2024-01-31")
    refused = [await _as(world, org.id, "collection_officer"), await _as(world, org.id, "manager", "read"),
               await _key(world, org.id, ["collections:read"])]
    for who in refused:
        async with transaction() as s:
            with pytest.raises(Forbidden):
                await open_run(s, who, JAN31)
        async with transaction() as s:
            with pytest.raises(Forbidden):
                await import_answer(s, who, "reference,status\nLOST-1,failed\n")
        async with transaction() as s:
            with pytest.raises(Forbidden):
                await settle(s, who, JAN31)
    assert await count(DebitOrderRun) == 0 and await count(ReconciliationRecord) == 0
    async with transaction() as s:
        run, created = await open_run(s, await _key(world, org.id, ["collections:write"]), JAN31)
    assert created and run.org_id == org.id


async def test_another_captives_record_is_not_found_and_ours_waits_for_a_manager(world):
    org, other = await captive(world), await captive(world, "Beta Captive")
    await policy(org.id, "P1", due="2024-01-31")
    await start(org.id, JAN31)
    async with transaction() as s:
        res = await import_answer(s, Caller.system(org.id), "reference,status\nLOST-1,failed\n")
    [record] = res.records
    assert record.outcome == "unmatched"
    for who, refusal in ((await _as(world, other.id, "admin"), NotFound),
                         (Caller.system(other.id), NotFound),
                         (await _as(world, org.id, "calling_agent"), Forbidden)):
        async with transaction() as s:
            with pytest.raises(refusal):
                await resolve_record(s, who, record.uuid, dismiss=True)
    async with transaction() as s:
        assert (await s.scalar(select(ReconciliationRecord.resolution)
                               .where(ReconciliationRecord.id == record.id))) is None
    manager = await _as(world, org.id, "manager")
    async with transaction() as s:
        out = await resolve_record(s, manager, record.uuid, dismiss=True)
    assert out["resolution"] == "dismissed"
    async with transaction() as s:
        assert (await s.scalar(select(ReconciliationRecord.resolved_by)
                               .where(ReconciliationRecord.id == record.id))) == manager.actor
