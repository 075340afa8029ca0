"""Reconciliation of the bank's answers and the auto-success rule, on the real database."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import select

from arrears.db import transaction
from arrears.events import DomainEvent
from arrears.identity.caller import Caller
from arrears.premiums.acb import UnpaidItem, build_unpaids_file, parse_file
from arrears.premiums.debit_orders.models import ReconciliationRecord
from arrears.premiums.debit_orders.reconciliation import import_answer, resolve_record
from arrears.premiums.debit_orders.settings import get_settings, user_info
from arrears.premiums.debit_orders.settlement import auto_success, settle
from arrears.premiums.models import Collection, Policy
from tests.premiums.debit_orders.helpers import captive, count, policy, rows, start

JAN31 = date(2024, 1, 31)


async def _status(org_id: int) -> dict[str, tuple[str, str | None]]:
    return {n: (s, r) for n, s, r in await rows(
        select(Policy.policy_number, Collection.status, Collection.failure_reason)
        .join(Policy, Policy.id == Collection.policy_id).where(Collection.org_id == org_id))}


async def _refs(org_id: int) -> dict[str, str]:
    return {n: r for n, r in await rows(select(Policy.policy_number, Collection.collection_reference)
                                        .join(Policy, Policy.id == Collection.policy_id)
                                        .where(Collection.org_id == org_id))}


async def _unpaids_for(org_id: int, acb_text: str, codes: dict[str, str], *, returned: date) -> str:
    """The unpaids file a bank would send back for some debits of `acb_text` (reference → code)."""
    async with transaction(readonly=True) as s:
        info = user_info(await get_settings(s, org_id))
    items = [UnpaidItem(user_sequence_number=t.sequence_number, reference=t.reference,
                        homing_branch=t.homing_branch, homing_account_number=t.homing_account_number,
                        account_type=t.account_type, amount=t.amount, action_date=t.action_date,
                        homing_account_name=t.homing_account_name, reason_code=codes[t.reference],
                        unpaid_date=returned)
             for t in parse_file(acb_text).transactions if t.reference in codes]
    return build_unpaids_file(info, items, creation_date=returned)


async def _run_three(world, **settings):
    org = await captive(world, **settings)
    for n, amount in (("P1", "150.00"), ("P2", "200.00"), ("P3", "75.50")):
        await policy(org.id, n, due="2024-01-31", amount=amount)
    started = await start(org.id, JAN31)
    return org, started


async def test_an_unpaids_file_fails_its_debits_with_the_reason_and_keeps_records(world):
    org, started = await _run_three(world)
    text = await _unpaids_for(org.id, started.files[0].content, {"MP1": "12", "MP3": "02"},
                              returned=date(2024, 2, 2))
    async with transaction() as s:
        res = await import_answer(s, Caller.system(org.id), text.encode(), filename="unpaids.txt")
    assert res.file.kind == "unpaids" and not res.replayed
    assert res.counts()["matched"] == 2 and sum(res.counts().values()) == 2
    assert {r.matched_by for r in res.records} == {"reference"}
    assert await _status(org.id) == {"P1": ("failed", "12 Account closed"), "P2": ("submitted", None),
                                     "P3": ("failed", "02 Not provided for")}
    recs = await rows(select(ReconciliationRecord.reference, ReconciliationRecord.reason_code,
                             ReconciliationRecord.reason_text, ReconciliationRecord.amount)
                      .order_by(ReconciliationRecord.line))
    assert recs == [("MP1", "12", "Account closed", Decimal("150.00")),
                    ("MP3", "02", "Not provided for", Decimal("75.50"))]
    # The same file again is the same import: nothing applied twice, no new records.
    async with transaction() as s:
        again = await import_answer(s, Caller.system(org.id), text.encode())
    assert again.replayed and again.file.id == res.file.id
    assert await count(ReconciliationRecord) == 2
    # The failure went through the state machine with the webhook's event.
    [ev] = await rows(select(DomainEvent.actor, DomainEvent.before, DomainEvent.after).where(
        DomainEvent.type == "collection.updated", DomainEvent.after["status"].as_string() == "failed",
        DomainEvent.subject_id == str((await rows(select(Collection.uuid).join(Policy, Policy.id == Collection.policy_id)
                                                  .where(Policy.policy_number == "P1")))[0][0])))
    assert ev.actor == f"reconciliation:{res.file.uuid}"
    assert ev.before["status"] == "submitted" and ev.before["failure_reason"] is None
    assert {k: ev.after[k] for k in ("status", "failure_reason", "transaction_date")} == {
        "status": "failed", "failure_reason": "12 Account closed", "transaction_date": "2024-02-02"}
    assert ev.after["processed_at"]


async def test_a_csv_answer_unmatched_duplicate_mismatch_invalid_and_fallback(world):
    org, started = await _run_three(world)
    refs = await _refs(org.id)
    await policy(org.id, "P9", due="2024-03-01")  # a policy with no collection at all
    answer = (
        "Reference,Amount,Status,Reason\n"
        f"{refs['P1']},150.00,successful,\n"          # by collection reference
        "MP2,R 200.00,unpaid,30 No authority to debit\n"  # by the ACB (mandate) reference
        "MP2,200.00,unpaid,30\n"                        # the same debit again: duplicate
        "P3,99.00,failed,Account closed\n"              # policy matches, the amount does not
        "UNKNOWN-REF,10.00,failed,12\n"                 # nothing matches: kept for a person
        "P9,10.00,failed,12\n"                          # a policy, but no such collection
        "MP1,abc,failed,12\n"                           # unreadable amount
    )
    async with transaction() as s:
        res = await import_answer(s, Caller.system(org.id), answer, filename="answer.csv")
    assert res.file.kind == "answers_csv"
    outcomes = [(r.line, r.outcome, r.matched_by) for r in res.records]
    assert outcomes == [(2, "matched", "reference"), (3, "matched", "reference"), (4, "duplicate", "reference"),
                        (5, "amount_mismatch", "policy_date"), (6, "unmatched", None), (7, "unmatched", None),
                        (8, "invalid", None)]
    assert await _status(org.id) == {"P1": ("successful", None), "P2": ("failed", "30 No authority to debit"),
                                     "P3": ("submitted", None)}
    # The policy + amount + date fallback: a line naming the policy with the right amount.
    async with transaction() as s:
        res2 = await import_answer(s, Caller.system(org.id), "reference,amount,status,reason\nP3,75.50,failed,18\n")
    [rec] = res2.records
    assert (rec.outcome, rec.matched_by) == ("matched", "policy_amount_date")
    assert (await _status(org.id))["P3"] == ("failed", "18 Account holder deceased")


async def test_late_answers_conflict_and_a_person_resolves_unmatched_lines(world):
    org, started = await _run_three(world)
    refs = await _refs(org.id)
    async with transaction() as s:
        await import_answer(s, Caller.system(org.id), f"reference,status\n{refs['P1']},successful\n")
        res = await import_answer(s, Caller.system(org.id), f"reference,status,reason\n{refs['P1']},failed,04\nLOST-1,failed,04\n")
    conflict, unmatched = res.records
    assert conflict.outcome == "conflict" and "successful" in conflict.message
    assert (await _status(org.id))["P1"] == ("successful", None)
    async with transaction() as s:
        out = await resolve_record(s, Caller.system(org.id), unmatched.uuid, collection_reference=refs["P2"])
        dismissed = await resolve_record(s, Caller.system(org.id), conflict.uuid, dismiss=True)
    assert out["resolution"] == "applied" and out["collection_reference"] == refs["P2"]
    assert dismissed["resolution"] == "dismissed"
    assert (await _status(org.id))["P2"] == ("failed", "04 Payment stopped by account holder")
    from arrears.errors import DomainError

    async with transaction() as s:
        try:
            await resolve_record(s, Caller.system(org.id), unmatched.uuid, dismiss=True)
            raise AssertionError("resolved twice")
        except DomainError as exc:
            assert exc.code == "RECORD_NOT_OPEN"


async def test_auto_success_after_the_captives_days_unless_held(world):
    org, started = await _run_three(world, auto_success_days=3)
    async with transaction() as s:
        # P3's amount is disputed: a person must look at it before anything settles it.
        await import_answer(s, Caller.system(org.id), "reference,amount,status\nMP3,1.00,failed\n")
    async with transaction() as s:
        assert await settle(s, auto_success(org.id), date(2024, 2, 2)) == []  # 2 days after the action date
    async with transaction() as s:
        moved = await settle(s, auto_success(org.id), date(2024, 2, 3))
    assert sorted(c.collection_reference for c in moved) == sorted([(await _refs(org.id))[n] for n in ("P1", "P2")])
    assert await _status(org.id) == {"P1": ("successful", None), "P2": ("successful", None),
                                     "P3": ("submitted", None)}
    async with transaction() as s:
        assert await settle(s, auto_success(org.id), date(2024, 3, 1)) == []  # idempotent
    evs = await rows(select(DomainEvent.actor).where(DomainEvent.type == "collection.updated",
                                                     DomainEvent.after["status"].as_string() == "successful"))
    assert [e.actor for e in evs] == ["debit_orders:auto_success"] * 2


async def test_auto_success_days_are_per_captive(world):
    org_a, _ = await _run_three(world, auto_success_days=3)
    org_b = await captive(world, "Beta Captive", auto_success_days=10)
    await policy(org_b.id, "B1", due="2024-01-31")
    await start(org_b.id, JAN31)
    async with transaction() as s:
        assert len(await settle(s, auto_success(org_a.id), date(2024, 2, 5))) == 3
        assert await settle(s, auto_success(org_b.id), date(2024, 2, 5)) == []
        assert len(await settle(s, auto_success(org_b.id), date(2024, 2, 10))) == 1


async def test_another_captives_answer_matches_nothing_of_ours(world):
    org_a, started = await _run_three(world)
    org_b = await captive(world, "Beta Captive")
    refs = await _refs(org_a.id)
    async with transaction() as s:
        res = await import_answer(s, Caller.system(org_b.id), f"reference,status\n{refs['P1']},failed\nMP2,failed\n")
    assert [r.outcome for r in res.records] == ["unmatched", "unmatched"]
    assert set(s for s, _ in (await _status(org_a.id)).values()) == {"submitted"}


async def _import(org_id: int, text: str, filename: str):
    async with transaction() as s:
        return await import_answer(s, Caller.system(org_id), text.encode(), filename=filename)


async def test_concurrent_answers_apply_each_failure_once(world):
    """The same unpaids file uploaded twice at once is one import (the other a replay), and a CSV
    answering the same debit at the same moment changes nothing twice: one failure event each."""
    import asyncio

    org, started = await _run_three(world)
    unpaids = await _unpaids_for(org.id, started.files[0].content, {"MP1": "12", "MP3": "02"},
                                 returned=date(2024, 2, 2))
    refs = await _refs(org.id)
    answer = ("reference,amount,status,reason\r\n"
              f"{refs['P1']},150.00,failed,04 Payment stopped\r\n")
    results = await asyncio.gather(_import(org.id, unpaids, "a.txt"), _import(org.id, unpaids, "b.txt"),
                                   _import(org.id, answer, "answer.csv"))
    assert sorted(r.replayed for r in results[:2]) == [False, True]
    assert results[0].file.id == results[1].file.id
    assert await count(ReconciliationRecord) == 3
    status = await _status(org.id)
    assert status["P2"] == ("submitted", None) and status["P3"] == ("failed", "02 Not provided for")
    assert status["P1"][0] == "failed"
    failures = await rows(select(DomainEvent.subject_id).where(
        DomainEvent.type == "collection.updated", DomainEvent.after["status"].as_string() == "failed"))
    assert len(failures) == 2 and len(set(failures)) == 2
