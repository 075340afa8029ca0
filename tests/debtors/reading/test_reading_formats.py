"""Format detection by content, and the fatal file errors."""

from __future__ import annotations

import os
import struct
import zipfile
import zlib
from pathlib import Path

import pytest

from arrears.debtors.reading import (
    CORRUPT_FILE,
    UNSUPPORTED_FILE_TYPE,
    FileFormat,
    ReadError,
    detect_format,
    read_age_analysis,
)


def _png_bytes() -> bytes:
    """A real 1x1 PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xff\x00\x00")
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


_PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
)


def test_every_readable_format_is_recognised(book, age_analysis_rows, tmp_path: Path) -> None:
    assert detect_format(book("xlsx", age_analysis_rows)) is FileFormat.XLSX
    assert detect_format(book("xls", age_analysis_rows)) is FileFormat.XLS
    assert detect_format(book("ods", age_analysis_rows)) is FileFormat.ODS
    assert detect_format(book("csv", age_analysis_rows)) is FileFormat.CSV
    assert detect_format(book("csv", age_analysis_rows, delimiter="\t", name="x.tsv")) is FileFormat.CSV
    xlsb = tmp_path / "book.xlsb"
    with zipfile.ZipFile(xlsb, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/workbook.bin", b"\x83\x01\x00")
    assert detect_format(xlsb) is FileFormat.XLSB
    assert FileFormat.CSV.is_workbook is False and FileFormat.XLSB.is_workbook is True


@pytest.mark.parametrize(
    ("content", "what"),
    [
        (_png_bytes(), "PNG image"),
        (_PDF, "PDF document"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00", "JPEG image"),
        (b"", "empty"),
        (os.urandom(4096) + b"\x00", "not a recognised spreadsheet"),
        (b"<html><body><table><tr><td>Account</td></tr></table></body></html>", "HTML or XML"),
        (
            b'<?xml version="1.0"?><Workbook xmlns="urn:schemas-microsoft-com:office:spreadsheet"/>',
            "HTML or XML",
        ),
    ],
    ids=["png", "pdf", "jpeg", "empty", "random", "html", "spreadsheetml-2003"],
)
def test_not_a_spreadsheet(tmp_path: Path, content: bytes, what: str) -> None:
    path = tmp_path / "debtors.xlsx"  # the name says spreadsheet; the bytes do not
    path.write_bytes(content)
    with pytest.raises(ReadError) as caught:
        read_age_analysis(path)
    assert caught.value.code == UNSUPPORTED_FILE_TYPE
    assert what in caught.value.message
    assert ".xlsx" in caught.value.message  # it says what to upload instead


@pytest.mark.parametrize(
    ("members", "what"),
    [
        ({"word/document.xml": "<w:document/>"}, "Word document"),
        ({"mimetype": "application/vnd.oasis.opendocument.text", "content.xml": "<x/>"}, "OpenDocument"),
        ({"readme.txt": "hello"}, "zip archive"),
    ],
)
def test_other_zip_files_are_not_spreadsheets(tmp_path: Path, members: dict[str, str], what: str) -> None:
    path = tmp_path / "book.xlsx"
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    with pytest.raises(ReadError) as caught:
        detect_format(path)
    assert caught.value.code == UNSUPPORTED_FILE_TYPE
    assert what in caught.value.message


def test_truncated_xlsx_is_corrupt(book, age_analysis_rows, tmp_path: Path) -> None:
    whole = book("xlsx", age_analysis_rows).read_bytes()
    path = tmp_path / "truncated.xlsx"
    path.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(ReadError) as caught:
        read_age_analysis(path)
    assert caught.value.code == CORRUPT_FILE
    assert caught.value.message.startswith("The workbook could not be read: ")
    assert "damaged or incomplete" in caught.value.message


def test_xlsx_with_a_broken_sheet_is_corrupt(book, age_analysis_rows, tmp_path: Path) -> None:
    source = book("xlsx", age_analysis_rows)
    path = tmp_path / "broken.xlsx"
    with zipfile.ZipFile(source) as src, zipfile.ZipFile(path, "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            if item.filename == "xl/worksheets/sheet1.xml":
                data = data[: len(data) // 2]  # cut mid-element: not XML any more
            dst.writestr(item, data)
    with pytest.raises(ReadError) as caught:
        read_age_analysis(path)
    assert caught.value.code == CORRUPT_FILE
    assert "could not be read" in caught.value.message
    assert "Debtors" in caught.value.message  # names the sheet that failed


def test_sheet_with_damaged_compressed_data_is_corrupt(book, age_analysis_rows, tmp_path: Path) -> None:
    source = book("xlsx", age_analysis_rows)
    with zipfile.ZipFile(source) as archive:
        member = archive.getinfo("xl/worksheets/sheet1.xml")
    data = bytearray(source.read_bytes())
    # Flip bytes inside the sheet's compressed data: the archive's structure survives.
    offset = member.header_offset
    name_length, extra_length = struct.unpack("<HH", data[offset + 26 : offset + 30])
    start = offset + 30 + name_length + extra_length
    for position in range(start + 5, start + 25):
        data[position] ^= 0xFF
    path = tmp_path / "flipped.xlsx"
    path.write_bytes(bytes(data))
    with pytest.raises(ReadError) as caught:
        read_age_analysis(path)
    assert caught.value.code == CORRUPT_FILE
    assert "could not be read" in caught.value.message


def test_garbage_xlsb_and_xls_are_corrupt(tmp_path: Path) -> None:
    xlsb = tmp_path / "book.xlsb"
    with zipfile.ZipFile(xlsb, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/workbook.bin", os.urandom(64))
    xls = tmp_path / "book.xls"
    xls.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + os.urandom(2048))
    for path in (xlsb, xls):
        with pytest.raises(ReadError) as caught:
            read_age_analysis(path)
        assert caught.value.code == CORRUPT_FILE, path
        assert caught.value.message.startswith("The workbook could not be read")


def test_read_error_carries_code_and_message() -> None:
    error = ReadError(CORRUPT_FILE, "The workbook could not be read: x.", {"sheet": "S"})
    assert (error.code, error.message, error.details, str(error)) == (
        CORRUPT_FILE,
        "The workbook could not be read: x.",
        {"sheet": "S"},
        "The workbook could not be read: x.",
    )
