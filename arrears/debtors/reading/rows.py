"""Rows out of a workbook or a delimited text file, one at a time, with their sheet row numbers."""

from __future__ import annotations

import csv
import os
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from itertools import chain, islice
from pathlib import Path
from typing import TypeVar
from xml.etree import ElementTree

from python_calamine import CalamineSheet, CalamineWorkbook, PasswordError, SheetTypeEnum, SheetVisibleEnum

from arrears.debtors.reading.cells import Cell, NumberedRow
from arrears.debtors.reading.errors import CORRUPT_FILE, SHEET_TOO_LARGE, ReadError
from arrears.debtors.reading.formats import FileFormat, detect_format
from arrears.debtors.reading.prechecks import (
    SheetBox,
    check_text_lines,
    check_zip,
    inflate_error,
    sheet_box,
    xlsx_sheet_parts,
)
from arrears.debtors.reading.text import detect_encoding, rank_delimiters
from arrears.sandbox.limits import get_parse_limits

# What calamine hands back for a cell (a blank one is ""); csv only ever gives str.

_T = TypeVar("_T")
_SNIFF_CHARS = 64 * 1024
_EXTENSIONS: dict[FileFormat, tuple[str, ...]] = {
    FileFormat.XLSX: (".xlsx", ".xlsm"),
    FileFormat.XLSM: (".xlsm", ".xlsx"),
    FileFormat.XLSB: (".xlsb",),
    FileFormat.ODS: (".ods",),
    FileFormat.XLS: (".xls", ".xla"),
}


@dataclass(slots=True)
class Sheet:
    """One sheet's rows as (1-based sheet row number, cells), consumed once."""

    name: str
    rows: Iterator[NumberedRow]
    last_row: int | None  # number of the last row, when the format knows it up front
    delimiter: str | None = None  # delimited text only
    encoding: str | None = None  # delimited text only
    # A second reading of the same text with another delimiter: it is used only when it yields
    # a complete header, and never decides which error to report.
    alternative: bool = False


def open_sheets(
    path: str | os.PathLike[str], fmt: FileFormat | None = None, delimiter: str | None = None
) -> Iterator[Sheet]:
    """Yield the sheets of the file at `path`: visible ones in workbook order, then hidden ones.

    A text file has one sheet.
    """
    fmt = fmt or detect_format(path)
    if fmt.is_workbook:
        return _workbook_sheets(Path(path), fmt)
    return iter([csv_sheet(path, delimiter)])


def iter_rows(path: str | os.PathLike[str]) -> Iterator[tuple[str, int, list[Cell]]]:
    """Every row of every sheet as (sheet name, 1-based sheet row number, cells)."""
    for sheet in open_sheets(path):
        for number, cells in sheet.rows:
            yield sheet.name, number, cells


# --- workbooks (calamine) ---------------------------------------------------------------------


def _calamine(what: str, call: Callable[[], _T]) -> _T:
    """Run a calamine call, turning any failure into CORRUPT_FILE.

    calamine signals bad input with its own exceptions, but also with ValueError and, on a Rust
    panic, with a BaseException subclass; only interpreter-level exits pass through.
    """
    try:
        return call()
    except (KeyboardInterrupt, SystemExit, GeneratorExit, MemoryError):
        raise
    except PasswordError as exc:
        raise ReadError(
            CORRUPT_FILE,
            "The workbook could not be read: it is password-protected. Remove the password and upload it again.",
        ) from exc
    except BaseException as exc:  # noqa: B036 - see docstring: pyo3 panics are BaseException
        reason = str(exc).strip() or type(exc).__name__
        if "cell limit exceeded" in reason.lower():  # calamine's own cap on a range it is asked to build
            raise ReadError(SHEET_TOO_LARGE, f"The workbook could not be read: {what} failed ({reason}): a "
                            "sheet's used range is too large. Save the workbook as .xlsx and upload that.") from exc
        raise ReadError(CORRUPT_FILE, f"The workbook could not be read: {what} failed ({reason}).") from exc


def _open_workbook(path: Path, fmt: FileFormat) -> CalamineWorkbook:
    # calamine picks its reader by the file's extension, so a renamed file (an .xls saved as
    # .xlsx) goes in as bytes, and calamine then picks the reader by content.
    if path.suffix.lower() in _EXTENSIONS[fmt]:
        return _calamine("opening the workbook", partial(CalamineWorkbook.from_path, str(path)))
    with path.open("rb") as fh:
        return _calamine("opening the workbook", partial(CalamineWorkbook.from_filelike, fh))


_XLSX = (FileFormat.XLSX, FileFormat.XLSM)


def _xlsx_parts(path: Path, fmt: FileFormat) -> dict[str, str]:
    if fmt not in _XLSX:
        return {}
    try:
        with zipfile.ZipFile(path) as zf:
            return xlsx_sheet_parts(zf)
    except (KeyError, zipfile.BadZipFile, ElementTree.ParseError, OSError) as exc:
        raise ReadError(CORRUPT_FILE, f"The workbook could not be read: its list of sheets is damaged ({exc}).") from exc


def _too_large_for_calamine(path: Path, part: str | None) -> SheetBox | None:
    """The box of an xlsx sheet whose used range passes ARREARS_PARSE_MAX_CELLS, else None."""
    if part is None:
        return None
    try:
        with zipfile.ZipFile(path) as zf:
            box = sheet_box(zf, part)
    except (KeyError, zipfile.BadZipFile, zlib.error, OSError, EOFError) as exc:
        raise inflate_error(exc) from exc
    return box if box.cells > get_parse_limits().max_cells else None


def _workbook_sheets(path: Path, fmt: FileFormat) -> Iterator[Sheet]:
    if fmt is not FileFormat.XLS:
        check_zip(path)  # xlsx, xlsm, xlsb and ods are zips: refuse a bomb before calamine opens it
    parts = _xlsx_parts(path, fmt)
    workbook = _open_workbook(path, fmt)
    worksheets = [
        (index, meta)
        for index, meta in enumerate(workbook.sheets_metadata)
        if meta.typ == SheetTypeEnum.WorkSheet  # chart and macro sheets carry no rows
    ]
    # Visible sheets first: a hidden sheet is usually last month's data or a lookup table.
    worksheets.sort(key=lambda item: item[1].visible != SheetVisibleEnum.Visible)
    try:
        for index, meta in worksheets:
            box = _too_large_for_calamine(path, parts.get(meta.name))
            if box is not None:
                # A sparse far-flung sheet (Solver data at XFD1048576): streamed, not allocated.
                from arrears.debtors.reading.xlsx_stream import stream_rows

                yield Sheet(meta.name, stream_rows(path, parts[meta.name]), box.rows)
                continue
            sheet = _calamine(f"reading sheet {meta.name!r}", partial(workbook.get_sheet_by_index, index))
            if sheet.start is None:
                continue  # an empty sheet
            yield Sheet(sheet.name, _numbered_rows(sheet), sheet.end[0] + 1 if sheet.end else None)
    finally:
        workbook.close()


class NumberedRows(Iterator[NumberedRow]):
    """A workbook sheet's rows with their sheet row numbers (consecutive). `take` hands out a
    stretch of rows as the cells alone, numbered from the returned first number: the import reads
    blocks of rows that way, without a tuple per row."""

    def __init__(self, rows: Iterator[list[Cell]], first_number: int) -> None:
        self._rows = rows
        self._next_number = first_number

    def __next__(self) -> NumberedRow:
        cells = next(self._rows)
        number = self._next_number
        self._next_number = number + 1
        return number, cells

    def take(self, size: int) -> tuple[int, list[list[Cell]]]:
        first = self._next_number
        cells = list(islice(self._rows, size))
        self._next_number = first + len(cells)
        return first, cells

    def close(self) -> None:
        self._rows = iter(())  # let go of calamine's sheet


def _numbered_rows(sheet: CalamineSheet) -> Iterator[NumberedRow]:
    start_row = sheet.start[0] if sheet.start else 0
    rows = iter(_calamine(f"reading sheet {sheet.name!r}", sheet.iter_rows))
    first = next(rows, None)
    if first is None:
        return iter(())
    # python-calamine pads the rows above the used range with blank rows (so index 0 is sheet
    # row 1); if a version stops padding, the first row is the first used row instead.
    padded = start_row == 0 or all(cell == "" for cell in first)
    return NumberedRows(chain([first], rows), 1 if padded else start_row + 1)


# --- delimited text (stdlib csv) --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TextLayout:
    encoding: str
    errors: str  # "replace" for Windows-1252: a stray undefined byte must not sink the import
    delimiters: tuple[str, ...]  # most likely first


def text_layout(path: str | os.PathLike[str]) -> TextLayout:
    """Encoding and candidate delimiters of a delimited text file (refused first when a line is
    longer than ARREARS_PARSE_MAX_LINE_KB: the csv module would hold all of its cells)."""
    check_text_lines(path)
    encoding, errors = detect_encoding(path)
    with Path(path).open(encoding=encoding, errors=errors, newline="") as fh:
        return TextLayout(encoding, errors, tuple(rank_delimiters(fh.read(_SNIFF_CHARS))))


def csv_sheet(
    path: str | os.PathLike[str],
    delimiter: str | None = None,
    layout: TextLayout | None = None,
    alternative: bool = False,
) -> Sheet:
    """The rows of a delimited text file; encoding and delimiter are sniffed when not given."""
    layout = layout or text_layout(path)
    delimiter = delimiter or layout.delimiters[0]
    rows = _csv_rows(Path(path), delimiter, layout)
    return Sheet(Path(path).name, rows, None, delimiter, layout.encoding, alternative)


def _csv_rows(path: Path, delimiter: str, layout: TextLayout) -> Iterator[NumberedRow]:
    with path.open(encoding=layout.encoding, errors=layout.errors, newline="") as fh:
        reader = csv.reader(fh, delimiter=delimiter)
        number = 0
        try:
            for record in reader:
                number += 1
                cells: list[Cell] = list(record)
                yield number, cells
        except csv.Error as exc:
            raise ReadError(
                CORRUPT_FILE, f"The file could not be read: row {number + 1} is malformed ({exc})."
            ) from exc
