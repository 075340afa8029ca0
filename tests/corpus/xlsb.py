"""A small Excel Binary (.xlsb) writer for the corpus and the tests: nothing installed writes .xlsb,
so the parts are made record by record (BIFF12, [MS-XLSB]). An .xlsb is a zip of a workbook part
naming its sheets (BrtBundleSh), a shared-strings part (BrtSSTItem) and one part per sheet: rows
(BrtRowHdr) of number cells (BrtCellReal) and shared-string cells (BrtCellIsst). Enough for
python-calamine (the reader) to read; no styles, formulas or dates."""

from __future__ import annotations

import struct
import zipfile
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

# Record types ([MS-XLSB] 2.3.2).
ROW_HDR, CELL_REAL, CELL_ISST = 0x00, 0x05, 0x07
SST_ITEM = 0x13
BEGIN_SHEET, END_SHEET, BEGIN_BOOK, END_BOOK = 0x81, 0x82, 0x83, 0x84
BEGIN_SHEET_DATA, END_SHEET_DATA = 0x91, 0x92
WS_DIM, BUNDLE_SH, BEGIN_SST, END_SST = 0x94, 0x9C, 0x9F, 0xA0
BEGIN_BUNDLE_SHS, END_BUNDLE_SHS = 0x8F, 0x90

_RELS = "http://schemas.openxmlformats.org/package/2006/relationships"
_OFFICE_RELS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"


def _varint(value: int) -> bytes:
    """Record type and size are written 7 bits a byte, the high bit saying another byte follows."""
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def record(kind: int, body: bytes = b"") -> bytes:
    return _varint(kind) + _varint(len(body)) + body


def wide(text: str) -> bytes:
    """XLWideString: a 32-bit count of UTF-16 code units, then the units."""
    data = text.encode("utf-16-le")
    return struct.pack("<I", len(data) // 2) + data


def sheet_part(rows: Sequence[tuple[int, Sequence[tuple[int, bytes]]]],
               dimension: tuple[int, int] | None = None) -> bytes:
    """A sheet part from rows of (row index, [(column, cell record)]): BrtBeginSheet, BrtWsDim when
    given (last row, last column), the sheet data, BrtEndSheet."""
    out = [record(BEGIN_SHEET)]
    if dimension is not None:
        out.append(record(WS_DIM, struct.pack("<IIII", 0, dimension[0], 0, dimension[1])))
    out.append(record(BEGIN_SHEET_DATA))
    for row, cells in rows:
        out.append(record(ROW_HDR, struct.pack("<IIHBBI", row, 0, 300, 0, 0, 0)))
        out.extend(cell for _, cell in cells)
    out += [record(END_SHEET_DATA), record(END_SHEET)]
    return b"".join(out)


def real_cell(column: int, value: float) -> bytes:
    return record(CELL_REAL, struct.pack("<IId", column, 0, value))


def string_cell(column: int, index: int) -> bytes:
    return record(CELL_ISST, struct.pack("<III", column, 0, index))


def write_parts(path: Path, sheet_parts: dict[str, bytes], strings: Sequence[str] = ()) -> Path:
    """The zip around ready-made sheet parts (name -> part) and the shared strings."""
    rels = "".join(f'<Relationship Id="rId{i}" Type="{_OFFICE_RELS}/worksheet" Target="worksheets/sheet{i}.bin"/>'
                   for i in range(1, len(sheet_parts) + 1))
    bundles = b"".join(
        record(BUNDLE_SH, struct.pack("<II", 0, i) + wide(f"rId{i}") + wide(name))
        for i, name in enumerate(sheet_parts, 1))
    sst = (record(BEGIN_SST, struct.pack("<II", len(strings), len(strings)))
           + b"".join(record(SST_ITEM, b"\x00" + wide(text)) for text in strings) + record(END_SST))
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml",
                    '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
                    'content-types"><Override PartName="/xl/workbook.bin" ContentType="application/'
                    'vnd.ms-excel.sheet.binary.macroEnabled.main"/></Types>')
        # calamine reads the sheet list up to BrtEndBundleShs, then up to a record that follows the names.
        zf.writestr("xl/workbook.bin", record(BEGIN_BOOK) + record(BEGIN_BUNDLE_SHS) + bundles
                    + record(END_BUNDLE_SHS) + record(END_BOOK))
        zf.writestr("xl/_rels/workbook.bin.rels",
                    f'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="{_RELS}">{rels}</Relationships>')
        if strings:
            zf.writestr("xl/sharedStrings.bin", sst)
        for i, part in enumerate(sheet_parts.values(), 1):
            zf.writestr(f"xl/worksheets/sheet{i}.bin", part)
    return path


def write_xlsb(path: Path, sheets: dict[str, Sequence[Sequence[Any]]]) -> Path:
    """An .xlsb of the given sheets (name -> rows): numbers as number cells, text as shared
    strings, None and "" as no cell; each sheet's used range in its BrtWsDim, as Excel writes it."""
    strings: dict[str, int] = {}
    parts = {}
    for name, rows in sheets.items():
        data = []
        last_col = 0
        for r, row in enumerate(rows):
            cells = []
            for c, value in enumerate(row):
                if value is None or value == "":
                    continue
                if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
                    cells.append((c, real_cell(c, float(value))))
                else:
                    cells.append((c, string_cell(c, strings.setdefault(str(value), len(strings)))))
                last_col = max(last_col, c)
            if cells:
                data.append((r, cells))
        parts[name] = sheet_part(data, dimension=(max(len(rows) - 1, 0), last_col))
    return write_parts(path, parts, list(strings))
