"""Files Arrears hands out: one formula-injection guard for every CSV it writes, and one
Content-Disposition for every download.

A text cell that starts with `=`, `+`, `-`, `@`, a tab or a carriage return is run as a formula
by Excel, LibreOffice and Google Sheets (OWASP "CSV injection"); such text gets a leading `'`,
which the spreadsheet shows as plain text. Numbers written as numbers (int, Decimal: `-45.00`)
and, in a phone column only, a plain E.164 number (`+27821234567`) are left as they are.

Download names come from users (upload file names, organisation names): they are cut to a safe
length, stripped of paths, quotes and control characters, and a name that is not ASCII is sent as
RFC 6266's `filename*=UTF-8''…` beside an ASCII fallback (a raw non-ASCII header value cannot be
encoded at all, and made such a download a permanent 500).
"""

from __future__ import annotations

import csv
import re
import unicodedata
from collections.abc import Iterable
from decimal import Decimal
from typing import Any
from urllib.parse import quote

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_PHONE = re.compile(r"\+\d+")
_UNSAFE_NAME = re.compile(r'[\x00-\x1f\x7f"\\/:*?<>|;]+')
MAX_NAME_LENGTH = 150
_TOKEN = re.compile(r"[A-Za-z0-9._-]+")


def formula_safe(value: Any, *, phone: bool = False) -> str:
    """The text of a CSV cell that no spreadsheet will run as a formula."""
    if isinstance(value, int | Decimal | float) and not isinstance(value, bool):
        return str(value)
    text = "" if value is None else str(value)
    if phone and _PLAIN_PHONE.fullmatch(text):
        return text
    return "'" + text if text.startswith(FORMULA_START) else text


class SafeCsvWriter:
    """csv.writer whose every cell passes through `formula_safe`."""

    def __init__(self, stream: Any, **kwargs: Any) -> None:
        kwargs.setdefault("lineterminator", "\r\n")
        self._writer = csv.writer(stream, **kwargs)

    def writerow(self, row: Iterable[Any]) -> Any:
        return self._writer.writerow([formula_safe(cell) for cell in row])

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)


def safe_filename(name: str, fallback: str = "download") -> str:
    """A file name without paths, quotes or control characters, at most MAX_NAME_LENGTH long
    (the extension kept)."""
    name = unicodedata.normalize("NFC", str(name or "")).replace("\\", "/").rsplit("/", 1)[-1]
    name = _UNSAFE_NAME.sub("_", name).strip(" ._") or fallback
    if len(name) > MAX_NAME_LENGTH:
        stem, dot, ext = name.rpartition(".")
        ext = ext[:16] if dot and stem else ""
        name = name[: MAX_NAME_LENGTH - len(ext) - (1 if ext else 0)].rstrip(" ._") + (f".{ext}" if ext else "")
    return name


def content_disposition(filename: str, disposition: str = "attachment", *, quoted: bool = True) -> str:
    """The Content-Disposition value for `filename`, RFC 6266 `filename*` when it is not ASCII.
    `quoted=False` writes a plain token name bare (`filename=debtors_7.csv`, as the pharmacy spec)."""
    name = safe_filename(filename)
    if name.isascii():
        if not quoted and _TOKEN.fullmatch(name):
            return f"{disposition}; filename={name}"
        return f'{disposition}; filename="{name}"'
    # The ASCII fallback for old clients: accents dropped (é → e), other letters left out.
    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    stem, dot, ext = plain.rpartition(".")
    if not (stem if dot else plain).strip(" ._-"):
        plain = "download" + (f".{ext}" if dot and ext else "")
    return f"{disposition}; filename=\"{safe_filename(plain)}\"; filename*=UTF-8''{quote(name, safe='')}"
