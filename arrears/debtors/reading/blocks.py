"""Rows checked a block at a time, column by column: the import's fast path.

`RowValidator.check` is the reference: it decides every row one at a time. Here a block of rows
(a few thousand) is taken apart into columns and the usual shapes are decided for all rows at
once with C-level loops (`map`, `zip`, set operations): text account codes of letters and
digits, float amounts with at most two decimals (other amount cells through `parse_amount`, the
reference's own reading), buckets that add up to the total. Every row that is not plainly one of
those (a blank or total row, a repeated code, an amount that cannot be read, buckets that differ
from the total, ...) goes to `RowValidator.check`, in file order, so
both paths give the same accounts and the same row errors (tests/debtors/reading/test_blocks.py).

Amounts leave as whole cents (int): exact, so that the book's figures are plain integer sums and
the buckets are checked against the total without rounding. A float cell is taken as it is when it
is the float nearest to a whole number of cents (what a spreadsheet holds for 1321.3 or -45.5): then
round(x * 100) is that number and dividing it by 100 gives x back. Other cells are read by
`parse_amount`, the reference's own reading.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from itertools import compress
from operator import add, itemgetter, ne, not_
from typing import NamedTuple, cast

from arrears.debtors.reading.phones import read_phones_with_second, sms_reachable
from arrears.debtors.reading.rows import Cell, NumberedRow
from arrears.debtors.reading.validation import _TOTAL_KEYS, AccountRow, RowError, RowValidator
from arrears.debtors.reading.values import CENT, AmountError, account_code, parse_amount, to_text

# Float cells the fast path takes as they are (below this, x * 100 is far from the next whole
# number's rounding boundary); larger ones are read by parse_amount, one at a time.
FLOAT_LIMIT = 1e12
_CENTS_LIMIT = 10**14  # FLOAT_LIMIT in cents
_first, _second = itemgetter(0), itemgetter(1)


def cents_of(amount: Decimal) -> int:
    """Whole cents of an amount (the reference path's amounts are already whole cents)."""
    return int(amount.quantize(CENT, ROUND_HALF_UP).scaleb(2))


def amount_of(cents: int) -> Decimal:
    """The amount of a number of cents, with two decimals (as the reference path gives it)."""
    return Decimal(cents).scaleb(-2)


@dataclass(slots=True)
class AccountBlock:
    """The accounts of a stretch of rows, column by column, and that stretch's row errors.

    `cents` holds six columns of whole cents, in the order current, d30, d60, d90, d120 (with every
    older bucket added), total balance.
    """

    accounts: list[str]
    names: list[str]
    contacts: list[str | None]
    telephone_raw: list[str]
    telephones: list[str | None]
    phone_valid: list[bool]
    sms_reachable: list[bool]  # a valid mobile number
    cents: list[list[int]]
    extras: list[dict[int, Decimal]] | None  # per account, when the file has buckets past 120 days
    sheet_rows: list[int]
    errors: list[RowError]
    rows_read: int  # every row of the stretch: accounts, failures and skipped rows
    # Every amount is known to lie within ±FLOAT_LIMIT (checked while reading), so a writer need
    # not check it against the book's limit again.
    amounts_in_range: bool = False
    # A second number per account, when the telephone cells hold two (else empty: all None).
    phone2: list[str | None] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.accounts)

    @classmethod
    def empty(cls, with_extras: bool = False) -> AccountBlock:
        return cls([], [], [], [], [], [], [], [[] for _ in range(6)], [] if with_extras else None, [], [], 0)

    @classmethod
    def of_rows(cls, rows: Sequence[AccountRow], errors: Sequence[RowError] = (), rows_read: int = 0
                ) -> AccountBlock:
        """A block of AccountRows (the PDF faces, and rows the reference path decided)."""
        block = cls.empty(with_extras=any(row.extra_buckets for row in rows))
        for row in rows:
            block.append(row)
        block.errors.extend(errors)
        block.rows_read = rows_read or len(rows) + len(errors)
        return block

    def append(self, row: AccountRow) -> None:
        self.accounts.append(row.account)
        self.names.append(row.name)
        self.contacts.append(row.contact)
        self.telephone_raw.append(row.telephone_raw)
        self.telephones.append(row.telephone)
        self.phone_valid.append(row.phone_valid)
        self.sms_reachable.append(sms_reachable(row.telephone, row.phone_valid))
        if row.phone2 is not None and len(self.phone2) < len(self.accounts) - 1:
            self.phone2.extend([None] * (len(self.accounts) - 1 - len(self.phone2)))
        if row.phone2 is not None or self.phone2:
            self.phone2.append(row.phone2)
        for column, amount in zip(self.cents, (row.current, row.d30, row.d60, row.d90, row.d120, row.total_balance),
                                  strict=True):
            column.append(cents_of(amount))
        if self.extras is not None:
            self.extras.append(row.extra_buckets)
        self.sheet_rows.append(row.sheet_row)

    def row(self, index: int) -> AccountRow:
        """One account as the reference path gives it."""
        current, d30, d60, d90, d120, total = (amount_of(column[index]) for column in self.cents)
        return AccountRow(
            self.accounts[index], self.names[index], self.telephone_raw[index], self.telephones[index],
            self.phone_valid[index], self.contacts[index], current, d30, d60, d90, d120,
            self.extras[index] if self.extras is not None else {}, total, self.sheet_rows[index],
            self.phone2[index] if self.phone2 else None)

    def rows(self) -> Iterator[AccountRow]:
        return (self.row(index) for index in range(len(self.accounts)))

    def without(self, drop: set[int]) -> AccountBlock:
        """The block less the accounts at the positions in `drop`."""
        keep = [index not in drop for index in range(len(self.accounts))]

        def kept(values: list) -> list:
            return list(compress(values, keep))

        return AccountBlock(
            kept(self.accounts), kept(self.names), kept(self.contacts), kept(self.telephone_raw),
            kept(self.telephones), kept(self.phone_valid), kept(self.sms_reachable), [kept(c) for c in self.cents],
            kept(self.extras) if self.extras is not None else None,
            kept(self.sheet_rows), list(self.errors), self.rows_read, self.amounts_in_range,
            kept(self.phone2) if self.phone2 else [])


@dataclass(slots=True)
class BlockCount:
    """A stretch of rows counted rather than kept (the preview's pass past its first accounts):
    the accounts AccountBlock would hold, their total balances' sum in whole cents, the same row
    errors, and the rows read."""

    accounts: int
    total_cents: int
    errors: list[RowError]
    rows_read: int


class _Decided(NamedTuple):
    columns: list[tuple[Cell, ...]]  # account, name, telephone, contact (or name), the money columns
    codes: Sequence[str]
    slow: set[int]  # positions of the rows for the reference path
    cents: list[list[int]]  # current, d30, d60, d90, d120 (older buckets added), total
    extras: list[dict[int, Decimal]] | None
    in_range: bool
    names: list[str]


def _float_cents(column: Sequence[float]) -> list[int] | None:
    """Whole cents of a column of floats, when every one is the float nearest to a whole number of
    cents below FLOAT_LIMIT (see the module's docstring); else None.

    Vectorised (numpy, a fifth of the instructions of the same passes over Python floats):
    rint rounds half to even as round() does, and the integral float of the cents divided by 100
    is the correctly rounded quotient, as int / int is, so the answers are round()'s."""
    import numpy  # here, not at the top: half a second of import that only workbook imports need

    values = numpy.array(column, dtype=numpy.float64)
    with numpy.errstate(invalid="ignore", over="ignore"):
        cents = numpy.rint(values * 100.0)
        if not (cents / 100.0 == values).all():  # nan and inf never equal themselves
            return None
    if cents.size and not (-_CENTS_LIMIT < cents.min() and cents.max() < _CENTS_LIMIT):
        return None
    return cents.astype(numpy.int64).tolist()


def _amount_cell(raw: Cell) -> int | None:
    """Whole cents of an amount cell, or None when the reference path must decide (not an amount)."""
    if raw.__class__ is float and -FLOAT_LIMIT < raw < FLOAT_LIMIT:
        cents = round(raw * 100)  # _float_cents's rule, for one cell
        if cents / 100 == raw:
            return cents
    try:
        return cents_of(parse_amount(raw))
    except AmountError:
        return None


class BlockValidator:
    """Checks blocks of data rows under one header, sharing the reference validator's memory of
    account codes (so blocks and single rows may be mixed, in file order)."""

    def __init__(self, validator: RowValidator) -> None:
        self._v = validator
        money = [index for index, _ in validator._money]
        self._has_money = [index is not None for index in money]
        columns = [validator._account, validator._name, validator._telephone,
                   validator._contact if validator._contact is not None else validator._name,
                   *(index for index in money if index is not None)]
        self._columns = columns
        self._has_contact = validator._contact is not None
        self._extra_count = len(validator._extras)
        self._extra_days = [days for days, _ in validator._extras]
        self._skip_keys = _TOTAL_KEYS | validator._header_accounts
        self._total_position = 4 + sum(self._has_money[:5])  # the total's place in self._columns

    def check_block(self, rows: Sequence[NumberedRow]) -> AccountBlock:
        return self._check(list(map(_first, rows)), list(map(_second, rows)))

    def check_cells(self, first_number: int, cells: list[list[Cell]]) -> AccountBlock:
        """Rows numbered first_number, first_number + 1, ... (a workbook's)."""
        return self._check(list(range(first_number, first_number + len(cells))), cells)

    def count_block(self, rows: Sequence[NumberedRow]) -> BlockCount:
        """check_block's accounts counted and its errors kept (phones and contacts are not read)."""
        return self._count(list(map(_first, rows)), list(map(_second, rows)))

    def count_cells(self, first_number: int, cells: list[list[Cell]]) -> BlockCount:
        """check_cells's accounts counted and its errors kept (phones and contacts are not read)."""
        return self._count(list(range(first_number, first_number + len(cells))), cells)

    def _decide(self, numbers: list[int], cells: list[list[Cell]], with_extras: bool) -> _Decided:
        """The block's columns read, and the rows the reference path must decide (`slow`)."""
        v = self._v
        count = len(numbers)
        width = v._width
        if min(map(len, cells)) < width:
            cells = [c if len(c) >= width else c + [""] * (width - len(c)) for c in cells]
        every = list(zip(*cells, strict=False))  # shorter rows were padded to `width`: zip stops at the shortest
        columns = [every[index] for index in self._columns]
        slow: set[int] = set()

        # Account codes: plain letters and digits are taken as written, anything else is decided
        # by the reference path (blank, total and repeated header rows, codes with punctuation).
        raw_codes = columns[0]
        if set(map(type, raw_codes)) <= {str} and all(map(str.isalnum, raw_codes)) and all(
                map(str.isascii, raw_codes)):
            codes: Sequence[str] = raw_codes
            keys = list(map(str.lower, codes))
            if not self._skip_keys.isdisjoint(keys):
                slow.update(i for i, key in enumerate(keys) if key in self._skip_keys)
        else:
            codes = list(map(account_code, raw_codes))  # numeric cells: 1001.0 -> "1001"
            for i, code in enumerate(codes):
                if not (code and code.isalnum() and code.isascii()) or code.lower() in self._skip_keys:
                    slow.add(i)

        # Money: six columns (a missing one is zero), then the buckets past 120 days.
        cents: list[list[int]] = []
        in_range = not self._extra_count  # older buckets are added into d120 below
        position = 4
        for present in self._has_money:
            if not present:
                cents.append([0] * count)
                continue
            column = columns[position]
            position += 1
            plain = _float_cents(column) if set(map(type, column)) == {float} else None
            if plain is not None:
                cents.append(plain)
                continue
            read = list(map(_amount_cell, column))
            if None in read:  # (a placeholder 0 here: the row is decided there)
                slow.update(i for i, c in enumerate(read) if c is None)
                cells_read = [0 if c is None else c for c in read]
            else:
                cells_read = cast("list[int]", read)  # no None in it: checked just above
            in_range = in_range and -_CENTS_LIMIT < min(cells_read) and max(cells_read) < _CENTS_LIMIT
            cents.append(cells_read)
        extras: list[dict[int, Decimal]] | None = None
        if self._extra_count:
            older = cents[6:]
            if with_extras:
                extras = [dict(zip(self._extra_days, map(amount_of, row), strict=True))
                          for row in zip(*older, strict=True)]
            cents[4] = list(map(add, cents[4], map(sum, zip(*older, strict=True))))
            del cents[6:]

        # Buckets against the total, exactly: rows whose buckets differ from the total go to the
        # reference path (which allows the spec's variance).
        if v._has_buckets:
            together = list(map(add, map(add, map(add, map(add, cents[0], cents[1]), cents[2]), cents[3]), cents[4]))
            if together != cents[5]:
                slow.update(compress(range(count), map(ne, together, cents[5])))

        names = _texts(columns[1])
        if not all(names):
            # A line without a name and without a total may be a heading ("GAUTENG" in the account
            # column): the reference path sorts it. One with a total is an account without a name.
            totals = columns[self._total_position]
            slow.update(i for i in compress(range(count), map(not_, names)) if totals[i] in ("", None))
        return _Decided(columns, codes, slow, cents, extras, in_range, names)

    def _plain(self, numbers: list[int], decided: _Decided) -> bool:
        """Whether every row of the block is a new account (then every code is remembered here)."""
        v = self._v
        if decided.slow or v.lines.summary:
            return False
        fresh = dict(zip(decided.codes, numbers, strict=True))
        if len(fresh) != len(numbers) or not v._seen.keys().isdisjoint(fresh):
            return False
        v._seen.update(fresh)
        return True

    def _check(self, numbers: list[int], cells: list[list[Cell]]) -> AccountBlock:
        if not numbers:
            return AccountBlock.empty(with_extras=bool(self._extra_count))
        decided = self._decide(numbers, cells, with_extras=True)
        columns, codes, slow, cents, extras, in_range, names = decided
        raw_phones = _texts(columns[2])
        phones, valid, sms, second = read_phones_with_second(raw_phones)
        count = len(numbers)
        contacts: list[str | None] = (
            [text or None for text in _texts(columns[3])] if self._has_contact else [None] * count)
        if self._plain(numbers, decided):
            self._v.lines.add(sum(cents[5]))
            return AccountBlock(list(codes), names, contacts, raw_phones, phones, valid, sms, cents, extras, numbers,
                                [], count, in_range, second if any(second) else [])
        return self._mixed(numbers, cells, codes, slow, names, contacts, raw_phones, phones, valid, sms, cents,
                           extras, second)

    def _count(self, numbers: list[int], cells: list[list[Cell]]) -> BlockCount:
        if not numbers:
            return BlockCount(0, 0, [], 0)
        decided = self._decide(numbers, cells, with_extras=False)
        totals = decided.cents[5]
        v = self._v
        if self._plain(numbers, decided):
            total = sum(totals)
            v.lines.add(total)
            return BlockCount(len(numbers), total, [], len(numbers))
        # As _mixed, keeping only the count, the balances' sum and the errors.
        codes, slow = decided.codes, decided.slow
        seen, lines = v._seen, v.lines
        accounts = total = 0
        errors: list[RowError] = []
        for i, number in enumerate(numbers):
            if i not in slow and not lines.summary and seen.setdefault(codes[i], number) == number:
                lines.add(totals[i])
                accounts += 1
                total += totals[i]
                continue
            result = v.check(number, cells[i])
            if result is None:
                continue
            if isinstance(result, RowError):
                errors.append(result)
            else:
                accounts += 1
                total += cents_of(result.total_balance)
        return BlockCount(accounts, total, errors, len(numbers))

    def _mixed(self, numbers: list[int], cells: list[list[Cell]], codes: Sequence[str], slow: set[int],
               names: list[str], contacts: list[str | None], raw_phones: list[str], phones: list[str | None],
               valid: list[bool], sms: list[bool], cents: list[list[int]],
               extras: list[dict[int, Decimal]] | None, second: list[str | None]) -> AccountBlock:
        """A block with rows for the reference path: every row in file order, the plain ones from
        the columns, the others through RowValidator.check."""
        v = self._v
        block = AccountBlock.empty(with_extras=extras is not None)
        block.rows_read = len(numbers)
        seen = v._seen
        lines = v.lines
        phone2 = block.phone2
        for i, number in enumerate(numbers):
            if i not in slow and not lines.summary and seen.setdefault(codes[i], number) == number:
                if second[i] is not None or phone2:
                    phone2.extend([None] * (len(block.accounts) - len(phone2)))
                    phone2.append(second[i])
                lines.add(cents[5][i])
                block.accounts.append(codes[i])
                block.names.append(names[i])
                block.contacts.append(contacts[i])
                block.telephone_raw.append(raw_phones[i])
                block.telephones.append(phones[i])
                block.phone_valid.append(valid[i])
                block.sms_reachable.append(sms[i])
                for column, source in zip(block.cents, cents, strict=True):
                    column.append(source[i])
                if extras is not None and block.extras is not None:
                    block.extras.append(extras[i])
                block.sheet_rows.append(number)
                continue
            result = v.check(number, cells[i])
            if result is None:
                continue
            if isinstance(result, RowError):
                block.errors.append(result)
            else:
                block.append(result)
        return block


def _texts(column: Sequence[Cell]) -> list[str]:
    if set(map(type, column)) <= {str}:
        return list(map(str.strip, column))  # type: ignore[arg-type]
    return [c.strip() if c.__class__ is str else to_text(c) for c in column]
