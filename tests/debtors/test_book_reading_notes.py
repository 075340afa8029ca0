"""What the readers say besides the rows (issue 21): title lines date the report, skipped lines and
warnings are stored per report, the file's printed total is checked, second phone numbers reach the
book. The readers expose these as attributes (`title_lines`, `skipped`, `printed_total`,
`warnings`, `phone2`); the import reads them wherever they are, so these tests give a real import
a reader that has them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from zoneinfo import ZoneInfo

from sqlalchemy import select

from arrears.db import transaction, utcnow
from arrears.debtors import book, service
from arrears.debtors.models import DebtorAccount, DebtorReport, DebtorSnapshot
from arrears.debtors.reading import AccountRow
from arrears.identity.caller import Caller
from tests.faces.age_analysis.conftest import member
from tests.faces.age_analysis.helpers import HEADER, import_file, write_book
from tests.fixtures import cheap_password_hashing  # noqa: F401

ZONE = ZoneInfo("Africa/Johannesburg")


def test_total_check_says_by_how_much() -> None:
    assert book.total_check(Decimal("100.00"), None) is None
    assert book.total_check(Decimal("100.00"), Decimal("100")) == (
        "The accounts add up to 100.00: matches the report's total.")
    assert book.total_check(Decimal("1100.00"), "1000.50") == (
        "The accounts add up to 1,100.00 but the report's total is 1,000.50 (difference 99.50).")


def test_note_reading_stores_skipped_lines_warnings_and_the_total_check() -> None:
    report = DebtorReport(totals={"total_balance": "250.00"})
    result = SimpleNamespace(skipped={"title": 2, "total": 3, "blank": 0}, printed_total=Decimal("260.00"),
                             warnings=["Column 'Notes' is not mapped."])
    note = book.note_reading(report, result)
    assert report.skipped_rows == 5 and report.skipped_reasons == {"title": 2, "total": 3}
    assert report.warnings == ["Column 'Notes' is not mapped.",
                               "The accounts add up to 250.00 but the report's total is 260.00 (difference 10.00)."]
    assert note.startswith("5 lines skipped (2 title, 3 total); The accounts add up to 250.00 but")

    report = DebtorReport(totals={"total_balance": "250.00"})
    note = book.note_reading(report, SimpleNamespace(), SimpleNamespace(printed_total="250"))  # on the header
    assert report.skipped_rows == 0 and report.skipped_reasons is None
    assert report.warnings == [note] == ["The accounts add up to 250.00: matches the report's total."]
    # The reader's own check (in its words) gives way to the book's: the total is checked once.
    report = DebtorReport(totals={"total_balance": "250.00"})
    book.note_reading(report, SimpleNamespace(printed_total=Decimal("250"), warnings=[
        "Column 'Notes' is not mapped.", "The 3 debtors add up to 250.00: matches the report's total."]))
    assert report.warnings == ["Column 'Notes' is not mapped.", "The accounts add up to 250.00: matches the report's total."]
    # A reader without any of it (main before the readers' change): nothing to say.
    report = DebtorReport(totals={"total_balance": "1.00"})
    assert book.note_reading(report, object()) == "" and report.skipped_rows == 0


def test_date_report_order_form_then_file_then_upload_day() -> None:
    now = utcnow()
    today = now.astimezone(ZONE).date()
    earlier = today - timedelta(days=9)
    report = DebtorReport(original_filename="book.xlsx", created_at=now, report_date=earlier)
    book.date_report(report, [f"as at {today:%d/%m/%Y}"], ZONE)
    assert (report.report_date, report.report_date_source) == (earlier, "form")
    report = DebtorReport(original_filename=f"book {earlier.isoformat()}.xlsx", created_at=now)
    book.date_report(report, ["Customer Age Analysis", f"As at {today:%d %B %Y}"], ZONE)
    assert (report.report_date, report.report_date_source) == (today, "file")
    report = DebtorReport(original_filename=f"book {earlier.isoformat()}.xlsx", created_at=now)
    book.date_report(report, None, ZONE)
    assert (report.report_date, report.report_date_source) == (earlier, "file")
    report = DebtorReport(original_filename="book.xlsx", created_at=now)
    book.date_report(report, [], ZONE)
    assert (report.report_date, report.report_date_source) == (today, "upload")


async def test_an_import_keeps_what_its_reader_says(client, world, tmp_path: Path) -> None:
    """A real file with a title block, a group heading, a subtotal, a grand total that is R1 off
    and a cell with two numbers: the report is dated by its title, the lines are skipped and
    counted, the difference is stored, and the second number reaches the book."""
    org = await world.org("Reader Org")
    who = await member(client, world, org.id, "manager")
    as_at = date.today() - timedelta(days=3)
    rows = [["Customer Age Analysis"], [f"as at {as_at:%d/%m/%Y}"], [],
            HEADER, ["Area: Gauteng"],
            ["B1", "Bee", None, "0821234567 / 0831112222", 10, 0, 0, 0, 0, 10],
            ["B2", "Cee", None, None, 20, 0, 0, 0, 0, 20],
            [None, "Gauteng total", None, None, 30, 0, 0, 0, 0, 30],
            [None, "Grand total", None, None, 31, 0, 0, 0, 0, 31]]
    uid = await import_file(client, who.headers, write_book(tmp_path / "book.xlsx", rows))
    detail = (await client.get(f"/api/uploads/{uid}", headers=who.headers)).json()
    assert detail["status"] == "completed" and detail["report_date"] == as_at.isoformat(), detail
    reasons = detail["skipped_reasons"]
    assert reasons.get("title", 0) >= 2 and reasons.get("heading") == 1 and reasons.get("total") == 2, reasons
    assert detail["skipped_rows"] == sum(reasons.values())
    assert any("31.00" in w and "difference" in w for w in detail["warnings"]), detail["warnings"]
    progress = (await client.get(f"/api/uploads/{uid}/progress", headers=who.headers)).json()
    assert "lines skipped" in str(progress) and "difference" in str(progress)
    async with transaction(readonly=True) as s:
        accounts = {a.account_code: a for a in (await s.scalars(
            select(DebtorAccount).where(DebtorAccount.org_id == org.id))).all()}
    assert set(accounts) == {"B1", "B2"}
    assert accounts["B1"].telephone2 and accounts["B1"].telephone2.endswith("831112222")
    assert accounts["B2"].telephone2 is None
    assert accounts["B1"].latest_report_date == as_at


@dataclass(slots=True)
class RowWithSecond(AccountRow):
    phone2: str | None = None


async def test_store_report_keeps_second_numbers(env, world) -> None:
    org = await world.org("Pharmacy")
    zero = Decimal("0.00")
    rows = [RowWithSecond("P1", "Patient One", "082 123 4567", "27821234567", True, None, Decimal("10.00"), zero,
                          zero, zero, zero, {}, Decimal("10.00"), 1, "083 555 1234"),
            RowWithSecond("P2", "Patient Two", "", None, False, None, Decimal("5.00"), zero, zero, zero, zero, {},
                          Decimal("5.00"), 2)]
    async with transaction() as s:
        report = service.new_report(org.id, user_id=None, source="pdf", filename="r.pdf",
                                    original_filename="Debtors.pdf", report_date=date.today())
        rid = (await service.store_report(s, Caller.system(org.id, "test"), report, rows)).id
    async with transaction(readonly=True) as s:
        snaps = {x.account_code: x for x in (await s.scalars(
            select(DebtorSnapshot).where(DebtorSnapshot.report_id == rid))).all()}
        accounts = {a.account_code: a for a in (await s.scalars(
            select(DebtorAccount).where(DebtorAccount.org_id == org.id))).all()}
    assert snaps["P1"].telephone2 == "083 555 1234" and snaps["P2"].telephone2 is None
    assert accounts["P1"].telephone2 == "083 555 1234" and accounts["P2"].telephone2 is None
