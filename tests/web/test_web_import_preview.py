"""Issue 21 in the web UI, without a browser: a spreadsheet upload shows its preview first (the
columns with a field to choose for each, skipped lines, the first accounts, the total check);
confirming a changed mapping imports with it and saves it for the next file with the same
columns; the upload form keeps its CSRF check and size limit; saved mappings in Settings."""

from __future__ import annotations

import io
from typing import Any

import openpyxl
from sqlalchemy import func, select

from arrears.config import get_settings, reset_settings
from arrears.db import transaction
from arrears.debtors.models import DebtorReport, DebtorSnapshot, ImportProfile
from arrears.jobs.models import Job
from arrears.worker import run_until_idle
from tests.web.conftest import confirm_preview, preview_form

HEADER = ["Account", "Name", "Telephone", "Cell", "Current", "30 Days", "60 Days", "90 Days", "120 Days",
          "Total Balance"]
ROWS: list[list[Any]] = [
    ["A1", "Alpha Ltd", "011 555 0001", "082 123 4567", 100, 50, 0, 0, 0, 150],
    ["A2", "Beta CC", "011 555 0002", "083 765 4321", 0, 0, 200, 0, 0, 200],
    [],
    ["Total", None, None, None, 100, 50, 200, 0, 0, 350],
]


def xlsx(rows: list[list[Any]]) -> bytes:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Debtors"
    for row in rows:
        ws.append(row)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


async def counts() -> tuple[int, int, int, int]:
    async with transaction(readonly=True) as s:
        return tuple([int(await s.scalar(select(func.count()).select_from(m)) or 0)  # type: ignore[return-value]
                      for m in (DebtorReport, DebtorSnapshot, ImportProfile, Job)])


def pending_files(org_id: int) -> list[str]:
    folder = get_settings().uploads_path / str(org_id) / ".pending"
    return sorted(p.name for p in folder.iterdir() if p.is_file()) if folder.is_dir() else []


async def upload(ui: Any, content: bytes, name: str = "October.xlsx", token: str | None = None) -> Any:
    return await ui.c.post("/app/books", data={"csrf_token": ui.token if token is None else token},
                           files={"file": (name, content)})


async def test_preview_then_a_changed_mapping_is_imported_and_saved(people, world):
    org = await world.org()
    ui, _ = await people(org.id, role="manager")
    await ui.get("/app/books")
    r = await upload(ui, xlsx([["Debtors age analysis"], HEADER, *ROWS]))
    assert r.status_code == 200, r.text
    html = r.text
    assert "Check how October.xlsx will be read" in html and "Sheet <strong>Debtors</strong>" in html
    assert "header on row <strong>2</strong>" in html and "2 accounts" in html and "3 lines skipped" in html
    form = preview_form(html)
    assert form["col_2"] == "telephone" and form["col_3"] == "" and form["col_9"] == "total_balance"
    assert "Alpha Ltd" in html and "011 555 0001" in html and 'data-testid="total-check"' in html
    assert await counts() == (0, 0, 0, 0)  # nothing stored until confirmed
    assert len(pending_files(org.id)) == 1

    # The person reads the Cell column as the phone and ignores the office line.
    r = await confirm_preview(ui, html, {"col_2": "", "col_3": "telephone"})
    assert r.status_code == 303, r.text
    assert r.headers["location"].startswith("/app/books/")
    assert pending_files(org.id) == []
    await run_until_idle()
    async with transaction(readonly=True) as s:
        phones = sorted((await s.execute(select(DebtorSnapshot.account_code, DebtorSnapshot.telephone))).all())
        profile = (await s.scalars(select(ImportProfile))).one()
    assert phones == [("A1", "27821234567"), ("A2", "27837654321")]
    assert profile.org_id == org.id and profile.mapping["2"] is None and profile.mapping["3"] == "telephone"

    # November's file, same columns: the preview uses the saved mapping.
    r = await upload(ui, xlsx([HEADER, ["A3", "Gamma", "011 555 0003", "084 111 2222", 5, 0, 0, 0, 0, 5]]),
                     "November.xlsx")
    assert r.status_code == 200 and "using your saved mapping" in r.text
    form = preview_form(r.text)
    assert form["col_2"] == "" and form["col_3"] == "telephone" and "084 111 2222" in r.text


async def test_a_mapping_that_cannot_be_imported_is_shown_back(people, world):
    org = await world.org()
    ui, _ = await people(org.id, role="admin")
    await ui.get("/app/books")
    r = await upload(ui, xlsx([HEADER, *ROWS]))
    html = r.text
    r = await confirm_preview(ui, html, {"col_0": "", "col_1": "telephone"})
    assert r.status_code == 400, r.text
    assert "These column choices cannot be imported" in r.text
    assert "required field account" in r.text and "Columns 1 and 2 both map to telephone" in r.text
    form = preview_form(r.text)
    assert form["col_0"] == "" and form["col_1"] == "telephone"  # the choices are kept to correct them
    assert await counts() == (0, 0, 0, 0) and len(pending_files(org.id)) == 1
    r = await confirm_preview(ui, r.text, {"col_0": "account", "col_1": "name"})
    assert r.status_code == 303 and pending_files(org.id) == []


async def test_upload_form_keeps_csrf_and_size_checks(people, world, monkeypatch):
    org = await world.org()
    ui, _ = await people(org.id, role="admin")
    await ui.get("/app/books")
    r = await ui.c.post("/app/books", files={"file": ("book.xlsx", xlsx([HEADER, *ROWS]))})  # no token
    assert r.status_code == 403
    r = await upload(ui, xlsx([HEADER, *ROWS]), token="forged")
    assert r.status_code == 403
    assert pending_files(org.id) == [] and await counts() == (0, 0, 0, 0)
    # Another site's form is refused before the body is read.
    r = await ui.c.post("/app/books", data={"csrf_token": ui.token}, headers={"Origin": "https://evil.example"},
                        files={"file": ("book.xlsx", xlsx([HEADER, *ROWS]))})
    assert r.status_code == 403

    monkeypatch.setenv("UPLOAD_MAX_SIZE", "4000")
    reset_settings()
    big = xlsx([HEADER, *[[f"B{i}", f"Name {i}", "0821234567", "", 1, 0, 0, 0, 0, 1] for i in range(400)]])
    assert len(big) > 4000
    r = await upload(ui, big)
    assert r.status_code == 413 and 'id="file-error"' in r.text
    assert pending_files(org.id) == [] and await counts() == (0, 0, 0, 0)


async def test_a_preview_of_another_organisation_cannot_be_confirmed(people, world):
    org, other = await world.org(), await world.org("Other")
    theirs, _ = await people(other.id, role="admin")
    await theirs.get("/app/books")
    r = await upload(theirs, xlsx([HEADER, *ROWS]))
    form = preview_form(r.text)
    ui, _ = await people(org.id, role="admin")
    await ui.get("/app/books")
    r = await ui.c.post("/app/books/confirm", data=form | {"csrf_token": ui.token})
    assert r.status_code == 303 and r.headers["location"] == "/app/books"
    assert await counts() == (0, 0, 0, 0) and len(pending_files(other.id)) == 1
    reader, _ = await people(other.id, role="manager", access="read")
    await reader.get("/app/books")
    r = await reader.c.post("/app/books/confirm", data=form | {"csrf_token": reader.token})
    assert r.status_code == 403 and await counts() == (0, 0, 0, 0)


async def test_saved_mappings_are_listed_and_deleted_in_settings(people, world):
    org, other = await world.org(), await world.org("Other")
    ui, _ = await people(org.id, role="admin")
    await ui.get("/app/books")
    r = await upload(ui, xlsx([HEADER, *ROWS]))
    assert (await confirm_preview(ui, r.text, {"col_2": "", "col_3": "telephone"})).status_code == 303
    async with transaction(readonly=True) as s:
        profile_id = str((await s.scalars(select(ImportProfile.id))).one())

    r = await ui.get("/app/settings/import-profiles")
    assert r.status_code == 200 and "October.xlsx" in r.text and "Cell → telephone" in r.text
    assert "Telephone → ignored" in r.text and "Saved column mappings" in r.text

    officer, _ = await people(org.id, role="collection_officer")
    assert (await officer.get("/app/settings/import-profiles")).status_code == 403
    stranger, _ = await people(other.id, role="admin")
    r = await stranger.get("/app/settings/import-profiles")
    assert "No saved column mappings." in r.text
    r = await stranger.post(f"/app/settings/import-profiles/{profile_id}/delete")
    assert r.status_code == 404
    r = await officer.post(f"/app/settings/import-profiles/{profile_id}/delete")
    assert r.status_code == 403

    r = await ui.post(f"/app/settings/import-profiles/{profile_id}/delete")
    assert r.status_code == 303 and "Saved mapping deleted" in ui.followed.text
    assert "No saved column mappings." in ui.followed.text
    assert (await counts())[2] == 0
