"""Issue 19, point 1, for .ods: python-calamine builds an .ods sheet's whole range with no streaming
reader, so a sheet whose cells that hold something pass ARREARS_PARSE_MAX_CELLS is refused with
SHEET_TOO_LARGE when it is uploaded. Repeats count (a filled row repeated 5,000 times is 5,000
rows); the runs of empty rows and cells LibreOffice writes to the end of every sheet do not.

The files are written here (tests/corpus/ods.py), their content.xml as a writer would leave it."""

from __future__ import annotations

import time
import tracemalloc
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from arrears.config import get_settings
from arrears.db import transaction
from arrears.debtors.models import DebtorReport
from arrears.debtors.reading import ReadError
from arrears.debtors.reading.prechecks import check_binary_sheets, ods_sheet_boxes
from arrears.sandbox import ParseLimits
from tests.corpus.ods import ods_row, write_ods, write_ods_xml
from tests.faces.age_analysis.conftest import member
from tests.faces.age_analysis.helpers import BOOK, post_file

LIMITS = ParseLimits(max_cells=10_000_000)
# What LibreOffice writes after the last row of a sheet (and after the last cell of a row).
EMPTY_TAIL = ('<table:table-row table:number-rows-repeated="1048000">'
              '<table:table-cell table:number-columns-repeated="1000"/></table:table-row>')
FLOAT = '<table:table-cell office:value-type="float" office:value="1.5"{}><text:p>1.5</text:p></table:table-cell>'


def _table(name: str, body: str) -> str:
    return f'<table:table table:name="{name}">{body}</table:table>'


def _libreoffice_book(path: Path) -> Path:
    """BOOK as LibreOffice saves it: each row ends in a run of empty cells, the sheet in a run of
    empty rows, and a second, empty sheet is nothing but such a run."""
    rows = "".join(ods_row(row)[:-len("</table:table-row>")]
                   + '<table:table-cell table:number-columns-repeated="1014"/></table:table-row>' for row in BOOK)
    return write_ods_xml(path, _table("Debtors", rows + EMPTY_TAIL) + _table("Sheet2", EMPTY_TAIL))


def _repeated(path: Path, rows: int, columns: int, lead: str = "") -> Path:
    """A header row, then one filled cell repeated `columns` times on a row repeated `rows` times."""
    cell = FLOAT.format(f' table:number-columns-repeated="{columns}"')
    body = ods_row(["Account", "Balance"]) + lead + f'<table:table-row table:number-rows-repeated="{rows}">{cell}</table:table-row>'
    return write_ods_xml(path, _table("Debtors", body + EMPTY_TAIL))


# ------------------------------------------------------------------ the measures


def test_libreoffice_empty_runs_do_not_count(tmp_path: Path) -> None:
    book = _libreoffice_book(tmp_path / "lo.ods")
    boxes = ods_sheet_boxes(book, LIMITS)
    assert [(n, b.rows, b.columns, b.records) for n, b in boxes] == [
        # Every cell of the rows is read in (the empty ones between values too), not the tails.
        ("Debtors", len(BOOK), 10, sum(len(row) for row in BOOK)),
        ("Sheet2", 0, 0, 0)]
    check_binary_sheets(book, "ods", ParseLimits(max_cells=1000))  # passes even a small limit


def test_filled_repeats_count_rows_times_columns(tmp_path: Path) -> None:
    far = _repeated(tmp_path / "far.ods", 5000, 5000)  # 25 M cells in a file of a few hundred bytes
    assert far.stat().st_size < 2048
    [(name, box)] = ods_sheet_boxes(far, LIMITS)
    assert name == "Debtors" and (box.rows, box.columns) == (5001, 5000)
    with pytest.raises(ReadError) as refused:
        check_binary_sheets(far, "ods", LIMITS)
    assert refused.value.code == "SHEET_TOO_LARGE" and ".xlsx" in refused.value.message
    assert refused.value.details == {"sheet": "Debtors", "rows": 5001, "columns": 5000, "max_cells": 10_000_000}
    # At the limit exactly: the header's 2 cells and 998 more pass; one more cell is refused.
    check_binary_sheets(_repeated(tmp_path / "at.ods", 499, 2), "ods", ParseLimits(max_cells=1000))
    with pytest.raises(ReadError):
        check_binary_sheets(_repeated(tmp_path / "past.ods", 1, 999), "ods", ParseLimits(max_cells=1000))


def test_an_empty_gap_before_a_filled_row_counts(tmp_path: Path) -> None:
    """calamine fills the empty rows between two filled ones: a filled cell after a million empty
    rows spans them all (but not the empty rows before the first filled one)."""
    gap = '<table:table-row table:number-rows-repeated="1000000"><table:table-cell/></table:table-row>'
    path = _repeated(tmp_path / "gap.ods", 1, 20, lead=gap)
    [(_, box)] = ods_sheet_boxes(path, LIMITS)
    assert (box.rows, box.columns) == (1_000_002, 20)
    with pytest.raises(ReadError):
        check_binary_sheets(path, "ods", LIMITS)
    lead = write_ods_xml(tmp_path / "lead.ods", _table("S", gap.replace("<table:table-cell/>", "<table:table-cell/>" * 3)
                                                       + ods_row([None, "x"]) + EMPTY_TAIL))
    [(_, box)] = ods_sheet_boxes(lead, LIMITS)
    # The range is the one filled cell's; read in were 2 + 2 cells: each row element's cells but
    # its last empty one, once per element (not once per repeated row).
    assert (box.rows, box.columns, box.records) == (1, 2, 4)


def test_what_holds_something(tmp_path: Path) -> None:
    """A value, a formula, any text or a sub-table makes a cell hold something; an empty cell
    (styled or not) does not, wherever it is (but the empty run before a cell is read in)."""
    cells = ('<table:table-cell table:style-name="ce1" table:number-columns-repeated="50"/>'
             '<table:table-cell table:formula="of:=1+1"/>'
             '<table:table-cell><text:p>note</text:p></table:table-cell>'
             '<table:covered-table-cell office:value-type="string"><text:p>m</text:p></table:covered-table-cell>'
             '<table:table-cell><table:table table:name="inner">' + ods_row(["a", "b", "c"], repeat=9)
             + '</table:table></table:table-cell>'
             '<table:table-cell table:number-columns-repeated="900"/>')
    path = write_ods_xml(tmp_path / "kinds.ods", _table("S", f"<table:table-row>{cells}</table:table-row>"))
    [(name, box)] = ods_sheet_boxes(path, LIMITS)  # the sub-table is one cell, not a sheet of its own
    assert (name, box.rows, box.columns, box.records) == ("S", 1, 54, 54)


def _empty_runs(path: Path, elements: int, run: int, *, closed: bool = True) -> Path:
    """A header row, then `elements` row elements that each hold nothing: an empty run of `run`
    cells, closed by one more empty cell (so calamine writes the run out) or not."""
    close = "<table:table-cell/>" if closed else ""
    row = f'<table:table-row><table:table-cell table:number-columns-repeated="{run}"/>{close}</table:table-row>'
    return write_ods_xml(path, _table("Debtors", ods_row(["Account", "Balance"]) + row * elements + EMPTY_TAIL))


def test_empty_runs_across_row_elements_count_where_calamine_reads_them(tmp_path: Path) -> None:
    """calamine reads each row element's cells in, an empty run too when another cell follows
    it, before it builds the (here 1 x 2) range: 1,000 row elements with an empty run of 100,000
    cells and one empty cell after it held 897 MB in calamine when measured (a 1.3 KB file).
    They count, each row element once; the same runs as the last cell of their rows (as
    LibreOffice writes them) count nothing."""
    hostile = _empty_runs(tmp_path / "runs.ods", 1000, 100_000)
    assert hostile.stat().st_size < 4096
    [(name, box)] = ods_sheet_boxes(hostile, ParseLimits(max_cells=10**12))
    assert (name, box.rows, box.columns, box.records) == ("Debtors", 1, 2, 2 + 1000 * 100_000)
    with pytest.raises(ReadError) as refused:
        check_binary_sheets(hostile, "ods", LIMITS)
    assert refused.value.code == "SHEET_TOO_LARGE" and "holds more than 10,000,000 cells" in refused.value.message
    # The scan stops at the row element that passes the limit: the 100th (with the header's 2).
    [(_, box)] = ods_sheet_boxes(hostile, LIMITS)
    assert box.records == 2 + 100 * 100_000
    tails = _empty_runs(tmp_path / "tails.ods", 1000, 100_000, closed=False)
    [(_, box)] = ods_sheet_boxes(tails, LIMITS)
    assert (box.rows, box.columns, box.records) == (1, 2, 2)
    check_binary_sheets(tails, "ods", ParseLimits(max_cells=1000))
    # One row element whose run is read in, repeated a million times, is read in once.
    once = write_ods_xml(tmp_path / "once.ods", _table("Debtors", ods_row(["Account", "Balance"])
                         + '<table:table-row table:number-rows-repeated="1000000"><table:table-cell '
                           'table:number-columns-repeated="1000"/><table:table-cell/></table:table-row>'))
    [(_, box)] = ods_sheet_boxes(once, LIMITS)
    assert (box.rows, box.columns, box.records) == (1, 2, 1002)


def test_libreoffice_styled_columns_to_1024_are_read(tmp_path: Path) -> None:
    """LibreOffice writes a row's empty cells as runs by style up to column 1024 (the last run
    dropped by calamine, the others read in), and the sheet's end as a last row repeated
    1,048,000 times: 2,000 such rows are 2 million cells read in, under the limit."""
    styled = ('<table:table-cell table:style-name="ce1" table:number-columns-repeated="990"/>'
              '<table:table-cell table:style-name="ce2" table:number-columns-repeated="32"/></table:table-row>')
    rows = "".join(ods_row([f"ACC{r:04d}", r * 1.5])[:-len("</table:table-row>")] + styled for r in range(2000))
    path = write_ods_xml(tmp_path / "styled.ods", _table("Debtors", ods_row(["Account", "Balance"]) + rows + EMPTY_TAIL))
    [(_, box)] = ods_sheet_boxes(path, LIMITS)
    assert (box.rows, box.columns, box.records) == (2001, 2, 2 + 2000 * (2 + 990))
    check_binary_sheets(path, "ods", LIMITS)  # no exception


def test_files_the_check_cannot_read_are_left_to_the_parser(tmp_path: Path) -> None:
    bad_repeat = write_ods_xml(tmp_path / "nan.ods", _table(
        "S", "<table:table-row>" + FLOAT.format(' table:number-columns-repeated="x"') * 2000 + "</table:table-row>"))
    cut = tmp_path / "cut.ods"
    cut.write_bytes(_repeated(tmp_path / "whole.ods", 10, 10).read_bytes()[:300])
    junk = tmp_path / "junk.ods"
    junk.write_bytes(b"PK\x03\x04 not really a zip")
    for path in (bad_repeat, cut, junk):
        check_binary_sheets(path, "ods", ParseLimits(max_cells=1000))  # no exception


@pytest.mark.slow
def test_the_scan_is_cheap_and_bounded(tmp_path: Path) -> None:
    """A normal 50,000-row ODS (10 cells a row, 500,000 cells) is measured in a second or two on a
    quiet machine (the bound allows for a loaded one), holding no more than a few rows at a time."""
    rows = [["Account", "Balance", *range(8)], *[[f"ACC{r:06d}", r * 1.25, *range(8)] for r in range(50_000)]]
    path = write_ods(tmp_path / "big.ods", {"Debtors": rows})
    started = time.perf_counter()
    [(_, box)] = ods_sheet_boxes(path, LIMITS)
    spent = time.perf_counter() - started
    assert (box.rows, box.columns, box.records) == (50_001, 10, 500_010)
    print(f"\n50,001 x 10 .ods ({path.stat().st_size:,} bytes): scanned in {spent:.2f} s")
    assert spent < 30, spent
    tracemalloc.start()
    try:
        ods_sheet_boxes(path, LIMITS)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    print(f"peak traced memory of the scan: {peak / 1024:.0f} KiB")
    assert peak < 4 << 20, peak  # the file's cells (500,000 elements) would be ~100 MiB held


# ------------------------------------------------------------------ the upload


async def _reports(org_id: int) -> int:
    async with transaction(readonly=True) as s:
        return int(await s.scalar(select(func.count()).select_from(DebtorReport)
                                  .where(DebtorReport.org_id == org_id)) or 0)


async def test_an_oversized_ods_is_a_400_at_upload(client: Any, world: Any, tmp_path: Path) -> None:
    org = await world.org()
    me = await member(client, world, org.id, "admin")
    r = await post_file(client, me.headers, _repeated(tmp_path / "far.ods", 5000, 5000))
    assert r.status_code == 400, r.text
    body = r.json()
    assert body["code"] == "SHEET_TOO_LARGE" and ".xlsx" in body["message"] and "ARREARS_PARSE_MAX_CELLS" in body["message"]
    assert body["rows"] == 5001 and body["columns"] == 5000 and body["max_cells"] == 10_000_000
    assert await _reports(org.id) == 0  # nothing stored, no import queued
    folder = get_settings().uploads_path / str(org.id)
    assert not folder.exists() or not any(p.is_file() for p in folder.rglob("*"))


async def test_empty_runs_are_a_400_at_upload(client: Any, world: Any, tmp_path: Path) -> None:
    org = await world.org()
    me = await member(client, world, org.id, "admin")
    r = await post_file(client, me.headers, _empty_runs(tmp_path / "runs.ods", 1000, 100_000))
    assert r.status_code == 400, r.text
    body = r.json()
    assert body["code"] == "SHEET_TOO_LARGE" and "ARREARS_PARSE_MAX_CELLS" in body["message"]
    assert (body["rows"], body["columns"]) == (1, 2)
    assert await _reports(org.id) == 0
    r = await client.get("/healthz")
    assert r.status_code == 200


async def test_a_libreoffice_ods_uploads_and_imports(client: Any, world: Any, tmp_path: Path) -> None:
    from arrears.worker import run_until_idle

    org = await world.org()
    me = await member(client, world, org.id, "admin")
    r = await post_file(client, me.headers, _libreoffice_book(tmp_path / "lo.ods"))
    assert r.status_code == 202, r.text
    uid = r.json()["upload"]["id"]
    await run_until_idle()
    r = await client.get(f"/api/uploads/{uid}", headers=me.headers)
    assert r.status_code == 200, r.text
    detail = r.json()
    assert detail["status"] == "completed" and detail["records_processed"] == 5, detail
    assert await _reports(org.id) == 1
