"""Issue 19, point 1: an .xls or .xlsb whose sheet's used range passes ARREARS_PARSE_MAX_CELLS is
refused with SHEET_TOO_LARGE when it is uploaded, before python-calamine (which builds the whole
range, with no streaming reader for these formats) ever sees it. The range is the sheet's declared
dimensions and its cells' largest row and column: a far cell inside the grid counts.

The .xls files are written by xlwt (and one patched as a hostile writer would leave it); the
.xlsb files are made record by record by tests/corpus/xlsb.py (no writer is installed)."""

from __future__ import annotations

import struct
import time
from pathlib import Path
from typing import Any

import pytest
import xlwt
from sqlalchemy import func, select

from arrears.db import transaction
from arrears.debtors.models import DebtorReport
from arrears.debtors.reading import ReadError
from arrears.debtors.reading.prechecks import check_binary_sheets, xls_sheet_boxes, xlsb_sheet_boxes
from arrears.sandbox import ParseLimits
from tests.corpus import xlsb
from tests.faces.age_analysis.conftest import member
from tests.faces.age_analysis.helpers import BOOK, post_file, write_book
from tests.web.conftest import people  # noqa: F401

LIMITS = ParseLimits(max_cells=10_000_000)


def _xls(path: Path, cells: list[tuple[int, int, object]], sheets: int = 1) -> Path:
    wb = xlwt.Workbook(encoding="utf-8")
    for n in range(sheets):
        ws = wb.add_sheet(f"Sheet {n + 1}")
        for row, col, value in cells:
            ws.write(row, col, value)
    wb.save(str(path))
    return path


def _patch_dimensions(path: Path, last_row: int, last_col: int) -> Path:
    """Rewrite the sheet's DIMENSIONS record (BIFF8: first row, last row + 1 as 32-bit numbers,
    first column, last column + 1 as 16-bit) as a hostile writer would."""
    data = bytearray(path.read_bytes())
    at = data.find(b"\x00\x02\x0e\x00")  # record 0x0200, 14 bytes
    assert at > 0
    struct.pack_into("<IIHH", data, at + 4, 0, last_row, 0, last_col)
    path.write_bytes(bytes(data))
    return path


def _in_mini_stream(source: Path, path: Path) -> Path:
    """The same workbook with its Workbook stream in the compound file's mini stream, as writers
    other than xlwt (which pads the stream to 4 KiB) store a small one: a minimal [MS-CFB] v3
    file, sectors FAT, directory, mini FAT, then the mini stream."""
    from arrears.debtors.reading.prechecks import _CompoundFile

    stream = _CompoundFile(source.read_bytes()).stream("Workbook")
    pos = ends = 0
    while pos + 4 <= len(stream):  # up to the last record (xlwt's padding cut off)
        kind, length = struct.unpack_from("<HH", stream, pos)
        pos += 4 + length
        if kind == 0x000A:
            ends = pos
    stream = stream[:ends]
    assert len(stream) < 4096
    end, free = 0xFFFFFFFE, 0xFFFFFFFF
    mini = stream + b"\0" * (-len(stream) % 512)
    big = len(mini) // 512
    fat = [0xFFFFFFFD, end, end, *range(4, 3 + big), end]
    fat_sector = struct.pack("<128I", *(fat + [free] * (128 - len(fat))))
    minis = -(-len(stream) // 64)
    minifat = [*range(1, minis), end]
    minifat_sector = struct.pack("<128I", *(minifat + [free] * (128 - len(minifat))))

    def entry(name: str, kind: int, start: int, size: int) -> bytes:
        raw = name.encode("utf-16-le") + b"\0\0"
        return (raw.ljust(64, b"\0") + struct.pack("<HBB", len(raw), kind, 1) + struct.pack("<III", free, free, free)
                + b"\0" * 16 + b"\0" * 4 + b"\0" * 16 + struct.pack("<II", start, size) + b"\0" * 4)

    directory = (entry("Root Entry", 5, 3, len(mini)) + entry("Workbook", 2, 0, len(stream))
                 + entry("", 0, end, 0) * 2)
    header = (bytes.fromhex("D0CF11E0A1B11AE1") + b"\0" * 16 + struct.pack("<HHHHH", 0x3E, 3, 0xFFFE, 9, 6)
              + b"\0" * 6 + struct.pack("<IIIIIIIII", 0, 1, 1, 0, 4096, 2, 1, end, 0)
              + struct.pack("<109I", 0, *[free] * 108))
    assert len(header) == 512 and len(directory) == 512
    path.write_bytes(header + fat_sector + directory + minifat_sector + mini)
    return path


def _xlsb(path: Path, rows: list[tuple[int, list[int]]], dimension: tuple[int, int] | None = None) -> Path:
    """An .xlsb whose one sheet has, per row, number cells (1.5) in the given columns, and the
    BrtWsDim (last row, last column) when given."""
    part = xlsb.sheet_part([(row, [(col, xlsb.real_cell(col, 1.5)) for col in columns]) for row, columns in rows],
                           dimension=dimension)
    return xlsb.write_parts(path, {"Debtors": part})


# ------------------------------------------------------------------ the measures


def test_xls_ranges_from_cells_and_dimensions(tmp_path: Path) -> None:
    book = write_book(tmp_path / "book.xls", BOOK)
    [(name, box)] = xls_sheet_boxes(book)
    assert name == "Debtors" and (box.rows, box.columns) == (len(BOOK), 10)
    check_binary_sheets(book, "xls", LIMITS)  # an ordinary book passes
    # Several sheets; the last cell of the grid (xlwt writes the largest .xls allows).
    far = _xls(tmp_path / "far.xls", [(0, 0, "Account"), (65_535, 255, "solver")], sheets=2)
    boxes = xls_sheet_boxes(far)
    assert [(n, b.rows, b.columns) for n, b in boxes] == [("Sheet 1", 65_536, 256), ("Sheet 2", 65_536, 256)]
    with pytest.raises(ReadError) as refused:
        check_binary_sheets(far, "xls", LIMITS)  # 16.8 M cells
    assert refused.value.code == "SHEET_TOO_LARGE" and ".xlsx" in refused.value.message
    assert refused.value.details == {"sheet": "Sheet 1", "rows": 65_536, "columns": 256, "max_cells": 10_000_000}
    # A DIMENSIONS record that claims four billion rows (BIFF8 rows are 32-bit there).
    lying = _patch_dimensions(_xls(tmp_path / "lie.xls", [(0, 0, 1.0)]), 4_000_000_000, 1)
    [(_, box)] = xls_sheet_boxes(lying)
    assert box.rows == 4_000_000_000
    with pytest.raises(ReadError):
        check_binary_sheets(lying, "xls", LIMITS)
    # The same, its Workbook stream in the compound file's mini stream.
    [(_, box)] = xls_sheet_boxes(_in_mini_stream(lying, tmp_path / "mini.xls"))
    assert box.rows == 4_000_000_000
    [(name, box)] = xls_sheet_boxes(_in_mini_stream(book, tmp_path / "mini-book.xls"))
    assert name == "Debtors" and (box.rows, box.columns) == (len(BOOK), 10)


def test_xlsb_ranges_from_row_headers_cells_and_dimension(tmp_path: Path) -> None:
    small = _xlsb(tmp_path / "small.xlsb", [(r, list(range(10))) for r in range(50)], dimension=(49, 9))
    [(name, box)] = xlsb_sheet_boxes(small, LIMITS)
    assert name == "Debtors" and (box.rows, box.columns) == (50, 10)
    check_binary_sheets(small, "xlsb", LIMITS)
    # The far cell of the grid, XFD1048576, under a dimension that says A1:J50.
    far = _xlsb(tmp_path / "far.xlsb", [(0, [0, 1]), (1_048_575, [16_383])], dimension=(49, 9))
    assert far.stat().st_size < 2048
    [(_, box)] = xlsb_sheet_boxes(far, LIMITS)
    assert (box.rows, box.columns) == (1_048_576, 16_384)
    with pytest.raises(ReadError) as refused:
        check_binary_sheets(far, "xlsb", LIMITS)
    assert refused.value.code == "SHEET_TOO_LARGE"
    # A dimension alone that claims the whole grid.
    claims = _xlsb(tmp_path / "claims.xlsb", [(0, [0])], dimension=(1_048_575, 16_383))
    with pytest.raises(ReadError):
        check_binary_sheets(claims, "xlsb", LIMITS)


def test_more_cell_records_than_the_limit_is_too_large_wherever_they_are(tmp_path: Path) -> None:
    """calamine keeps every cell record before it builds the range: 3,000 records all at A1 are
    3,000 cells to it. The scan stops once past the limit."""
    piled = _xlsb(tmp_path / "piled.xlsb", [(0, [0] * 3000)], dimension=(0, 0))
    [(_, box)] = xlsb_sheet_boxes(piled, ParseLimits(max_cells=1000))
    assert (box.rows, box.columns) == (1, 1) and box.records == 1001  # stopped just past the limit
    with pytest.raises(ReadError) as refused:
        check_binary_sheets(piled, "xlsb", ParseLimits(max_cells=1000))
    assert "holds more than 1,000 cells" in refused.value.message
    check_binary_sheets(piled, "xlsb", ParseLimits(max_cells=5000))


def test_files_the_check_cannot_read_are_left_to_the_parser(tmp_path: Path) -> None:
    """Damaged containers are not this check's to refuse: calamine, in the child, says why."""
    for name, data in (("junk.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\xff" * 600),
                       ("trunc.xls", write_book(tmp_path / "t.xls", BOOK).read_bytes()[:1500]),
                       ("junk.xlsb", b"PK\x03\x04 not really a zip")):
        path = tmp_path / name
        path.write_bytes(data)
        check_binary_sheets(path, name.rsplit(".", 1)[1], LIMITS)  # no exception


@pytest.mark.slow
def test_the_scan_is_cheap(tmp_path: Path) -> None:
    """A full .xls (65,536 rows by 10 columns, the grid's every row) is measured in well under
    a second or two on a quiet machine; the bound here allows for a loaded one."""
    wb = xlwt.Workbook()
    ws = wb.add_sheet("Debtors")
    for r in range(65_536):
        for c in range(10):
            ws.write(r, c, r * 10 + c)
    path = tmp_path / "full.xls"
    wb.save(str(path))
    started = time.perf_counter()
    [(_, box)] = xls_sheet_boxes(path)
    spent = time.perf_counter() - started
    assert (box.rows, box.columns) == (65_536, 10)
    assert spent < 20, spent


# ------------------------------------------------------------------ the upload


async def _reports(org_id: int) -> int:
    async with transaction(readonly=True) as s:
        return int(await s.scalar(select(func.count()).select_from(DebtorReport)
                                  .where(DebtorReport.org_id == org_id)) or 0)


@pytest.mark.parametrize("kind", ["xls", "xlsb"])
async def test_an_oversized_sheet_is_a_400_at_upload(client: Any, world: Any, tmp_path: Path, kind: str) -> None:
    org = await world.org()
    me = await member(client, world, org.id, "admin")
    if kind == "xls":
        path = _patch_dimensions(_xls(tmp_path / "far.xls", [(0, 0, "Account")]), 1_048_576, 256)
    else:
        path = _xlsb(tmp_path / "far.xlsb", [(0, [0]), (1_048_575, [16_383])])
    r = await post_file(client, me.headers, path)
    assert r.status_code == 400, r.text
    body = r.json()
    assert body["code"] == "SHEET_TOO_LARGE" and ".xlsx" in body["message"], body
    assert body["rows"] >= 1_048_576 and body["max_cells"] == 10_000_000
    assert await _reports(org.id) == 0  # nothing stored, no import queued
    assert not any(p.is_file() for p in (tmp_path.parent).glob("**/uploads/**/*.part"))
    # An ordinary .xls is accepted as before.
    r = await post_file(client, me.headers, write_book(tmp_path / "book.xls", BOOK))
    assert r.status_code == 202, r.text
    assert await _reports(org.id) == 1


async def test_the_web_ui_refuses_it_on_the_upload_form(people: Any, world: Any, tmp_path: Path) -> None:  # noqa: F811
    org = await world.org()
    ui, _ = await people(org.id, role="admin")
    await ui.get("/app/books")
    path = _xlsb(tmp_path / "far.xlsb", [(0, [0]), (1_048_575, [16_383])])
    r = await ui.c.post("/app/books", data={"csrf_token": ui.token}, files={"file": (path.name, path.read_bytes())})
    assert r.status_code == 400 and "ARREARS_PARSE_MAX_CELLS" in r.text and ".xlsx" in r.text
    assert await _reports(org.id) == 0
