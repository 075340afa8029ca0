"""What the extraction returns: debtors as printed, and the rows it would not vouch for."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from arrears.debtors.errors import RowErrorCode

ZERO = Decimal("0.00")
BUCKETS = ("current", "d30", "d60", "d90", "d120", "d150", "d180")

# Issue codes: each names a row that was read but is not in `debtors`.
BUCKETS_DO_NOT_ADD_UP = RowErrorCode.BUCKETS_DO_NOT_ADD_UP
UNREADABLE_AMOUNT = RowErrorCode.UNREADABLE_AMOUNT
NO_ACCOUNT_NUMBER = RowErrorCode.NO_ACCOUNT_NUMBER
DUPLICATE_ACCOUNT = RowErrorCode.DUPLICATE_ACCOUNT


@dataclass(slots=True)
class PdfDebtor:
    acc_no: str
    name: str
    current: Decimal = ZERO
    d30: Decimal = ZERO
    d60: Decimal = ZERO
    d90: Decimal = ZERO
    d120: Decimal = ZERO
    d150: Decimal = ZERO
    d180: Decimal = ZERO
    balance: Decimal = ZERO
    email: str | None = None
    phone: str | None = None  # as printed
    phone_normalised: str | None = None  # 27821234567, or None when not a valid number
    phone2: str | None = None  # a second number printed for the debtor: 27... digits when valid, else as printed
    is_medical_aid_control: bool = False
    page: int = 0  # 1-based page the row is printed on, for messages

    def bucket_total(self) -> Decimal:
        return self.current + self.d30 + self.d60 + self.d90 + self.d120 + self.d150 + self.d180


@dataclass(frozen=True, slots=True)
class PdfRowIssue:
    """A row that was read but kept out of `debtors`; `debtor` is that row, for a caller that keeps it anyway."""

    code: str
    message: str
    page: int
    acc_no: str
    name: str
    debtor: PdfDebtor | None = None


@dataclass(frozen=True, slots=True)
class PdfExtraction:
    debtors: list[PdfDebtor]
    issues: list[PdfRowIssue]
    pages: int
    buckets: tuple[str, ...] = field(default=())  # the ageing buckets the report prints, in order
    # Lines that are not accounts, per reason: title, heading, total, repeated_header, footer, summary.
    skipped: dict[str, int] = field(default_factory=dict)
    # The report's own total: its grand total, else the sum of its page totals; None when it prints neither.
    printed_total: Decimal | None = None
    warnings: list[str] = field(default_factory=list)  # the total check, in words
    title_lines: list[str] = field(default_factory=list)  # text above the first header (the report's date)
    # The first header's columns, left to right from 0 (index, label, field, reason): what a mapping names.
    columns: list[dict[str, Any]] = field(default_factory=list)
    # A mapping that does not fit the first header, each problem named; it was not applied.
    mapping_problems: list[dict[str, Any]] = field(default_factory=list)
