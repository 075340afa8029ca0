"""One book (issue 21): spreadsheets and PDF reports of one organisation update the same accounts by
the same rules, every page shows that book, the newest report is the one with the latest report
date whatever order the jobs ran in, and a report's date and partial flag come with the upload."""

from __future__ import annotations

import io
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import httpx
import openpyxl
from sqlalchemy import func, select

from arrears.db import transaction
from arrears.debtors.models import DebtorAccount, DebtorReport
from arrears.web.render import money, number
from arrears.worker import run_until_idle
from tests.debtors.pdf.make_pdfs import Debtor, build_report, sample_debtors
from tests.web.conftest import confirm_preview, preview_form

HEADER = ["Account", "Name", "Contact", "Telephone", "Current", "30 Days", "60 Days", "90 Days", "120 Days",
          "Total Balance"]
TODAY = date.today()  # the organisation's day is Johannesburg's: two days' margin either side below
NOV, DEC = TODAY - timedelta(days=20), TODAY - timedelta(days=5)


def xlsx(rows: list[list[Any]]) -> bytes:
    wb = openpyxl.Workbook()
    ws = wb.active
    for row in [HEADER, *rows]:
        ws.append(row)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def sixty_accounts(shared: str) -> list[list[Any]]:
    """60 accounts of 100.00 each (20.00 of it 60 days old); the last one has the code `shared`."""
    rows: list[list[Any]] = [[f"S{i:03d}", f"Customer {i}", None, "0821234567", 50, 30, 20, 0, 0, 100]
                             for i in range(1, 60)]
    return [*rows, [shared, "Shared Account", None, "0821234567", 50, 30, 20, 0, 0, 100]]


def six_debtors() -> list[Debtor]:
    return sample_debtors(6, medical_every=0, negatives_every=0)


async def api_upload(client: httpx.AsyncClient, headers: dict[str, str], data: bytes, name: str,
                     **fields: str) -> httpx.Response:
    return await client.post("/api/uploads", headers=headers, files={"file": (name, data)}, data=fields)


async def pdf_upload(client: httpx.AsyncClient, headers: dict[str, str], org_id: int, data: bytes,
                     name: str = "report.pdf", **fields: str) -> httpx.Response:
    return await client.post(f"/pharmacies/{org_id}/debtors/upload", headers=headers,
                             files={"file": (name, data, "application/pdf")}, data=fields)


async def _book(org_id: int) -> dict[str, DebtorAccount]:
    async with transaction(readonly=True) as s:
        rows = (await s.scalars(select(DebtorAccount).where(DebtorAccount.org_id == org_id))).all()
    return {a.account_code: a for a in rows}


async def _reports(org_id: int) -> int:
    async with transaction(readonly=True) as s:
        return await s.scalar(select(func.count()).select_from(DebtorReport).where(DebtorReport.org_id == org_id))


async def _pages_agree(client: httpx.AsyncClient, headers: dict[str, str], ui: Any, org_id: int,
                       accounts: int, total: Decimal) -> None:
    """The pharmacy API, the pharmacy page and the home page show the same book."""
    stats = (await client.get(f"/pharmacies/{org_id}/debtors/statistics", headers=headers)).json()
    assert (stats["total_accounts"], Decimal(str(stats["total_outstanding"]))) == (accounts, total)
    listed = (await client.get(f"/pharmacies/{org_id}/debtors", headers=headers, params={"per_page": 1000})).json()
    assert listed["total"] == accounts
    pharmacy_page = (await ui.get("/app/pharmacy")).text
    assert money(total) in pharmacy_page and f">{number(accounts)}<" in pharmacy_page
    home = (await ui.get("/app/")).text
    assert money(total) in home and f"{number(accounts)} accounts" in home


async def _setup(client: httpx.AsyncClient, world: Any, people: Any) -> tuple[Any, dict[str, str], Any]:
    org = await world.org("Sunrise Pharmacy", kind="pharmacy")
    headers = await world.login_headers(client, org.id, role="manager")
    ui, _ = await people(org.id, role="manager")
    return org, headers, ui


async def test_a_spreadsheet_then_a_whole_book_pdf_leave_one_book(client, world, people) -> None:
    org, headers, ui = await _setup(client, world, people)
    pdf = six_debtors()
    r = await api_upload(client, headers, xlsx(sixty_accounts(pdf[1].acc_no)), "book.xlsx",
                         report_date=NOV.isoformat())
    assert r.status_code == 202, r.text
    await run_until_idle()
    await _pages_agree(client, headers, ui, org.id, 60, Decimal("6000.00"))

    r = await pdf_upload(client, headers, org.id, build_report(pdf), report_date=DEC.isoformat())
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["report_date"] == DEC.isoformat() and body["partial"] is False
    assert body["settled"] == 59  # the spreadsheet's accounts the PDF does not list
    total = sum((d.balance for d in pdf), Decimal("0.00"))
    # Before issue 21: the home page showed the PDF's 6 accounts, the pharmacy page 65.
    await _pages_agree(client, headers, ui, org.id, 6, total)
    book = await _book(org.id)
    assert len(book) == 65  # nothing deleted: the settled accounts keep their history
    settled = [a for a in book.values() if a.settled_at is not None]
    assert len(settled) == 59 and all(a.total_balance == 0 and a.overdue_amount == 0 for a in settled)
    assert {a.settled_by_report_id for a in settled} == {body["report_id"]}
    shared = book[pdf[1].acc_no]
    assert shared.settled_at is None and shared.total_balance == pdf[1].balance
    assert shared.latest_report_date == DEC


async def test_a_partial_report_leaves_the_accounts_it_does_not_list(client, world, people) -> None:
    org, headers, ui = await _setup(client, world, people)
    pdf = six_debtors()
    r = await api_upload(client, headers, xlsx(sixty_accounts(pdf[1].acc_no)), "book.xlsx",
                         report_date=NOV.isoformat())
    assert r.status_code == 202
    await run_until_idle()
    r = await pdf_upload(client, headers, org.id, build_report(pdf), report_date=DEC.isoformat(), partial="true")
    assert r.status_code == 200, r.text
    assert r.json()["settled"] == 0 and r.json()["partial"] is True
    pdf_total = sum((d.balance for d in pdf), Decimal("0.00"))
    # 59 of the spreadsheet's accounts as they were, and the PDF's 6 (one of them replacing the 60th).
    await _pages_agree(client, headers, ui, org.id, 65, Decimal("5900.00") + pdf_total)

    # A whole-book spreadsheet afterwards settles everything it does not list, PDF debtors too.
    r = await api_upload(client, headers, xlsx([["S001", "Customer 1", None, None, 10, 0, 0, 0, 0, 10]]),
                         "book.xlsx", report_date=TODAY.isoformat())
    assert r.status_code == 202
    await run_until_idle()
    await _pages_agree(client, headers, ui, org.id, 1, Decimal("10.00"))
    book = await _book(org.id)
    assert all(book[d.acc_no].settled_at is not None and book[d.acc_no].total_balance == 0 for d in pdf)


async def test_an_older_report_imported_after_a_newer_one_does_not_overwrite_it(client, world, people) -> None:
    org, headers, ui = await _setup(client, world, people)
    december = [["X1", "Xolani", None, None, 500, 0, 0, 0, 0, 500], ["X2", "Xena", None, None, 70, 0, 0, 0, 0, 70]]
    november = [["X1", "Xolani", None, None, 100, 100, 0, 0, 0, 200], ["X3", "Xavier", None, None, 0, 0, 40, 0, 0, 40]]
    # The December report is uploaded (and its jobs run) first, November's after it.
    r = await api_upload(client, headers, xlsx(december), "december.xlsx", report_date=DEC.isoformat())
    dec_id = r.json()["upload"]["id"]
    r = await api_upload(client, headers, xlsx(november), "november.xlsx", report_date=NOV.isoformat())
    assert r.status_code == 202
    await run_until_idle()
    book = await _book(org.id)
    assert book["X1"].total_balance == Decimal("500.00") and book["X1"].latest_report_date == DEC
    assert book["X2"].total_balance == Decimal("70.00") and book["X2"].settled_at is None
    # November's X3: not in the newer whole-book December report, so settled by it.
    assert book["X3"].settled_at is not None and book["X3"].total_balance == 0
    await _pages_agree(client, headers, ui, org.id, 2, Decimal("570.00"))
    home = (await ui.get("/app/")).text
    assert "december.xlsx" in home and "november.xlsx" not in home  # the newest report, by its date
    async with transaction(readonly=True) as s:
        dec = await s.scalar(select(DebtorReport).where(DebtorReport.uuid == __import__("uuid").UUID(dec_id)))
    assert book["X3"].settled_by_report_id == dec.id


async def test_report_date_and_partial_fields(client, world, people) -> None:
    org, headers, ui = await _setup(client, world, people)
    other = await world.org("Other Pharmacy", kind="pharmacy")
    other_headers = await world.login_headers(client, other.id, role="admin")
    rows = [["A1", "Ann", None, None, 10, 0, 0, 0, 0, 10]]

    # Given with the upload.
    r = await api_upload(client, headers, xlsx(rows), "book.xlsx", report_date=NOV.isoformat(), partial="1")
    uid = r.json()["upload"]["id"]
    await run_until_idle()
    detail = (await client.get(f"/api/uploads/{uid}", headers=headers)).json()
    assert detail["report_date"] == NOV.isoformat() and detail["partial"] is True
    assert detail["skipped_rows"] == 0 and detail["skipped_reasons"] == {} and detail["warnings"] == []
    # Another organisation's user does not see it.
    assert (await client.get(f"/api/uploads/{uid}", headers=other_headers)).status_code == 404

    # Read from the file name; else the upload's day (Johannesburg).
    r = await api_upload(client, headers, xlsx(rows), f"debtors {DEC.isoformat()}.xlsx")
    named = r.json()["upload"]["id"]
    r = await api_upload(client, headers, xlsx(rows), "debtors.xlsx")
    plain = r.json()["upload"]["id"]
    await run_until_idle()
    assert (await client.get(f"/api/uploads/{named}", headers=headers)).json()["report_date"] == DEC.isoformat()
    day = (await client.get(f"/api/uploads/{plain}", headers=headers)).json()["report_date"]
    assert abs((date.fromisoformat(day) - TODAY).days) <= 1
    async with transaction(readonly=True) as s:
        sources = dict((await s.execute(select(DebtorReport.original_filename, DebtorReport.report_date_source)
                                        .where(DebtorReport.org_id == org.id))).all())
    assert sources == {"book.xlsx": "form", f"debtors {DEC.isoformat()}.xlsx": "file", "debtors.xlsx": "upload"}
    page = (await ui.get(f"/app/books/{uid}")).text
    assert f'data-testid="report-date">{NOV.isoformat()}' in page and "partial" in page

    # A date in the future, or not a date, or a flag that is not one: 400 in each face's body, nothing stored.
    before = await _reports(org.id)
    future = (TODAY + timedelta(days=3)).isoformat()
    r = await api_upload(client, headers, xlsx(rows), "book.xlsx", report_date=future)
    assert r.status_code == 400 and {"message", "code", "details"} <= set(r.json())
    assert "report_date" in r.json()["field_errors"] and "future" in r.json()["details"]
    r = await api_upload(client, headers, xlsx(rows), "book.xlsx", report_date="30/11/2026")
    assert r.status_code == 400 and "report_date" in r.json()["details"]
    r = await api_upload(client, headers, xlsx(rows), "book.xlsx", partial="maybe")
    assert r.status_code == 400 and "partial" in r.json()["details"]
    r = await pdf_upload(client, headers, org.id, build_report(six_debtors()), report_date=future)
    assert r.status_code == 400 and "report_date" in r.json()["detail"]
    r = await pdf_upload(client, headers, org.id, build_report(six_debtors()), partial="maybe")
    assert r.status_code == 400 and "partial" in r.json()["detail"]
    # Another pharmacy's id: refused, with the fields or without.
    r = await pdf_upload(client, headers, other.id, build_report(six_debtors()), report_date=NOV.isoformat())
    assert r.status_code in (403, 404)
    r = await ui.c.post("/app/books", data={"csrf_token": ui.token, "report_date": future},
                        files={"file": ("book.xlsx", xlsx(rows))})
    assert r.status_code == 400 and "report cannot be dated in the future" in r.text
    assert await _reports(org.id) == before and await _reports(other.id) == 0

    # The web form: a date and the partial box, carried through the preview (where they can be changed).
    r = await ui.c.post("/app/books", data={"csrf_token": ui.token, "report_date": NOV.isoformat(), "partial": "1"},
                        files={"file": ("web.xlsx", xlsx(rows))})
    assert r.status_code == 200 and 'action="/app/books/confirm"' in r.text, r.text
    form = preview_form(r.text)
    assert form["report_date"] == NOV.isoformat() and form["partial"] == "1"
    assert await _reports(org.id) == before  # nothing stored before the preview is confirmed
    r = await confirm_preview(ui, r.text, {"report_date": future})
    assert r.status_code == 400 and "report cannot be dated in the future" in r.text
    assert await _reports(org.id) == before
    shown = preview_form(r.text)  # the page again, the date as typed, the columns as chosen
    assert shown["report_date"] == future and shown["partial"] == "1" and shown["col_0"] == "account"
    r = await confirm_preview(ui, r.text, {"report_date": NOV.isoformat()})
    assert r.status_code == 303, r.text
    async with transaction(readonly=True) as s:
        web = await s.scalar(select(DebtorReport).where(DebtorReport.original_filename == "web.xlsx"))
    assert web.report_date == NOV and web.partial is True
