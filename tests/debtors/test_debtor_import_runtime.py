"""Imports at work: progress readable from outside while the import's transaction is open, a
worker killed with SIGKILL mid-import (the retried job ends with the file's accounts, once), and
the `arrears import` command."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from arrears.db import transaction, utcnow
from arrears.debtors import imports
from arrears.debtors.models import DebtorAccount, DebtorSnapshot
from arrears.debtors.service import IMPORT_JOB
from arrears.jobs import queue
from arrears.jobs.models import Job
from arrears.jobs.registry import load_all_handlers
from arrears.worker import Worker, run_until_idle
from tests.clocks import SimulatedClock
from tests.faces.age_analysis.conftest import member  # noqa: F401
from tests.faces.age_analysis.helpers import BOOK, big_csv, post_file, write_book
from tests.fixtures import cheap_password_hashing  # noqa: F401
from tests.inprocess_cli import arrears

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
async def officer(client, world):
    org = await world.org("Runtime Org")
    return org, await member(client, world, org.id, "collection_officer")


async def _snapshot_counts(report_id: str) -> tuple[int, int]:
    async with transaction(readonly=True) as s:
        rid = (await imports.find_report(s, report_id)).id
        rows = await s.scalar(select(func.count()).select_from(DebtorSnapshot)
                              .where(DebtorSnapshot.report_id == rid))
        codes = await s.scalar(select(func.count(func.distinct(DebtorSnapshot.account_code)))
                               .where(DebtorSnapshot.report_id == rid))
    return int(rows or 0), int(codes or 0)


async def test_progress_is_readable_while_the_import_runs(client, officer, tmp_path: Path, monkeypatch):
    _, who = officer
    monkeypatch.setenv(imports.THROTTLE_ENV, "0.4")
    monkeypatch.setenv(imports.BATCH_ROWS_ENV, "1000")
    r = await post_file(client, who.headers, big_csv(tmp_path / "slow.csv", 6000))
    uid = r.json()["upload"]["id"]
    worker = asyncio.create_task(run_until_idle())
    seen: list[dict] = []
    accounts_during: list[int] = []
    while not worker.done():
        p = (await client.get(f"/api/uploads/{uid}/progress", headers=who.headers)).json()
        if p["stage"] == "parsing":
            seen.append(p)
            page = (await client.get(f"/api/uploads/{uid}/accounts", headers=who.headers)).json()
            accounts_during.append(page["total"])
        await asyncio.sleep(0.15)
    await worker
    assert seen, "never saw the import at work"
    middle = [p for p in seen if 0 < p["processed_rows"] < 6000]
    assert middle, seen
    for p in middle:
        assert p["is_complete"] is False and p["has_error"] is False and 0 < p["progress"] < 1
        assert p["total_rows"] == 6000 and p["message"].startswith("Parsing file... (")
    assert max(p["success_rows"] for p in seen) >= 1000
    stamps = sorted({p["update_time"] for p in seen})
    assert len(stamps) >= 3  # update_time moves while the work goes on
    assert set(accounts_during) == {0}  # all or nothing: no account shows before the commit
    done = (await client.get(f"/api/uploads/{uid}/progress", headers=who.headers)).json()
    assert done["stage"] == "completed" and done["success_rows"] == 6000 and done["progress"] == 1.0


WORKER = textwrap.dedent("""
    import asyncio
    from arrears.worker import Worker

    asyncio.run(Worker(lease_seconds=3, poll_seconds=0.1, concurrency=1).run())
""")


@pytest.mark.slow
async def test_a_worker_killed_mid_import_is_retried_to_exactly_the_files_accounts(
        client, officer, tmp_path: Path):
    org, who = officer
    rows = 30_000
    r = await post_file(client, who.headers, big_csv(tmp_path / "big.csv", rows))
    uid = r.json()["upload"]["id"]
    env = os.environ.copy()
    env[imports.THROTTLE_ENV] = "0.8"  # ~5 s per attempt: time to kill it mid-way
    proc = subprocess.Popen([sys.executable, "-c", WORKER], env=env, cwd=ROOT)  # noqa: ASYNC220
    try:
        deadline = time.monotonic() + 90
        while True:
            assert proc.poll() is None, "the worker exited early"
            assert time.monotonic() < deadline, "the import never got going"
            p = (await client.get(f"/api/uploads/{uid}/progress", headers=who.headers)).json()
            assert not p["is_complete"], p
            if p["stage"] == "parsing" and p["success_rows"] >= 10_000:
                break
            await asyncio.sleep(0.1)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    detail = (await client.get(f"/api/uploads/{uid}", headers=who.headers)).json()
    assert detail["status"] == "processing"
    assert await _snapshot_counts(uid) == (0, 0)  # the killed attempt's rows never committed

    async with transaction(readonly=True) as s:
        job = await s.scalar(select(Job).where(Job.dedupe_key == f"import:{uid}"))
    assert job.status == "running" and job.attempts == 1
    await asyncio.sleep(max(0.0, (job.lease_until - utcnow()).total_seconds() + 0.3))
    await run_until_idle()

    detail = (await client.get(f"/api/uploads/{uid}", headers=who.headers)).json()
    assert detail["status"] == "completed" and detail["records_processed"] == rows
    assert await _snapshot_counts(uid) == (rows, rows)
    async with transaction(readonly=True) as s:
        report = await imports.find_report(s, uid)
        job = await s.scalar(select(Job).where(Job.dedupe_key == f"import:{uid}"))
        book = await s.scalar(select(func.count()).select_from(DebtorAccount)
                              .where(DebtorAccount.org_id == org.id))
    assert report.attempts == 2 and job.status == "done" and job.attempts == 2
    assert book == rows
    summary = (await client.get(f"/api/uploads/{uid}/summary", headers=who.headers)).json()
    assert summary["summary"]["total_accounts"] == rows and summary["summary"]["total_balance"] == 15.0 * rows


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return arrears("import", *args)  # in-process (tests/inprocess_cli.py); called in a thread


@pytest.mark.slow
async def test_the_import_command(officer, tmp_path: Path):
    org, who = officer
    good = write_book(tmp_path / "Debtors Jan.xlsx", BOOK)
    out = await asyncio.to_thread(_cli, str(good), "--org", str(org.id), "--user", who.user.username, "--json")
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result == result | {"status": "completed", "accounts": 5, "failed_rows": 3, "total_balance": "1675.50",
                               "overdue_balance": "1250.00", "customers_created": 5}
    async with transaction(readonly=True) as s:
        report = await imports.find_report(s, result["upload_id"])
        book = await s.scalar(select(func.count()).select_from(DebtorAccount).where(DebtorAccount.org_id == org.id))
    assert report.user_id == who.user.id and report.original_filename == "Debtors Jan.xlsx" and book == 5

    human = await asyncio.to_thread(_cli, str(good), "--org", str(org.id))
    assert human.returncode == 0 and "imported 5 accounts" in " ".join(human.stderr.split())
    assert "Reading and storing rows" in human.stderr

    bad = write_book(tmp_path / "cols.csv", [["Account", "Name"], ["A1", "x"]])
    out = await asyncio.to_thread(_cli, str(bad), "--org", str(org.id))
    assert out.returncode != 0 and "missing required columns" in " ".join(out.stderr.split())
    out = await asyncio.to_thread(_cli, str(tmp_path / "nope.xlsx"), "--org", str(org.id))
    assert out.returncode != 0 and "is not a file" in " ".join(out.stderr.split())
    pdf = tmp_path / "x.xlsx"
    pdf.write_bytes(b"%PDF-1.4 nothing")
    out = await asyncio.to_thread(_cli, str(pdf), "--org", str(org.id))
    assert out.returncode != 0 and "not a spreadsheet" in " ".join(out.stderr.split())
    out = await asyncio.to_thread(_cli, str(good), "--org", str(org.id), "--user", "ghost")
    assert out.returncode != 0 and "no user named" in " ".join(out.stderr.split())



async def test_a_long_import_keeps_its_job_lease_from_other_workers(client, officer, tmp_path: Path,
                                                                     monkeypatch):
    # The import outlives its worker's lease (1 s) several times over. On SQLite its transaction
    # holds the write lock the heartbeat needs, so the import renews the lease itself; either way
    # no other worker may take the job while it runs, or the moment it commits.
    # The workers keep their leases by a clock of the test's that only the import's pauses between
    # batches (and the heartbeat's sleeps) move on: 0.25 s a batch, 12 batches. A loaded machine
    # makes the import slower, not its lease shorter, so a renewal that comes late is a bug.
    _, who = officer
    monkeypatch.setenv(imports.THROTTLE_ENV, "0.25")
    monkeypatch.setenv(imports.BATCH_ROWS_ENV, "500")
    r = await post_file(client, who.headers, big_csv(tmp_path / "long.csv", 6000))  # 3 s of batches
    uid = r.json()["upload"]["id"]
    load_all_handlers()
    clock = SimulatedClock(start=time.time())  # leases are stored as datetimes: today's
    first = Worker(lease_seconds=1.0, poll_seconds=0.05, concurrency=1, clock=clock)
    async with transaction(readonly=True) as s:
        sqlite = s.get_bind().dialect.name == "sqlite"
    if sqlite:
        # An import longer than SQLite's busy timeout (30 s) makes every heartbeat fail with
        # "database is locked": here the heartbeat is off, only the import's renewals count.
        async def no_heartbeat(job_id: int) -> None:
            await asyncio.Event().wait()

        monkeypatch.setattr(first, "_heartbeat", no_heartbeat)
    lease_left_at_finish: list[float] = []
    finish = first._finish

    async def finish_and_look(job_id: int, **values: object) -> None:
        # After the import's commit, before the worker marks the job done: still leased?
        async with transaction(readonly=True) as s:
            leased = (await s.get(Job, job_id)).lease_until
        lease_left_at_finish.append((leased - queue.on_clock(clock)).total_seconds())
        await finish(job_id, **values)

    monkeypatch.setattr(first, "_finish", finish_and_look)
    job = await first.claim()
    assert job is not None and job.kind == IMPORT_JOB
    claimed_at = clock.now
    running = asyncio.create_task(first.run_one(job))
    # Past the lease the claim gave: the import is half-way on the lease clock.
    past = asyncio.create_task(clock.until(claimed_at + 1.5))
    await asyncio.wait([past, running], return_when=asyncio.FIRST_COMPLETED)
    assert past.done() and not running.done(), "the import ended before it outlived its lease"
    other = Worker(lease_seconds=1.0, poll_seconds=0.05, concurrency=1, kinds={IMPORT_JOB}, clock=clock)
    claims = 0
    while True:
        # On SQLite this waits for the import's commit, then must still find the lease held.
        stolen = await other.claim()
        claims += 1
        assert stolen is None, "another worker took the running import"
        if running.done():
            break
        await asyncio.sleep(0.2)
    await running
    assert clock.now - claimed_at >= 3.0  # it ran three leases long, on the lease clock
    assert len(lease_left_at_finish) == 1 and lease_left_at_finish[0] > 0, lease_left_at_finish
    async with transaction(readonly=True) as s:
        row = await s.scalar(select(Job).where(Job.id == job.id))
        report = await imports.find_report(s, uid)
    assert (row.status, row.attempts) == ("done", 1)
    assert report.status == "completed" and report.attempts == 1 and report.success_rows == 6000


async def test_renew_lease_writes_only_inside_a_running_job(world):
    async with transaction() as s:
        job = await queue.enqueue(s, "test.nothing", {})
        job.status, job.locked_by, job.lease_until = "running", "me", utcnow()
        job_id, before = job.id, job.lease_until
    async with transaction() as s:
        assert await queue.renew_lease(s) is False  # not inside a worker's job
    token = queue.set_current_lease(queue.Lease(job_id, "me", 60.0, renewed=0.0))
    try:
        async with transaction() as s:
            renewed = await queue.renew_lease(s)
            again = await queue.renew_lease(s)  # within a third of the lease: no second write
    finally:
        queue.reset_current_lease(token)
    async with transaction(readonly=True) as s:
        after = (await s.get(Job, job_id)).lease_until
    sqlite = s.get_bind().dialect.name == "sqlite"
    assert (renewed, again) == ((True, False) if sqlite else (False, False))
    if sqlite:
        assert (after - before).total_seconds() > 50
    else:
        assert after == before  # PostgreSQL: the heartbeat's own transaction does it
