"""One data row -> an AccountRow, a RowError, or nothing (blank, total and repeated header rows)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from arrears.debtors.reading.headers import HeaderMatch, header_key, is_blank
from arrears.debtors.reading.phones import normalise_phone
from arrears.debtors.reading.rows import Cell
from arrears.debtors.reading.values import (
    CENT,
    ZERO,
    AmountError,
    account_code,
    format_amount,
    parse_amount,
    to_text,
)

# Row failure codes.
MISSING_ACCOUNT = "MISSING_ACCOUNT"
DUPLICATE_ACCOUNT = "DUPLICATE_ACCOUNT"
INVALID_AMOUNT = "INVALID_AMOUNT"
BALANCE_MISMATCH = "BALANCE_MISMATCH"

# The spec allows the ageing buckets to differ from the total balance by 1%.
BALANCE_VARIANCE = Decimal("0.01")
_TOTAL_KEYS = frozenset({"total", "totals", "grandtotal", "subtotal", "reporttotal", "totaldebtors"})
_TOTAL_PREFIXES = ("total", "grandtotal", "subtotal", "reporttotal")
_AMOUNT_FIELDS = ("current", "d30", "d60", "d90", "d120", "total_balance")


# Not frozen: a frozen dataclass's __init__ costs ~1 µs more per row, and rows come by the 100,000.
@dataclass(slots=True)
class AccountRow:
    """One account's balances as the file states them. Money is Decimal, rounded to cents."""

    account: str
    name: str
    telephone_raw: str  # as written in the file, for showing back to people
    telephone: str | None  # digits with country code (27821234567); None when blank
    phone_valid: bool
    contact: str | None
    current: Decimal
    d30: Decimal
    d60: Decimal
    d90: Decimal
    d120: Decimal  # 120 days and every older bucket together
    extra_buckets: dict[int, Decimal]  # buckets older than 120 days as the file has them: {150: ...}
    total_balance: Decimal
    sheet_row: int

    @property
    def overdue(self) -> Decimal:
        return self.d30 + self.d60 + self.d90 + self.d120


@dataclass(frozen=True, slots=True)
class RowError:
    """A data row that cannot become an account, and why, in words for the uploader."""

    sheet_row: int
    column: str | None  # the header as the file writes it
    value: str
    reason: str
    code: str  # MISSING_ACCOUNT, DUPLICATE_ACCOUNT, INVALID_AMOUNT, BALANCE_MISMATCH
    account: str | None = None


class RowValidator:
    """Checks data rows under one header. Stateful: it remembers account codes to find repeats."""

    def __init__(self, match: HeaderMatch, variance: Decimal = BALANCE_VARIANCE) -> None:
        columns = match.columns
        labels = match.labels
        self._account = columns["account"]
        self._name = columns["name"]
        self._telephone = columns["telephone"]
        self._contact = columns.get("contact")
        self._total = columns["total_balance"]
        # (field, column, header) of every money column; buckets past 120 days are "d150" ...
        self._extras = [(f"d{days}", index, labels[index]) for days, index in match.extra_buckets.items()]
        self._amounts = [(f, columns[f], labels[columns[f]]) for f in _AMOUNT_FIELDS if f in columns]
        self._amounts += self._extras
        # Without any ageing column there is nothing to check the total against.
        self._has_buckets = len(self._amounts) > 1
        self._labels = labels
        self._header_account = header_key(labels[self._account])
        self._header_name = header_key(labels[self._name])
        self._variance = variance
        self._seen: dict[str, int] = {}
        self._width = max(columns.values()) + 1

    def _padded(self, cells: list[Cell]) -> list[Cell]:
        # Rows may stop short of the last mapped column (CSV lines, trailing blank cells).
        missing = self._width - len(cells)
        return cells + [""] * missing if missing > 0 else cells

    def is_data(self, cells: list[Cell]) -> bool:
        """False for the rows skipped silently: blank, totals, a header repeated on a new page."""
        cells = self._padded(cells)
        return not self._skip(cells, account_code(cells[self._account]))

    def _skip(self, cells: list[Cell], account: str) -> bool:
        if not account:
            if is_blank(cells):
                return True
            # "Grand Total" written under the name, with the account column left empty.
            first = next((text for text in map(to_text, cells) if text), "")
            return header_key(first).startswith(_TOTAL_PREFIXES)
        key = header_key(account)
        if key in _TOTAL_KEYS:
            return True
        return key == self._header_account and header_key(to_text(cells[self._name])) == self._header_name

    def check(self, number: int, cells: list[Cell]) -> AccountRow | RowError | None:
        """The row as an account, as a failure, or None when it is not a data row."""
        cells = self._padded(cells)
        account = account_code(cells[self._account])
        if self._skip(cells, account):
            return None
        account_label = self._labels[self._account]
        if not account:
            return RowError(number, account_label, "", "The account code is missing.", MISSING_ACCOUNT)
        first_row = self._seen.setdefault(account, number)
        if first_row != number:
            reason = (
                f"Account code '{account}' appears more than once in the file (first on row {first_row})."
            )
            return RowError(number, account_label, account, reason, DUPLICATE_ACCOUNT, account)

        amounts: dict[str, Decimal] = {}
        for target, index, label in self._amounts:
            raw = cells[index]
            try:
                amounts[target] = parse_amount(raw)
            except AmountError as exc:
                return RowError(number, label, to_text(raw), f"{exc}.", INVALID_AMOUNT, account)
        extras = {int(target[1:]): amounts[target] for target, _, _ in self._extras}
        d120 = amounts.get("d120", ZERO)
        if extras:
            d120 += sum(extras.values(), ZERO)
        get = amounts.get
        current, d30, d60, d90 = get("current", ZERO), get("d30", ZERO), get("d60", ZERO), get("d90", ZERO)
        total = amounts["total_balance"]
        if self._has_buckets:
            buckets = current + d30 + d60 + d90 + d120
            # A cent of rounding is always allowed, so a zero total tolerates 0.01 and no more.
            if abs(buckets - total) > max(abs(total) * self._variance, CENT):
                return self._mismatch(number, buckets, total, to_text(cells[self._total]), account)

        raw_phone = cells[self._telephone]
        telephone, phone_valid = normalise_phone(raw_phone)
        contact = to_text(cells[self._contact]) if self._contact is not None else ""
        return AccountRow(
            account=account,
            name=to_text(cells[self._name]),
            telephone_raw=to_text(raw_phone),
            telephone=telephone,
            phone_valid=phone_valid,
            contact=contact or None,
            current=current,
            d30=d30,
            d60=d60,
            d90=d90,
            d120=d120,
            extra_buckets=extras,
            total_balance=total,
            sheet_row=number,
        )

    def _mismatch(
        self, number: int, buckets: Decimal, total: Decimal, raw_total: str, account: str
    ) -> RowError:
        difference = abs(buckets - total)
        reason = (
            f"The ageing buckets add up to {format_amount(buckets)} but the total balance is "
            f"{format_amount(total)}: a difference of {format_amount(difference)}, more than the "
            f"{self._variance * 100:.0f}% allowed."
        )
        return RowError(number, self._labels[self._total], raw_total, reason, BALANCE_MISMATCH, account)
