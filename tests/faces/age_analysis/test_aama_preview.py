"""Issue 21, preview and saved mappings, through HTTP: POST /api/uploads/preview (nothing stored),
the `mapping` form field on the preview and the upload (each problem named), import profiles
saved by a confirmed upload, applied to the next file with the same header, listed and deleted
under /api/v1/import-profiles (admins and managers; another organisation's id is not found)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from arrears.config import get_settings
from arrears.db import transaction
from arrears.debtors.models import DebtorAccount, DebtorReport, DebtorRowError, DebtorSnapshot, ImportProfile
from arrears.events import DomainEvent
from arrears.jobs.models import Job
from arrears.worker import run_until_idle
from tests.faces.age_analysis.helpers import write_book

# "Cell" holds the numbers people want texted; "Telephone" is the office line the header maps.
HEADER = ["Account", "Name", "Telephone", "Cell", "Current", "30 Days", "60 Days", "90 Days", "120 Days",
          "Total Balance"]
ROWS: list[list[Any]] = [
    ["A1", "Alpha Ltd", "011 555 0001", "082 123 4567", 100, 50, 0, 0, 0, 150],
    ["A2", "Beta CC", "011 555 0002", "083 765 4321", 0, 0, 200, 0, 0, 200],
    [None, None, None, None, None, None, None, None, None, None],
    ["Total", None, None, None, 100, 50, 200, 0, 0, 350],
]
CELL_AS_PHONE = {"2": None, "3": "telephone"}
TABLES = (DebtorReport, DebtorSnapshot, DebtorRowError, DebtorAccount, ImportProfile, Job, DomainEvent)


async def counts() -> dict[str, int]:
    async with transaction(readonly=True) as s:
        return {m.__tablename__: int(await s.scalar(select(func.count()).select_from(m)) or 0) for m in TABLES}


def files_on_disk() -> list[Path]:
    root = get_settings().uploads_path
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


async def post(client: Any, url: str, headers: dict[str, str], path: Path, mapping: Any = None) -> Any:
    data = {} if mapping is None else {"mapping": mapping if isinstance(mapping, str) else json.dumps(mapping)}
    return await client.post(url, headers=headers, data=data,
                             files={"file": (path.name, path.read_bytes())})  # noqa: ASYNC240


async def test_preview_answers_and_stores_nothing(client, team, tmp_path: Path):
    path = write_book(tmp_path / "Age Analysis.xlsx", [["Debtors age analysis"], [], HEADER, *ROWS])
    before, disk = await counts(), files_on_disk()
    r = await post(client, "/api/uploads/preview", team.reader.headers, path)  # read access suffices
    assert r.status_code == 200, r.text
    body = r.json()
    p = body["preview"]
    assert body["filename"] == "Age Analysis.xlsx"
    assert p["sheet"] == "Debtors" and p["header_rows"] == [3] and p["file_format"] == "xlsx"
    assert [(c["index"], c["label"], c["field"]) for c in p["columns"]] == [
        (0, "Account", "account"), (1, "Name", "name"), (2, "Telephone", "telephone"), (3, "Cell", None),
        (4, "Current", "current"), (5, "30 Days", "d30"), (6, "60 Days", "d60"), (7, "90 Days", "d90"),
        (8, "120 Days", "d120"), (9, "Total Balance", "total_balance")]
    assert all(c["reason"] for c in p["columns"])
    assert p["columns"][3]["reason"] == "telephone is read from 'Telephone' instead"
    assert [(a["account_code"], a["telephone"], a["total_balance"]) for a in p["accounts"]] == [
        ("A1", "011 555 0001", 150), ("A2", "011 555 0002", 200)]
    assert p["accounts_found"] == 2 and p["failed_rows"] == 0 and p["skipped_rows"] == 4
    assert p["skipped_reasons"] == {"title": 1, "blank": 2, "total": 1}  # the reader's own reasons
    assert p["title_lines"] == ["Debtors age analysis"]
    assert p["total_check"]["accounts_total"] == 350 and p["total_check"]["printed_total"] == 350
    assert p["total_check"]["matches"] is True and p["using_saved_mapping"] is False
    assert p["report_date_source"] == "upload" and p["partial"] is False  # no date in its title or name
    assert await counts() == before and files_on_disk() == disk

    # A date given is shown as given; one in the future is a 400, nothing kept.
    files = {"file": (path.name, path.read_bytes())}  # noqa: ASYNC240
    r = await client.post("/api/uploads/preview", headers=team.reader.headers, files=files,
                          data={"report_date": "2026-01-31", "partial": "true"})
    assert r.status_code == 200, r.text
    shown = r.json()["preview"]
    assert (shown["report_date"], shown["report_date_source"], shown["partial"]) == ("2026-01-31", "form", True)
    r = await client.post("/api/uploads/preview", headers=team.reader.headers, files=files,
                          data={"report_date": "2999-01-01"})
    assert r.status_code == 400 and "report_date" in r.json()["field_errors"]
    assert await counts() == before and files_on_disk() == disk


async def test_preview_shows_at_most_twenty_accounts(client, team, tmp_path: Path):
    rows = [[f"B{i:03d}", f"Customer {i}", f"082 000 {i:04d}", "", 10, 0, 0, 0, 0, 10] for i in range(45)]
    path = write_book(tmp_path / "big.csv", [HEADER, *rows])
    r = await post(client, "/api/uploads/preview", team.officer.headers, path)
    p = r.json()["preview"]
    assert p["accounts_found"] == 45 and len(p["accounts"]) == 20
    assert [a["account_code"] for a in p["accounts"]] == [f"B{i:03d}" for i in range(20)]
    assert p["total_check"]["accounts_total"] == 450


async def test_preview_with_a_mapping_reads_the_chosen_column(client, team, tmp_path: Path):
    path = write_book(tmp_path / "book.xlsx", [HEADER, *ROWS])
    before = await counts()
    r = await post(client, "/api/uploads/preview", team.officer.headers, path, CELL_AS_PHONE)
    assert r.status_code == 200, r.text
    p = r.json()["preview"]
    assert p["mapping"]["2"] is None and p["mapping"]["3"] == "telephone"
    assert [a["telephone"] for a in p["accounts"]] == ["082 123 4567", "083 765 4321"]
    assert p["columns"][3]["reason"] == "your mapping"
    assert await counts() == before  # a preview saves no profile either


async def test_each_mapping_problem_is_named(client, team, tmp_path: Path):
    path = write_book(tmp_path / "book.csv", [HEADER, *ROWS])
    before, disk = await counts(), files_on_disk()
    bad = {"0": "acount", "12": "d60", "1": "name", "3": "name", "9": None}
    for url in ("/api/uploads/preview", "/api/uploads"):
        r = await post(client, url, team.officer.headers, path, bad)
        assert r.status_code == 400, r.text
        body = r.json()
        assert body["code"] == "INVALID_MAPPING" and isinstance(body["details"], str)
        found = {(p["code"], p.get("column"), p.get("field")) for p in body["problems"]}
        assert ("unknown_field", 0, "acount") in found
        assert ("unknown_column", 12, None) in found
        assert ("duplicate_field", None, "name") in found
        assert ("missing_field", None, "total_balance") in found
        assert ("missing_field", None, "account") in found  # column 0 no longer maps it
        messages = body["field_errors"]["mapping"]
        assert any("'acount'" in m for m in messages) and any("Column 12" in m for m in messages)
        assert any("Columns 1 and 3" in m for m in messages) and any("total_balance" in m for m in messages)
    assert await counts() == before and files_on_disk() == disk


async def test_a_mapping_that_is_not_json_is_a_400(client, team, tmp_path: Path):
    path = write_book(tmp_path / "book.csv", [HEADER, *ROWS])
    for text, words in (("{not json", "must be JSON"), ('["telephone"]', "JSON object"),
                        ('{"x": "name"}', "not a column index"), ('{"1": 5}', "field name or null")):
        r = await post(client, "/api/uploads/preview", team.officer.headers, path, text)
        assert r.status_code == 400, r.text
        assert r.json()["code"] == "INVALID_MAPPING" and words in r.text


async def test_two_columns_on_one_bucket_are_named_not_dropped(client, team, tmp_path: Path):
    # The reader reads a bucket from one column: a second column on it would be lost unsaid.
    header = ["Account", "Name", "Telephone", "Current", "30 Days", "31-45", "46-60", "Total"]
    path = write_book(tmp_path / "fine.csv", [header, ["A1", "Alpha", "0821234567", 10, 5, 0, 0, 15]])
    r = await post(client, "/api/uploads/preview", team.officer.headers, path, {"5": "d60", "6": "d60"})
    assert r.status_code == 400, r.text
    assert [(p["code"], p["field"], p["columns"]) for p in r.json()["problems"]] == [
        ("duplicate_field", "d60", [5, 6])]
    r = await post(client, "/api/uploads/preview", team.officer.headers, path, {"5": "d60", "6": "d90"})
    assert r.status_code == 200, r.text


async def test_a_file_without_the_account_heading_is_previewed_then_imported_with_a_mapping(
        client, team, stranger, tmp_path: Path):
    # "Key" names no field: the headings alone miss the account column, which a mapping then names.
    # Column 2 has no heading: the indexes are still the file's own.
    header = ["Key", "Customer", None, "Telephone", "Notes", "Current", "30 Days", "Total Balance"]
    rows = [["R1", "Alpha Ltd", None, "082 123 4567", "", 100, 50, 150],
            ["R2", "Beta CC", None, "083 765 4321", "x", 0, 20, 20]]
    path = write_book(tmp_path / "refs.xlsx", [["Debtors"], header, *rows])
    before, disk = await counts(), files_on_disk()
    r = await post(client, "/api/uploads/preview", team.reader.headers, path)
    assert r.status_code == 200, r.text
    p = r.json()["preview"]
    assert p["missing_fields"] == ["account"] and p["accounts_found"] == 0 and p["accounts"] == []
    assert [(c["index"], c["label"], c["field"]) for c in p["columns"]] == [
        (0, "Key", None), (1, "Customer", "name"), (3, "Telephone", "telephone"), (4, "Notes", None),
        (5, "Current", "current"), (6, "30 Days", "d30"), (7, "Total Balance", "total_balance")]
    assert any("account" in w for w in p["warnings"]) and p["sheet"] == "Debtors" and p["header_rows"] == [2]
    assert await counts() == before and files_on_disk() == disk

    # Without a mapping the import fails for the missing column; with one naming column 0 it is read.
    r = await post(client, "/api/uploads/preview", team.officer.headers, path, {"0": "account"})
    assert r.status_code == 200, r.text
    p = r.json()["preview"]
    assert p["missing_fields"] == [] and p["columns"][0] == {"index": 0, "label": "Key", "field": "account",
                                                             "reason": "your mapping"}
    assert [(a["account_code"], a["total_balance"]) for a in p["accounts"]] == [("R1", 150), ("R2", 20)]
    r = await post(client, "/api/uploads", team.officer.headers, path, {"0": "account"})
    assert r.status_code == 202, r.text
    upload_id = r.json()["upload"]["id"]
    await run_until_idle()
    async with transaction(readonly=True) as s:
        stored = sorted((await s.execute(select(DebtorSnapshot.account_code, DebtorSnapshot.customer_name,
                                                DebtorSnapshot.total_balance))).all())
        profile = (await s.scalars(select(ImportProfile))).one()
    assert [(a, n, str(t)) for a, n, t in stored] == [("R1", "Alpha Ltd", "150.00"), ("R2", "Beta CC", "20.00")]
    assert profile.mapping["0"] == "account" and profile.org_id == team.org.id
    r = await client.get(f"/api/uploads/{upload_id}", headers=team.officer.headers)
    assert r.json()["status"] == "completed"
    r = await client.get(f"/api/uploads/{upload_id}", headers=stranger.headers)
    assert r.status_code == 404

    # The next file with this header is read by the saved mapping, without one being sent.
    r = await post(client, "/api/uploads/preview", team.officer.headers, path)
    p = r.json()["preview"]
    assert p["using_saved_mapping"] is True and p["missing_fields"] == [] and p["accounts_found"] == 2


async def test_confirmed_mapping_is_saved_and_applied_to_the_next_file(client, team, stranger, tmp_path: Path):
    first = write_book(tmp_path / "October.xlsx", [HEADER, *ROWS])
    r = await post(client, "/api/uploads", team.officer.headers, first, CELL_AS_PHONE)
    assert r.status_code == 202, r.text
    await run_until_idle()
    async with transaction(readonly=True) as s:
        profile = (await s.scalars(select(ImportProfile))).one()
        phones = sorted((await s.execute(select(DebtorSnapshot.account_code, DebtorSnapshot.telephone))).all())
    assert profile.org_id == team.org.id and profile.mapping["3"] == "telephone" and profile.mapping["2"] is None
    assert phones == [("A1", "27821234567"), ("A2", "27837654321")]

    # The next month's file: same header, other rows, no mapping sent.
    rows = [["A3", "Gamma", "011 555 0003", "084 111 2222", 5, 0, 0, 0, 0, 5]]
    second = write_book(tmp_path / "November.csv", [HEADER, *rows])
    r = await post(client, "/api/uploads/preview", team.officer.headers, second)
    p = r.json()["preview"]
    assert p["using_saved_mapping"] is True and p["mapping_note"] == "using your saved mapping"
    assert "using your saved mapping" in r.json()["message"]
    assert [a["telephone"] for a in p["accounts"]] == ["084 111 2222"]
    r = await post(client, "/api/uploads", team.officer.headers, second)
    assert r.status_code == 202, r.text
    await run_until_idle()
    async with transaction(readonly=True) as s:
        phone = await s.scalar(select(DebtorSnapshot.telephone).where(DebtorSnapshot.account_code == "A3"))
    assert phone == "27841112222"

    # Another organisation with the same header is not touched by this one's profile.
    other_org_preview = await post(client, "/api/uploads/preview", stranger.headers, second)
    assert other_org_preview.json()["preview"]["using_saved_mapping"] is False


async def test_saving_a_profile_needs_write_access(client, team, tmp_path: Path):
    path = write_book(tmp_path / "book.csv", [HEADER, *ROWS])
    before = await counts()
    r = await post(client, "/api/uploads", team.reader.headers, path, CELL_AS_PHONE)
    assert r.status_code == 403, r.text
    assert await counts() == before


async def test_profiles_are_listed_and_deleted_by_admins_and_managers(client, team, stranger, tmp_path: Path):
    path = write_book(tmp_path / "book.csv", [HEADER, *ROWS])
    assert (await post(client, "/api/uploads", team.officer.headers, path, CELL_AS_PHONE)).status_code == 202

    r = await client.get("/api/v1/import-profiles", headers=team.manager.headers)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["pagination"]["total"] == 1 and len(body["data"]) == 1
    item = body["data"][0]
    assert item["sampleFilename"] == "book.csv" and len(item["signature"]) == 64
    assert {"index": 3, "label": "Cell", "field": "telephone"} in item["columns"]
    assert {"index": 2, "label": "Telephone", "field": None} in item["columns"]

    r = await client.get("/api/v1/import-profiles", headers=team.officer.headers)
    assert r.status_code == 403 and r.json()["error"]
    r = await client.get("/api/v1/import-profiles", headers=stranger.headers)
    assert r.json()["data"] == [] and r.json()["pagination"]["total"] == 0
    r = await client.get("/api/v1/import-profiles", params={"limit": 101}, headers=team.admin.headers)
    assert r.status_code == 400

    # Another organisation's admin cannot delete it: 404, and it stays.
    r = await client.delete(f"/api/v1/import-profiles/{item['id']}", headers=stranger.headers)
    assert r.status_code == 404 and r.json()["error"]
    for bad in ("not-a-uuid", "00000000-0000-0000-0000-000000000000"):
        assert (await client.delete(f"/api/v1/import-profiles/{bad}", headers=team.admin.headers)).status_code == 404
    r = await client.delete(f"/api/v1/import-profiles/{item['id']}", headers=team.officer.headers)
    assert r.status_code == 403
    r = await client.delete(f"/api/v1/import-profiles/{item['id']}", headers=team.admin.headers)
    assert r.status_code == 204
    assert (await client.get("/api/v1/import-profiles", headers=team.admin.headers)).json()["data"] == []
    async with transaction(readonly=True) as s:
        assert await s.scalar(select(func.count()).select_from(ImportProfile)) == 0
