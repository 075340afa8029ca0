"""The cheap pre-checks, on hostile files made here; no native parser runs in this process."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from arrears.debtors.reading import ReadError
from arrears.debtors.reading.prechecks import check_text_lines, check_zip, sheet_box
from arrears.sandbox import ParseLimits
from tests.security import hostile


def test_the_far_cell_counts_in_the_used_range(tmp_path: Path) -> None:
    path = hostile.far_cell_xlsx(tmp_path / "far.xlsx")
    assert path.stat().st_size < 4096
    with zipfile.ZipFile(path) as zf:
        box = sheet_box(zf, "xl/worksheets/sheet1.xml")
    assert (box.rows, box.columns) == (1_048_576, 16_384)


def test_a_dimension_is_read_and_a_plain_sheet_is_small(tmp_path: Path) -> None:
    body = hostile.sheet_rows([hostile.HEADER, *hostile.accounts(3)])
    for dimension, expected in (('<dimension ref="A1:J4"/>', (4, 10)), ("", (4, 26))):
        path = tmp_path / f"plain{len(dimension)}.xlsx"
        hostile._write_xlsx(path, sheet=f'<worksheet xmlns="{hostile._NS}">{dimension}<sheetData>{body}'
                                        "</sheetData></worksheet>")
        with zipfile.ZipFile(path) as zf:
            box = sheet_box(zf, "xl/worksheets/sheet1.xml")
        assert (box.rows, box.columns) == expected


def test_a_sheet_inflating_past_its_declared_size_is_damaged(tmp_path: Path) -> None:
    """The scan inflates no further than the size the zip's directory declares (what check_zip
    weighed): a member that says it is small and inflates to more is refused as damaged."""
    body = hostile.sheet_rows([hostile.HEADER, *hostile.accounts(2000)])
    path = tmp_path / "understated.xlsx"
    hostile._write_xlsx(path, sheet=f'<worksheet xmlns="{hostile._NS}"><sheetData>{body}</sheetData></worksheet>')
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo("xl/worksheets/sheet1.xml")
        box = sheet_box(zf, "xl/worksheets/sheet1.xml")
    assert box.rows == 2001
    data = bytearray(path.read_bytes())
    entry = data.index(b"PK\x01\x02")  # the central directory's entries: find the sheet's
    while data[entry + 46:entry + 46 + len(info.filename)] != info.filename.encode():
        entry = data.index(b"PK\x01\x02", entry + 4)
    data[entry + 24:entry + 28] = (info.file_size // 4).to_bytes(4, "little")  # its uncompressed size, understated
    path.write_bytes(bytes(data))
    with zipfile.ZipFile(path) as zf, pytest.raises(zipfile.BadZipFile):
        sheet_box(zf, "xl/worksheets/sheet1.xml")


def test_a_zip_bomb_is_refused_by_its_ratio(tmp_path: Path) -> None:
    path = hostile.zip_bomb_xlsx(tmp_path / "bomb.xlsx", inflated_mb=16)
    with pytest.raises(ReadError) as refused:
        check_zip(path)
    assert refused.value.code == "FILE_TOO_COMPLEX"
    assert "ARREARS_PARSE_MAX_ZIP_RATIO" in refused.value.message


def test_a_zip_is_refused_by_its_total_inflated_size(tmp_path: Path) -> None:
    path = hostile.zip_bomb_xlsx(tmp_path / "bomb.xlsx", inflated_mb=3)
    lenient = 100_000  # whitespace packs about 1,000:1; the ratio is not what this test is about
    check_zip(path, ParseLimits(max_zip_ratio=lenient))  # 3 MiB: within the default total
    with pytest.raises(ReadError) as refused:
        check_zip(path, ParseLimits(max_inflated_mb=2, max_zip_ratio=lenient))
    assert refused.value.code == "FILE_TOO_COMPLEX"
    assert "ARREARS_PARSE_MAX_INFLATED_MB" in refused.value.message


def test_a_long_line_is_refused_and_ordinary_lines_pass(tmp_path: Path) -> None:
    long = hostile.one_line_csv(tmp_path / "long.csv", megabytes=2)
    with pytest.raises(ReadError) as refused:
        check_text_lines(long)
    assert refused.value.code == "FILE_TOO_COMPLEX"
    ordinary = tmp_path / "ordinary.csv"
    ordinary.write_bytes(b"a,b,c\r\n" * 3_000_000)  # 21 MB over several read chunks
    check_text_lines(ordinary)
    edge = tmp_path / "edge.csv"
    edge.write_bytes(b"x" * (1 << 20) + b"\n" + b"y" * ((1 << 20) + 1) + b"\n")
    with pytest.raises(ReadError):
        check_text_lines(edge)  # the second line is one byte too long
