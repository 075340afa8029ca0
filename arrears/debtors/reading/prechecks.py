"""Cheap checks of a file before a native parser sees it: what it would inflate to, how long its
lines are, how large a sheet's used range is. Each reads the file as a stream, in bounded memory.

The limits come from ARREARS_PARSE_* (arrears.sandbox.limits). The parser itself runs in a child
process under hard limits all the same: these checks turn the common hostile shapes into a clear
message instead of a killed parser, and pick the streaming reader for sparse far-flung sheets.
"""

from __future__ import annotations

import os
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from xml.etree import ElementTree

from arrears.debtors.reading.errors import CORRUPT_FILE, FILE_TOO_COMPLEX, ReadError
from arrears.sandbox.limits import ParseLimits, get_parse_limits

_RATIO_FLOOR = 1 << 20  # members smaller than this inflate to too little to matter, whatever their ratio
_CHUNK = 8 << 20
_SMALL_PART = 16 << 20  # workbook.xml and its relations: read whole, when no larger than this
_DIMENSION = re.compile(rb'<(?:\w+:)?dimension\s+ref="([A-Z]{1,3})?(\d{1,7})?:?([A-Z]{1,3})(\d{1,7})"')
_ROW_START = b'<row r="'
_WIDE_CELL = re.compile(rb'<c r="[A-Z]{2}')  # a cell past column Z
_WIDE_REF = re.compile(rb'<c r="([A-Z]{2,3})')
_MAIN_NS = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_REL_NS = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
_PKG_REL_NS = "{http://schemas.openxmlformats.org/package/2006/relationships}"


def too_complex(message: str, details: dict[str, object] | None = None) -> ReadError:
    return ReadError(FILE_TOO_COMPLEX, message, details)


def check_zip(path: str | Path, limits: ParseLimits | None = None) -> None:
    """Refuse a zip container (xlsx, xlsm, xlsb, ods) that inflates past the limits."""
    limits = limits or get_parse_limits()
    try:
        with zipfile.ZipFile(path) as zf:
            members = zf.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise ReadError(CORRUPT_FILE, f"The workbook could not be read: the file is damaged ({exc}).") from exc
    total = sum(m.file_size for m in members)
    if total > limits.max_inflated_mb << 20:
        raise too_complex(
            f"The workbook unpacks to {total >> 20:,} MiB, more than the {limits.max_inflated_mb:,} MiB allowed "
            "(ARREARS_PARSE_MAX_INFLATED_MB). Remove unused sheets or split the file.",
            {"inflated_bytes": total})
    for m in members:
        if m.file_size > _RATIO_FLOOR and m.file_size > limits.max_zip_ratio * max(m.compress_size, 1):
            raise too_complex(
                f"The workbook's part {m.filename!r} unpacks {m.file_size // max(m.compress_size, 1):,} times "
                f"its packed size (at most {limits.max_zip_ratio} allowed, ARREARS_PARSE_MAX_ZIP_RATIO): "
                "it looks built to exhaust the reader.", {"member": m.filename})


def check_text_lines(path: str | os.PathLike[str], limits: ParseLimits | None = None) -> None:
    """Refuse a text file with a line longer than the limit (the CSV reader holds a line's cells)."""
    limits = limits or get_parse_limits()
    longest = limits.max_line_kb << 10
    current = 0  # length of the line that runs into the next chunk
    with Path(path).open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            first = _next_break(chunk, 0)
            if first < 0:
                current += len(chunk)
            else:
                current += first
                if current <= longest:
                    current = _longest_inside(chunk, first, longest)
            if current > longest:
                raise too_complex(
                    f"A line of the file is longer than {limits.max_line_kb:,} KiB (ARREARS_PARSE_MAX_LINE_KB): "
                    "it is not an age analysis a spreadsheet program wrote.", {"max_line_kb": limits.max_line_kb})


def _next_break(chunk: bytes, start: int) -> int:
    n, r = chunk.find(b"\n", start), chunk.find(b"\r", start)
    return n if r < 0 else r if n < 0 else min(n, r)


def _longest_inside(chunk: bytes, first: int, longest: int) -> int:
    """The length of the chunk's last (unfinished) line, or longest + 1 when a whole line is longer."""
    if len(chunk) - first <= longest:  # nothing after the first break can be too long
        last = max(chunk.rfind(b"\n"), chunk.rfind(b"\r"))
        return len(chunk) - last - 1
    lines = chunk[first + 1:].replace(b"\r", b"\n").split(b"\n")
    if max(map(len, lines[:-1]), default=0) > longest:
        return longest + 1
    return len(lines[-1])


# ------------------------------------------------------------------ xlsx sheets


@dataclass(frozen=True, slots=True)
class SheetBox:
    """A sheet's used range as far as the cheap scan sees it: its last row and last column."""

    rows: int
    columns: int

    @property
    def cells(self) -> int:
        return self.rows * self.columns


def column_number(letters: bytes | str) -> int:
    number = 0
    for ch in letters if isinstance(letters, str) else letters.decode("ascii"):
        number = number * 26 + (ord(ch) - 64)
    return number


def xlsx_sheet_parts(zf: zipfile.ZipFile) -> dict[str, str]:
    """Sheet name -> its part in the zip (xl/worksheets/sheet1.xml), from the workbook's relations."""
    workbook = ElementTree.fromstring(_small_part(zf, "xl/workbook.xml"))
    rels = ElementTree.fromstring(_small_part(zf, "xl/_rels/workbook.xml.rels"))
    targets = {}
    for rel in rels.iter(f"{_PKG_REL_NS}Relationship"):
        target = rel.get("Target", "")
        part = target.lstrip("/") if target.startswith("/") else str(PurePosixPath("xl") / target)
        targets[rel.get("Id")] = _normalise(part)
    parts = {}
    for sheet in workbook.iter(f"{_MAIN_NS}sheet"):
        sheet_part = targets.get(sheet.get(f"{_REL_NS}id"))
        if sheet_part:
            parts[sheet.get("name", "")] = sheet_part
    return parts


def _normalise(part: str) -> str:
    out: list[str] = []
    for piece in part.split("/"):
        if piece == "..":
            if out:
                out.pop()
        elif piece not in ("", "."):
            out.append(piece)
    return "/".join(out)


def _small_part(zf: zipfile.ZipFile, name: str) -> bytes:
    info = zf.getinfo(name)
    if info.file_size > _SMALL_PART:
        raise too_complex(f"The workbook's part {name!r} is implausibly large.")
    return zf.read(name)


def sheet_box(zf: zipfile.ZipFile, part: str) -> SheetBox:
    """The used range of a worksheet part: its <dimension>, its rows' numbers and any cell past
    column Z, read in one streaming pass. Without a <dimension>, a sheet with no cell past column Z
    counts as 26 columns wide (a cell at XFD1048576 is inside Excel's grid: only its
    reference tells that the range is 17 billion cells)."""
    max_row = max_col = 0
    wide = False
    tail = b""
    first = True
    with zf.open(part) as fh:
        while chunk := fh.read(_CHUNK):
            data = tail + chunk
            if first:
                first = False
                found = _DIMENSION.search(data, 0, 1 << 16)
                if found:
                    max_col = column_number(found.group(3))
                    max_row = int(found.group(4))
            # Rows: the numbers of the row elements that start in this chunk (writers keep them in
            # order: the last one is the largest; an out-of-order one meets the child's memory limit).
            cut = data.rfind(_ROW_START)
            if cut >= 0:
                end = data.find(b'"', cut + len(_ROW_START))
                if end > 0:
                    digits = data[cut + len(_ROW_START):end]
                    if digits.isdigit():
                        max_row = max(max_row, int(digits))
            if wide or _WIDE_CELL.search(data):
                wide = True
                for letters in set(_WIDE_REF.findall(data)):
                    max_col = max(max_col, column_number(letters))
            tail = data[-64:]  # a reference cut by the chunk boundary is found in the next pass
    if not wide and max_col == 0:
        max_col = 26  # no <dimension> and no cell past column Z: at most 26 columns
    return SheetBox(max_row, max(max_col, 1))


def inflate_error(exc: BaseException) -> ReadError:
    return ReadError(CORRUPT_FILE, f"The workbook could not be read: a part of it is damaged ({exc}).")


__all__ = ["SheetBox", "check_text_lines", "check_zip", "column_number", "inflate_error", "sheet_box",
           "too_complex", "xlsx_sheet_parts"]
