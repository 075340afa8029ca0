"""One corpus layout: how to make the file, and exactly what reading it must give.

Shared by the spreadsheet layouts (tests/corpus/spreadsheets.py), the PDF layouts
(tests/corpus/pdfs.py), their tests and bench/bench_fidelity.py."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

ZERO = Decimal("0.00")
SKIP_REASONS = ("title", "heading", "total", "repeated_header", "footer", "blank", "summary")


@dataclass(frozen=True)
class Expected:
    """One account as it must be stored. `buckets` names every non-zero bucket by the face's field
    (spreadsheets: current, d30, d60, d90, d120 and older days as d150/d180 in `extra`; PDFs:
    current, d30 … d180); absent fields are zero. Phones are international digits or None."""

    code: str
    name: str
    buckets: dict[str, Decimal]
    total: Decimal
    phone: str | None = None
    phone2: str | None = None
    email: str | None = None

    def bucket(self, name: str) -> Decimal:
        return self.buckets.get(name, ZERO)


@dataclass(frozen=True)
class Layout:
    """A file layout and its expected reading. `build(directory)` writes the file there and returns
    its path (the file name may carry the report's date, e.g. "Age Analysis Nov 2026.xlsx")."""

    name: str  # short id, e.g. "quickbooks_ar_aging_summary"
    imitates: str  # the export it imitates, in words
    build: Callable[[Path], Path]
    accounts: list[Expected]
    skipped: dict[str, int] = field(default_factory=dict)  # reason (SKIP_REASONS) -> lines skipped
    printed_total: Decimal | None = None  # the file's grand total, when it prints one
    report_date: dt.date | None = None  # the as-at date the title block or file name gives
    warnings: tuple[str, ...] = ()  # substrings the upload's warnings must contain
