"""Real spreadsheet files, written by the tests into tmp_path, in every format we read."""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Callable, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape, quoteattr

import openpyxl
import pytest
import xlwt

Rows = Sequence[Sequence[Any]]
Sheets = dict[str, Rows]
BookFactory = Callable[..., Path]

TITLE_ROWS: list[list[Any]] = [["Acme Pharmacy (Pty) Ltd"], ["Age analysis at 31/01/2025"], []]
HEADER = ["Acc No", "Customer Name", "Contact Person", "Cell No", "Current", "30 Days", "60 Days",
          "90 Days", "120 Days", "Total Balance"]  # fmt: skip
DEBTORS: list[list[Any]] = [
    [1001, "Zoë Müller", "Zoë", "082 123 4567", 100.5, 50, 0, 0, 0, 150.5],
    ["0042", "Bongani Dlamini", None, "+27 (0)83 765 4321", 0, 0, 0, 20, 1234.56, 1254.56],
    ["ACC-7", "Élan Café CC", "Mr Naidoo", "0117654321", 10, 0, 0, 0, 0, 10],
]


def write_xlsx(path: Path, sheets: Sheets) -> Path:
    workbook = openpyxl.Workbook()
    workbook.remove(workbook.active)
    for name, rows in sheets.items():
        sheet = workbook.create_sheet(name)
        for row in rows:
            sheet.append([float(v) if isinstance(v, Decimal) else v for v in row])
    workbook.save(path)
    return path


def write_xls(path: Path, sheets: Sheets) -> Path:
    workbook = xlwt.Workbook(encoding="utf-8")
    for name, rows in sheets.items():
        sheet = workbook.add_sheet(name)
        for r, row in enumerate(rows):
            for c, value in enumerate(row):
                if value is not None:
                    sheet.write(r, c, float(value) if isinstance(value, Decimal) else value)
    workbook.save(str(path))
    return path


_ODS_NS = (
    'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
    'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
    'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"'
)


def _ods_cell(value: Any) -> str:
    if value is None or value == "":
        return "<table:table-cell/>"
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        return (
            f'<table:table-cell office:value-type="float" office:value="{value}">'
            f"<text:p>{value}</text:p></table:table-cell>"
        )
    return f'<table:table-cell office:value-type="string"><text:p>{escape(str(value))}</text:p></table:table-cell>'


def write_ods(path: Path, sheets: Sheets) -> Path:
    """A minimal OpenDocument spreadsheet: mimetype (stored, first), manifest, content.xml."""
    tables = []
    for name, rows in sheets.items():
        body = "".join(
            "<table:table-row>" + "".join(_ods_cell(v) for v in row) + "</table:table-row>"
            if row
            else "<table:table-row><table:table-cell/></table:table-row>"
            for row in rows
        )
        tables.append(f"<table:table table:name={quoteattr(name)}>{body}</table:table>")
    content = (
        f'<?xml version="1.0" encoding="UTF-8"?><office:document-content {_ODS_NS} office:version="1.2">'
        f"<office:body><office:spreadsheet>{''.join(tables)}</office:spreadsheet></office:body>"
        "</office:document-content>"
    )
    manifest = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" '
        'manifest:version="1.2">'
        '<manifest:file-entry manifest:full-path="/" '
        'manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/>'
        '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>'
        "</manifest:manifest>"
    )
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(
            zipfile.ZipInfo("mimetype"), "application/vnd.oasis.opendocument.spreadsheet", zipfile.ZIP_STORED
        )
        archive.writestr("META-INF/manifest.xml", manifest, zipfile.ZIP_DEFLATED)
        archive.writestr("content.xml", content, zipfile.ZIP_DEFLATED)
    return path


def write_text(path: Path, rows: Rows, encoding: str = "utf-8", delimiter: str = ",") -> Path:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n")
    for row in rows:
        writer.writerow(["" if v is None else v for v in row])
    path.write_bytes(buffer.getvalue().encode(encoding))
    return path


@pytest.fixture
def book(tmp_path: Path) -> BookFactory:
    """book(kind, rows_or_sheets, name=None, encoding=..., delimiter=...) -> the written file.

    kind: xlsx, xls, ods or csv. Rows go on one sheet called "Debtors"; a dict gives several.
    """
    counter = iter(range(1_000_000))

    def make(
        kind: str,
        rows: Rows | Sheets,
        name: str | None = None,
        encoding: str = "utf-8",
        delimiter: str = ",",
    ) -> Path:
        sheets = rows if isinstance(rows, dict) else {"Debtors": rows}
        path = tmp_path / (name or f"book{next(counter)}.{kind}")
        if kind == "xlsx":
            return write_xlsx(path, sheets)
        if kind == "xls":
            return write_xls(path, sheets)
        if kind == "ods":
            return write_ods(path, sheets)
        if kind == "csv":
            (only,) = sheets.values()
            return write_text(path, only, encoding, delimiter)
        raise ValueError(kind)

    return make


@pytest.fixture
def age_analysis_rows() -> list[list[Any]]:
    """Title lines, the header, then DEBTORS: the usual shape of an exported age analysis."""
    return [list(r) for r in TITLE_ROWS] + [list(HEADER)] + [list(r) for r in DEBTORS]
