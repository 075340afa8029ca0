"""The debtor book behind the uploads: customers linked in bulk, accounts' latest balances, the
customer timeline, all-or-nothing imports, events, and storing an already-parsed report."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select

from arrears.customers import service as customers
from arrears.customers import timeline as customer_timeline
from arrears.customers.models import Customer
from arrears.db import transaction
from arrears.debtors import bulk, imports, service
from arrears.debtors.models import DebtorAccount, DebtorReport, DebtorSnapshot
from arrears.debtors.reading import AccountRow, RowError
from arrears.errors import Forbidden, NotFound
from arrears.events import DomainEvent
from arrears.identity import service as identity
from arrears.identity.caller import Caller
from arrears.jobs.models import Job
from arrears.worker import run_until_idle
from tests.faces.age_analysis.conftest import member  # noqa: F401
from tests.faces.age_analysis.helpers import BOOK, HEADER, big_csv, import_file, post_file, write_book
from tests.fixtures import cheap_password_hashing  # noqa: F401


@pytest.fixture
async def officer(client, world):
    org = await world.org("Book Org")
    return org, await member(client, world, org.id, "manager")


def _break_storage(monkeypatch, *, at: int, error: str) -> None:
    """Make the `at`-th batch an import stores fail, once: a batch of its own on SQLite, a
    stretch of the one COPY on PostgreSQL."""
    calls = {"n": 0}

    def count() -> None:
        calls["n"] += 1
        if calls["n"] == at:
            raise RuntimeError(error)

    real_batch, real_stream = bulk.store_batch, bulk.copy_stream

    async def store_batch(session, batch):
        count()
        await real_batch(session, batch)

    async def copy_stream(session, columns, payloads):
        async def counted():
            async for payload in payloads:
                count()
                yield payload

        await real_stream(session, columns, counted())

    monkeypatch.setattr(bulk, "store_batch", store_batch)
    monkeypatch.setattr(bulk, "copy_stream", copy_stream)


async def _report(upload_id: str) -> DebtorReport:
    async with transaction(readonly=True) as s:
        report = await imports.find_report(s, upload_id)
    assert report is not None
    return report


async def _customers(org_id: int) -> dict[str, Customer]:
    async with transaction(readonly=True) as s:
        rows = (await s.scalars(select(Customer).where(Customer.org_id == org_id))).all()
    return {c.customer_code: c for c in rows}


async def _accounts(org_id: int) -> dict[str, DebtorAccount]:
    async with transaction(readonly=True) as s:
        rows = (await s.scalars(select(DebtorAccount).where(DebtorAccount.org_id == org_id))).all()
    return {a.account_code: a for a in rows}


async def test_accounts_link_to_customers_created_and_kept_current(client, officer, tmp_path: Path):
    org, who = officer
    async with transaction() as s:  # an existing customer with an old number
        await customers.get_or_create_by_code(s, Caller.system(org.id), "A2", name="Beta Close Corporation",
                                              phone="011 000 0000")
    first = await import_file(client, who.headers, write_book(tmp_path / "jan.xlsx", BOOK))
    found = await _customers(org.id)
    assert set(found) == {"A1", "A2", "A3", "A4", "A5"}
    assert found["A1"].name == "Alpha Ltd" and found["A1"].phone_e164 == "+27821234567"
    assert found["A1"].contact_person == "Ann" and found["A1"].phone == "082 123 4567"
    assert found["A2"].name == "Beta Close Corporation"  # an existing customer keeps its name
    assert found["A2"].phone_e164 == "+27831234567"  # … but its phone follows the newest report
    assert found["A5"].phone_e164 is None  # "n/a" is no number
    accounts = await _accounts(org.id)
    assert accounts["A4"].customer_id == found["A4"].id and accounts["A4"].total_balance == Decimal("1000.00")
    assert accounts["A4"].overdue_amount == Decimal("1000.00")
    assert accounts["A4"].latest_report_id == (await _report(first)).id

    changed = [HEADER, ["A1", "Alpha Ltd", "Andile", "072 555 0001", 10, 0, 0, 0, 0, 10],
               ["A9", "Newco", None, "0825550009", 0, 5, 0, 0, 0, 5]]
    second = await import_file(client, who.headers, write_book(tmp_path / "feb.csv", changed))
    found = await _customers(org.id)
    assert len(found) == 6
    assert found["A1"].phone_e164 == "+27725550001" and found["A1"].contact_person == "Andile"
    accounts = await _accounts(org.id)
    assert accounts["A1"].total_balance == Decimal("10.00")
    assert accounts["A1"].latest_report_id == (await _report(second)).id
    # Not in February's file, a whole-book report: settled (balance zero), kept with its history.
    assert accounts["A4"].total_balance == Decimal("0.00") and accounts["A4"].settled_at is not None
    assert accounts["A4"].settled_by_report_id == (await _report(second)).id
    assert accounts["A4"].latest_report_id == (await _report(first)).id  # where its last balances came from
    async with transaction(readonly=True) as s:
        created = (await s.scalars(select(DomainEvent).where(DomainEvent.type == "customer.bulk_created",
                                                             DomainEvent.org_id == org.id))).all()
    assert sorted(e.data["records_created"] for e in created) == [1, 4]

    async with transaction(readonly=True) as s:
        caller = await identity.caller_for_user(s, who.user.id, org.id)
        entries = await customer_timeline.timeline(s, caller, found["A1"].id)
        entry = await service.snapshot_with_book(
            s, caller, (await s.scalar(select(DebtorSnapshot.uuid).where(
                DebtorSnapshot.report_id == (await _report(first)).id, DebtorSnapshot.account_code == "A1"))))
    balances = [e for e in entries if e.type == "debtor.balance"]
    assert [e.data["total_balance"] for e in balances] == [Decimal("10.00"), Decimal("150.00")]
    assert "owes R150.00" in balances[1].summary and "jan.xlsx" in balances[1].summary
    assert entry.customer.id == found["A1"].id and entry.account.account_code == "A1"


async def test_a_failed_import_leaves_nothing_and_emits_upload_failed(client, officer, tmp_path: Path,
                                                                     monkeypatch):
    org, who = officer
    _break_storage(monkeypatch, at=2, error="disk full")
    monkeypatch.setenv(imports.BATCH_ROWS_ENV, "50")
    r = await post_file(client, who.headers, big_csv(tmp_path / "big.csv", 300))
    uid = r.json()["upload"]["id"]
    async with transaction() as s:  # one attempt only: the first failure is final
        job = await s.scalar(select(Job).where(Job.dedupe_key == f"import:{uid}"))
        job.max_attempts = 1
    await run_until_idle()
    detail = (await client.get(f"/api/uploads/{uid}", headers=who.headers)).json()
    assert detail["status"] == "failed" and "disk full" in detail["error_message"]
    async with transaction(readonly=True) as s:
        assert await s.scalar(select(func.count()).select_from(DebtorSnapshot)) == 0
        assert await s.scalar(select(func.count()).select_from(DebtorAccount)) == 0
        types = (await s.scalars(select(DomainEvent.type).where(DomainEvent.subject_id == uid))).all()
        job = await s.scalar(select(Job).where(Job.dedupe_key == f"import:{uid}"))
    assert "upload.failed" in types and "upload.completed" not in types
    assert job.status == "dead"


async def test_a_retried_attempt_starts_clean_and_completes(client, officer, tmp_path: Path, monkeypatch):
    org, who = officer
    _break_storage(monkeypatch, at=3, error="connection reset")
    monkeypatch.setenv(imports.BATCH_ROWS_ENV, "50")
    r = await post_file(client, who.headers, big_csv(tmp_path / "big.csv", 300))
    uid = r.json()["upload"]["id"]
    await run_until_idle()
    detail = (await client.get(f"/api/uploads/{uid}", headers=who.headers)).json()
    assert detail["status"] == "processing"  # waiting for its retry
    async with transaction() as s:
        job = await s.scalar(select(Job).where(Job.dedupe_key == f"import:{uid}"))
        assert job.status == "queued" and job.attempts == 1
        job.run_at = job.created_at
    await run_until_idle()
    detail = (await client.get(f"/api/uploads/{uid}", headers=who.headers)).json()
    assert detail["status"] == "completed" and detail["records_processed"] == 300
    async with transaction(readonly=True) as s:
        assert await s.scalar(select(func.count()).select_from(DebtorSnapshot)) == 300
        assert await s.scalar(select(func.count()).select_from(DebtorAccount)) == 300
        report = await imports.find_report(s, uid)
        completed = (await s.scalars(select(DomainEvent).where(DomainEvent.type == "upload.completed"))).all()
    assert report.attempts == 2
    assert len(completed) == 1 and completed[0].data["records_processed"] == 300
    assert completed[0].data["total_balance"] == "4500.00"


async def test_store_report_needs_write_access_in_the_reports_organisation(env, world):
    org, other = await world.org("Pharmacy"), await world.org("Other Pharmacy")
    rows = [AccountRow("P1", "Patient One", "", None, False, None, Decimal("10.00"), Decimal("0.00"),
                       Decimal("0.00"), Decimal("0.00"), Decimal("0.00"), {}, Decimal("10.00"), 1)]
    reader = await world.user(org.id, role="admin", access="read")
    async with transaction() as s:
        refused = [await identity.caller_for_user(s, reader.id, org.id), Caller.system(other.id, "test")]
    for who, error in zip(refused, (Forbidden, NotFound), strict=True):
        async with transaction() as s:
            report = service.new_report(org.id, user_id=None, source="pdf", filename="r.pdf",
                                        original_filename="Debtors.pdf")
            with pytest.raises(error):
                await service.store_report(s, who, report, rows)
    async with transaction(readonly=True) as s:
        assert await s.scalar(select(func.count()).select_from(DebtorReport)) == 0
        assert await s.scalar(select(func.count()).select_from(DebtorAccount)) == 0
        assert await s.scalar(select(func.count()).select_from(DomainEvent).where(
            DomainEvent.type == "upload.completed")) == 0
    async with transaction() as s:
        report = service.new_report(org.id, user_id=None, source="pdf", filename="r.pdf",
                                    original_filename="Debtors.pdf")
        await service.store_report(s, Caller.system(org.id, "test"), report, rows)
    async with transaction(readonly=True) as s:
        completed = (await s.scalars(select(DomainEvent).where(DomainEvent.type == "upload.completed"))).one()
        assert await s.scalar(select(func.count()).select_from(DebtorAccount)) == 1
    assert completed.actor == "test" and completed.org_id == org.id


async def test_store_report_for_parsed_rows(env, world):
    org = await world.org("Pharmacy")
    rows = [
        AccountRow("P1", "Patient One", "082 123 4567", "27821234567", True, None, Decimal("10.00"),
                   Decimal("0.00"), Decimal("0.00"), Decimal("0.00"), Decimal("30.00"), {150: Decimal("20.00")},
                   Decimal("40.00"), 4),
        AccountRow("P2", "Patient Two", "", None, False, "Mom", Decimal("5.00"), Decimal("0.00"),
                   Decimal("0.00"), Decimal("0.00"), Decimal("0.00"), {}, Decimal("5.00"), 5),
        AccountRow("P1", "Again", "", None, False, None, Decimal("1.00"), Decimal("0.00"), Decimal("0.00"),
                   Decimal("0.00"), Decimal("0.00"), {}, Decimal("1.00"), 6),
        RowError(7, "Balance", "x", "'x' is not an amount.", "INVALID_AMOUNT", "P3"),
    ]
    async with transaction() as s:
        report = service.new_report(org.id, user_id=None, source="pdf", filename="r.pdf",
                                    original_filename="Debtors.pdf", mime_type="application/pdf")
        report = await service.store_report(s, Caller.system(org.id, "test"), report, rows)
        rid = report.id
    async with transaction(readonly=True) as s:
        report = await s.get(DebtorReport, rid)
        snaps = (await s.scalars(select(DebtorSnapshot).where(DebtorSnapshot.report_id == rid)
                                 .order_by(DebtorSnapshot.sheet_row))).all()
        accounts = (await s.scalars(select(DebtorAccount).where(DebtorAccount.org_id == org.id))).all()
    assert report.status == "completed" and report.success_rows == 2 and report.failed_rows == 2
    assert report.totals["total_balance"] == "45.00" and report.totals["overdue_balance"] == "30.00"
    assert [s.account_code for s in snaps] == ["P1", "P2"]
    assert snaps[0].d120 == Decimal("30.00") and snaps[0].d150 == Decimal("20.00")
    assert snaps[0].extra_buckets == {"150": "20.00"} and snaps[0].sms_reachable is True
    assert {a.account_code for a in accounts} == {"P1", "P2"} and all(a.customer_id for a in accounts)
