"""Races in the debtor book: the book's job (customers, accounts, ranks) of two uploads of one
organisation run at once by two workers, the same upload's job run twice at once, and concurrent
selection requests on one report. On SQLite writes serialise; the races show on PostgreSQL."""

from __future__ import annotations

import asyncio
import csv
from pathlib import Path

import pytest
from sqlalchemy import func, select

from arrears.customers.models import Customer
from arrears.db import transaction
from arrears.debtors import imports
from arrears.debtors.models import DebtorAccount, DebtorReport, DebtorSnapshot, DebtorSnapshotRank
from arrears.events import DomainEvent
from arrears.jobs.models import Job
from arrears.worker import Worker
from tests.faces.age_analysis.conftest import member  # noqa: F401
from tests.faces.age_analysis.helpers import HEADER, post_file
from tests.fixtures import cheap_password_hashing  # noqa: F401

SHARED = 400  # new account codes both files list


@pytest.fixture
async def officer(client, world):
    org = await world.org("Race Org")
    return org, await member(client, world, org.id, "manager")


def _csv(path: Path, codes: list[str], balance: int) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(HEADER)
        for n, code in enumerate(codes):
            writer.writerow([code, f"Customer {code}", f"Contact {balance}", f"082{n:07d}",
                             balance, 0, 0, 0, 0, balance])
    return path


async def _imported(client, headers, path: Path) -> str:
    """Upload and import a file, leaving its book job queued (not run)."""
    r = await post_file(client, headers, path)
    assert r.status_code == 202, r.text
    upload_id = r.json()["upload"]["id"]
    outcome = await imports.run_import(upload_id)
    assert outcome.status == "completed", outcome.message
    return upload_id


async def _two_imports(client, officer, tmp_path: Path, tag: str) -> tuple[list[str], list[str], str, str]:
    org, who = officer
    shared = [f"{tag}S{i:05d}" for i in range(SHARED)]
    # The same new codes in opposite orders (each job inserts them in its file's order).
    first = [*shared, *(f"{tag}A{i:03d}" for i in range(20))]
    second = [*reversed(shared), *(f"{tag}B{i:03d}" for i in range(20))]
    a = await _imported(client, who.headers, _csv(tmp_path / f"{tag}a.csv", first, 100))
    b = await _imported(client, who.headers, _csv(tmp_path / f"{tag}b.csv", second, 200))
    return first, second, a, b


async def _report_id(upload_id: str) -> int:
    async with transaction(readonly=True) as s:
        report = await imports.find_report(s, upload_id)
    assert report is not None
    return report.id


async def _check_book(org_id: int, codes: set[str], newest: int, newest_codes: set[str]) -> None:
    async with transaction(readonly=True) as s:
        customers = (await s.execute(select(Customer.customer_code, func.count()).where(Customer.org_id == org_id)
                                     .group_by(Customer.customer_code))).all()
        accounts = (await s.scalars(select(DebtorAccount).where(DebtorAccount.org_id == org_id))).all()
        ids = {c.customer_code: c.id for c in (await s.scalars(
            select(Customer).where(Customer.org_id == org_id))).all()}
    assert {code for code, _ in customers} == codes
    assert [code for code, n in customers if n != 1] == []  # one customer per code
    assert len(accounts) == len(codes)
    assert {a.account_code: a.customer_id for a in accounts} == {code: ids[code] for code in codes}
    assert {a.account_code for a in accounts if a.latest_report_id == newest} == newest_codes


async def _ranks(report_id: int) -> tuple[int, int]:
    async with transaction(readonly=True) as s:
        ranks = await s.scalar(select(func.count()).select_from(DebtorSnapshotRank)
                               .where(DebtorSnapshotRank.report_id == report_id))
        accounts = await s.scalar(select(func.count()).select_from(DebtorSnapshot)
                                  .where(DebtorSnapshot.report_id == report_id))
    return int(ranks or 0), int(accounts or 0)


async def test_book_jobs_of_two_uploads_sharing_new_codes_at_once(client, officer, tmp_path: Path):
    """Two workers run the book's job of two uploads of one organisation at once: both succeed
    (no deadlock, no unique violation), one customer per code, every account linked, the newer
    report's balances win."""
    org, _ = officer
    for round_ in range(3):
        first, second, a, b = await _two_imports(client, officer, tmp_path, f"R{round_}")
        results = await asyncio.gather(imports.update_book(a, actor="job:a"), imports.update_book(b, actor="job:b"),
                                       return_exceptions=True)
        assert [r for r in results if isinstance(r, BaseException)] == [], results
        assert sum(results) == len(set(first) | set(second))  # each customer counted once
        newest = await _report_id(b)
        seen = {c for r in range(round_ + 1) for c in (
            *(f"R{r}S{i:05d}" for i in range(SHARED)), *(f"R{r}A{i:03d}" for i in range(20)),
            *(f"R{r}B{i:03d}" for i in range(20)))}
        await _check_book(org.id, seen, newest, set(second))
        for upload in (a, b):
            ranks, accounts = await _ranks(await _report_id(upload))
            assert ranks == accounts == len(first)


async def test_book_jobs_through_two_workers_all_end_done(client, officer, tmp_path: Path):
    """The queued book jobs of two uploads claimed by two workers at once: each ends done on its
    first attempt (none failed, none waiting for a retry)."""
    org, _ = officer
    first, second, a, b = await _two_imports(client, officer, tmp_path, "W")
    workers = [Worker(concurrency=1) for _ in range(2)]
    await asyncio.gather(*(w.run(until_idle=True) for w in workers))
    async with transaction(readonly=True) as s:
        jobs = (await s.execute(select(Job.status, Job.attempts, Job.last_error)
                                .where(Job.kind == imports.BOOK_JOB))).all()
    assert sorted(j.status for j in jobs) == ["done", "done"], jobs
    assert [j.attempts for j in jobs] == [1, 1], jobs
    await _check_book(org.id, set(first) | set(second), await _report_id(b), set(second))


async def test_book_job_of_one_upload_run_twice_at_once(client, officer, tmp_path: Path):
    """The same upload's book job run by two workers at once (a lease that expired): both end
    without error, the report's ranks are written once, the customers are counted once."""
    org, who = officer
    for round_ in range(3):
        codes = [f"T{round_}C{i:05d}" for i in range(SHARED)]
        upload = await _imported(client, who.headers, _csv(tmp_path / f"t{round_}.csv", codes, 50))
        results = await asyncio.gather(*(imports.update_book(upload, actor=f"job:{n}") for n in range(3)),
                                       return_exceptions=True)
        assert [r for r in results if isinstance(r, BaseException)] == [], results
        assert sorted(results) == [0, 0, len(codes)]
        ranks, accounts = await _ranks(await _report_id(upload))
        assert ranks == accounts == len(codes)
        async with transaction(readonly=True) as s:
            created = (await s.scalars(select(DomainEvent.data).where(
                DomainEvent.type == "customer.bulk_created", DomainEvent.subject_id == upload))).all()
        assert [e["records_created"] for e in created] == [len(codes)]
    async with transaction(readonly=True) as s:
        assert await s.scalar(select(func.count()).select_from(Customer).where(Customer.org_id == org.id)) == 3 * SHARED


async def test_concurrent_selection_requests_on_one_report(client, officer, tmp_path: Path):
    """Two PUT …/selection at once naming the same 1,200 accounts in opposite orders: both are
    200 with every account counted, and the report ends wholly selected or wholly unselected (the
    requests applied one after the other, never a mix and never a 500)."""
    org, who = officer
    codes = [f"SEL{i:05d}" for i in range(1200)]
    upload = await _imported(client, who.headers, _csv(tmp_path / "sel.csv", codes, 10))
    async with transaction(readonly=True) as s:
        ids = [str(u) for u in (await s.scalars(select(DebtorSnapshot.uuid).join(DebtorReport, DebtorReport.id == DebtorSnapshot.report_id).where(
            DebtorReport.uuid == upload).order_by(DebtorSnapshot.sheet_row))).all()]
    for round_ in range(3):
        bodies = [{"account_ids": ids, "is_selected": True},
                  {"account_ids": list(reversed(ids)), "is_selected": False},
                  {"account_ids": ids[600:] + ids[:600], "is_selected": round_ % 2 == 0}]
        responses = await asyncio.gather(*(client.put(f"/api/uploads/{upload}/selection", headers=who.headers,
                                                      json=body) for body in bodies))
        assert [r.status_code for r in responses] == [200, 200, 200], [r.text[:300] for r in responses]
        assert [r.json()["updated_count"] for r in responses] == [1200, 1200, 1200]
        async with transaction(readonly=True) as s:
            selected = await s.scalar(select(func.count()).select_from(DebtorSnapshot).join(
                DebtorReport, DebtorReport.id == DebtorSnapshot.report_id).where(
                DebtorReport.uuid == upload, DebtorSnapshot.is_selected))
        assert selected in (0, 1200)


async def test_two_attempts_of_one_import_at_once_store_its_accounts_once(client, officer, tmp_path):
    """A worker whose lease ran out while it still imported, and the worker that took the job
    over: both run the same upload's import at once. The file's accounts are stored once."""
    org, who = officer
    codes = [f"T{i:05d}" for i in range(300)]
    r = await post_file(client, who.headers, _csv(tmp_path / "twice.csv", codes, 50))
    assert r.status_code == 202, r.text
    upload_id = r.json()["upload"]["id"]
    outcomes = await asyncio.gather(imports.run_import(upload_id), imports.run_import(upload_id))
    assert [o.status for o in outcomes] == ["completed", "completed"]
    assert [o.accounts for o in outcomes] == [300, 300]
    report_id = await _report_id(upload_id)
    async with transaction(readonly=True) as s:
        stored = await s.scalar(select(func.count()).select_from(DebtorSnapshot)
                                .where(DebtorSnapshot.report_id == report_id))
        report = await s.get(DebtorReport, report_id)
        completed = await s.scalar(select(func.count()).select_from(DomainEvent).where(
            DomainEvent.type == "upload.completed", DomainEvent.subject_id == upload_id))
    assert stored == 300 and report.success_rows == 300 and report.status == "completed"
    assert completed == 1


async def test_an_older_report_s_book_job_run_last_keeps_the_newer_contacts(client, officer, tmp_path):
    """Jobs take turns but not always in upload order: the newer upload's book job may run before
    the older one's. Customers' contacts, like accounts' balances, follow the newest report."""
    org, who = officer
    codes = [f"N{i:03d}" for i in range(30)]
    older = await _imported(client, who.headers, _csv(tmp_path / "older.csv", codes, 100))
    newer = await _imported(client, who.headers, _csv(tmp_path / "newer.csv", codes, 200))
    await imports.update_book(newer)
    await imports.update_book(older)
    async with transaction(readonly=True) as s:
        contacts = set((await s.scalars(select(Customer.contact_person).where(Customer.org_id == org.id))).all())
        balances = set((await s.scalars(select(DebtorAccount.total_balance)
                                        .where(DebtorAccount.org_id == org.id))).all())
    assert contacts == {"Contact 200"} and balances == {200}
