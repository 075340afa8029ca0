"""Issue 21 in the web UI for PDF reports: the book form previews a PDF report before storing it
(its date, skipped lines, total check, first debtors and the rows it would not vouch for), stores
nothing until confirmed, and then stores exactly what the pharmacy upload stores for the same file;
another organisation's waiting report is a 404, a report is confirmed once, Cancel discards it."""

from __future__ import annotations

import re
from datetime import date, timedelta
from decimal import Decimal as D
from typing import Any

from sqlalchemy import func, select

from arrears.db import transaction
from arrears.debtors.models import DebtorAccount, DebtorReport, DebtorRowError, DebtorSnapshot
from tests.debtors.pdf.make_pdfs import Debtor, Layout, build_report, sample_debtors
from tests.web.conftest import confirm_preview, preview_form, workbook_bytes

TABLES = (DebtorReport, DebtorSnapshot, DebtorAccount, DebtorRowError)


def report_pdf() -> bytes:
    """25 debtors (more than the preview lists), page and grand totals, and one row whose buckets do
    not add up to its printed balance."""
    rows = sample_debtors(24, medical_every=0)
    rows.append(Debtor("Z999", "Ayesha Patel", {"d30": D("10.00")}, phone="0821234567", printed_balance=D("99.00")))
    return build_report(rows, Layout(subtotals=True))


async def counts() -> tuple[int, ...]:
    async with transaction(readonly=True) as s:
        return tuple([int(await s.scalar(select(func.count()).select_from(m)) or 0) for m in TABLES])


async def stored(org_id: int) -> dict[str, Any]:
    """What an organisation's book holds after one PDF report, in comparable terms."""
    async with transaction(readonly=True) as s:
        report = (await s.scalars(select(DebtorReport).where(DebtorReport.org_id == org_id))).one()
        accounts = sorted((a.account_code, a.customer_name, a.current, a.d30, a.d60, a.d90, a.d120,
                           a.total_balance, a.telephone, a.telephone_raw, a.email, a.is_medical_aid_control)
                          for a in (await s.scalars(select(DebtorAccount).where(DebtorAccount.org_id == org_id))))
        snapshots = sorted((n.account_code, n.total_balance, n.sheet_row) for n in (await s.scalars(
            select(DebtorSnapshot).where(DebtorSnapshot.report_id == report.id))))
        errors = sorted((e.sheet_row, e.reason, e.account_code) for e in (await s.scalars(
            select(DebtorRowError).where(DebtorRowError.report_id == report.id))))
    fields = ("source", "status", "success_rows", "failed_rows", "skipped_rows", "skipped_reasons", "warnings",
              "report_date", "report_date_source", "partial", "totals", "original_filename", "file_size")
    return {"report": {f: getattr(report, f) for f in fields}, "accounts": accounts, "snapshots": snapshots,
            "errors": errors}


async def upload(ui: Any, content: bytes, name: str = "age-analysis.pdf", **fields: str) -> Any:
    return await ui.c.post("/app/books", data={"csrf_token": ui.token, **fields},
                           files={"file": (name, content, "application/pdf")})


def pending_files(org_id: int) -> list[str]:
    from arrears.config import get_settings

    folder = get_settings().uploads_path / str(org_id) / ".pending"
    return sorted(p.name for p in folder.iterdir() if p.is_file()) if folder.is_dir() else []


async def test_preview_stores_nothing_and_confirm_stores_what_the_pharmacy_upload_stores(client, people, world):
    org = await world.org("Sunrise Pharmacy", kind="pharmacy")
    twin = await world.org("Twin Pharmacy", kind="pharmacy")
    ui, _ = await people(org.id, role="manager")
    await ui.get("/app/books")
    pdf = report_pdf()
    before = await counts()
    r = await upload(ui, pdf)
    assert r.status_code == 200, r.text
    html = r.text
    assert await counts() == before == (0, 0, 0, 0)  # read, nothing stored
    assert len(pending_files(org.id)) == 1 and pending_files(org.id)[0].endswith(".pdf")
    assert 'action="/app/books/pdf/confirm"' in html and 'action="/app/books/pdf/cancel"' in html
    assert "24 debtors on" in html and "1 row it would not vouch for" in html
    assert 'data-testid="found-date">2024-12-31</strong> (read from the report)' in html
    assert "<li>Footer: 2</li><li>Title: 2</li><li>Total: 2</li>" in html  # skipped, per reason
    assert "Z999 Ayesha Patel" in html  # the row it would not vouch for
    assert "the report&#39;s total is 969,357.41 (difference 99.00)" in html  # the total check
    assert "The first 20 debtors" in html and len(re.findall(r'<td data-label="Account">', html)) == 20
    form = preview_form(html)
    assert form["report_date"] == "" and "partial" not in form

    r = await confirm_preview(ui, html)
    assert r.status_code == 303, r.text
    assert re.fullmatch(r"/app/books/[0-9a-f-]{36}", r.headers["location"])
    assert pending_files(org.id) == []
    page = (await ui.get(r.headers["location"])).text
    assert "24 accounts read from age-analysis.pdf. 1 row needs checking" in page

    # The same file through the pharmacy API, for another pharmacy: the same book.
    headers = await world.login_headers(client, twin.id, role="manager")
    r = await client.post(f"/pharmacies/{twin.id}/debtors/upload", headers=headers,
                          files={"file": ("age-analysis.pdf", pdf, "application/pdf")})
    assert r.status_code in (200, 201), r.text
    web, api = await stored(org.id), await stored(twin.id)
    assert web == api
    assert web["report"]["success_rows"] == 24 and web["report"]["failed_rows"] == 1
    assert web["report"]["report_date"] == date(2024, 12, 31) and len(web["accounts"]) == 24

    # Confirmed once: the same form again is a 404 and stores nothing more.
    before = await counts()
    r = await confirm_preview(ui, html)
    assert r.status_code == 404
    assert await counts() == before


async def test_another_organisations_waiting_report_is_a_404(people, world):
    org, other = await world.org("Sunrise Pharmacy", kind="pharmacy"), await world.org("Other")
    theirs, _ = await people(other.id, role="admin")
    await theirs.get("/app/books")
    r = await upload(theirs, report_pdf())
    form = preview_form(r.text)
    ui, _ = await people(org.id, role="admin")
    await ui.get("/app/books")
    r = await ui.c.post("/app/books/pdf/confirm", data=form | {"csrf_token": ui.token})
    assert r.status_code == 404
    r = await ui.c.post("/app/books/pdf/cancel", data=form | {"csrf_token": ui.token})
    assert r.status_code == 404
    assert await counts() == (0, 0, 0, 0) and len(pending_files(other.id)) == 1
    # Read-only people of the same organisation cannot store it either.
    reader, _ = await people(other.id, role="manager", access="read")
    await reader.get("/app/books")
    r = await reader.c.post("/app/books/pdf/confirm", data=form | {"csrf_token": reader.token})
    assert r.status_code == 403 and await counts() == (0, 0, 0, 0)
    # A waiting spreadsheet is not a PDF report to store.
    r = await theirs.c.post("/app/books", data={"csrf_token": theirs.token},
                            files={"file": ("book.xlsx", workbook_bytes())})
    sheet = preview_form(r.text)
    r = await theirs.c.post("/app/books/pdf/confirm", data=sheet | {"csrf_token": theirs.token})
    assert r.status_code == 404 and await counts() == (0, 0, 0, 0)
    # Its own organisation's manager can.
    r = await theirs.c.post("/app/books/pdf/confirm", data=form | {"csrf_token": theirs.token})
    assert r.status_code == 303 and (await counts())[0] == 1


async def test_a_future_date_on_confirm_is_a_400_and_stores_nothing(people, world):
    org = await world.org("Sunrise Pharmacy", kind="pharmacy")
    ui, _ = await people(org.id, role="manager")
    await ui.get("/app/books")
    day = date.today() - timedelta(days=10)
    r = await upload(ui, build_report(sample_debtors(3, medical_every=0)), report_date=day.isoformat(), partial="1")
    assert r.status_code == 200, r.text
    form = preview_form(r.text)
    assert form["report_date"] == day.isoformat() and form["partial"] == "1"
    future = (date.today() + timedelta(days=3)).isoformat()
    r = await confirm_preview(ui, r.text, {"report_date": future})
    assert r.status_code == 400 and "report cannot be dated in the future" in r.text
    assert await counts() == (0, 0, 0, 0) and len(pending_files(org.id)) == 1
    shown = preview_form(r.text)
    assert shown["report_date"] == future and shown["partial"] == "1"
    r = await confirm_preview(ui, r.text, {"report_date": day.isoformat()})
    assert r.status_code == 303, r.text
    result = await stored(org.id)
    assert result["report"]["report_date"] == day and result["report"]["partial"] is True
    assert result["report"]["report_date_source"] == "form" and len(result["accounts"]) == 3


async def test_confirm_and_cancel_need_the_csrf_token_and_cancel_discards(people, world):
    org = await world.org("Sunrise Pharmacy", kind="pharmacy")
    ui, _ = await people(org.id, role="manager")
    await ui.get("/app/books")
    r = await upload(ui, report_pdf())
    html = r.text
    form = preview_form(html)
    without = {k: v for k, v in form.items() if k != "csrf_token"}
    for action in ("confirm", "cancel"):
        assert (await ui.c.post(f"/app/books/pdf/{action}", data=without)).status_code == 403
        r = await ui.c.post(f"/app/books/pdf/{action}", data=form | {"csrf_token": "forged"})
        assert r.status_code == 403
    assert await counts() == (0, 0, 0, 0) and len(pending_files(org.id)) == 1
    r = await ui.post("/app/books/pdf/cancel", {"pending": form["pending"], "filename": form["filename"]})
    assert r.status_code == 303 and r.headers["location"] == "/app/books"
    assert "age-analysis.pdf was not stored" in ui.followed.text
    assert pending_files(org.id) == []
    r = await confirm_preview(ui, html)
    assert r.status_code == 404 and await counts() == (0, 0, 0, 0)


async def test_a_misread_column_is_chosen_in_the_preview(people, world):
    """The preview lists the report's columns with what each holds; changing one re-reads the
    report with it when confirmed, and a choice that cannot be used shows the preview again."""
    from tests.faces.pharmacy.test_upload_mapping import report as misread_report

    org = await world.org("Sunrise Pharmacy", kind="pharmacy")
    ui, _ = await people(org.id, role="manager")
    await ui.get("/app/books")
    r = await upload(ui, misread_report())
    assert r.status_code == 200, r.text
    html = r.text
    assert "1 debtors on 1 page, 2 rows it would not vouch for" in html
    assert re.search(r'<td data-label="Heading">Overdue</td>.*?<option value="" selected>— ignore —</option>',
                     html, re.S)
    form = preview_form(html)
    assert form["col_5"] == "" and form["read_5"] == "" and form["col_3"] == form["read_3"] == "d30"

    r = await confirm_preview(ui, html, {"col_5": "d30"})  # two columns on d30
    assert r.status_code == 400, r.text
    assert 'id="mapping-errors"' in r.text and "Columns 3 and 5 both map to d30" in r.text
    assert await counts() == (0, 0, 0, 0) and len(pending_files(org.id)) == 1

    r = await confirm_preview(ui, r.text, {"col_5": "d90"})
    assert r.status_code == 303, r.text
    async with transaction(readonly=True) as s:
        accounts = sorted((a.account_code, a.d90, a.total_balance) for a in await s.scalars(select(DebtorAccount)))
        errors = int(await s.scalar(select(func.count()).select_from(DebtorRowError)) or 0)
    assert accounts == [("AC1001", D("40.00"), D("100.00")), ("AC1002", D("4.50"), D("10.50")),
                        ("AC1003", D("0.00"), D("5.00"))]
    assert errors == 0 and pending_files(org.id) == []
