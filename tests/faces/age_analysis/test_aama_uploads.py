"""AAMA /api/uploads… end to end: real files through HTTP, the worker drained in-process."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from sqlalchemy import func, select

from arrears.config import reset_settings
from arrears.db import transaction
from arrears.debtors.models import DebtorReport, DebtorSnapshot
from arrears.events import DomainEvent
from arrears.identity.caller import Caller
from arrears.worker import run_until_idle
from tests.faces.age_analysis.helpers import BOOK, GOOD_ROWS, HEADER, import_file, post_file, write_book

MIME = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "xls": "application/vnd.ms-excel",
    "csv": "text/csv",
}


def assert_aama_error(r, status: int, code: str) -> dict:
    assert r.status_code == status, r.text
    body = r.json()
    # The spec's three keys, `details` a string (issue 20); structured details under named keys.
    assert {"message", "code", "details"} <= set(body) and isinstance(body["details"], str), body
    assert body["code"] == code, body
    return body


async def _count(model, **where) -> int:
    async with transaction(readonly=True) as s:
        q = select(func.count()).select_from(model)
        for k, v in where.items():
            q = q.where(getattr(model, k) == v)
        return int(await s.scalar(q) or 0)


@pytest.mark.parametrize("kind", ["xlsx", "xls", "csv"])
async def test_every_format_imports_through_the_endpoint(client, team, tmp_path: Path, kind):
    path = write_book(tmp_path / f"Age Analysis.{kind}", BOOK)
    r = await post_file(client, team.officer.headers, path)
    assert r.status_code == 202, r.text
    body = r.json()
    assert body["message"] == "File uploaded successfully. Processing started."
    upload = body["upload"]
    assert set(upload) == {"id", "filename", "original_filename", "status", "created_at"}
    assert upload["status"] == "pending" and upload["original_filename"] == f"Age Analysis.{kind}"
    assert upload["filename"] == f"{upload['id']}.{kind}" and upload["created_at"].endswith("Z")
    uid = upload["id"]

    r = await client.get(f"/api/uploads/{uid}", headers=team.officer.headers)
    assert r.json()["status"] == "pending"

    await run_until_idle()
    r = await client.get(f"/api/uploads/{uid}", headers=team.officer.headers)
    detail = r.json()
    assert set(detail) == {"id", "user_id", "filename", "original_filename", "file_size", "mime_type",
                           "status", "processing_started_at", "processing_completed_at",
                           "records_processed", "records_failed", "created_at", "updated_at",
                           "report_date", "partial", "skipped_rows", "skipped_reasons", "warnings"}
    assert detail["status"] == "completed"
    assert detail["records_processed"] == 5 and detail["records_failed"] == 3
    assert detail["file_size"] == path.stat().st_size and detail["mime_type"] == MIME[kind]
    assert detail["user_id"] == str(team.officer.user.uuid)
    assert detail["processing_started_at"].endswith("Z") and detail["processing_completed_at"].endswith("Z")

    r = await client.get(f"/api/uploads/{uid}/accounts", headers=team.officer.headers)
    page = r.json()
    assert page["total"] == 5 and page["page"] == 1 and page["per_page"] == 20
    assert page["total_pages"] == 1 and page["has_more"] is False
    first = page["accounts"][0]
    assert set(first) >= {"id", "upload_id", "account_code", "customer_name", "contact_person", "telephone",
                          "amount_current", "amount_30d", "amount_60d", "amount_90d", "amount_120d",
                          "total_balance", "is_selected", "created_at", "updated_at"}
    assert first == first | {
        "upload_id": uid, "account_code": "A1", "customer_name": "Alpha Ltd", "contact_person": "Ann",
        "telephone": "27821234567", "amount_current": 100.0, "amount_30d": 50.0, "amount_60d": 0.0,
        "amount_90d": 0.0, "amount_120d": 0.0, "total_balance": 150.0, "is_selected": False}
    assert [a["account_code"] for a in page["accounts"]] == ["A1", "A2", "A3", "A4", "A5"]
    assert page["accounts"][3]["telephone"] == "27847654321"
    assert page["accounts"][4]["telephone"] is None  # "n/a"
    raw = (await client.get(f"/api/uploads/{uid}/accounts", headers=team.officer.headers)).text
    assert '"amount_current":100.00' in raw  # money is a JSON number, to the cent


async def test_summary_figures_match_a_hand_computed_book(client, team, tmp_path: Path):
    uid = await import_file(client, team.officer.headers, write_book(tmp_path / "b.xlsx", BOOK))
    accounts = (await client.get(f"/api/uploads/{uid}/accounts", headers=team.officer.headers)).json()["accounts"]
    ids = {a["account_code"]: a["id"] for a in accounts}
    r = await client.put(f"/api/uploads/{uid}/selection", headers=team.officer.headers,
                         json={"account_ids": [ids["A1"], ids["A4"]], "is_selected": True})
    assert r.status_code == 200 and r.json() == {"message": "Updated selection for 2 accounts", "updated_count": 2}

    r = await client.get(f"/api/uploads/{uid}/summary", headers=team.officer.headers)
    assert r.status_code == 200, r.text
    s = r.json()
    assert s["upload_id"] == uid and s["upload"] == {"id": uid, "status": "completed", "records_processed": 5}
    assert s["summary"] == s["summary"] | {
        "total_accounts": 5, "selected_accounts": 2, "total_balance": 1675.5, "selected_balance": 1150.0,
        "overdue_accounts": 3, "selected_overdue": 2, "average_balance": 335.1, "selected_avg_balance": 575.0}
    age = s["age_analysis"]
    assert age["total_balance"] == 1675.5 and age["selected_balance"] == 1150.0
    assert age["buckets"] == [
        {"name": "Current", "days_range": "0 days", "total_amount": 425.5, "selected_amount": 100.0,
         "account_count": 3, "selected_count": 1, "percentage": 25.4, "selected_percentage": 8.7},
        {"name": "30 Days", "days_range": "30-59 days", "total_amount": 50.0, "selected_amount": 50.0,
         "account_count": 1, "selected_count": 1, "percentage": 2.98, "selected_percentage": 4.35},
        {"name": "60 Days", "days_range": "60-89 days", "total_amount": 200.0, "selected_amount": 0.0,
         "account_count": 1, "selected_count": 0, "percentage": 11.94, "selected_percentage": 0.0},
        {"name": "90 Days", "days_range": "90-119 days", "total_amount": 400.0, "selected_amount": 400.0,
         "account_count": 1, "selected_count": 1, "percentage": 23.87, "selected_percentage": 34.78},
        {"name": "120+ Days", "days_range": "120+ days", "total_amount": 600.0, "selected_amount": 600.0,
         "account_count": 1, "selected_count": 1, "percentage": 35.81, "selected_percentage": 52.17},
    ]
    assert [(t["account_code"], t["overdue_amount"], t["oldest_bucket"], t["is_selected"])
            for t in age["top_accounts"]] == [("A4", 1000.0, "120+ days", True), ("A2", 200.0, "60-89 days", False),
                                              ("A1", 50.0, "30-59 days", True)]
    assert set(age["top_accounts"][0]) == {"id", "account_code", "customer_name", "total_balance",
                                           "overdue_amount", "oldest_bucket", "is_selected"}
    assert age["statistics"] == {
        "total_accounts": 5, "selected_accounts": 2, "overdue_accounts": 3, "selected_overdue": 2,
        "average_balance": 335.1, "selected_average_balance": 575.0, "median_balance": 200.0,
        "largest_balance": 1000.0, "smallest_balance": 25.5, "overdue_percentage": 60.0, "selection_rate": 40.0}


async def test_median_of_an_even_book_and_an_empty_selection(client, team, tmp_path: Path):
    rows = [HEADER, *GOOD_ROWS[:4]]  # balances 150, 200, 300, 1000
    uid = await import_file(client, team.officer.headers, write_book(tmp_path / "even.csv", rows))
    s = (await client.get(f"/api/uploads/{uid}/summary", headers=team.officer.headers)).json()
    stats = s["age_analysis"]["statistics"]
    assert stats["median_balance"] == 250.0 and stats["selection_rate"] == 0.0
    assert s["summary"]["selected_avg_balance"] == 0.0 and stats["selected_average_balance"] == 0.0


async def test_selection_counts_only_this_uploads_accounts(client, team, tmp_path: Path):
    first = await import_file(client, team.officer.headers, write_book(tmp_path / "a.csv", BOOK))
    second = await import_file(client, team.officer.headers, write_book(tmp_path / "b.csv", BOOK))
    mine = [a["id"] for a in (await client.get(f"/api/uploads/{first}/accounts",
                                               headers=team.officer.headers)).json()["accounts"]]
    theirs = [a["id"] for a in (await client.get(f"/api/uploads/{second}/accounts",
                                                 headers=team.officer.headers)).json()["accounts"]]
    r = await client.put(f"/api/uploads/{first}/selection", headers=team.officer.headers,
                         json={"account_ids": [*mine[:3], *theirs, "not-a-uuid", mine[0]], "is_selected": True})
    assert r.json() == {"message": "Updated selection for 3 accounts", "updated_count": 3}
    other = (await client.get(f"/api/uploads/{second}/accounts?is_selected=true",
                              headers=team.officer.headers)).json()
    assert other["total"] == 0
    chosen = (await client.get(f"/api/uploads/{first}/accounts?is_selected=true",
                               headers=team.officer.headers)).json()
    assert sorted(a["id"] for a in chosen["accounts"]) == sorted(mine[:3])
    r = await client.put(f"/api/uploads/{first}/selection", headers=team.officer.headers,
                         json={"account_ids": mine[:1], "is_selected": False})
    assert r.json()["updated_count"] == 1
    assert (await client.get(f"/api/uploads/{first}/accounts?is_selected=true",
                             headers=team.officer.headers)).json()["total"] == 2
    for bad in ({"account_ids": "x", "is_selected": True}, {"account_ids": [], "is_selected": "yes"}, {}):
        assert_aama_error(await client.put(f"/api/uploads/{first}/selection", headers=team.officer.headers,
                                           json=bad), 400, "VALIDATION_ERROR")


async def test_accounts_filters_sort_and_pagination(client, team, tmp_path: Path):
    uid = await import_file(client, team.officer.headers, write_book(tmp_path / "b.xlsx", BOOK))
    h = team.officer.headers

    async def codes(query: str) -> list[str]:
        r = await client.get(f"/api/uploads/{uid}/accounts?{query}", headers=h)
        assert r.status_code == 200, r.text
        return [a["account_code"] for a in r.json()["accounts"]]

    assert await codes("search=ALPHA") == ["A1"]
    assert await codes("search=2784765") == ["A4"]
    assert await codes("search=dee") == ["A4"]
    assert await codes("search=%25") == []  # a literal %, not a wildcard
    assert await codes("min_balance=200") == ["A2", "A3", "A4"]
    assert await codes("overdue_only=true") == ["A1", "A2", "A4"]
    assert await codes("overdue_only=true&min_balance=500") == ["A4"]
    assert await codes("sort=-total_balance") == ["A4", "A3", "A2", "A1", "A5"]
    assert await codes("sort=account_code") == ["A1", "A2", "A3", "A4", "A5"]
    assert await codes("sort=-amount_current,account_code") == ["A3", "A1", "A5", "A2", "A4"]
    r = await client.get(f"/api/uploads/{uid}/accounts?per_page=2&page=2", headers=h)
    page = r.json()
    assert [a["account_code"] for a in page["accounts"]] == ["A3", "A4"]
    assert (page["total"], page["page"], page["per_page"], page["total_pages"], page["has_more"]) == (5, 2, 2, 3, True)
    page = (await client.get(f"/api/uploads/{uid}/accounts?per_page=2&page=3", headers=h)).json()
    assert page["has_more"] is False and len(page["accounts"]) == 1
    page = (await client.get(f"/api/uploads/{uid}/accounts?per_page=100&page=9", headers=h)).json()
    assert page["accounts"] == [] and page["total"] == 5
    for query in ("page=0", "per_page=101", "per_page=0", "page=-1", "page=abc", "sort=bogus",
                  "min_balance=abc", "overdue_only=maybe"):
        assert_aama_error(await client.get(f"/api/uploads/{uid}/accounts?{query}", headers=h),
                          400, "VALIDATION_ERROR")
    for query in ("page=0", "per_page=101"):
        assert_aama_error(await client.get(f"/api/uploads?{query}", headers=h), 400, "VALIDATION_ERROR")
        assert_aama_error(await client.get(f"/api/uploads/{uid}/errors?{query}", headers=h), 400,
                          "VALIDATION_ERROR")


async def test_list_uploads_pagination_and_scope(client, team, tmp_path: Path):
    path = write_book(tmp_path / "b.csv", BOOK)
    mine = [await import_file(client, team.officer.headers, path) for _ in range(3)]
    theirs = await import_file(client, team.other_officer.headers, path)
    r = await client.get("/api/uploads?per_page=2", headers=team.officer.headers)
    body = r.json()
    assert (body["total"], body["page"], body["per_page"], body["total_pages"], body["has_more"]) == (3, 1, 2, 2, True)
    assert [u["id"] for u in body["uploads"]] == mine[::-1][:2]  # newest first
    assert set(body["uploads"][0]) == {"id", "filename", "original_filename", "status", "records_processed",
                                       "records_failed", "created_at", "processing_completed_at"}
    assert body["uploads"][0]["status"] == "completed" and body["uploads"][0]["records_failed"] == 3
    everyone = (await client.get("/api/uploads?scope=organisation&per_page=100", headers=team.manager.headers)).json()
    assert {u["id"] for u in everyone["uploads"]} == {*mine, theirs}
    own = (await client.get("/api/uploads", headers=team.admin.headers)).json()
    assert own["total"] == 0  # without scope an admin sees their own uploads
    assert_aama_error(await client.get("/api/uploads?scope=organisation", headers=team.officer.headers),
                      403, "FORBIDDEN")


async def test_missing_columns_fail_the_upload_with_the_readers_message(client, team, tmp_path: Path):
    rows = [["Account", "Customer", "Balance Due"], ["A1", "Alpha", 10]]
    uid = await import_file(client, team.officer.headers, write_book(tmp_path / "cols.xlsx", rows))
    detail = (await client.get(f"/api/uploads/{uid}", headers=team.officer.headers)).json()
    assert detail["status"] == "failed" and detail["records_processed"] == 0
    assert detail["error_code"] == "MISSING_COLUMNS"
    assert "Telephone" in detail["error_message"] and "'Balance Due'" in detail["error_message"]
    progress = (await client.get(f"/api/uploads/{uid}/progress", headers=team.officer.headers)).json()
    assert progress["stage"] == "failed" and progress["is_complete"] is True and progress["has_error"] is True
    assert "missing required columns: Telephone" in progress["message"]
    assert (await client.get(f"/api/uploads/{uid}/accounts", headers=team.officer.headers)).json()["total"] == 0
    async with transaction(readonly=True) as s:
        types = (await s.scalars(select(DomainEvent.type).where(DomainEvent.subject_id == uid))).all()
    assert "upload.failed" in types and "upload.completed" not in types


async def test_a_header_without_data_fails_the_upload(client, team, tmp_path: Path):
    uid = await import_file(client, team.officer.headers, write_book(tmp_path / "empty.xls", [HEADER]))
    detail = (await client.get(f"/api/uploads/{uid}", headers=team.officer.headers)).json()
    assert detail["status"] == "failed" and detail["error_code"] == "NO_DATA_ROWS"
    assert "no account rows" in detail["error_message"]


async def test_a_corrupt_workbook_fails_saying_so(client, team, tmp_path: Path):
    good = write_book(tmp_path / "b.xlsx", BOOK).read_bytes()
    truncated = good[: len(good) // 2]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:  # a valid zip with a broken workbook inside
        zf.writestr("[Content_Types].xml", "<Types/>")
        zf.writestr("xl/workbook.xml", "<workbook><sheets><sheet name='x' r:id='rId1'")
    for content in (truncated, buffer.getvalue()):
        r = await post_file(client, team.officer.headers, content=content, name="broken.xlsx")
        assert r.status_code == 202, r.text
        await run_until_idle()
        detail = (await client.get(f"/api/uploads/{r.json()['upload']['id']}",
                                   headers=team.officer.headers)).json()
        assert detail["status"] == "failed" and detail["error_code"] == "CORRUPT_FILE", detail
        assert "could not be read" in detail["error_message"]


async def test_rejected_files_store_nothing(client, team, env, tmp_path: Path, monkeypatch):
    uploads = env["data_dir"] / "uploads"
    h = team.officer.headers
    body = assert_aama_error(await post_file(client, h, content=b"", name="empty.xlsx"), 400, "EMPTY_FILE")
    assert "empty" in body["message"]
    for content, what in ((b"%PDF-1.7\n%\xe2\xe3\n1 0 obj", "PDF"), (b"\x89PNG\r\n\x1a\n" + b"\0" * 50, "PNG"),
                          (b"\x00\x01\x02\x03\xff\xfe" * 100, "recognised")):
        body = assert_aama_error(await post_file(client, h, content=content, name="book.xlsx"), 400,
                                 "UNSUPPORTED_FILE_TYPE")
        assert what in body["message"]
    monkeypatch.setenv("UPLOAD_MAX_SIZE", "1000")
    reset_settings()
    big = write_book(tmp_path / "big.csv", [HEADER] + [list(GOOD_ROWS[0]) for _ in range(100)])
    body = assert_aama_error(await post_file(client, h, big), 400, "FILE_TOO_LARGE")
    assert "1000 bytes" in body["message"]
    huge = b"Account,Name,Telephone,Total Balance\r\n" + b"A,B,0821234567,1\r\n" * 10_000  # refused up front
    assert_aama_error(await post_file(client, h, content=huge, name="huge.csv"), 400, "FILE_TOO_LARGE")
    assert_aama_error(await client.post("/api/uploads", headers=h, files={"other": ("x.csv", b"a,b")}),
                      400, "VALIDATION_ERROR")
    assert_aama_error(await client.post("/api/uploads", headers=h, json={"file": "x"}), 400, "VALIDATION_ERROR")
    assert await _count(DebtorReport) == 0
    leftovers = [p for p in uploads.rglob("*") if p.is_file()] if uploads.exists() else []
    assert leftovers == []


async def test_row_errors_as_json_and_formula_safe_csv(client, team, tmp_path: Path):
    rows = [*BOOK, ["A9", "=HYPERLINK(\"http://evil\")", None, "0821234567", "=1+2", 0, 0, 0, 0, 3],
            ["@A10", "Plus", None, "0821234567", 1, 0, 0, 0, 0, 9]]
    uid = await import_file(client, team.officer.headers, write_book(tmp_path / "e.csv", rows))
    body = (await client.get(f"/api/uploads/{uid}/errors", headers=team.officer.headers)).json()
    assert body["total"] == 5 and body["has_more"] is False
    assert [(e["row"], e["code"]) for e in body["errors"]] == [
        (7, "INVALID_AMOUNT"), (8, "BALANCE_MISMATCH"), (9, "DUPLICATE_ACCOUNT"), (10, "INVALID_AMOUNT"),
        (11, "BALANCE_MISMATCH")]
    assert body["errors"][0] == {"row": 7, "column": "Current", "value": "abc", "reason": "'abc' is not an amount.",
                                 "code": "INVALID_AMOUNT", "account_code": "A6"}
    r = await client.get(f"/api/uploads/{uid}/errors?format=csv", headers=team.officer.headers)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    text = r.content.decode("utf-8-sig")
    lines = text.splitlines()
    assert lines[0] == "row,column,value,reason,code,account_code"
    assert len(lines) == 6
    assert lines[4].startswith("10,Current,'=1+2,")
    assert ",'@A10" in lines[5]


async def test_organisation_column_aliases_are_used(client, team, tmp_path: Path):
    from arrears.identity import service as identity

    async with transaction() as s:
        org = await identity.get_org(s, team.org.id)
        await identity.set_org_settings(s, Caller.system(org.id), org, {"column_aliases": '{"telephone": ["Sel Nr"]}'})
    rows = [[*HEADER[:3], "Sel Nr", *HEADER[4:]], *GOOD_ROWS]
    uid = await import_file(client, team.officer.headers, write_book(tmp_path / "alias.xlsx", rows))
    detail = (await client.get(f"/api/uploads/{uid}", headers=team.officer.headers)).json()
    assert detail["status"] == "completed" and detail["records_processed"] == 5


async def test_progress_has_every_field_of_the_spec(client, team, tmp_path: Path):
    r = await post_file(client, team.officer.headers, write_book(tmp_path / "b.csv", BOOK))
    uid = r.json()["upload"]["id"]
    waiting = (await client.get(f"/api/uploads/{uid}/progress", headers=team.officer.headers)).json()
    assert waiting["stage"] == "starting" and waiting["is_complete"] is False and waiting["progress"] == 0.0
    await run_until_idle()
    done = (await client.get(f"/api/uploads/{uid}/progress", headers=team.officer.headers)).json()
    assert done == done | {"upload_id": uid, "stage": "completed", "total_rows": 8, "processed_rows": 8,
                           "success_rows": 5, "failed_rows": 3, "progress": 1.0, "is_complete": True,
                           "has_error": False}
    assert set(done) == {"upload_id", "stage", "total_rows", "processed_rows", "success_rows", "failed_rows",
                         "progress", "message", "start_time", "update_time", "is_complete", "has_error"}
    assert done["start_time"].endswith("Z") and done["update_time"] >= done["start_time"]
    assert "5 accounts" in done["message"]


async def test_compare_two_uploads(client, team, tmp_path: Path):
    before = [HEADER,
              ["C1", "Stays current", None, "0821234567", 100, 0, 0, 0, 0, 100],
              ["C2", "Rolls to 30", None, "0821234567", 200, 0, 0, 0, 0, 200],
              ["C3", "Pays up", None, "0821234567", 0, 50, 0, 0, 0, 50],
              ["C4", "Catches up", None, "0821234567", 0, 0, 300, 0, 0, 300],
              ["C5", "Leaves the book", None, "0821234567", 10, 0, 0, 0, 0, 10]]
    after = [HEADER,
             ["C1", "Stays current", None, "0821234567", 80, 0, 0, 0, 0, 80],
             ["C2", "Rolls to 30", None, "0821234567", 0, 150, 0, 0, 0, 150],
             ["C3", "Pays up", None, "0821234567", 0, 0, 0, 0, 0, 0],
             ["C4", "Catches up", None, "0821234567", 40, 0, 0, 0, 0, 40],
             ["C6", "Newcomer", None, "0821234567", 70, 0, 0, 0, 0, 70]]
    old = await import_file(client, team.officer.headers, write_book(tmp_path / "jan.csv", before))
    new = await import_file(client, team.officer.headers, write_book(tmp_path / "feb.csv", after))
    r = await client.get(f"/api/uploads/{new}/compare/{old}", headers=team.officer.headers)
    assert r.status_code == 200, r.text
    c = r.json()
    assert c["upload_id"] == new and c["compared_with"] == old
    assert c["totals"] == c["totals"] | {"accounts": 5, "previous_accounts": 5, "total_balance": 340.0,
                                         "previous_balance": 660.0, "change": -320.0}
    assert (c["new"]["count"], c["new"]["total_balance"]) == (1, 70.0)
    assert [a["account_code"] for a in c["new"]["accounts"]] == ["C6"]
    assert (c["settled"]["count"], c["settled"]["previous_balance"]) == (2, 60.0)
    assert [(a["account_code"], a["previous_balance"], a["total_balance"]) for a in c["settled"]["accounts"]] == [
        ("C3", 50.0, 0.0), ("C5", 10.0, 0.0)]
    assert c["worsened"]["count"] == 1
    w = c["worsened"]["accounts"][0]
    assert (w["account_code"], w["previous_bucket"], w["oldest_bucket"], w["change"]) == ("C2", "0 days", "30-59 days", -50.0)
    assert c["improved"]["count"] == 1
    i = c["improved"]["accounts"][0]
    assert (i["account_code"], i["previous_bucket"], i["oldest_bucket"]) == ("C4", "60-89 days", "0 days")
    rates = {(x["from_bucket"], x["to_bucket"]): x for x in c["roll_rates"]}
    current_to_30 = rates[("Current", "30 Days")]
    assert current_to_30["from_amount"] == 310.0 and current_to_30["rolled_amount"] == 150.0
    assert current_to_30["rolled_accounts"] == 1 and current_to_30["rate"] == 48.39
    assert rates[("30 Days", "60 Days")]["rate"] == 0.0 and len(c["roll_rates"]) == 4


async def test_other_tenants_and_other_users_get_404_everywhere(client, team, stranger, world, tmp_path: Path):
    uid = await import_file(client, team.officer.headers, write_book(tmp_path / "b.xlsx", BOOK))
    other = await import_file(client, team.officer.headers, write_book(tmp_path / "c.xlsx", BOOK))
    accounts = (await client.get(f"/api/uploads/{uid}/accounts", headers=team.officer.headers)).json()["accounts"]
    ids = [a["id"] for a in accounts]
    paths = [f"/api/uploads/{uid}", f"/api/uploads/{uid}/progress", f"/api/uploads/{uid}/accounts",
             f"/api/uploads/{uid}/summary", f"/api/uploads/{uid}/errors", f"/api/uploads/{uid}/errors?format=csv",
             f"/api/uploads/{uid}/compare/{other}", f"/api/uploads/{other}/compare/{uid}"]
    for outsider in (stranger, team.other_officer):
        for path in paths:
            assert_aama_error(await client.get(path, headers=outsider.headers), 404, "NOT_FOUND")
        assert_aama_error(await client.put(f"/api/uploads/{uid}/selection", headers=outsider.headers,
                                           json={"account_ids": ids, "is_selected": True}), 404, "NOT_FOUND")
        assert (await client.get("/api/uploads", headers=outsider.headers)).json()["total"] == 0
        # The stranger is an admin of their own organisation: its scope holds none of ours.
        scoped = await client.get("/api/uploads?scope=organisation", headers=outsider.headers)
        assert scoped.status_code in (200, 403) and scoped.json().get("total", 0) == 0
        for query in ("?search=", "?is_selected=false", "?overdue_only=true&min_balance=0"):
            assert_aama_error(await client.get(f"/api/uploads/{uid}/accounts{query}", headers=outsider.headers),
                              404, "NOT_FOUND")
    # The stranger's own upload cannot adopt our accounts either.
    theirs = await import_file(client, stranger.headers, write_book(tmp_path / "d.xlsx", BOOK))
    r = await client.put(f"/api/uploads/{theirs}/selection", headers=stranger.headers,
                         json={"account_ids": ids, "is_selected": True})
    assert r.json()["updated_count"] == 0
    assert_aama_error(await client.get(f"/api/uploads/{theirs}/compare/{uid}", headers=stranger.headers),
                      404, "NOT_FOUND")
    for path in paths:  # admins and managers of the organisation see every upload
        assert (await client.get(path, headers=team.manager.headers)).status_code == 200, path
    for nonsense in ("not-a-uuid", "00000000-0000-0000-0000-000000000000"):
        assert_aama_error(await client.get(f"/api/uploads/{nonsense}", headers=team.officer.headers), 404, "NOT_FOUND")
    # Read-only access: may look, may not change.
    assert (await client.get("/api/uploads", headers=team.reader.headers)).status_code == 200
    assert_aama_error(await post_file(client, team.reader.headers, write_book(tmp_path / "r.csv", BOOK)),
                      403, "FORBIDDEN")
    # No token, or an API key: the AAMA takes users' JWTs only.
    assert_aama_error(await client.get(f"/api/uploads/{uid}"), 401, "MISSING_CREDENTIALS")
    _, key = await world.api_key(team.org.id, ["*"])
    assert_aama_error(await client.get("/api/uploads", headers={"Authorization": f"Bearer {key}"}), 401,
                      "TOKEN_INVALID")
    assert await _count(DebtorSnapshot, is_selected=True) == 0
