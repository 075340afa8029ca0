"""A worksheet of an .xlsx/.xlsm read as a stream of XML (ElementTree's iterparse), for sheets whose
used range is too large for python-calamine, which allocates the whole range (rows x columns)
before it hands out the first row: a single cell at XFD1048576 asks it for 550 GB. Here memory
follows the cells that exist: one row at a time, and the shared strings.

Cells come out as calamine gives them for the reader's purposes: text as str, numbers as float,
booleans as bool, blanks as "". Dates stay serial numbers (the age analysis reads no dates).
Rows without cells are left out, so row numbers may skip.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from pathlib import Path
from xml.etree import ElementTree

from arrears.debtors.reading.cells import Cell, NumberedRow
from arrears.debtors.reading.prechecks import column_number

_NS = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_ROW, _CELL, _V, _IS, _T, _SI, _R = (f"{_NS}{tag}" for tag in ("row", "c", "v", "is", "t", "si", "r"))
_SHEET_DATA = f"{_NS}sheetData"
_SHARED = "xl/sharedStrings.xml"


def _text_of(item: ElementTree.Element) -> str:
    # <si>/<is>: a plain <t>, or rich-text runs <r><t>; phonetic guides (<rPh>) are not the text.
    plain = item.find(_T)
    if plain is not None:
        return plain.text or ""
    return "".join(t.text or "" for run in item.iter(_R) for t in run.iter(_T))


def shared_strings(zf: zipfile.ZipFile) -> list[str]:
    if _SHARED not in zf.namelist():
        return []
    strings: list[str] = []
    with zf.open(_SHARED) as fh:
        for _, element in ElementTree.iterparse(fh):
            if element.tag == _SI:
                strings.append(_text_of(element))
                element.clear()
    return strings


def _value(cell: ElementTree.Element, strings: list[str]) -> Cell:
    kind = cell.get("t", "n")
    if kind == "inlineStr":
        inline = cell.find(_IS)
        return _text_of(inline) if inline is not None else ""
    v = cell.find(_V)
    text = v.text if v is not None else None
    if text is None:
        return ""
    if kind == "s":
        try:
            return strings[int(text)]
        except (ValueError, IndexError):
            return ""
    if kind == "b":
        return text.strip() == "1"
    if kind in ("str", "e", "d"):
        return text
    try:
        return float(text)
    except ValueError:
        return text


def _split_ref(ref: str) -> tuple[int, int]:
    letters = ref.rstrip("0123456789")
    return int(ref[len(letters):] or 0), column_number(letters) if letters else 0


def stream_rows(path: str | Path, part: str) -> Iterator[NumberedRow]:
    """(1-based row number, cells) for every row of the worksheet `part` that holds a cell."""
    with zipfile.ZipFile(path) as zf:
        strings = shared_strings(zf)
        with zf.open(part) as fh:
            next_row = 1
            sheet_data: ElementTree.Element | None = None
            for event, element in ElementTree.iterparse(fh, events=("start", "end")):
                if event == "start":
                    if sheet_data is None and element.tag == _SHEET_DATA:
                        sheet_data = element
                    continue
                if element.tag != _ROW:
                    continue
                number = int(element.get("r") or next_row)
                next_row = number + 1
                cells: dict[int, Cell] = {}
                column = 0
                for cell in element.iter(_CELL):
                    ref = cell.get("r")
                    column = _split_ref(ref)[1] if ref else column + 1
                    cells[column] = _value(cell, strings)
                if sheet_data is not None:
                    sheet_data.clear()  # the rows read so far: memory follows one row
                if not cells:
                    continue
                width = max(cells)
                row: list[Cell] = [""] * width
                for index, value in cells.items():
                    if index >= 1:
                        row[index - 1] = value
                yield number, row
