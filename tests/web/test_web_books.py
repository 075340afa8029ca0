"""Debtor book pages: upload, progress, summary, accounts, selection, failed rows, compare."""

from __future__ import annotations

import re

from tests.debtors.pdf.make_pdfs import Debtor, build_report, scanned_pdf
from tests.web.conftest import BOOK_ROWS, confirm_preview, upload_book, workbook_bytes


async def test_upload_progress_summary_and_home(people, world):
    org = await world.org()
    ui, _ = await people(org.id, role="admin")
    r = await ui.get("/app/books")
    assert r.status_code == 200 and "No uploads yet." in r.text and 'type="file"' in r.text
    assert "data-dropzone" in r.text
    upload_id = await upload_book(ui, run_jobs=False)
    r = await ui.get(f"/app/books/{upload_id}")
    assert r.status_code == 200
    assert 'hx-trigger="every 1s"' in r.text  # polls while the job has not run
    r = await ui.c.get(f"/app/books/{upload_id}/progress", headers={"HX-Request": "true"})
    assert r.status_code == 200 and "hx-refresh" not in r.headers
    from arrears.worker import run_until_idle

    await run_until_idle()
    r = await ui.c.get(f"/app/books/{upload_id}/progress", headers={"HX-Request": "true"})
    assert r.headers.get("hx-refresh") == "true"  # done: the page reloads to show the summary
    assert 'data-testid="stage">Completed' in r.text and "every 1s" not in r.text
    r = await ui.get(f"/app/books/{upload_id}")
    assert "Total balance" in r.text and "R\u00a01\u00a0675.50" in r.text  # 150+200+300+1000+25.50
    assert "<svg" in r.text and "Balance by age bucket" in r.text
    assert "Largest overdue accounts" in r.text and "Delta" in r.text
    r = await ui.get("/app/")
    assert "Debtor book · book.xlsx" in r.text and "Overdue balance" in r.text
    # The home page shows the book (the accounts the pharmacy page lists), linked there.
    assert "R\u00a01\u00a0675.50" in r.text and 'href="/app/pharmacy"' in r.text


async def test_failed_rows_table_and_csv(people, world):
    org = await world.org()
    ui, _ = await people(org.id, role="admin")
    upload_id = await upload_book(ui)
    r = await ui.get(f"/app/books/{upload_id}/errors")
    assert r.status_code == 200 and "A6" in r.text
    assert "not a number" in r.text.lower() or "abc" in r.text
    assert "Download as CSV" in r.text
    r = await ui.c.get(f"/app/books/{upload_id}/errors.csv")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"]
    lines = r.content.decode("utf-8-sig").strip().splitlines()
    assert lines[0] == "row,column,value,reason,code,account_code" and len(lines) == 2
    assert "A6" in lines[1]


async def test_bad_file_gets_an_error_beside_the_field(people, world):
    org = await world.org()
    ui, _ = await people(org.id, role="admin")
    r = await ui.c.post("/app/books", data={"csrf_token": ui.token},
                        files={"file": ("notes.txt", b"\x89PNG\r\n\x1a\n a picture")})
    assert r.status_code == 400 and 'id="file-error"' in r.text and "not a spreadsheet" in r.text
    # A file that starts like a PDF goes to the PDF reader, which says what is wrong with it.
    r = await ui.c.post("/app/books", data={"csrf_token": ui.token},
                        files={"file": ("notes.pdf", b"%PDF-1.4 not really a PDF")})
    assert r.status_code == 400 and 'id="file-error"' in r.text and "The PDF is damaged" in r.text
    r = await ui.c.post("/app/books", data={"csrf_token": ui.token}, files={"file": ("empty.xlsx", b"")})
    assert r.status_code == 400
    r = await ui.post("/app/books", {})
    assert r.status_code == 400 and "Choose a spreadsheet" in r.text
    r = await ui.c.post("/app/books", files={"file": ("book.xlsx", workbook_bytes())})  # no token
    assert r.status_code == 403


async def test_accounts_search_filters_sorting_paging(people, world):
    org = await world.org()
    ui, _ = await people(org.id, role="admin")
    upload_id = await upload_book(ui)
    base = f"/app/books/{upload_id}/accounts"
    r = await ui.get(base)
    assert r.status_code == 200 and "Alpha Ltd" in r.text and "1–5 of 5" in r.text
    r = await ui.get(base + "?search=gamma")
    assert "Gamma" in r.text and "Alpha Ltd" not in r.text
    r = await ui.get(base + "?overdue_only=1")
    assert "Delta" in r.text and "Gamma" not in r.text
    r = await ui.get(base + "?min_balance=500")
    assert "Delta" in r.text and "Beta CC" not in r.text
    r = await ui.get(base + "?min_balance=lots")
    assert r.status_code == 200 and "Must be a number." in r.text
    r = await ui.get(base + "?sort=-total_balance")
    assert r.text.index("Delta") < r.text.index("Gamma") < r.text.index("Beta CC")
    r = await ui.get(base + "?per_page=2&page=2")
    assert "3–4 of 5" in r.text
    r = await ui.c.get(base + "?search=alpha", headers={"HX-Request": "true", "HX-Target": "account-table"})
    assert r.text.lstrip().startswith('<div id="account-table">')


async def _account_ids(html: str) -> dict[str, str]:
    ids = re.findall(r'name="selected" value="([0-9a-f-]{36})" id="sel-[^"]+"[^>]*aria-label="Select ([^"]+)"', html)
    return {name: i for i, name in ids}


async def test_selection_with_checkboxes_and_select_all_matching(people, world):
    org = await world.org()
    ui, _ = await people(org.id, role="admin")
    upload_id = await upload_book(ui)
    base = f"/app/books/{upload_id}/accounts"
    r = await ui.get(base)
    ids = await _account_ids(r.text)
    assert set(ids) == {"Alpha Ltd", "Beta CC", "Gamma", "Delta", "Epsilon"}
    form = {"ids": list(ids.values()), "selected": [ids["Alpha Ltd"], ids["Delta"]]}
    r = await ui.htmx_post(f"/app/books/{upload_id}/selection", form)
    assert r.status_code == 200
    assert 'data-testid="selected-count">2<' in r.text and "R\u00a01\u00a0150.00" in r.text
    r = await ui.get(base + "?selected=yes")
    assert "Alpha Ltd" in r.text and "Delta" in r.text and "Gamma" not in r.text
    # Untick Alpha: the form sends every id shown, and the ticked ones.
    r = await ui.htmx_post(f"/app/books/{upload_id}/selection", {"ids": list(ids.values()),
                                                                 "selected": [ids["Delta"]]})
    assert 'data-testid="selected-count">1<' in r.text
    r = await ui.post(f"/app/books/{upload_id}/selection/matching", {"action": "select", "search": "",
                                                                     "overdue_only": "1"})
    assert r.status_code == 303
    r = await ui.get(base)
    assert 'data-testid="selected-count">3<' in r.text  # Alpha, Beta and Delta are overdue
    r = await ui.post(f"/app/books/{upload_id}/selection/matching", {"action": "unselect"})
    r = await ui.get(base)
    assert 'data-testid="selected-count">0<' in r.text


async def test_read_only_member_cannot_upload_or_select(people, world):
    org = await world.org()
    admin, _ = await people(org.id, role="admin")
    upload_id = await upload_book(admin)
    reader, _ = await people(org.id, role="manager", access="read")
    r = await reader.get("/app/books")
    assert 'type="file"' not in r.text and "read-only access" in r.text
    r = await reader.get(f"/app/books/{upload_id}/accounts")
    assert r.status_code == 200 and "Select all" not in r.text and " disabled" in r.text
    ids = await _account_ids(r.text)
    r = await reader.htmx_post(f"/app/books/{upload_id}/selection", {"ids": list(ids.values()),
                                                                     "selected": list(ids.values())})
    assert r.status_code == 403
    r = await reader.post(f"/app/books/{upload_id}/selection/matching", {"action": "select"})
    assert r.status_code == 403
    r = await reader.c.post("/app/books", data={"csrf_token": reader.token},
                            files={"file": ("book.xlsx", workbook_bytes())})
    assert r.status_code == 403


async def test_uploads_of_another_organisation_are_404(people, world):
    org = await world.org()
    other = await world.org("Other")
    theirs, _ = await people(other.id, role="admin")
    upload_id = await upload_book(theirs)
    ui, _ = await people(org.id, role="admin")
    for path in ("", "/accounts", "/errors", "/errors.csv", "/progress"):
        r = await ui.get(f"/app/books/{upload_id}{path}")
        assert r.status_code == 404, path
    r = await ui.htmx_post(f"/app/books/{upload_id}/selection", {"ids": ["x"]})
    assert r.status_code == 404
    r = await ui.get(f"/app/books/compare?upload={upload_id}&other={upload_id}x")
    assert r.status_code in (200, 404)
    r = await ui.get("/app/books/not-a-uuid")
    assert r.status_code == 404


async def test_officer_sees_own_uploads_only(people, world):
    org = await world.org()
    admin, _ = await people(org.id, role="admin")
    upload_id = await upload_book(admin)
    officer, _ = await people(org.id, role="collection_officer")
    r = await officer.get("/app/books")
    assert "No uploads yet." in r.text
    assert (await officer.get(f"/app/books/{upload_id}")).status_code == 404


async def test_compare_two_uploads(people, world):
    org = await world.org()
    ui, _ = await people(org.id, role="admin")
    first = await upload_book(ui, name="january.xlsx")
    rows = [list(r) for r in BOOK_ROWS[:5]]
    rows[0] = ["A1", "Alpha Ltd", "Ann", "082 123 4567", 0, 0, 150, 0, 0, 150]  # older now
    rows[2] = ["A3", "Gamma", "Gus", "011 555 1234", 0, 0, 0, 0, 0, 0]  # settled
    rows.append(["A9", "Iota", None, "0821119999", 70, 0, 0, 0, 0, 70])  # new
    second = await upload_book(ui, workbook_bytes(rows), name="february.xlsx")
    r = await ui.get("/app/books/compare")
    assert r.status_code == 200 and "january.xlsx" in r.text and "february.xlsx" in r.text
    r = await ui.get(f"/app/books/compare?upload={second}&other={first}")
    assert r.status_code == 200
    assert "Roll rates" in r.text and "Accounts that got worse (1)" in r.text and "Settled accounts (1)" in r.text
    r = await ui.get(f"/app/books/compare?upload={second}&other={second}")
    assert "Choose two different uploads." in r.text
    r = await ui.get("/app/")
    assert "Trend across the last uploads" in r.text


def _pdf_report(*, bad_row: bool = False) -> bytes:
    from decimal import Decimal as D

    rows = [
        Debtor("P100", "Thandi Nkosi", {"current": D("100.00"), "d60": D("250.50")}, email="thandi@example.com",
               phone="082 123 4567"),
        Debtor("P200", "Pieter Botha", {"d90": D("1200.00"), "d180": D("80.00")}, phone="0831234567"),
        Debtor("P300", "Bonitas Medical Fund", {"d30": D("5000.00")}),
    ]
    if bad_row:
        rows.append(Debtor("P400", "Ayesha Patel", {"d30": D("10.00")}, printed_balance=D("99.00")))
    return build_report(rows)


async def _reports_of(org_id: int) -> list[tuple[str, str, int, int]]:
    from sqlalchemy import select

    from arrears.db import transaction
    from arrears.debtors.models import DebtorReport

    async with transaction(readonly=True) as s:
        rows = (await s.execute(select(DebtorReport.source, DebtorReport.status, DebtorReport.success_rows,
                                       DebtorReport.failed_rows).where(DebtorReport.org_id == org_id))).all()
        return [tuple(r) for r in rows]


async def test_pdf_report_upload_is_previewed_then_stored(people, world):
    org = await world.org("Sunrise Pharmacy", kind="pharmacy")
    ui, _ = await people(org.id, role="manager")
    r = await ui.get("/app/books")
    assert "Drop a spreadsheet or PDF report here" in r.text and ".pdf,application/pdf" in r.text
    r = await ui.c.post("/app/books", data={"csrf_token": ui.token},
                        files={"file": ("age-analysis.pdf", _pdf_report(bad_row=True), "application/pdf")})
    assert r.status_code == 200 and 'action="/app/books/pdf/confirm"' in r.text, r.text
    assert await _reports_of(org.id) == []  # read, not stored
    r = await confirm_preview(ui, r.text)
    assert r.status_code == 303, r.text
    location = r.headers["location"]
    assert re.fullmatch(r"/app/books/[0-9a-f-]{36}", location)
    assert await _reports_of(org.id) == [("pdf", "completed", 3, 1)]  # no job: stored in the request
    r = await ui.get(location)
    assert "3 accounts read from age-analysis.pdf. 1 row needs checking" in r.text
    assert "Largest overdue accounts" in r.text and "Pieter Botha" in r.text
    r = await ui.get(f"{location}/accounts?sort=account_code")
    assert [m for m in re.findall(r">(P\d00)<", r.text)] == ["P100", "P200", "P300"]
    r = await ui.get(f"{location}/errors")
    assert "P400" in r.text


async def test_pdf_upload_errors_store_nothing(people, world):
    org = await world.org()
    ui, _ = await people(org.id, role="admin")
    r = await ui.c.post("/app/books", data={"csrf_token": ui.token}, files={"file": ("scan.pdf", scanned_pdf())})
    assert r.status_code == 400 and 'id="file-error"' in r.text and "looks scanned" in r.text
    r = await ui.c.post("/app/books", data={"csrf_token": ui.token}, files={"file": ("empty.pdf", b"")})
    assert r.status_code == 400 and "The file is empty" in r.text
    assert await _reports_of(org.id) == []
    reader, _ = await people(org.id, role="admin", access="read")
    r = await reader.c.post("/app/books", data={"csrf_token": reader.token},
                            files={"file": ("age-analysis.pdf", _pdf_report())})
    assert r.status_code == 403
    assert await _reports_of(org.id) == []
    other = await world.org("Elsewhere")
    stranger, _ = await people(other.id, role="admin")
    r = await stranger.c.post("/app/books", data={"csrf_token": stranger.token},
                              files={"file": ("age-analysis.pdf", _pdf_report())})
    assert r.status_code == 200 and await _reports_of(other.id) == []
    assert (await confirm_preview(stranger, r.text)).status_code == 303
    assert await _reports_of(org.id) == [] and len(await _reports_of(other.id)) == 1
