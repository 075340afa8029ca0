"""Reading an uploaded CSV of customers or interactions: its header and its rows with the line
each starts on. What the rows mean is the service's business; this module only reads. The
encoding and the delimiter are read as every CSV import reads them (arrears.csvfiles). Headers are matched
loosely: `Address Line 1`, `address_line_1` and `ADDRESS-LINE-1` are the same column.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

from arrears import csvfiles
from arrears.customers.errors import CustomerErrorCode
from arrears.errors import ValidationFailed

decode = csvfiles.decode  # the same decoding as every CSV import
_NON_WORD = re.compile(r"[^a-z0-9]+")


class CsvError(ValidationFailed):
    """The file as a whole cannot be read: rendered as {"error": "…"}, nothing is imported."""

    code = CustomerErrorCode.INVALID_FILE


def normalise_header(name: str) -> str:
    return _NON_WORD.sub("_", name.strip().lstrip("\ufeff").lower()).strip("_")


@dataclass
class Row:
    line: int  # the line of the file the record starts on (the header is usually line 1)
    values: dict[str, str]  # {column: trimmed value}
    problem: str | None = None  # set when the record itself is malformed


@dataclass
class Table:
    columns: list[str]  # canonical names, in the file's order ("" for blank header cells)
    text: str
    delimiter: str
    header_index: int  # which record is the header (blank records before it are skipped)

    def rows(self) -> Iterator[Row]:
        """Every non-blank record after the header."""
        reader = csvfiles.records(self.text, self.delimiter)
        width = len(self.columns)
        line = 1
        try:
            for index, record in enumerate(reader):
                start, line = line, reader.line_num + 1
                if index <= self.header_index or not any(cell.strip() for cell in record):
                    continue
                values = {name: (record[i].strip() if i < len(record) else "")
                          for i, name in enumerate(self.columns) if name}
                problem = None
                if len(record) > width and any(cell.strip() for cell in record[width:]):
                    problem = f"This row has {len(record)} values but the header has {width} columns."
                yield Row(start, values, problem)
        except csv.Error as exc:
            raise CsvError(f"Line {line}: the file could not be read as CSV ({exc}). "
                           "Check for an unclosed quote.") from exc


def read_table(content: bytes, *, columns: Sequence[str], required: Sequence[str] = (),
               one_of: Sequence[Sequence[str]] = (), aliases: Mapping[str, str] | None = None
               ) -> Table:
    """Check the file and its header; raise CsvError with a message people can act on."""
    if not content or not content.strip(b" \t\r\n\x00\xef\xbb\xbf"):
        raise CsvError("The file is empty.")
    if content.startswith(b"PK\x03\x04") or content.startswith(b"\xd0\xcf\x11\xe0"):
        raise CsvError("This looks like an Excel workbook; save it as CSV (comma delimited) "
                       "and upload that.")
    if content.startswith(b"%PDF"):
        raise CsvError("This is a PDF file; upload a CSV file.")
    text = csvfiles.decode(content)
    if "\x00" in text[:4096]:
        raise CsvError("This is not a text file; upload a CSV file.")
    aliases = aliases or {}
    expected = ", ".join(columns)

    delimiter = csvfiles.pick_delimiter(
        csvfiles.first_line(text), lambda c: aliases.get(normalise_header(c), normalise_header(c)) in columns)
    header: list[str] = []
    header_index = -1
    try:
        for index, record in enumerate(csvfiles.records(text, delimiter)):
            if any(cell.strip() for cell in record):
                header, header_index = record, index
                break
    except csv.Error as exc:
        raise CsvError(f"The first line must be a header naming the columns: {expected}.") from exc
    names = [aliases.get(normalise_header(h), normalise_header(h)) for h in header]
    known = [n for n in names if n in columns]
    if not known:
        raise CsvError(f"The first line must be a header naming the columns: {expected}. "
                       f"Found: {', '.join(h.strip() for h in header if h.strip())[:200]}.")
    unknown = [h.strip() for h, n in zip(header, names, strict=True) if n and n not in columns]
    if unknown:
        raise CsvError(f"Unknown column(s): {', '.join(unknown)}. The columns are: {expected}.")
    seen: set[str] = set()
    for n in names:
        if n and n in seen:
            raise CsvError(f"The column {n} appears more than once in the header.")
        seen.add(n)
    missing = [c for c in required if c not in seen]
    for group in one_of:
        if not any(c in seen for c in group):
            missing.append(" or ".join(group))
    if missing:
        raise CsvError(f"Missing required column(s): {', '.join(missing)}. The columns are: {expected}.")
    return Table(columns=names, text=text, delimiter=delimiter, header_index=header_index)
