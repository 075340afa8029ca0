"""BlockValidator (the import's columnar fast path) against RowValidator.check (the reference):
whatever the cells hold, both give the same accounts and the same row errors, in file order."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from arrears.debtors.reading import (
    AccountBlock,
    AccountRow,
    AliasTable,
    RowError,
    read_age_analysis,
)
from arrears.debtors.reading.blocks import BlockValidator, cents_of
from arrears.debtors.reading.headers import find_header
from arrears.debtors.reading.phones import read_phone, read_phones, sms_reachable
from arrears.debtors.reading.rows import Sheet
from arrears.debtors.reading.validation import RowValidator

HEADER = ["Account", "Name", "Contact", "Cell No", "Current", "30 Days", "60 Days", "90 Days", "120 Days",
          "Total Balance"]  # fmt: skip
WITH_OLDER = [*HEADER[:9], "150 Days", "180+", "Total Balance"]
NO_CONTACT = [h for h in HEADER if h != "Contact"]


def validator(header: list[str]) -> RowValidator:
    sample = ["A1", "x", *([""] * (len(header) - 2))]
    return RowValidator(find_header([Sheet("s", iter([(1, list(header)), (2, sample)]), 2)], AliasTable(None)).match)


plain_amounts = st.one_of(
    st.just(0.0),
    st.integers(min_value=-10**9, max_value=10**9).map(lambda c: c / 100),
    st.just(""),
)
odd_amounts = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(min_value=-1e6, max_value=1e6).map(lambda f: round(f, 3)),
    st.sampled_from(["-", " ", "R 1 234.50", "(45.00)", "45.00-", "abc", "1.005", "-0.004", "12", "-3.50",
                     " 7.25 ", "1e3", -0.0, 0.125, 1e13, -1e14]),
    st.integers(min_value=-10**14, max_value=10**14),
    st.booleans(),
    st.none(),
)
codes = st.one_of(
    st.sampled_from(["ACC1", "ACC2", "ACC3", "B7", "Total", "TOTAL", "Grand Total", "account", "0042", "1001.0",
                     "", " ", "AC-9", "Ünï", "acc1"]),
    st.from_regex(r"[A-Z]{1,3}[0-9]{1,4}", fullmatch=True),
    st.integers(min_value=0, max_value=50),
    st.floats(min_value=0, max_value=60).map(lambda f: round(f, 1)),
)
phones = st.sampled_from(["0821234567", "082 123 4567", "+27 82 123 4567", 821234567, "", "n/a", "0821",
                          "+44 20 7946 0958", 27821234567.0])
names = st.sampled_from(["Name", " Jo Soap ", "", "Account", 12.0, "Grand Total"])


def reference(header: list[str], rows: list[tuple[int, list]]) -> tuple[list[AccountRow], list[RowError]]:
    check = validator(header).check
    accounts, errors = [], []
    for number, cells in rows:
        result = check(number, list(cells))
        if isinstance(result, AccountRow):
            accounts.append(result)
        elif result is not None:
            errors.append(result)
    return accounts, errors


def by_blocks(header: list[str], rows: list[tuple[int, list]], size: int) -> tuple[list[AccountRow], list[RowError]]:
    checker = BlockValidator(validator(header))
    accounts, errors = [], []
    for start in range(0, len(rows), size):
        block = checker.check_block([(n, list(c)) for n, c in rows[start:start + size]])
        assert block.rows_read == len(rows[start:start + size])
        for index in range(len(block)):
            assert block.sms_reachable[index] is sms_reachable(block.telephones[index], block.phone_valid[index])
            # Whole cents, which is what the row's amounts say.
            assert all(type(column[index]) is int for column in block.cents)
        accounts.extend(block.rows())
        errors.extend(block.errors)
    return accounts, errors


def make_rows(header: list[str], drawn: list) -> list[tuple[int, list]]:
    rows = []
    for number, ((code, name, contact, phone, *values), short) in enumerate(drawn, start=2):
        if header is NO_CONTACT:
            cells = [code, name, phone, *values]
        elif header is WITH_OLDER:
            cells = [code, name, contact, phone, *values[:5], 10.0, "", values[5]]
        else:
            cells = [code, name, contact, phone, *values]
        if short == 3:
            cells = cells[:-2]  # a row that stops short of the last columns
        rows.append((number, cells))
    return rows


def drawn_rows() -> st.SearchStrategy[list]:
    amounts = st.lists(st.one_of(plain_amounts, plain_amounts, plain_amounts, odd_amounts), min_size=6, max_size=6)

    def build(code, name, contact, phone, values, balanced, short):
        if balanced and all(v.__class__ is float or v == "" for v in values[:5]):
            values = [*values[:5], round(sum(v or 0.0 for v in values[:5]), 2)]
        return [code, name, contact, phone, *values], short

    row = st.builds(build, codes, names, st.sampled_from(["", "Pat", " Lee "]), phones, amounts,
                    st.sampled_from([True, True, True, False]), st.integers(min_value=0, max_value=9))
    return st.lists(row, min_size=1, max_size=60)


@settings(max_examples=300, deadline=None)
@given(drawn=drawn_rows(), size=st.integers(min_value=1, max_value=70),
       header=st.sampled_from([HEADER, WITH_OLDER, NO_CONTACT]))
def test_blocks_agree_with_the_reference(drawn, size, header) -> None:
    rows = make_rows(header, drawn)
    assert by_blocks(header, rows, size) == reference(header, rows)


def by_counts(header: list[str], rows: list[tuple[int, list]], size: int, full: int
              ) -> tuple[int, int, list[AccountRow], list[RowError]]:
    """The rows checked by blocks, the first `full` blocks kept and the rest counted (the
    preview's way): the accounts counted, their totals' sum in cents, the kept accounts, every error."""
    checker = BlockValidator(validator(header))
    count = cents = 0
    kept, errors = [], []
    for number, start in enumerate(range(0, len(rows), size)):
        stretch = [(n, list(c)) for n, c in rows[start:start + size]]
        if number < full:
            block = checker.check_block(stretch)
            count, cents = count + len(block), cents + sum(block.cents[5])
            kept.extend(block.rows())
            errors.extend(block.errors)
        else:
            counted = checker.count_block(stretch)
            assert counted.rows_read == len(stretch)
            count, cents = count + counted.accounts, cents + counted.total_cents
            errors.extend(counted.errors)
    return count, cents, kept, errors


@settings(max_examples=300, deadline=None)
@given(drawn=drawn_rows(), size=st.integers(min_value=1, max_value=70), full=st.integers(min_value=0, max_value=3),
       header=st.sampled_from([HEADER, WITH_OLDER, NO_CONTACT]))
def test_counted_blocks_agree_with_the_reference(drawn, size, full, header) -> None:
    """Counting a block (no phones, contacts or rows made) finds the accounts and the errors that
    checking it finds, before and after checked blocks, and leaves the same memory of codes."""
    rows = make_rows(header, drawn)
    accounts, errors = reference(header, rows)
    count, cents, kept, counted_errors = by_counts(header, rows, size, full)
    assert count == len(accounts)
    assert cents == sum(cents_of(a.total_balance) for a in accounts)
    assert kept == accounts[:len(kept)]
    assert counted_errors == errors


def test_a_clean_block_takes_the_fast_path_and_registers_every_code() -> None:
    v = validator(HEADER)
    checker = BlockValidator(v)
    rows = [(n, [f"ACC{n}", "Name", "Pat", "0821234567", 1.1, 0.0, 2.25, "", 0.0, 3.35]) for n in range(5, 105)]
    block = checker.check_block(rows)
    assert len(block) == 100 and not block.errors
    assert block.cents[0][0] == 110 and block.cents[5][0] == 335 and block.cents[3][0] == 0
    assert block.telephones[0] == "27821234567" and block.phone_valid[0]
    assert block.amounts_in_range  # every amount a plain float: writers need not check the range
    # A later block repeating a code is a duplicate, decided by the reference path.
    again = checker.check_block([(200, ["ACC5", "Name", "", "", 1.0, 0.0, 0.0, 0.0, 0.0, 1.0])])
    assert len(again) == 0 and again.errors[0].code == "DUPLICATE_ACCOUNT"
    assert "first on row 5" in again.errors[0].reason


@pytest.mark.parametrize(("cell", "in_column", "alone"), [
    (0.29, 29, 29), (1321.3, 132130, 132130), (-45.5, -4550, -4550), (-0.0, 0, 0),
    (999999999999.99, 99999999999999, 99999999999999),
    (0.1 + 0.2, None, 30), (1.005, None, 101), (1e-7, None, 0), (1e12, None, 100000000000000),
    (float("nan"), None, None), (float("inf"), None, None),
])
def test_float_cells_to_cents(cell, in_column, alone) -> None:
    """A column of floats that are each the nearest to whole cents is taken as those cents at once;
    any other float cell is read by parse_amount (rounded half up), or left to the reference path
    (None) when it is not an amount."""
    from arrears.debtors.reading.blocks import _amount_cell, _float_cents

    assert _float_cents([cell, 1.0]) == (None if in_column is None else [in_column, 100])
    assert _amount_cell(cell) == alone


def test_amounts_past_the_float_limit_are_left_to_the_book_s_check() -> None:
    """A block vouches for its amounts' range only when all came from plain floats below
    FLOAT_LIMIT, which must not exceed what the book stores; a larger amount is refused by the
    encoder as a row error, not stored."""
    from datetime import UTC, datetime
    from decimal import Decimal

    from arrears.debtors import bulk
    from arrears.debtors.reading.blocks import FLOAT_LIMIT

    assert Decimal(FLOAT_LIMIT) <= bulk.MONEY_LIMIT
    checker = BlockValidator(validator(HEADER))
    block = checker.check_block([(2, ["A1", "N", "", "0821234567", 5e12, 0.0, 0.0, 0.0, 0.0, 5e12]),
                                 (3, ["A2", "N", "", "0821234567", 1.5, 0.0, 0.0, 0.0, 0.0, 1.5])])
    assert len(block) == 2 and not block.amounts_in_range
    batch = bulk.SnapshotEncoder(1, 1, datetime.now(UTC), postgres=True).encode(block)
    assert batch.rows == 1 and [(e.sheet_row, e.code) for e in batch.errors] == [(2, "INVALID_AMOUNT")]


def test_of_rows_and_row_round_trip() -> None:
    accounts, _ = reference(HEADER, [(2, ["A1", "N", "C", "0821234567", 1.0, 2.5, 0.0, 0.0, -3.0, 0.5])])
    block = AccountBlock.of_rows(accounts)
    assert list(block.rows()) == accounts
    assert block.cents[4] == [-300] and block.cents[5] == [50]


@pytest.mark.parametrize("kind", ["csv", "xlsx"])
def test_reader_blocks_match_reader_rows(tmp_path, kind) -> None:
    """Blocks (a workbook's come in stretches of cells numbered by the reader) give the accounts,
    errors and sheet row numbers that reading row by row gives."""
    from tests.debtors.reading.conftest import write_xlsx

    lines = ["Acme age analysis", "", "Account,Name,Cell No,Current,30 Days,Total Balance"]
    lines += [f"A{i},Name {i},082 123 {i:04d},{i}.50,1.25,{i + 1}.75" for i in range(1, 40)]
    lines += ["A3,Again,,1,0,1", "B1,Bad,,x,0,1", "B2,Off,,1,1,5", ",,,,,", "Total,,,100,0,100"]
    if kind == "csv":
        path = tmp_path / "book.csv"
        path.write_text("\n".join(lines) + "\n")
    else:
        def cell(text: str) -> object:
            try:
                return float(text)
            except ValueError:
                return text or None
        path = write_xlsx(tmp_path / "book.xlsx", {"Debtors": [[cell(c) for c in line.split(",")] for line in lines]})
    with read_age_analysis(path) as reader:
        expected = list(reader)
    progress: list[int] = []
    with read_age_analysis(path, on_progress=progress.append, progress_every=10) as reader:
        blocks = list(reader.blocks(7))
    accounts = [row for block in blocks for row in block.rows()]
    errors = [error for block in blocks for error in block.errors]
    assert accounts == [r for r in expected if isinstance(r, AccountRow)]
    assert errors == [r for r in expected if isinstance(r, RowError)]
    assert [e.code for e in errors] == ["DUPLICATE_ACCOUNT", "INVALID_AMOUNT", "BALANCE_MISMATCH"]
    assert [e.sheet_row for e in errors] == [43, 44, 45]
    assert [a.sheet_row for a in accounts] == list(range(4, 43))
    assert progress[-1] == sum(block.rows_read for block in blocks) == 44
    with read_age_analysis(path, on_progress=progress.append, progress_every=10) as reader:
        progress.clear()
        tally = reader.tally(5, size=7)
        summary = reader.summary()
    # The first five accounts whole, every error, the rest counted; the same skipped lines.
    assert tally.accounts == accounts[:5] and tally.failed == errors
    assert (tally.account_count, tally.failed_count, tally.rows_read) == (len(accounts), 3, 44)
    assert tally.total_cents == sum(cents_of(a.total_balance) for a in accounts)
    assert progress[-1] == 44
    with read_age_analysis(path) as reader:
        expected_summary = (list(reader.blocks()), reader.summary())[1]
    assert summary == expected_summary


@pytest.mark.parametrize(("buckets", "total", "fails"), [
    ([0.01, 0.0], 0.0, False), ([0.02, 0.0], 0.0, True), ([100.0, 1.0], 100.0, False),
    ([100.0, 1.01], 100.0, True), ([-50.0, -0.5], -50.0, False), ([-50.0, -0.51], -50.0, True),
    ([0.1, 0.2], 0.3, False), (["", ""], 0.0, False),
])
def test_the_one_percent_boundary(buckets, total, fails) -> None:
    rows = [(2, ["A1", "N", "", "", buckets[0], buckets[1], 0.0, 0.0, 0.0, total])]
    accounts, errors = by_blocks(HEADER, rows, 10)
    assert (accounts, errors) == reference(HEADER, rows)
    assert bool(errors) is fails and (not fails or errors[0].code == "BALANCE_MISMATCH")


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(
    st.sampled_from(["0821234567", "082 123 4567", "+27 82 123 4567", "821234567", "", "n/a", "0821", "27821234567",
                     "+44 20 7946 0958", "0114561234", "+27 (0)11 456 1234", "0027 82 123 4567", "270821234567",
                     "082-123-4567", "082.123.4567 / 011 555 1234", "٠٨٢١٢٣٤٥٦٧",
                     "082 123\n4567", "+270821234567", "0800123456", "0861234567"]),
    st.from_regex(r"\+?[0-9 ()-]{0,14}", fullmatch=True)), max_size=30))
def test_read_phones_agrees_with_read_phone(texts) -> None:
    texts = [t.strip() for t in texts]
    digits, valid, sms = read_phones(texts)
    for index, text in enumerate(texts):
        _, number, ok = read_phone(text)
        assert (digits[index], valid[index]) == (number, ok)
        assert sms[index] is sms_reachable(number, ok)
