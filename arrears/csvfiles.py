"""Reading CSV text, the one way every CSV import does it: the encoding (UTF-8 with or without a
byte-order mark, UTF-16 with a BOM — Excel's "Unicode text" — else Windows-1252, Excel's "CSV" on
Windows in South Africa), the delimiter (`,` `;` tab `|`, taken from the header line) and the
records. What the columns mean is each importer's business.

The debtor book's reader (arrears.debtors.reading.text) streams files too large to hold and ranks
delimiters over many records; it shares the candidates and byte-order marks from here."""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from _csv import Reader

UTF8_BOM = codecs.BOM_UTF8
UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
DELIMITERS: tuple[str, ...] = (",", ";", "\t", "|")
MAX_FIELD = 1024 * 1024  # one cell; a stray quote otherwise swallows the rest of the file


def decode(content: bytes | str) -> str:
    """The file's text, without a byte-order mark. Bytes that are not UTF-8 are Windows-1252,
    whose five undefined bytes become U+FFFD rather than an error."""
    if isinstance(content, str):
        return content.removeprefix("\ufeff")
    if content.startswith(UTF8_BOM):
        return content[len(UTF8_BOM):].decode("utf-8", errors="replace")
    if content.startswith(UTF16_BOMS):
        return content.decode("utf-16", errors="replace")
    try:
        return content.decode("utf-8")
    except UnicodeDecodeError:
        return content.decode("cp1252", errors="replace")


def first_line(text: str) -> str:
    """The first line that is not blank (the header, in the files we read)."""
    return next((ln for ln in text.splitlines() if ln.strip()), "")


def pick_delimiter(header: str, known: Callable[[str], bool] | None = None) -> str:
    """The delimiter of a header line: the one that splits it into the most cells `known` accepts
    (the importer's column names), or with no `known`, into the most cells; comma on a tie."""
    best, best_score = DELIMITERS[0], -1
    for d in DELIMITERS:
        try:
            cells = next(csv.reader([header], delimiter=d))
        except (StopIteration, csv.Error):
            continue
        score = sum(1 for c in cells if known(c)) if known else len(cells)
        if score > best_score:
            best, best_score = d, score
    return best


def records(text: str, delimiter: str) -> Reader:
    """csv.reader over the text (quoted newlines kept), with cells up to MAX_FIELD. The reader's
    `line_num` is the file line a record ends on."""
    csv.field_size_limit(max(csv.field_size_limit(), MAX_FIELD))
    return csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
