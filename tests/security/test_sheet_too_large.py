"""Workbooks whose used range python-calamine cannot hold, read by the import's own path in a
parse pool of this test (memory limit 128 MiB): never calamine in the test process."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from arrears.debtors.reading import FileFormat, ReadError
from arrears.debtors.reading.blocks import AccountBlock
from arrears.debtors.reading.isolated import read_blocks, refusal
from arrears.debtors.reading.reader import HeaderInfo, ReadSummary
from arrears.sandbox import ParseFailed, ParseLimits, ParsePool
from tests.security import hostile


@pytest.fixture
def pool() -> Iterator[ParsePool]:
    pool = ParsePool(ParseLimits(memory_mb=128, cpu_seconds=60, wall_seconds=120, workers=1))
    yield pool
    pool.shutdown()


def test_the_far_cell_xlsx_is_streamed_in_the_child(pool: ParsePool, tmp_path: Path) -> None:
    path = hostile.far_cell_xlsx(tmp_path / "solver.xlsx", count=30)
    header, *blocks, summary = pool.stream(read_blocks, str(path), None, 7)  # the skipped lines come last
    assert isinstance(header, HeaderInfo) and header.header_row == 1 and header.last_row == 1_048_576
    assert isinstance(summary, ReadSummary)
    assert all(isinstance(b, AccountBlock) for b in blocks)
    accounts = [a for b in blocks for a in b.accounts]  # type: ignore[union-attr]
    assert accounts == [f"ACC{i:04d}" for i in range(30)]
    assert pool.peak_rss() < 300 << 20


def test_an_ods_past_calamines_own_cap_is_sheet_too_large(pool: ParsePool, tmp_path: Path) -> None:
    path = hostile.repeated_ods(tmp_path / "repeated.ods", 1_000_000, 16_384)
    with pytest.raises(ReadError) as refused:
        list(pool.stream(read_blocks, str(path), None, 5000))
    assert refused.value.code == "SHEET_TOO_LARGE"
    assert pool.call(os.getpid) > 0  # calamine refused by itself: the child lives on


def test_an_ods_whose_range_passes_the_memory_limit_is_sheet_too_large(pool: ParsePool, tmp_path: Path) -> None:
    path = hostile.repeated_ods(tmp_path / "repeated.ods", 20_000, 4_000)  # 80 M cells, ~2.5 GB
    assert path.stat().st_size < 2048
    with pytest.raises(ParseFailed) as failed:
        list(pool.stream(read_blocks, str(path), None, 5000))
    error = refusal(failed.value, FileFormat.ODS)
    assert error.code == "SHEET_TOO_LARGE", (failed.value.reason, failed.value.message)
    assert ".xlsx" in error.message


def test_an_excel_written_solver_workbook_streams_with_shared_strings(pool: ParsePool, tmp_path: Path) -> None:
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["Acme Pharmacy"])  # a title line above the header
    ws.append(hostile.HEADER)
    for row in hostile.accounts(12):
        ws.append(row)
    ws.cell(row=1_048_576, column=16_384, value="solver")  # shared strings and a dimension of A1:XFD1048576
    path = tmp_path / "solver.xlsx"
    wb.save(path)
    header, *blocks, summary = pool.stream(read_blocks, str(path), None, 5000)
    assert isinstance(header, HeaderInfo) and header.header_row == 2 and header.sheet_name == "Sheet"
    assert isinstance(summary, ReadSummary)
    names = [n for b in blocks for n in b.names]  # type: ignore[union-attr]
    assert names == [f"Customer {i}" for i in range(12)]
    cents = [c for b in blocks for c in b.cents[5]]  # type: ignore[union-attr]
    assert cents == [15000] * 12
