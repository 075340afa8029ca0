"""Cheap checks of a file before a native parser sees it: what it would inflate to, how long its
lines are, how large a sheet's used range is. Each reads the file as a stream, in bounded memory.

The limits come from ARREARS_PARSE_* (arrears.sandbox.limits). The parser itself runs in a child
process under hard limits all the same: these checks turn the common hostile shapes into a clear
message instead of a killed parser, and pick the streaming reader for sparse far-flung sheets.
"""

from __future__ import annotations

import mmap
import os
import re
import struct
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any
from xml.etree import ElementTree

from arrears.debtors.reading.errors import CORRUPT_FILE, FILE_TOO_COMPLEX, SHEET_TOO_LARGE, ReadError
from arrears.sandbox.limits import ParseLimits, get_parse_limits

_RATIO_FLOOR = 1 << 20  # members smaller than this inflate to too little to matter, whatever their ratio
_CHUNK = 8 << 20
_HEAD = 1 << 16  # the <dimension> is looked for in the part's first 64 KiB
_SCAN_CHUNK = 1 << 20  # a sheet's XML is scanned a MiB at a time: the chunk stays in the cache
_LOCAL_HEADER = struct.Struct("<4s5H3L2H")  # a zip member's local file header
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
    tail = head = b""
    for chunk in _inflated(zf, part):
        data = tail + chunk
        if len(head) < _HEAD:
            head += chunk[:_HEAD - len(head)]
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
    found = _DIMENSION.search(head)  # the <dimension> comes before the rows
    if found:
        max_col = max(max_col, column_number(found.group(3)))
        max_row = max(max_row, int(found.group(4)))
    if not wide and max_col == 0:
        max_col = 26  # no <dimension> and no cell past column Z: at most 26 columns
    return SheetBox(max_row, max(max_col, 1))


def _inflated(zf: zipfile.ZipFile, part: str) -> Iterator[bytes]:
    """The member's bytes, inflated _SCAN_CHUNK at a time. A deflated member of a zip on disk is
    inflated straight from its stream (zipfile's reader also computes the CRC, which the parser
    checks when it reads the part); any other member through zipfile."""
    info = zf.getinfo(part)
    if info.compress_type != zipfile.ZIP_DEFLATED or info.flag_bits & 1 or not isinstance(zf.filename, str):
        with zf.open(info) as fh:
            while chunk := fh.read(_SCAN_CHUNK):
                yield chunk
        return
    with open(zf.filename, "rb") as fh:
        fh.seek(info.header_offset)
        header = fh.read(_LOCAL_HEADER.size)
        if len(header) != _LOCAL_HEADER.size or header[:4] != b"PK\x03\x04":
            raise zipfile.BadZipFile(f"bad local file header of {part!r}")
        name_size, extra_size = _LOCAL_HEADER.unpack(header)[-2:]
        fh.seek(name_size + extra_size, os.SEEK_CUR)
        left, room = info.compress_size, info.file_size
        inflate = zlib.decompressobj(-zlib.MAX_WBITS)
        while left > 0:
            packed = fh.read(min(_SCAN_CHUNK >> 2, left))
            if not packed:
                raise EOFError(f"the member {part!r} is cut short")
            left -= len(packed)
            chunk = inflate.decompress(packed, _SCAN_CHUNK)
            while True:
                # No further than the size the zip declares (what check_zip weighed; zipfile stops there too).
                room -= len(chunk)
                if room < 0:
                    raise zipfile.BadZipFile(f"the member {part!r} inflates past its declared size")
                if chunk:
                    yield chunk
                if not inflate.unconsumed_tail:
                    break
                chunk = inflate.decompress(inflate.unconsumed_tail, _SCAN_CHUNK)
        rest = inflate.flush()
        if len(rest) > room:
            raise zipfile.BadZipFile(f"the member {part!r} inflates past its declared size")
        if rest:
            yield rest


# ------------------------------------------------------------------ xls and xlsb sheets
#
# python-calamine builds a sheet's whole used range (rows x columns, each cell a value) for these
# formats (and for .ods, below), and has no streaming reader for them: a sheet past ARREARS_PARSE_MAX_CELLS is refused
# before it runs. The range is read as calamine would see it: the sheet's declared dimensions
# (it may size its grid by them) and its cells' largest row and column, in one pass over the
# sheet's records. A file these readers cannot make sense of is left to calamine, in the child.


class _Damaged(Exception):
    """The container or its records are not what they claim: not this check's business."""


@dataclass(frozen=True, slots=True)
class CountedBox(SheetBox):
    """A binary sheet's range and how many cell records it holds: calamine keeps every record
    before it builds the range, so more records than the limit is too large whatever their
    places (and the scan stops there: a sheet of millions of records at A1 costs no more)."""

    records: int = 0

    @property
    def cells(self) -> int:
        return max(self.rows * self.columns, self.records)


_UNREADABLE = (_Damaged, struct.error, ValueError, IndexError, KeyError, OSError, EOFError,
               zipfile.BadZipFile, zlib.error, ElementTree.ParseError)


def check_binary_sheets(path: str | os.PathLike[str], file_format: str, limits: ParseLimits | None = None) -> None:
    """Refuse (SHEET_TOO_LARGE) an .xls, .xlsb or .ods with a sheet whose used range passes the limit."""
    limits = limits or get_parse_limits()
    measure = {"xls": xls_sheet_boxes, "xlsb": xlsb_sheet_boxes, "ods": ods_sheet_boxes}[file_format]
    try:
        boxes = measure(path, limits)
    except _UNREADABLE:
        return
    for name, box in boxes:
        if box.cells > limits.max_cells:
            size = (f"holds more than {limits.max_cells:,} cells" if box.cells > box.rows * box.columns else
                    f"spans {box.rows:,} rows by {box.columns:,} columns ({box.cells:,} cells)")
            raise ReadError(
                SHEET_TOO_LARGE,
                f"The sheet {name!r} {size}, more than the {limits.max_cells:,} cells an .{file_format} is read "
                "with (ARREARS_PARSE_MAX_CELLS). "
                "Save the workbook as .xlsx (which is read as a stream) and upload that.",
                {"sheet": name, "rows": box.rows, "columns": box.columns, "max_cells": limits.max_cells})


# --- .xls: BIFF records in the "Workbook" stream of an OLE2 compound file

_CFB_MAGIC = bytes.fromhex("D0CF11E0A1B11AE1")
_NO_SECTOR = 0xFFFFFFFA  # ids from here up are markers (end of chain, free, FAT, DIFAT)
_XLS_CELLS = frozenset({0x0006, 0x00FD, 0x0203, 0x027E, 0x0201, 0x0205, 0x0204, 0x00D6})  # (row, col) first
_XLS_MULTI = frozenset({0x00BD, 0x00BE})  # MULRK, MULBLANK: row, first col, ..., last col


class _CompoundFile:
    """Just enough of [MS-CFB] to read one stream: the FAT, the directory, the mini stream."""

    def __init__(self, data: bytes | mmap.mmap) -> None:
        if data[:8] != _CFB_MAGIC:
            raise _Damaged("not a compound file")
        self.data = data
        shift, mini_shift = struct.unpack_from("<HH", data, 0x1E)
        if shift not in (9, 12) or mini_shift != 6:
            raise _Damaged("sector size")
        self.size = 1 << shift
        self.sectors = len(data) // self.size  # at most: sector n starts at (n + 1) * size
        n_fat, dir_start = struct.unpack_from("<II", data, 0x2C)
        self.cutoff, minifat_start, _n_minifat, difat_start, n_difat = struct.unpack_from("<IIIII", data, 0x38)
        fat_ids = list(struct.unpack_from("<109I", data, 0x4C))
        per = self.size // 4
        sector, seen = difat_start, 0
        while sector < _NO_SECTOR and seen < min(n_difat, self.sectors):
            entries = struct.unpack_from(f"<{per}I", self._sector(sector))
            fat_ids.extend(entries[:-1])
            sector, seen = entries[-1], seen + 1
        fat_ids = [i for i in fat_ids[:n_fat] if i < _NO_SECTOR]
        self.fat = b"".join(self._sector(i) for i in fat_ids)
        self.minifat = self._chain_bytes(minifat_start, self.fat, self.size) if minifat_start < _NO_SECTOR else b""
        self.directory = self._chain_bytes(dir_start, self.fat, self.size)
        root_start, root_size = self._entry(0)[2:]
        self.mini = (self._chain_bytes(root_start, self.fat, self.size)[:root_size]
                     if root_start < _NO_SECTOR else b"")

    def _sector(self, number: int) -> bytes:
        start = (number + 1) * self.size
        if start >= len(self.data):
            raise _Damaged("sector out of the file")
        return bytes(self.data[start:start + self.size])

    def _chain_bytes(self, start: int, fat: bytes, size: int, source: bytes | None = None) -> bytes:
        """The sectors of a chain, concatenated (from the file, or from the mini stream)."""
        out, sector, steps = [], start, 0
        limit = len(fat) // 4
        while sector < _NO_SECTOR:
            if sector >= limit or steps > limit:
                raise _Damaged("broken chain")
            if source is None:
                out.append(self._sector(sector))
            else:
                out.append(source[sector * size:(sector + 1) * size])
            sector = struct.unpack_from("<I", fat, sector * 4)[0]
            steps += 1
        return b"".join(out)

    def _entry(self, index: int) -> tuple[str, int, int, int]:
        raw = self.directory[index * 128:(index + 1) * 128]
        if len(raw) < 128:
            raise _Damaged("directory")
        name_len = min(struct.unpack_from("<H", raw, 64)[0], 64)
        name = raw[:max(0, name_len - 2)].decode("utf-16-le", "replace")
        kind = raw[66]
        start, size = struct.unpack_from("<II", raw, 116)
        return name, kind, start, size

    def stream(self, *names: str) -> bytes:
        wanted = {n.lower() for n in names}
        for index in range(len(self.directory) // 128):
            name, kind, start, size = self._entry(index)
            if kind == 2 and name.lower() in wanted:
                if size < self.cutoff:
                    return self._chain_bytes(start, self.minifat, 64, self.mini)[:size]
                return self._chain_bytes(start, self.fat, self.size)[:size]
        raise _Damaged("no workbook stream")


def xls_sheet_boxes(path: str | os.PathLike[str], limits: ParseLimits | None = None) -> list[tuple[str, CountedBox]]:
    """Each worksheet of an .xls (BIFF5/8) and its used range, as calamine would build it."""
    limits = limits or get_parse_limits()
    with Path(path).open("rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as data:
        stream = _CompoundFile(data).stream("Workbook", "Book")
    sheets: list[tuple[str, int]] = []
    pos = 0
    while pos + 4 <= len(stream):  # the workbook globals: each BOUNDSHEET names a sheet's offset
        kind, length = struct.unpack_from("<HH", stream, pos)
        if kind == 0x0085 and length >= 8:
            offset, _state, sheet_type, chars = struct.unpack_from("<IBBB", stream, pos + 4)
            if sheet_type == 0 and offset not in {o for _, o in sheets}:  # a worksheet, once
                sheets.append((_xls_name(stream[pos + 11:pos + 4 + length], chars), offset))
        elif kind == 0x000A:  # EOF of the globals
            break
        pos += 4 + length
    # Sheets are disjoint stretches of the stream: offsets that overlap (a hostile list of them)
    # would walk it again and again, so the walks together may pass over it once.
    budget = [len(stream) // 4 + len(sheets)]
    return [(name, _xls_box(stream, offset, limits.max_cells, budget)) for name, offset in sheets]


def _xls_name(raw: bytes, chars: int) -> str:
    if raw[:1] == b"\x01":
        return raw[1:1 + 2 * chars].decode("utf-16-le", "replace")
    if raw[:1] == b"\x00":
        return raw[1:1 + chars].decode("latin-1")
    return raw[:chars].decode("latin-1")  # BIFF5: no flags byte


def _xls_box(stream: bytes, pos: int, max_cells: int, budget: list[int]) -> CountedBox:
    rows = columns = records = 0
    end = len(stream)
    unpack = struct.unpack_from
    while pos + 4 <= end:
        budget[0] -= 1
        if budget[0] < 0:
            raise _Damaged("sheets overlap")
        kind, length = unpack("<HH", stream, pos)
        body = pos + 4
        if kind in _XLS_CELLS and length >= 4:
            row, col = unpack("<HH", stream, body)
            rows, columns, records = max(rows, row + 1), max(columns, col + 1), records + 1
        elif kind in _XLS_MULTI and length >= 6:
            row, first = unpack("<HH", stream, body)
            last, = unpack("<H", stream, body + length - 2)
            rows, columns = max(rows, row + 1), max(columns, last + 1)
            records += max(1, last - first + 1)
        elif kind == 0x0200:  # DIMENSIONS: BIFF8 rows are 32-bit, BIFF5 16-bit
            if length >= 14:
                _, last_row, _, last_col = unpack("<IIHH", stream, body)
            elif length >= 8:
                _, last_row, _, last_col = unpack("<HHHH", stream, body)
            else:
                last_row = last_col = 0
            rows, columns = max(rows, last_row), max(columns, last_col)
        elif kind == 0x000A:  # the sheet's EOF
            break
        if records > max_cells:
            break
        pos = body + length
    return CountedBox(rows, columns, records)


# --- .xlsb: BIFF12 records in each xl/worksheets/*.bin part

_XLSB_ROW = 0x0000  # BrtRowHdr: the row of the cells that follow
_XLSB_CELLS = frozenset((*range(0x0001, 0x000C), 0x003E))  # BrtCellBlank .. BrtFmlaError, BrtCellRString
_XLSB_DIMENSION = 0x0094  # BrtWsDim: first row, last row, first column, last column
_XLSB_SHEET_DATA_END = 0x0092  # BrtEndSheetData: no cells after it


def xlsb_sheet_boxes(path: str | os.PathLike[str], limits: ParseLimits) -> list[tuple[str, CountedBox]]:
    """Each worksheet part of an .xlsb and its used range (the zip is checked first: a bomb is
    left for check_zip to refuse in the child)."""
    try:
        check_zip(Path(path), limits)
    except ReadError:
        return []
    with zipfile.ZipFile(path) as zf:
        return [(name, _xlsb_box(zf, part, limits.max_cells)) for part, name in _xlsb_sheet_parts(zf).items()]


def _xlsb_sheet_parts(zf: zipfile.ZipFile) -> dict[str, str]:
    """Worksheet part -> sheet name: every worksheet the relations name (with its name from the
    workbook's BrtBundleSh records), and any other part under xl/worksheets/."""
    names = set(zf.namelist())
    try:
        rels = ElementTree.fromstring(_small_part(zf, "xl/_rels/workbook.bin.rels"))
    except KeyError:
        rels = None
    try:
        titles = _xlsb_sheet_names(_small_part(zf, "xl/workbook.bin"))
    except (KeyError, *_UNREADABLE):
        titles = {}
    parts: dict[str, str] = {}
    if rels is not None:
        for rel in rels.iter(f"{_PKG_REL_NS}Relationship"):
            if rel.get("Type", "").endswith("/worksheet"):
                target = rel.get("Target", "")
                part = target.lstrip("/") if target.startswith("/") else str(PurePosixPath("xl") / target)
                parts[_normalise(part)] = titles.get(rel.get("Id", ""), "")
    for name in sorted(names):
        if name.startswith("xl/worksheets/") and name.endswith(".bin"):
            parts.setdefault(name, "")
    return {p: (title or p.rsplit("/", 1)[-1]) for p, title in parts.items() if p in names}


def _xlsb_sheet_names(workbook: bytes) -> dict[str, str]:
    """Relationship id -> sheet name, from the BrtBundleSh records (0x9C) of workbook.bin."""
    out, pos = {}, 0
    while pos < len(workbook):
        kind, pos = _varint(workbook, pos, 2)
        size, pos = _varint(workbook, pos, 4)
        if kind == 0x9C and size >= 12:
            rel_id, at = _wide_string(workbook, pos + 8)
            name, _ = _wide_string(workbook, at)
            out[rel_id] = name
        pos += size
    return out


def _wide_string(data: bytes, pos: int) -> tuple[str, int]:
    chars = struct.unpack_from("<I", data, pos)[0]
    end = pos + 4 + 2 * min(chars, 1 << 16)
    return data[pos + 4:end].decode("utf-16-le", "replace"), end


def _xlsb_box(zf: zipfile.ZipFile, part: str, max_cells: int) -> CountedBox:
    """One pass over the part's records: each is a type and a size, both little-endian 7-bit
    varints (at most 2 and 4 bytes), then its body; the inflated part is read in chunks."""
    rows = columns = records = 0
    unpack = struct.unpack_from
    with zf.open(part) as fh:
        buffer, pos = b"", 0
        while True:
            if len(buffer) - pos < 32:
                buffer, pos = buffer[pos:] + fh.read(_CHUNK), 0
                if not buffer:
                    break
            kind = buffer[pos]  # one byte, for all but a few record types: read inline
            if kind < 0x80:
                pos += 1
            else:
                kind, pos = _varint(buffer, pos, 2)
            size = buffer[pos]
            if size < 0x80:
                pos += 1
            else:
                size, pos = _varint(buffer, pos, 4)
            if len(buffer) - pos < size:
                if size > _CHUNK:  # a large record (a blob, a formula's cache): skipped, not held
                    _skip(fh, size - (len(buffer) - pos))
                    buffer, pos = b"", 0
                    continue
                buffer, pos = buffer[pos:] + fh.read(_CHUNK), 0
                if len(buffer) < size:
                    raise _Damaged("truncated record")
            if kind in _XLSB_CELLS and size >= 4:
                column = unpack("<I", buffer, pos)[0]
                if column >= columns:
                    columns = column + 1
                records += 1
                if records > max_cells:
                    break
            elif kind == _XLSB_ROW and size >= 4:
                rows = max(rows, unpack("<I", buffer, pos)[0] + 1)
            elif kind == _XLSB_DIMENSION and size >= 16:
                _, last_row, _, last_col = unpack("<IIII", buffer, pos)
                rows, columns = max(rows, last_row + 1), max(columns, last_col + 1)
            elif kind == _XLSB_SHEET_DATA_END:
                break
            pos += size
    return CountedBox(rows, columns, records)


def _skip(fh: Any, count: int) -> None:
    while count > 0:
        got = len(fh.read(min(count, _CHUNK)))
        if not got:
            raise _Damaged("truncated record")
        count -= got


def _varint(buffer: bytes, pos: int, most: int) -> tuple[int, int]:
    value = shift = 0
    for _ in range(most):
        byte = buffer[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            break
    return value, pos


# --- .ods: the table:table elements of content.xml
#
# calamine builds a sheet in two steps, and both hold memory:
# 1. It reads each row element once into one vector of cells: every cell of the row, empty or
#    not, repeats expanded (table:number-columns-repeated), except the row's last cell when that
#    one is empty (a run of empty cells is only written out when another cell follows it). So
#    `<cell repeated=100000/><cell/>` costs 100,000 cells on every row element it is written in,
#    whatever the rows hold; a row element's own table:number-rows-repeated does not multiply it.
# 2. It then copies the rows into the range that spans the rows and columns that hold something,
#    each row table:number-rows-repeated times (and the empty rows between two filled ones too).
# The runs LibreOffice writes to the end of the grid (each row's last cell repeated to column
# 1024, a last row repeated 1,048,000 times) cost neither step anything, and count nothing.
# A sheet is measured as the larger of the two: step 1's cells (`records`) and step 2's range.

_TABLE_NS = "{urn:oasis:names:tc:opendocument:xmlns:table:1.0}"
_OFFICE_NS = "{urn:oasis:names:tc:opendocument:xmlns:office:1.0}"
_ODS_TABLE = f"{_TABLE_NS}table"
_ODS_ROW = f"{_TABLE_NS}table-row"
_ODS_CELLS = frozenset({f"{_TABLE_NS}table-cell", f"{_TABLE_NS}covered-table-cell"})
_ODS_ROWS_REPEATED = f"{_TABLE_NS}number-rows-repeated"
_ODS_COLUMNS_REPEATED = f"{_TABLE_NS}number-columns-repeated"
_ODS_VALUE_MARKS = (f"{_OFFICE_NS}value-type", f"{_TABLE_NS}formula")


def ods_sheet_boxes(path: str | os.PathLike[str], limits: ParseLimits) -> list[tuple[str, CountedBox]]:
    """Each table of an .ods and the range of its cells that hold something (a value, a formula
    or any text), in one streaming pass over content.xml (the zip is checked first: a bomb is
    left for check_zip to refuse in the child). The pass stops at the first table past the limit."""
    try:
        check_zip(Path(path), limits)
    except ReadError:
        return []
    with zipfile.ZipFile(path) as zf, zf.open("content.xml") as fh:
        return _ods_boxes(fh, limits.max_cells)


@dataclass(slots=True)
class _OdsTable:
    name: str
    row: int = 0  # the sheet row the next row element starts at
    first: int = -1  # the first and last sheet rows that hold something
    last: int = -1
    columns: int = 0  # the last column that holds something, plus one
    read: int = 0  # the cells calamine reads in before it builds the range (step 1 above)

    def box(self) -> CountedBox:
        rows = self.last - self.first + 1 if self.first >= 0 else 0
        return CountedBox(rows, self.columns if rows else 0, self.read)


@dataclass(slots=True)
class _OdsRow:
    """The row element being read: where its next cell starts and what calamine keeps of it."""

    column: int = 0
    filled: int = 0  # cells that hold something, repeats expanded
    columns: int = 0  # the last column that holds something, plus one
    read: int = 0  # cells calamine has written out for this row element so far
    pending: int = 0  # the empty run just read: written out only if another cell follows

    def cell(self, repeat: int, filled: bool) -> None:
        if filled:
            self.filled += repeat
            self.columns = self.column + repeat
            self.read += repeat
            self.pending = 0
        else:
            self.pending = repeat
        self.column += repeat

    def cell_starts(self) -> None:
        self.read += self.pending
        self.pending = 0


def _repeats(elem: ElementTree.Element, name: str) -> int:
    value = elem.get(name)
    return 1 if value is None else max(int(value), 1)  # not a number: calamine refuses it too


def _ods_boxes(fh: Any, max_cells: int) -> list[tuple[str, CountedBox]]:
    out: list[tuple[str, CountedBox]] = []
    stack: list[ElementTree.Element] = []
    table: _OdsTable | None = None
    depth = 0  # tables inside a cell (a sub-table) are part of that cell
    row = _OdsRow()
    filled = False  # the open cell holds something
    for event, elem in ElementTree.iterparse(fh, events=("start", "end")):
        tag = elem.tag
        if event == "start":
            stack.append(elem)
            if tag == _ODS_TABLE:
                depth += 1
                if depth == 1:
                    table = _OdsTable(elem.get(f"{_TABLE_NS}name", ""))
            elif depth == 1 and tag == _ODS_ROW:
                row = _OdsRow()
            elif depth == 1 and tag in _ODS_CELLS:
                row.cell_starts()
                filled = any(elem.get(mark) is not None for mark in _ODS_VALUE_MARKS)
            continue
        stack.pop()
        parent = stack[-1] if stack else None
        if table is not None and depth == 1:
            if tag in _ODS_CELLS:
                row.cell(_repeats(elem, _ODS_COLUMNS_REPEATED), filled)
            elif tag == _ODS_ROW:
                repeat = _repeats(elem, _ODS_ROWS_REPEATED)
                table.read += row.read  # once per row element: the copies are step 2's
                if row.filled:
                    table.first = table.row if table.first < 0 else table.first
                    table.last = table.row + repeat - 1
                    table.columns = max(table.columns, row.columns)
                if table.box().cells > max_cells:
                    return [*out, (table.name, table.box())]
                table.row += repeat
            elif parent is not None and parent.tag in _ODS_CELLS:
                filled = True  # a text:p (or anything else) inside the cell
        if tag == _ODS_TABLE:
            depth -= 1
            if depth == 0 and table is not None:
                out.append((table.name, table.box()))
                table = None
            elif depth == 1 and parent is not None and parent.tag in _ODS_CELLS:
                filled = True  # a sub-table inside the cell
        elem.clear()  # and let go of it: only the open elements are held
        if parent is not None:
            parent.remove(elem)
    return out


def inflate_error(exc: BaseException) -> ReadError:
    return ReadError(CORRUPT_FILE, f"The workbook could not be read: a part of it is damaged ({exc}).")


__all__ = ["CountedBox", "SheetBox", "check_binary_sheets", "check_text_lines", "check_zip", "column_number", "inflate_error",
           "ods_sheet_boxes", "sheet_box", "too_complex", "xls_sheet_boxes", "xlsb_sheet_boxes", "xlsx_sheet_parts"]
