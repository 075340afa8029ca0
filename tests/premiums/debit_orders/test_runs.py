"""Debit-order runs on the real database: which policies are collected, the files, idempotency
(repeated runs and a run that dies half-way), month ends and leap years."""

from __future__ import annotations

import csv
import io
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select

from arrears.db import transaction
from arrears.events import DomainEvent
from arrears.identity.caller import Caller
from arrears.premiums.acb import parse_file
from arrears.premiums.debit_orders.models import DebitOrderFile, DebitOrderItem, DebitOrderRun
from arrears.premiums.debit_orders.service import execute_run
from arrears.premiums.models import Collection, Policy
from tests.premiums.debit_orders.helpers import captive, count, policy, rows, start

JAN31 = date(2024, 1, 31)


async def _policy_dates(org_id: int) -> dict[str, date | None]:
    return {n: d for n, d in await rows(select(Policy.policy_number, Policy.next_collection_date)
                                        .where(Policy.org_id == org_id))}


async def _collections(org_id: int) -> list[tuple[str, date, str, Decimal]]:
    return sorted(await rows(select(Policy.policy_number, Collection.collection_date, Collection.status,
                                    Collection.amount).join(Policy, Policy.id == Collection.policy_id)
                             .where(Collection.org_id == org_id)))


async def test_run_collects_due_policies_writes_files_and_skips_without_mandate(world):
    org = await captive(world)
    await policy(org.id, "P1", due="2024-01-31", amount="150.00")
    await policy(org.id, "P2", due="2024-01-15", amount="99.95")  # missed earlier: caught up
    await policy(org.id, "P3", due="2024-02-01")  # not due yet
    await policy(org.id, "P4", due="2024-01-31", mandate=None)  # no mandate
    await policy(org.id, "P5", due="2024-01-31", status="lapsed")  # not active
    await policy(org.id, "P6", due=None)  # not scheduled
    await policy(org.id, "P7", due="2024-01-31", mandate="THIS-REFERENCE-IS-TOO-LONG-FOR-ACB")

    started = await start(org.id, JAN31, today=date(2024, 1, 29))
    assert started.created and started.collections_created == 2
    assert sorted(s["policy_number"] for s in started.run.skipped) == ["P4", "P7"]
    reasons = {s["policy_number"]: s["reason"] for s in started.run.skipped}
    assert reasons["P4"] == "no mandate reference" and "longer than 20" in reasons["P7"]

    assert await _collections(org.id) == [("P1", JAN31, "submitted", Decimal("150.00")),
                                          ("P2", date(2024, 1, 15), "submitted", Decimal("99.95"))]
    dates = await _policy_dates(org.id)
    assert dates["P1"] == date(2024, 2, 29) and dates["P2"] == date(2024, 2, 15)
    assert dates["P3"] == date(2024, 2, 1) and dates["P4"] == JAN31  # skipped: still due

    acb, table = started.files
    assert (acb.kind, table.kind) == ("acb", "csv") and acb.generation_number == 7
    parsed = parse_file(acb.content)
    tx = parsed.transactions
    assert [(t.reference, t.amount, t.action_date, t.homing_branch, t.homing_account_number, t.account_type.value)
            for t in tx] == [("MP1", Decimal("150.00"), JAN31, "250655", "62001234567", "savings"),
                             ("MP2", Decimal("99.95"), JAN31, "250655", "62001234567", "savings")]
    assert {t.abbreviated_name for t in tx} == {"ALPHACAP"}
    assert parsed.contras[0].amount == Decimal("249.95") and parsed.total_amount == Decimal("249.95")
    assert parsed.user_sets[0].trailer["total_debit_value"] == 24995
    assert acb.total_amount == Decimal("249.95") and acb.record_count == 2
    lines = list(csv.DictReader(io.StringIO(table.content)))
    assert [(r["policy_number"], r["amount"], r["status"], r["sequence_number"]) for r in lines] == [
        ("P1", "150.00", "submitted", "1"), ("P2", "99.95", "submitted", "2")]
    assert lines[0]["bank_account_number"] == "*******4567"
    async with transaction(readonly=True) as s:
        from arrears.premiums.debit_orders.settings import get_settings

        assert (await get_settings(s, org.id)).generation_number == 8


async def test_repeating_a_run_creates_nothing_twice(world):
    org = await captive(world)
    for n in range(3):
        await policy(org.id, f"P{n}", due="2024-01-31")
    first = await start(org.id, JAN31)
    events_after_first = await count(DomainEvent, DomainEvent.org_id == org.id)
    for _ in range(3):
        again = await start(org.id, JAN31)
        assert not again.created and again.collections_created == 0 and again.files == []
    outcome = await execute_run(Caller.system(org.id), JAN31)
    assert outcome.collections_created == 0 and outcome.files == [] and outcome.run_id == first.run.uuid
    assert await count(Collection, Collection.org_id == org.id) == 3
    assert await count(DebitOrderRun, DebitOrderRun.org_id == org.id) == 1
    assert await count(DebitOrderFile, DebitOrderFile.org_id == org.id) == 2
    assert await count(DomainEvent, DomainEvent.org_id == org.id) == events_after_first


async def test_a_policy_added_after_the_file_goes_in_a_second_file_of_the_run(world):
    org = await captive(world)
    await policy(org.id, "P1", due="2024-01-31")
    first = await start(org.id, JAN31)
    await policy(org.id, "P2", due="2024-01-31", amount="20.00")
    second = await start(org.id, JAN31)
    assert second.collections_created == 1 and len(second.files) == 2
    tx = parse_file(second.files[0].content).transactions
    # Sequence numbers run on: the first file used 1 (debit) and 2 (contra).
    assert [(t.reference, t.sequence_number) for t in tx] == [("MP2", 3)]
    assert second.files[0].generation_number == first.files[0].generation_number + 1


class Crash(Exception):
    pass


async def test_a_run_that_dies_half_way_is_continued_without_doubles(world):
    org = await captive(world)
    for n in range(7):
        await policy(org.id, f"P{n}", due="2024-01-31")
    seen: list[int] = []

    def die_after_first_batch(stage: str, done: int, total: int) -> None:
        seen.append(done)
        if stage == "collect" and done > 0:
            raise Crash

    with pytest.raises(Crash):
        await execute_run(Caller.system(org.id), JAN31, batch_size=3, progress=die_after_first_batch)
    assert seen == [0, 3]
    assert await count(Collection, Collection.org_id == org.id) == 3  # the first batch committed
    assert await count(DebitOrderFile, DebitOrderFile.org_id == org.id) == 0
    outcome = await execute_run(Caller.system(org.id), JAN31, batch_size=3)
    assert outcome.collections_created == 4 and len(outcome.files) == 2
    assert [c[2] for c in await _collections(org.id)] == ["submitted"] * 7
    assert await count(DebitOrderItem, DebitOrderItem.file_id.is_not(None)) == 7
    dates = await _policy_dates(org.id)
    assert set(dates.values()) == {date(2024, 2, 29)}  # advanced exactly once each
    assert (await execute_run(Caller.system(org.id), JAN31)).collections_created == 0


@pytest.mark.parametrize(("anchor_due", "frequency", "runs", "expected"), [
    # Due on the 31st: the last day of shorter months, back to the 31st after (leap year 2024).
    ("2024-01-31", "monthly", ["2024-01-31", "2024-02-29", "2024-03-31", "2024-04-30"], "2024-05-31"),
    ("2023-01-31", "monthly", ["2023-01-31", "2023-02-28"], "2023-03-31"),
    # 29 February, annually: 28 February in common years, the 29th again in the next leap year.
    ("2024-02-29", "annually", ["2024-02-29", "2025-02-28", "2026-02-28", "2027-02-28"], "2028-02-29"),
    ("2024-11-30", "quarterly", ["2024-11-30", "2025-02-28"], "2025-05-30"),
], ids=["monthly-31st-leap", "monthly-31st-common", "annual-29-feb", "quarterly-30th"])
async def test_month_ends_and_leap_years(world, anchor_due, frequency, runs, expected):
    org = await captive(world)
    await policy(org.id, "P1", due=anchor_due, frequency=frequency)
    for day in runs:
        started = await start(org.id, date.fromisoformat(day))
        assert started.collections_created == 1, day
    got = [c[1].isoformat() for c in await _collections(org.id)]
    assert got == runs
    assert (await _policy_dates(org.id))["P1"] == date.fromisoformat(expected)


async def test_a_collection_already_recorded_for_the_date_is_not_collected_again(world):
    from arrears.premiums import service

    org = await captive(world)
    p = await policy(org.id, "P1", due="2024-01-31")
    async with transaction() as s:
        pol = await s.get(Policy, p.id)
        await service.create_collection(s, Caller.system(org.id), pol, collection_date=JAN31,
                                        status="successful")
    started = await start(org.id, JAN31)
    assert started.collections_created == 0 and started.files == []
    assert started.run.skipped[0]["reason"] == "a collection for 2024-01-31 already exists (successful)"
    assert (await _policy_dates(org.id))["P1"] == date(2024, 2, 29)


async def test_every_change_raises_the_webhooks_events(world):
    org = await captive(world)
    await policy(org.id, "P1", due="2024-01-31")
    started = await start(org.id, JAN31)
    evs = await rows(select(DomainEvent.type, DomainEvent.actor, DomainEvent.before, DomainEvent.after,
                            DomainEvent.data).where(DomainEvent.org_id == org.id,
                                                    DomainEvent.type.in_(["collection.updated", "policy.updated"]))
                     .order_by(DomainEvent.id))
    actor = f"debit_order_run:{started.run.uuid}"
    kinds = [(e.type, e.actor) for e in evs]
    assert kinds == [("collection.updated", actor), ("policy.updated", actor), ("collection.updated", actor)]
    created, advanced, submitted = evs
    assert created.before is None and created.after["status"] == "pending"
    assert advanced.before == {"next_collection_date": "2024-01-31"}
    assert advanced.after == {"next_collection_date": "2024-02-29"}
    assert submitted.before == {"status": "pending"} and submitted.after == {"status": "submitted"}
    assert submitted.data["updated_by"] == "system" and submitted.data["collection"]["policy_number"] == "P1"


async def test_a_captive_without_settings_cannot_run(world):
    from arrears.errors import DomainError

    org = await world.org("Bare", kind="cell_captive")
    with pytest.raises(DomainError) as exc:
        await start(org.id, JAN31)
    assert exc.value.code == "DEBIT_ORDERS_NOT_CONFIGURED" and exc.value.status == 409
    assert await count(DebitOrderRun, DebitOrderRun.org_id == org.id) == 0


async def test_concurrent_runs_of_one_date_create_each_collection_once(world):
    """Three starts of the same run at once (the worker's schedule, the API and the CLI racing):
    each due policy is collected once, in one file, and advanced once."""
    import asyncio

    org = await captive(world)
    for n in range(12):
        await policy(org.id, f"P{n:02d}", due="2024-01-31")
    outcomes = await asyncio.gather(*(execute_run(Caller.system(org.id), JAN31, batch_size=5) for _ in range(3)))
    assert sum(o.collections_created for o in outcomes) == 12
    assert len({o.run_id for o in outcomes}) == 1
    assert [o.created_run for o in outcomes].count(True) == 1
    assert await count(Collection, Collection.org_id == org.id) == 12
    assert await count(DebitOrderItem, DebitOrderItem.org_id == org.id) == 12
    assert await count(DebitOrderRun, DebitOrderRun.org_id == org.id) == 1
    files = await rows(select(DebitOrderFile.kind, DebitOrderFile.content).where(DebitOrderFile.org_id == org.id))
    acb = [c for k, c in files if k == "acb"]
    references = sorted(t.reference for c in acb for t in parse_file(c).transactions)
    assert references == sorted(f"MP{n:02d}" for n in range(12))
    assert set((await _policy_dates(org.id)).values()) == {date(2024, 2, 29)}


async def test_the_run_csv_guards_names_against_formulas(world):
    """Issue 19 §8: the debit-order CSV goes through the one formula-injection guard."""
    org = await captive(world)
    await policy(org.id, "P1", due="2024-01-31", client_name='=HYPERLINK("http://evil","x")')
    await policy(org.id, "P2", due="2024-01-31", client_name="@SUM(A1)")
    started = await start(org.id, JAN31, today=date(2024, 1, 29))
    _, table = started.files
    lines = list(csv.DictReader(io.StringIO(table.content)))
    assert [r["client_name"] for r in lines] == ["'=HYPERLINK(\"http://evil\",\"x\")", "'@SUM(A1)"]
    assert [r["amount"] for r in lines] == ["150.00", "150.00"]  # amounts untouched
