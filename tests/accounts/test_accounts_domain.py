"""Accounts owed: made for every book account (through the book's job) and every loan (when it is
created), never twice, always with the customer, following a loan moved to another customer;
figures (balance, days past due); `paid_up` following the balance; the migration making them for
the rows that exist. Both databases."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

from sqlalchemy import func, select

from arrears import migrate
from arrears.accounts import service as accounts
from arrears.accounts.models import Account, AccountStatusChange
from arrears.db import transaction, utcnow
from arrears.debtors.book import zone_of
from arrears.debtors.imports import update_book
from arrears.debtors.jobs import after_upload
from arrears.debtors.models import DebtorAccount, DebtorReport
from arrears.events import DomainEvent
from arrears.identity.caller import Caller
from arrears.state import state
from tests.faces.age_analysis.conftest import member
from tests.faces.age_analysis.helpers import HEADER, import_file, write_book
from tests.faces.repaysync.conftest import RS

ROWS = [
    ["B1", "Alpha Ltd", "Ann", "082 123 4567", 100, 50, 0, 0, 0, 150],
    ["B2", "Beta CC", None, "0831234567", 0, 0, 0, 0, 0, 0],  # owes nothing: paid up
    ["B3", "Gamma", "Gus", "011 555 1234", 0, 0, 0, 400, 600, 1000],
]


async def _book(client, world, tmp_path: Path, rows=ROWS, name: str = "Book Org"):
    org = await world.org(name)
    who = await member(client, world, org.id, "manager")
    upload_id = await import_file(client, who.headers, write_book(tmp_path / "book.csv", [HEADER, *rows]))
    return org, upload_id


async def _accounts(org_id: int) -> list[tuple[Account, DebtorAccount]]:
    async with transaction() as s:
        rows = await s.execute(select(Account, DebtorAccount).join(DebtorAccount, DebtorAccount.id ==
                                                                  Account.debtor_account_id)
                               .where(Account.org_id == org_id).order_by(DebtorAccount.account_code))
        return [(a, d) for a, d in rows.all()]


async def test_the_book_job_makes_one_account_per_book_account_with_its_customer(client, world, tmp_path):
    org, upload_id = await _book(client, world, tmp_path)
    rows = await _accounts(org.id)
    assert [d.account_code for _, d in rows] == ["B1", "B2", "B3"]
    for a, d in rows:
        assert a.kind == "book" and a.customer_id == d.customer_id is not None and a.loan_id is None
    status = {d.account_code: a.status for a, d in rows}
    assert status == {"B1": "active", "B2": "paid_up", "B3": "active"}

    # The job again (a retried job, or the CLI's import): nothing new, no second history row.
    await update_book(upload_id)
    await after_upload(upload_id)
    assert [a.id for a, _ in await _accounts(org.id)] == [a.id for a, _ in rows]
    async with transaction() as s:
        changes = (await s.execute(select(AccountStatusChange.from_status, AccountStatusChange.to_status,
                                          AccountStatusChange.actor))).all()
        assert changes == [("active", "paid_up", "system")]
        ev = (await s.scalars(select(DomainEvent).where(DomainEvent.type == "account.status_changed"))).one()
        b2 = next(a for a, d in rows if d.account_code == "B2")
        assert ev.subject_id == str(b2.id) and ev.org_id == org.id
        assert ev.data["from"] == "active" and ev.data["to"] == "paid_up" and ev.data["why"]


async def test_a_newer_report_moves_paid_up_back_and_keeps_one_account(client, world, tmp_path):
    org, _ = await _book(client, world, tmp_path)
    who = await member(client, world, org.id, "manager")
    newer = [["B2", "Beta CC", None, "0831234567", 0, 80, 0, 0, 0, 80], ["B4", "Delta", None, "", 10, 0, 0, 0, 0, 10]]
    await import_file(client, who.headers, write_book(tmp_path / "newer.csv", [HEADER, *newer]))
    rows = await _accounts(org.id)
    # A whole-book report settles the accounts it does not list (issue 21): B1 and B3 are paid up.
    assert [(d.account_code, a.status) for a, d in rows] == [
        ("B1", "paid_up"), ("B2", "active"), ("B3", "paid_up"), ("B4", "active")]
    async with transaction() as s:
        assert await s.scalar(select(func.count()).select_from(AccountStatusChange)) == 4


async def test_a_later_report_pays_up_new_and_existing_accounts_once_each(client, world, tmp_path):
    # A new account that owes nothing is created paid up; an existing one is moved: one history row
    # and one event each, written set-based, and none again when the job runs twice.
    org, _ = await _book(client, world, tmp_path)
    who = await member(client, world, org.id, "manager")
    later = [["B1", "Alpha Ltd", "Ann", "082 123 4567", 0, 0, 0, 0, 0, 0], ROWS[1], ROWS[2],
             ["B5", "Epsilon", None, "", 0, 0, 0, 0, 0, 0]]
    upload_id = await import_file(client, who.headers, write_book(tmp_path / "later.csv", [HEADER, *later]))
    for _ in range(2):  # the second time: a retried job
        await update_book(upload_id)
        await after_upload(upload_id)
        rows = await _accounts(org.id)
        assert [(d.account_code, a.status) for a, d in rows] == [
            ("B1", "paid_up"), ("B2", "paid_up"), ("B3", "active"), ("B5", "paid_up")]
        ids = {d.account_code: a.id for a, d in rows}
        async with transaction() as s:
            changes = (await s.execute(select(AccountStatusChange.account_id, AccountStatusChange.from_status,
                                              AccountStatusChange.to_status, AccountStatusChange.reason)
                                       .order_by(AccountStatusChange.id))).all()
            assert sorted(c.account_id for c in changes) == sorted([ids["B1"], ids["B2"], ids["B5"]])
            assert {(c.from_status, c.to_status, c.reason) for c in changes} == {
                ("active", "paid_up", "The balance is nothing or less.")}
            evs = list(await s.scalars(select(DomainEvent).where(DomainEvent.type == "account.status_changed")
                                       .order_by(DomainEvent.id)))
            assert sorted(e.subject_id for e in evs) == sorted(str(ids[k]) for k in ("B1", "B2", "B5"))
            for ev in evs:
                assert ev.org_id == org.id and ev.subject_type == "account" and ev.actor == "system"
                assert ev.before == {"status": "active"} and ev.after == {"status": "paid_up"}
                assert ev.data == {"accountId": ev.subject_id, "from": "active", "to": "paid_up",
                                   "why": "The balance is nothing or less."}
            moved = [a for a, d in rows if d.account_code in ("B1", "B5")]
            assert moved[0].status_changed_at == moved[1].status_changed_at is not None


async def test_book_figures_count_from_the_report_and_its_oldest_bucket(client, world, tmp_path):
    org, upload_id = await _book(client, world, tmp_path)
    rows = {d.account_code: a for a, d in await _accounts(org.id)}
    async with transaction() as s:
        report = (await s.scalars(select(DebtorReport).where(DebtorReport.org_id == org.id))).one()
        uploaded = report.created_at.astimezone(zone_of(org)).date()  # the upload's day in the org's zone
        f = await accounts.figures(s, await s.get(Account, rows["B3"].id), today=uploaded + timedelta(days=10))
        assert (f.balance, f.days_past_due, f.report_date, f.reference) == (Decimal("1000.00"), 130, uploaded, "B3")
        assert f.customer.customer_code == "B3"
        f = await accounts.figures(s, await s.get(Account, rows["B1"].id), today=uploaded)
        assert (f.balance, f.days_past_due) == (Decimal("150.00"), 30)
        f = await accounts.figures(s, await s.get(Account, rows["B2"].id), today=uploaded)
        assert (f.balance, f.days_past_due) == (Decimal("0.00"), 0)


async def test_a_report_date_wins_over_the_upload_day(client, world, tmp_path):
    """Reports carry `report_date` once the fidelity work lands; until then the upload day counts."""
    assert accounts.report_date_of(None, None) is None

    class Report:
        created_at = utcnow()
        report_date = date(2025, 1, 31)

    assert accounts.report_date_of(Report(), None) == date(2025, 1, 31)  # type: ignore[arg-type]
    Report.report_date = None  # type: ignore[assignment]
    assert accounts.report_date_of(Report(), None) == Report.created_at.date()  # type: ignore[arg-type]


async def test_a_loan_gets_its_account_when_created_and_it_follows_the_customer(rs: RS):
    t = await rs.tenant()
    c1, c2 = await t.customer(), await t.customer(name="Jane Roe")
    loan = await t.loan(c1["id"], principal_amount="1200.00", tenure_months=12, loan_date="2025-01-31")
    async with transaction() as s:
        account = (await s.scalars(select(Account).where(Account.loan_id == loan["id"]))).one()
        assert (account.kind, account.customer_id, account.org_id, account.status) == ("loan", c1["id"], t.org.id,
                                                                                      "active")
        f = await accounts.figures(s, account, today=date(2025, 4, 30))
        # No payments yet: the whole principal; the first instalment (28 Feb) is 61 days late.
        assert (f.balance, f.days_past_due, f.reference) == (Decimal("1200.00"), 61, loan["loan_account_number"])

    r = await t.client.patch(f"/api/loans/{loan['id']}/", json={"customer": c2["id"]}, headers=await t.h())
    assert r.status_code == 200, r.text
    async with transaction() as s:
        assert (await s.get(Account, account.id)).customer_id == c2["id"]  # type: ignore[union-attr]
        assert await s.scalar(select(func.count()).select_from(Account)) == 1


async def test_the_payments_seam_lowers_a_loans_balance(rs: RS):
    t = await rs.tenant()
    loan = await t.loan((await t.customer())["id"], principal_amount="1200.00", tenure_months=12,
                        loan_date="2025-01-31")

    async def paid(session, ids):
        return {i: Decimal("150.00") for i in ids}

    accounts.register_payments_source(paid)
    try:
        async with transaction() as s:
            account = (await s.scalars(select(Account).where(Account.loan_id == loan["id"]))).one()
            f = await accounts.figures(s, account, today=date(2025, 4, 30))
            # 150 paid covers February's 100; March's (31 Mar) is the oldest unpaid: 30 days.
            assert (f.balance, f.days_past_due) == (Decimal("1050.00"), 30)
    finally:
        accounts.unregister_payments_source(paid)


async def test_the_migration_makes_accounts_for_the_rows_that_exist(client, world, tmp_path, rs: RS, env):
    org, _ = await _book(client, world, tmp_path)
    t = await rs.tenant("Lender")
    loan = await t.loan((await t.customer())["id"])
    async with transaction() as s:
        before = {(a.kind, a.debtor_account_id, a.loan_id, a.customer_id)
                  for a in await s.scalars(select(Account))}
    assert len(before) == 4
    await state.reset()  # no connection of ours holds the database while it migrates
    url = env["db_url"]
    await asyncio.to_thread(migrate.downgrade, url, "0018_book_job_indexes")  # 0019's parent
    try:
        await asyncio.to_thread(migrate.upgrade, url)
    finally:
        await asyncio.to_thread(migrate.upgrade, url)
    async with transaction() as s:
        after = {(a.kind, a.debtor_account_id, a.loan_id, a.customer_id)
                 for a in await s.scalars(select(Account))}
        assert after == before
        assert any(row[2] == loan["id"] for row in after)
        assert all(a.status == "active" for a in await s.scalars(select(Account)))


async def test_the_cli_import_makes_the_accounts(world, tmp_path, env):
    from tests.debtors.test_debtor_import_runtime import _cli

    org = await world.org("CLI Org")
    book = write_book(tmp_path / "book.csv", [HEADER, *ROWS])
    out = await asyncio.to_thread(_cli, str(book), "--org", str(org.id), "--json")
    assert out.returncode == 0, out.stderr
    rows = await _accounts(org.id)
    assert [(d.account_code, a.status) for a, d in rows] == [("B1", "active"), ("B2", "paid_up"), ("B3", "active")]


async def test_a_partial_report_leaves_the_accounts_it_does_not_list(client, world, tmp_path):
    from arrears.worker import run_until_idle

    org, _ = await _book(client, world, tmp_path)
    who = await member(client, world, org.id, "manager")
    newer = [["B2", "Beta CC", None, "0831234567", 0, 80, 0, 0, 0, 80]]
    path = write_book(tmp_path / "partial.csv", [HEADER, *newer])
    r = await client.post("/api/uploads", headers=who.headers, data={"partial": "true"},
                          files={"file": (path.name, path.read_bytes())})
    assert r.status_code == 202, r.text
    await run_until_idle()
    rows = await _accounts(org.id)
    assert [(d.account_code, a.status) for a, d in rows] == [("B1", "active"), ("B2", "active"), ("B3", "active")]


async def test_figures_count_days_in_the_organisations_time_zone(client, world, tmp_path, monkeypatch):
    """Without a date, "today" is the organisation's: at 22:30 UTC it is already the next day in
    Johannesburg (the default) and still the same day in New York."""
    from datetime import UTC, datetime, time

    import arrears.debtors.book as book
    from arrears.identity import service as identity

    org, _ = await _book(client, world, tmp_path)
    rows = {d.account_code: a for a, d in await _accounts(org.id)}
    async with transaction() as s:
        report = (await s.scalars(select(DebtorReport).where(DebtorReport.org_id == org.id))).one()
        as_of = accounts.report_date_of(report, None)
        assert as_of is not None
        day = as_of + timedelta(days=10)
    monkeypatch.setattr(book, "utcnow", lambda: datetime.combine(day, time(22, 30), UTC))
    async with transaction() as s:
        f = await accounts.figures(s, await s.get(Account, rows["B3"].id))
        assert f.days_past_due == 131  # 120 + 11 days: Johannesburg's tomorrow
        await identity.set_org_settings(s, Caller.system(org.id), await identity.get_org(s, org.id), {"timezone": "America/New_York"})
    async with transaction() as s:
        f = await accounts.figures(s, await s.get(Account, rows["B3"].id))
        assert f.days_past_due == 130
