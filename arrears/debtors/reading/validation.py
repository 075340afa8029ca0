"""One data row -> an AccountRow, a RowError, or nothing (blank, total and repeated header rows)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from arrears.debtors.errors import RowErrorCode
from arrears.debtors.reading.headers import HeaderMatch, header_key, is_blank
from arrears.debtors.reading.phones import read_phone_pair
from arrears.debtors.reading.rows import Cell
from arrears.debtors.reading.skips import LineSorter
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
MISSING_ACCOUNT = RowErrorCode.MISSING_ACCOUNT
DUPLICATE_ACCOUNT = RowErrorCode.DUPLICATE_ACCOUNT
INVALID_AMOUNT = RowErrorCode.INVALID_AMOUNT
BALANCE_MISMATCH = RowErrorCode.BALANCE_MISMATCH

# The spec allows the ageing buckets to differ from the total balance by 1%.
BALANCE_VARIANCE = Decimal("0.01")
_TOTAL_KEYS = frozenset({"total", "totals", "grandtotal", "subtotal", "reporttotal", "totaldebtors"})
_TOTAL_PREFIXES = ("total", "grandtotal", "subtotal", "reporttotal")
_AMOUNT_FIELDS = ("current", "d30", "d60", "d90", "d120", "total_balance")
# Floats below this are amounts repr() spells without an exponent (and not nan or inf).
_FLOAT_FAST = 1e15


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
    phone2: str | None = None  # a second number in the telephone cell (international digits)

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

    def __init__(self, match: HeaderMatch, variance: Decimal = BALANCE_VARIANCE,
                 header_cells: list[list[str]] | None = None, title_lines: list[str] | None = None) -> None:
        columns = match.columns
        labels = match.labels
        self._account = columns["account"]
        self._name = columns["name"]
        self._telephone = columns["telephone"]
        self._contact = columns.get("contact")
        self._total = columns["total_balance"]
        # (column or None when the file has none, header) of every money column, in the order of
        # _AMOUNT_FIELDS, then the buckets past 120 days; (days, position in that list) of those.
        self._money: list[tuple[int | None, str]] = [
            (columns[f], labels[columns[f]]) if f in columns else (None, f) for f in _AMOUNT_FIELDS
        ]
        extra = list(match.extra_buckets.items())
        self._extras = [(days, len(_AMOUNT_FIELDS) + n) for n, (days, _) in enumerate(extra)]
        self._money += [(index, labels[index]) for _, index in extra]
        # Without any ageing column there is nothing to check the total against.
        self._has_buckets = sum(f in columns for f in _AMOUNT_FIELDS) > 1 or bool(extra)
        self._labels = labels
        self._header_account = header_key(labels[self._account])
        # The account column's label in each header row too: a two-row header printed again.
        self._header_accounts = {self._header_account} | {
            header_key(row[self._account]) for row in header_cells or [] if self._account < len(row)} - {""}
        self._header_name = header_key(labels[self._name])
        self._variance = variance
        self._seen: dict[str, int] = {}
        self._width = max(columns.values()) + 1
        money = [index for index, _ in self._money if index is not None]
        self.lines = LineSorter([*(header_cells or []), labels], title_lines or [], money, self._total, self._name,
                                self._account)

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

    def _still_an_account(self, cells: list[Cell]) -> bool:
        """Below the grand total, a line with a name and a code with digits is still read (and then
        counted against the printed total): a summary table has neither."""
        code = account_code(cells[self._account])
        return any(ch.isdigit() for ch in code) and bool(to_text(cells[self._name]))

    def check(self, number: int, cells: list[Cell]) -> AccountRow | RowError | None:
        """The row as an account, as a failure, or None when it is not a data row."""
        # The hot loop of every import (once per row): plain locals, the usual cell shapes (text
        # codes, float or blank amounts) handled inline, the general functions for the rest.
        if len(cells) < self._width:
            cells = cells + [""] * (self._width - len(cells))
        lines = self.lines
        if lines.summary and not self._still_an_account(cells):  # past the grand total
            lines.sort(cells, "")
            return None
        raw_account = cells[self._account]
        if raw_account.__class__ is str and raw_account.isalnum():
            account = raw_account  # no spaces, no '.0' to drop
        else:
            account = account_code(raw_account)
        if not account:
            if lines.sort(cells, account) is not None:
                return None
            return RowError(number, self._labels[self._account], "", "The account code is missing.",
                            MISSING_ACCOUNT)
        # A total row, a heading, a footer or the header repeated on a new page: only the lines
        # that are not plainly accounts are sorted (header_key() only when needed).
        plain = account.isascii() and account.isalnum()
        key = account.lower() if plain else header_key(account)
        raw_name = cells[self._name]
        if (not plain or key in _TOTAL_KEYS or key in self._header_accounts
                or not (raw_name.strip() if raw_name.__class__ is str else to_text(raw_name))):
            if lines.sort(cells, account) is not None:
                return None
        first_row = self._seen.setdefault(account, number)
        if first_row != number:
            reason = (
                f"Account code '{account}' appears more than once in the file (first on row {first_row})."
            )
            return RowError(number, self._labels[self._account], account, reason, DUPLICATE_ACCOUNT, account)

        values: list[Decimal] = []
        append = values.append
        for index, label in self._money:
            if index is None:
                append(ZERO)
                continue
            raw = cells[index]
            if raw.__class__ is float and -_FLOAT_FAST < raw < _FLOAT_FAST:  # numeric cell (not nan/inf)
                if raw == 0.0:
                    append(ZERO)
                else:
                    # As parse_amount: the shortest decimal that round-trips, rounded to cents.
                    amount = Decimal(repr(raw)).quantize(CENT, ROUND_HALF_UP)
                    append(amount if amount else ZERO)
            elif raw == "":
                append(ZERO)
            else:
                try:
                    append(parse_amount(raw))
                except AmountError as exc:
                    return RowError(number, label, to_text(raw), f"{exc}.", INVALID_AMOUNT, account)
        current, d30, d60, d90, d120, total = values[:6]
        if self._extras:
            extras = {days: values[position] for days, position in self._extras}
            d120 += sum(extras.values(), ZERO)
        else:
            extras = {}
        if self._has_buckets:
            buckets = current + d30 + d60 + d90 + d120
            # A cent of rounding is always allowed, so a zero total tolerates 0.01 and no more.
            if buckets != total and abs(buckets - total) > max(abs(total) * self._variance, CENT):
                return self._mismatch(number, buckets, total, to_text(cells[self._total]), account)

        telephone_raw, telephone, phone_valid, phone2 = read_phone_pair(cells[self._telephone])
        name = raw_name.strip() if raw_name.__class__ is str else to_text(raw_name)
        contact = None
        if self._contact is not None:
            raw_contact = cells[self._contact]
            contact = (raw_contact.strip() if raw_contact.__class__ is str else to_text(raw_contact)) or None
        lines.add(int(total.scaleb(2)))
        return AccountRow(account, name, telephone_raw, telephone, phone_valid, contact, current, d30, d60,
                          d90, d120, extras, total, number, phone2)

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
