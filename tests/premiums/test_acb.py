"""ACB debit-order files, unpaids files, CSV bank answers and bank-detail validation."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from arrears.premiums.acb import (
    CONTRA,
    INSTALLATION_HEADER,
    INSTALLATION_TRAILER,
    RECORD_LENGTH,
    RECORD_SPECS,
    STANDARD_TRANSACTION,
    UNPAID,
    USER_HEADER,
    USER_TRAILER,
    AcbFormatError,
    DebitItem,
    Field,
    Kind,
    RecordSpec,
    RecordType,
    UnpaidItem,
    UserInfo,
    Value,
    build_debit_file,
    build_unpaids_file,
    hash_total,
    parse_answers_csv,
    parse_file,
    parse_record,
    parse_unpaids_file,
    to_cents,
    write_record,
)
from arrears.premiums.acb.layout import acb_text
from arrears.premiums.banking import (
    AccountType,
    BankDetailsError,
    acb_account_type_code,
    parse_account_type,
    validate_account_number,
    validate_branch_code,
)

GOLDEN = Path(__file__).parent / "golden"
HYPOTHESIS = settings(database=None, deadline=None, max_examples=200)

USER = UserInfo(
    user_code="9534",
    abbreviated_name="ARREARSCC",
    nominated_branch="580105",
    nominated_account="10012345678",
    generation_number=42,
)
ACTION = date(2024, 2, 1)
CREATED = date(2024, 1, 29)
ITEMS = [
    DebitItem("POL_000001", "051001", "1234567890", "current", Decimal("1500.00"), "Thandi Nkosi"),
    DebitItem("MAN_789012", "250655", "62012345678", "savings", Decimal("299.99"), "Pieter van der Merwe"),
    DebitItem("POL_000003", "470010", "1234567890123", "transmission", Decimal("0.01"), "Zoë Müller-Ndlovu"),
    DebitItem("POL_000004", "632005", "4051234567", AccountType.CURRENT, Decimal("12345678.90"),
              "Thembekile Nomvula Mahlangu-Dlamini"),
]


def golden_debit_text() -> str:
    return (GOLDEN / "debit_file.txt").read_text(encoding="ascii")


def build_golden() -> str:
    return build_debit_file(USER, ACTION, ITEMS, creation_date=CREATED, line_ending="\n")


def col(line: str, start: int, end: int) -> str:
    """Characters ``start``..``end`` (1-based, inclusive), as the ACB layout numbers them."""
    return line[start - 1:end]


def replace_cols(text: str, line_no: int, start: int, new: str) -> str:
    lines = text.split("\n")
    line = lines[line_no - 1]
    lines[line_no - 1] = line[:start - 1] + new + line[start - 1 + len(new):]
    return "\n".join(lines)


# --- the layout tables --------------------------------------------------------------------------


@pytest.mark.parametrize("spec", list(RECORD_SPECS.values()), ids=lambda s: s.record_type.value)
def test_every_record_spec_tiles_180_characters(spec: RecordSpec) -> None:
    position = 1
    for f in spec.fields:
        assert f.start == position
        assert f.width > 0
        position += f.width
    assert position == RECORD_LENGTH + 1
    assert spec.fields[0].constant == spec.record_id


def test_record_identifiers() -> None:
    assert {s.record_type: s.record_id for s in RECORD_SPECS.values()} == {
        RecordType.INSTALLATION_HEADER: "02",
        RecordType.USER_HEADER: "04",
        RecordType.STANDARD_TRANSACTION: "10",
        RecordType.CONTRA: "12",
        RecordType.UNPAID: "13",
        RecordType.USER_TRAILER: "92",
        RecordType.INSTALLATION_TRAILER: "94",
    }


def test_field_justification_follows_kind() -> None:
    amount = STANDARD_TRANSACTION.get_field("amount")
    name = STANDARD_TRANSACTION.get_field("homing_account_name")
    assert (amount.start, amount.width, amount.kind, amount.pad, amount.justify) == (48, 11, Kind.NUMERIC, "0", "right")
    assert (name.start, name.width, name.kind, name.pad, name.justify) == (101, 30, Kind.ALPHA, " ", "left")


def test_a_spec_with_a_gap_is_rejected() -> None:
    with pytest.raises(ValueError, match="starts at"):
        RecordSpec(RecordType.CONTRA, "12", (
            Field("record_identifier", 1, 2, Kind.NUMERIC, Value.DIGITS, constant="12"),
            Field("x", 4, 177, Kind.ALPHA),
        ))


# --- the golden debit file ----------------------------------------------------------------------


def test_writer_matches_the_golden_file() -> None:
    assert build_golden() == golden_debit_text()


def test_golden_records_are_180_characters_and_in_order() -> None:
    lines = golden_debit_text().split("\n")
    assert lines[-1] == ""
    records = lines[:-1]
    assert [len(r) for r in records] == [180] * 9
    assert [r[:2] for r in records] == ["02", "04", "10", "10", "10", "10", "12", "92", "94"]


def test_golden_installation_and_user_header_positions() -> None:
    h02, h04 = golden_debit_text().split("\n")[0:2]
    assert col(h02, 3, 6) == "0001"  # volume number
    assert col(h02, 7, 14) == "00000001"  # tape serial number
    assert col(h02, 15, 18) == "9534"  # installation id from
    assert col(h02, 19, 22) == "0021"  # installation id to
    assert col(h02, 23, 28) == "240129"  # creation date
    assert col(h02, 29, 34) == "240208"  # purge date: action date + 7
    assert col(h02, 35, 38) == "0042"  # generation number
    assert col(h02, 39, 42) == "1800"
    assert col(h02, 43, 46) == "0180"
    assert col(h02, 47, 56) == "MAGTAPE   "
    assert col(h02, 57, 180) == " " * 124

    assert col(h04, 3, 6) == "9534"
    assert col(h04, 7, 12) == "240129"
    assert col(h04, 13, 18) == "240208"
    assert col(h04, 19, 24) == "240201"  # first action date
    assert col(h04, 25, 30) == "240201"  # last action date
    assert col(h04, 31, 36) == "000001"  # first sequence number
    assert col(h04, 37, 40) == "0042"
    assert col(h04, 41, 50) == "TWO DAY   "
    assert col(h04, 51, 52) == "YY"
    assert col(h04, 53, 180) == " " * 128


def test_golden_standard_transaction_positions() -> None:
    records = golden_debit_text().split("\n")
    first = records[2]
    assert col(first, 1, 2) == "10"
    assert col(first, 3, 8) == "580105"  # user branch
    assert col(first, 9, 19) == "10012345678"  # user nominated account
    assert col(first, 20, 23) == "9534"  # user code
    assert col(first, 24, 29) == "000001"  # sequence number
    assert col(first, 30, 35) == "051001"  # homing branch
    assert col(first, 36, 46) == "01234567890"  # homing account, zero-filled
    assert col(first, 47, 47) == "1"  # current
    assert col(first, 48, 58) == "00000150000"  # R1500.00 in cents
    assert col(first, 59, 64) == "240201"  # action date
    assert col(first, 65, 66) == "44"  # entry class
    assert col(first, 67, 67) == "0"  # tax code
    assert col(first, 68, 70) == "000"
    assert col(first, 71, 80) == "ARREARSCC "  # abbreviated name
    assert col(first, 81, 100) == "POL_000001".ljust(20)  # policy reference
    assert col(first, 101, 130) == "THANDI NKOSI".ljust(30)
    assert col(first, 131, 150) == "0" * 20  # non-standard account unused
    assert col(first, 151, 166) == " " * 16
    assert col(first, 167, 168) == "21"
    assert col(first, 169, 180) == " " * 12

    savings = records[3]
    assert col(savings, 47, 47) == "2"
    assert col(savings, 48, 58) == "00000029999"

    non_standard = records[4]
    assert col(non_standard, 36, 46) == "0" * 11  # too long for the standard field...
    assert col(non_standard, 131, 150) == "00000001234567890123"  # ...so it goes here
    assert col(non_standard, 47, 47) == "3"  # transmission
    assert col(non_standard, 101, 130) == "ZOE MULLER-NDLOVU".ljust(30)  # accents dropped

    long_name = records[5]
    assert col(long_name, 101, 130) == "THEMBEKILE NOMVULA MAHLANGU-DL"  # cut at 30
    assert col(long_name, 48, 58) == "01234567890"  # R12 345 678.90


def test_golden_contra_and_trailer_positions() -> None:
    contra, trailer92, trailer94 = golden_debit_text().split("\n")[6:9]
    assert col(contra, 1, 2) == "12"
    assert col(contra, 24, 29) == "000005"
    assert col(contra, 30, 35) == "580105"  # homing = the user's own account
    assert col(contra, 36, 46) == "10012345678"
    assert col(contra, 47, 47) == "1"
    assert col(contra, 48, 58) == "01234747890"  # sum of the four debits
    assert col(contra, 65, 66) == "10"
    assert col(contra, 67, 70) == "0000"
    assert col(contra, 71, 100) == "ARREARSCC CONTRA 240201".ljust(30)
    assert col(contra, 101, 180) == " " * 80

    assert col(trailer92, 3, 6) == "9534"
    assert col(trailer92, 7, 12) == "000001"
    assert col(trailer92, 13, 18) == "000005"
    assert col(trailer92, 19, 30) == "240201240201"
    assert col(trailer92, 31, 36) == "000004"  # debit records
    assert col(trailer92, 37, 42) == "000001"  # credit records
    assert col(trailer92, 43, 48) == "000001"  # contra records
    assert col(trailer92, 49, 60) == "001234747890"
    assert col(trailer92, 61, 72) == "001234747890"
    # 1234567890 + 62012345678 + 34567890123 (rightmost 11 digits of 1234567890123)
    # + 4051234567 + 10012345678 (the contra's account) = 111878383936
    assert col(trailer92, 73, 84) == "111878383936"

    assert col(trailer94, 3, 56) == col(golden_debit_text().split("\n")[0], 3, 56)
    assert col(trailer94, 57, 62) == "000001"  # block count
    assert col(trailer94, 63, 68) == "000009"  # record count
    assert col(trailer94, 69, 74) == "000002"  # user header + trailer


def test_golden_file_parses_back_to_the_items() -> None:
    parsed = parse_file(golden_debit_text())
    assert len(parsed.user_sets) == 1
    got = [
        (t.reference, t.homing_branch, t.homing_account_number, t.account_type, t.amount, t.homing_account_name)
        for t in parsed.transactions
    ]
    assert got == [
        ("POL_000001", "051001", "1234567890", AccountType.CURRENT, Decimal("1500.00"), "THANDI NKOSI"),
        ("MAN_789012", "250655", "62012345678", AccountType.SAVINGS, Decimal("299.99"), "PIETER VAN DER MERWE"),
        ("POL_000003", "470010", "1234567890123", AccountType.TRANSMISSION, Decimal("0.01"), "ZOE MULLER-NDLOVU"),
        ("POL_000004", "632005", "4051234567", AccountType.CURRENT, Decimal("12345678.90"),
         "THEMBEKILE NOMVULA MAHLANGU-DL"),
    ]
    assert [t.sequence_number for t in parsed.transactions] == [1, 2, 3, 4]
    assert {t.action_date for t in parsed.transactions} == {ACTION}
    assert {t.abbreviated_name for t in parsed.transactions} == {"ARREARSCC"}
    assert parsed.total_amount == Decimal("12347478.90")
    (contra,) = parsed.contras
    assert (contra.sequence_number, contra.amount, contra.homing_account_number) == (
        5, Decimal("12347478.90"), "10012345678")
    trailer = parsed.user_sets[0].trailer
    assert trailer["hash_total_of_homing_account_numbers"] == 111878383936
    assert trailer["no_of_debit_records"] == 4
    assert parsed.installation_header["creation_date"] == CREATED
    assert parsed.installation_trailer["record_count"] == 9


def test_parse_record_round_trips_every_golden_line() -> None:
    for line in golden_debit_text().split("\n")[:-1]:
        record_type, values = parse_record(line)
        assert write_record(RECORD_SPECS[record_type], values) == line


def test_default_line_ending_is_crlf_and_parses() -> None:
    text = build_debit_file(USER, ACTION, ITEMS, creation_date=CREATED)
    assert text.count("\r\n") == 9 and text.endswith("\r\n")
    assert text.replace("\r\n", "\n") == golden_debit_text()
    assert parse_file(text).transactions == parse_file(golden_debit_text()).transactions


def test_parser_accepts_bytes_and_right_trimmed_records() -> None:
    trimmed = "\n".join(line.rstrip(" ") for line in golden_debit_text().split("\n"))
    assert len(trimmed.split("\n")[0]) < 180
    assert parse_file(trimmed.encode("ascii")).transactions == parse_file(golden_debit_text()).transactions


# --- the parser refuses bad files, naming the line and field ------------------------------------


@pytest.mark.parametrize(
    ("line_no", "start", "new", "message", "field"),
    [
        (8, 73, "111878383937", "user trailer says", "hash_total_of_homing_account_numbers"),
        (8, 31, "000005", "user trailer says", "no_of_debit_records"),
        (8, 49, "001234747891", "user trailer says", "total_debit_value"),
        (3, 48, "00000150001", "user trailer says", "total_debit_value"),  # an amount changed after totalling
        (4, 24, "000007", "does not follow", "user_sequence_number"),
        (3, 48, "0000015000X", "expected 11 digits", "amount"),
        (3, 59, "240230", "invalid date", "action_date"),
        (3, 47, "7", "invalid ACB account type", "account_type"),
        (3, 20, "9999", "user code differs", "user_code"),
        (9, 63, "000010", "installation trailer says", "record_count"),
        (9, 23, "240130", "differs from the installation header", "creation_date"),
        (2, 31, "000002", "first sequence number", "first_sequence_number"),
    ],
)
def test_parser_rejects_tampered_files(line_no: int, start: int, new: str, message: str, field: str) -> None:
    bad = replace_cols(golden_debit_text(), line_no, start, new)
    with pytest.raises(AcbFormatError, match=message) as caught:
        parse_file(bad)
    assert caught.value.field == field
    assert caught.value.line is not None


def test_parser_rejects_a_contra_that_does_not_balance_its_debits() -> None:
    text = golden_debit_text()
    # Move R0.01 from the contra's debits onto the contra and the credit total: the trailer
    # balances against the records, but the contra no longer equals the debits before it.
    bad = replace_cols(text, 7, 48, "01234747891")
    bad = replace_cols(bad, 8, 61, "001234747891")
    with pytest.raises(AcbFormatError, match="contra amount") as caught:
        parse_file(bad)
    assert caught.value.line == 7


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda lines: lines[:-1], "must end with an installation trailer"),
        (lambda lines: lines[1:], "must start with an installation header"),
        (lambda lines: [lines[0] + " ", *lines[1:]], "181 characters"),
        (lambda lines: [lines[0], "55" + lines[1][2:], *lines[2:]], "unknown record identifier"),
        (lambda lines: [*lines[:2], *lines[7:]], "no transaction records"),
        (lambda lines: [lines[0], lines[2], *lines[1:2], *lines[3:]], "outside a user set"),
        (lambda lines: [*lines[:6], *lines[7:]], "user trailer says"),
        (lambda lines: [*lines[:7], lines[8]], "not closed by a user trailer"),
        (lambda lines: [*lines[:3], "", *lines[3:]], "empty line"),
    ],
)
def test_parser_rejects_broken_structure(mutate: Callable[[list[str]], list[str]], message: str) -> None:
    lines = golden_debit_text().split("\n")[:-1]
    with pytest.raises(AcbFormatError, match=message):
        parse_file("\n".join(mutate(lines)) + "\n")


def test_parser_rejects_an_empty_file_and_non_ascii_bytes() -> None:
    with pytest.raises(AcbFormatError, match="empty"):
        parse_file("\n\n")
    with pytest.raises(AcbFormatError, match="not ASCII"):
        parse_file(golden_debit_text().replace("THANDI", "THÁNDI").encode("utf-8"))


def test_debit_parser_refuses_unpaid_records() -> None:
    with pytest.raises(AcbFormatError, match="unexpected unpaid record"):
        parse_file((GOLDEN / "unpaids_file.txt").read_text(encoding="ascii"))


# --- write_record is strict ---------------------------------------------------------------------


def _contra_values() -> dict[str, object]:
    return {
        "user_branch": "580105", "user_nominated_account": 10012345678, "user_code": "9534",
        "user_sequence_number": 5, "homing_branch": "580105", "homing_account_number": 10012345678,
        "amount": 100, "action_date": ACTION, "user_reference": "ARREARSCC CONTRA",
    }


def test_write_record_uses_defaults_for_constant_like_fields() -> None:
    line = write_record(CONTRA, _contra_values())
    assert len(line) == 180
    assert col(line, 47, 47) == "1" and col(line, 65, 66) == "10"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"bogus": 1}, "unknown fields"),
        ({"record_identifier": "12"}, "unknown fields"),
        ({"amount": 10**11}, "longer than 11"),
        ({"amount": -1}, "negative"),
        ({"amount": Decimal("1.00")}, "expected an integer"),
        ({"amount": True}, "expected an integer"),
        ({"user_branch": "58010"}, "exactly 6 digits"),
        ({"user_branch": "58O105"}, "digits"),
        ({"user_reference": "X" * 31}, "longer than 30"),
        ({"user_reference": "CAFÉ"}, "printable ASCII"),
        ({"user_reference": "LINE\nBREAK"}, "printable ASCII"),
        ({"action_date": "240201"}, "expected a date"),
        ({"action_date": date(1999, 12, 31)}, "YYMMDD"),
    ],
)
def test_write_record_rejects_bad_values(change: dict[str, object], message: str) -> None:
    with pytest.raises(AcbFormatError, match=message):
        write_record(CONTRA, _contra_values() | change)


def test_write_record_requires_fields_without_defaults() -> None:
    values = _contra_values()
    del values["amount"]
    with pytest.raises(AcbFormatError, match="missing value") as caught:
        write_record(CONTRA, values)
    assert caught.value.field == "amount"


# --- property: every record round-trips ---------------------------------------------------------

PRINTABLE = st.characters(min_codepoint=0x20, max_codepoint=0x7E)


def value_strategy(f: Field) -> st.SearchStrategy[object]:
    match f.value:
        case Value.INT:
            return st.integers(min_value=0, max_value=10**f.width - 1)
        case Value.DIGITS:
            return st.text(alphabet="0123456789", min_size=f.width, max_size=f.width)
        case Value.DATE:
            return st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31))
        case Value.TEXT:
            # Trailing blanks are padding, so a value cannot end with one.
            return st.text(alphabet=PRINTABLE, max_size=f.width).map(lambda s: s.rstrip(" "))
    raise AssertionError(f.value)


@st.composite
def spec_and_values(draw: st.DrawFn) -> tuple[RecordSpec, dict[str, object]]:
    spec = draw(st.sampled_from([INSTALLATION_HEADER, USER_HEADER, STANDARD_TRANSACTION, CONTRA, UNPAID,
                                 USER_TRAILER, INSTALLATION_TRAILER]))
    return spec, {f.name: draw(value_strategy(f)) for f in spec.value_fields}


@HYPOTHESIS
@given(spec_and_values())
def test_any_record_round_trips(case: tuple[RecordSpec, dict[str, object]]) -> None:
    spec, values = case
    line = write_record(spec, values)
    assert len(line) == RECORD_LENGTH
    assert line[:2] == spec.record_id
    record_type, parsed = parse_record(line)
    assert record_type is spec.record_type
    assert parsed == values
    for f in spec.value_fields:  # each value sits in its own columns, justified and padded by kind
        columns = line[f.start - 1:f.end]
        value = values[f.name]
        if f.value is Value.INT:
            assert columns == str(value).zfill(f.width)
        elif f.value is Value.DATE:
            assert isinstance(value, date) and columns == value.strftime("%y%m%d")
        elif f.value is Value.DIGITS:
            assert columns == value
        else:
            assert columns == str(value).ljust(f.width)


# --- property: whole debit files round-trip, with their counts, totals and hash -----------------

references = st.from_regex(r"[!-~]([ -~]{0,18}[!-~])?", fullmatch=True)
branches = st.from_regex(r"[0-9]{6}", fullmatch=True).filter(lambda b: int(b) != 0)
accounts = st.integers(min_value=100_000, max_value=10**16 - 1).map(str)  # 6-16 digits, no leading zero
names = st.text(st.characters(categories=("L", "Nd", "Zs", "Pd", "Po")), min_size=1, max_size=40).filter(acb_text)
debit_items = st.builds(
    DebitItem,
    reference=references,
    homing_branch=branches,
    homing_account_number=accounts,
    account_type=st.sampled_from(list(AccountType)),
    amount=st.integers(min_value=1, max_value=10**9).map(lambda cents: Decimal(cents).scaleb(-2)),
    homing_account_name=names,
)


@HYPOTHESIS
@given(
    items=st.lists(debit_items, min_size=1, max_size=30),
    first_sequence=st.integers(min_value=1, max_value=5000),
    crlf=st.booleans(),
)
def test_any_debit_file_round_trips(items: list[DebitItem], first_sequence: int, crlf: bool) -> None:
    text = build_debit_file(USER, ACTION, items, creation_date=CREATED, first_sequence_number=first_sequence,
                            line_ending="\r\n" if crlf else "\n")
    records = text.split("\r\n" if crlf else "\n")[:-1]
    assert all(len(r) == 180 for r in records)
    parsed = parse_file(text)

    assert [(t.reference, t.homing_branch, t.homing_account_number, t.account_type, t.amount)
            for t in parsed.transactions] == [
        (i.reference, i.homing_branch, i.homing_account_number, i.account_type, i.amount) for i in items
    ]
    assert [t.homing_account_name for t in parsed.transactions] == [acb_text(i.homing_account_name, 30)
                                                                    for i in items]
    assert [t.sequence_number for t in parsed.transactions] == list(
        range(first_sequence, first_sequence + len(items)))

    cents = sum(int(i.amount * 100) for i in items)
    expected_hash = (sum(int(i.homing_account_number[-11:]) for i in items) + int(USER.nominated_account)) % 10**12
    trailer = parsed.user_sets[0].trailer
    assert trailer["no_of_debit_records"] == len(items)
    assert trailer["no_of_credit_records"] == trailer["no_of_contra_records"] == 1
    assert trailer["total_debit_value"] == trailer["total_credit_value"] == cents
    assert trailer["hash_total_of_homing_account_numbers"] == expected_hash
    assert trailer["last_sequence_number"] == first_sequence + len(items)
    assert parsed.installation_trailer["record_count"] == len(items) + 5 == len(records)  # 02 04 10… 12 92 94
    assert parsed.installation_trailer["block_count"] == -(-len(records) // 10)


@pytest.mark.parametrize(
    ("raw", "width", "expected"),
    [
        ("Zoë  Müller", None, "ZOE MULLER"),
        ("Straße", None, "STRASSE"),
        ("Ngũgĩ wa Thiong'o", None, "NGUGI WA THIONG'O"),
        ("  J\tSmith\n", None, "J SMITH"),
        ("Abcdefghij klmnop", 11, "ABCDEFGHIJ"),  # the cut leaves no trailing blank
        ("株式会社", None, ""),
    ],
)
def test_acb_text_cleans_names(raw: str, width: int | None, expected: str) -> None:
    assert acb_text(raw, width) == expected


def test_hash_total_keeps_the_rightmost_12_digits() -> None:
    assert hash_total([99_999_999_999] * 20) == 1_999_999_999_980 % 10**12 == 999_999_999_980
    assert hash_total(["1234567890123", "1"]) == 34_567_890_123 + 1  # non-standard: rightmost 11 digits
    assert hash_total([]) == 0


# --- build_debit_file validation ----------------------------------------------------------------


def test_to_cents_is_exact_and_refuses_floats() -> None:
    assert to_cents(Decimal("10.5")) == 1050
    assert to_cents(Decimal("0.01")) == 1
    assert to_cents(Decimal("999999999.99")) == 99_999_999_999
    for bad, message in [(Decimal("10.005"), "more than 2 decimal places"), (Decimal("0"), "more than 0"),
                         (Decimal("-5.00"), "more than 0"), (Decimal("1000000000.00"), "at most"),
                         (Decimal("NaN"), "invalid amount")]:
        with pytest.raises(AcbFormatError, match=message):
            to_cents(bad)
    with pytest.raises(AcbFormatError, match="must be a Decimal"):
        to_cents(10.5)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("item_change", "message", "field"),
    [
        ({"homing_branch": "12345"}, "item 1 .*branch code must be exactly 6 digits", "branch_code"),
        ({"homing_account_number": "12-34x"}, "item 1 .*digits only", "account_number"),
        ({"account_type": "bond"}, "item 1 .*invalid account type", "account_type"),
        ({"reference": "R" * 21}, "longer than 20", "reference"),
        ({"reference": " POL_1"}, "leading or trailing spaces", "reference"),
        ({"reference": ""}, "reference is required", "reference"),
        ({"amount": Decimal("1.001")}, "item 1 .*2 decimal places", "amount"),
        ({"homing_account_name": "株式会社"}, "name is required", "homing_account_name"),
    ],
)
def test_build_refuses_bad_items(item_change: dict[str, object], message: str, field: str) -> None:
    items = [ITEMS[0], replace(ITEMS[1], **item_change)]  # type: ignore[arg-type]
    with pytest.raises(AcbFormatError, match=message) as caught:
        build_debit_file(USER, ACTION, items, creation_date=CREATED)
    assert caught.value.field == field


def test_build_refuses_bad_runs() -> None:
    with pytest.raises(AcbFormatError, match="at least one item"):
        build_debit_file(USER, ACTION, [], creation_date=CREATED)
    with pytest.raises(AcbFormatError, match="before the creation date"):
        build_debit_file(USER, date(2024, 1, 28), ITEMS, creation_date=CREATED)
    with pytest.raises(AcbFormatError, match="purge date"):
        build_debit_file(USER, ACTION, ITEMS, creation_date=CREATED, purge_date=date(2024, 1, 31))
    with pytest.raises(AcbFormatError, match="do not fit"):
        build_debit_file(USER, ACTION, ITEMS, creation_date=CREATED, first_sequence_number=999_996)
    with pytest.raises(AcbFormatError, match="do not fit"):
        build_debit_file(USER, ACTION, ITEMS, creation_date=CREATED, first_sequence_number=0)
    with pytest.raises(AcbFormatError, match="split the run"):
        big = [replace(ITEMS[0], amount=Decimal("999999999.99"))] * 2
        build_debit_file(USER, ACTION, big, creation_date=CREATED)
    with pytest.raises(AcbFormatError, match="line ending"):
        build_debit_file(USER, ACTION, ITEMS, creation_date=CREATED, line_ending="\r")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"user_code": "95345"}, "user_code"),
        ({"user_code": "95 4"}, "user_code"),
        ({"abbreviated_name": "ELEVENCHARS"}, "abbreviated_name"),
        ({"abbreviated_name": "  "}, "abbreviated_name"),
        ({"nominated_branch": "58010"}, "nominated_branch"),
        ({"nominated_account": "123456789012"}, "nominated_account"),
        ({"generation_number": 10_000}, "generation_number"),
        ({"entry_class": "4"}, "entry_class"),
    ],
)
def test_build_refuses_bad_user_info(change: dict[str, object], field: str) -> None:
    with pytest.raises(AcbFormatError) as caught:
        build_debit_file(replace(USER, **change), ACTION, ITEMS, creation_date=CREATED)  # type: ignore[arg-type]
    assert caught.value.field == field


# --- unpaids files ------------------------------------------------------------------------------

UNPAID_ON = date(2024, 2, 5)
UNPAIDS = [
    UnpaidItem(1, "POL_000001", "051001", "1234567890", "current", Decimal("1500.00"), ACTION, "Thandi Nkosi",
               "02", UNPAID_ON),
    UnpaidItem(2, "MAN_789012", "250655", "62012345678", "savings", Decimal("299.99"), ACTION,
               "Pieter van der Merwe", "12", UNPAID_ON),
    UnpaidItem(3, "POL_000003", "470010", "1234567890123", "transmission", Decimal("0.01"), ACTION,
               "Zoë Müller-Ndlovu", "99", UNPAID_ON),
]


def golden_unpaids_text() -> str:
    return (GOLDEN / "unpaids_file.txt").read_text(encoding="ascii")


def test_unpaids_writer_matches_the_golden_file() -> None:
    assert build_unpaids_file(USER, UNPAIDS, creation_date=UNPAID_ON, line_ending="\n") == golden_unpaids_text()


def test_golden_unpaid_record_positions() -> None:
    lines = golden_unpaids_text().split("\n")
    assert [len(line) for line in lines[:-1]] == [180] * 7
    first = lines[2]
    assert col(first, 1, 2) == "13"
    assert col(first, 24, 29) == "000001"  # the original sequence number
    assert col(first, 71, 100) == "ARREARSCC POL_000001".ljust(30)
    assert col(first, 151, 152) == "02"  # reason code
    assert col(first, 153, 158) == "240205"  # returned on
    assert col(first, 159, 166) == " " * 8
    assert col(first, 167, 168) == "21"
    trailer = lines[5]
    assert col(trailer, 31, 48) == "000003000000000000"  # 3 debits, no credits or contras
    assert col(trailer, 49, 72) == "000000180000" + "0" * 12
    assert col(trailer, 73, 84) == "097814803691"


def test_unpaids_file_parses_known_and_unknown_codes() -> None:
    parsed = parse_unpaids_file(golden_unpaids_text())
    got = [(u.reference, u.sequence_number, u.amount, u.reason_code, u.reason.text, u.reason.known)
           for u in parsed.unpaids]
    assert got == [
        ("POL_000001", 1, Decimal("1500.00"), "02", "Not provided for", True),
        ("MAN_789012", 2, Decimal("299.99"), "12", "Account closed", True),
        ("POL_000003", 3, Decimal("0.01"), "99", "Unknown unpaid reason code 99", False),
    ]
    assert parsed.unknown_codes == ("99",)
    assert parsed.unpaids[0].reason.retryable is True
    assert parsed.unpaids[1].reason.retryable is False
    assert {u.unpaid_date for u in parsed.unpaids} == {UNPAID_ON}
    assert {u.action_date for u in parsed.unpaids} == {ACTION}
    assert parsed.unpaids[2].homing_account_number == "1234567890123"


def test_unpaids_sequence_numbers_need_not_be_consecutive() -> None:
    items = [replace(UNPAIDS[0], user_sequence_number=17), replace(UNPAIDS[1], user_sequence_number=4)]
    parsed = parse_unpaids_file(build_unpaids_file(USER, items, creation_date=UNPAID_ON))
    assert [u.sequence_number for u in parsed.unpaids] == [17, 4]


def test_an_unpaids_file_without_unpaids() -> None:
    text = build_unpaids_file(USER, [], creation_date=UNPAID_ON)
    assert [line[:2] for line in text.split("\r\n")[:-1]] == ["02", "94"]
    parsed = parse_unpaids_file(text)
    assert parsed.unpaids == () and parsed.user_headers == ()
    assert parsed.installation_trailer["user_header_trailer_count"] == 0


def test_unpaids_parser_checks_trailer_and_dates() -> None:
    bad_hash = replace_cols(golden_unpaids_text(), 6, 73, "097814803692")
    with pytest.raises(AcbFormatError, match="user trailer says"):
        parse_unpaids_file(bad_hash)
    returned_early = replace_cols(golden_unpaids_text(), 3, 153, "240131")
    with pytest.raises(AcbFormatError, match="before the action date") as caught:
        parse_unpaids_file(returned_early)
    assert caught.value.line == 3
    with pytest.raises(AcbFormatError, match="unexpected standard_transaction"):
        parse_unpaids_file(golden_debit_text())


def test_unpaids_builder_refuses_malformed_codes() -> None:
    with pytest.raises(AcbFormatError, match="unpaid 0: .*two digits"):
        build_unpaids_file(USER, [replace(UNPAIDS[0], reason_code="ABC")], creation_date=UNPAID_ON)


# --- CSV bank answers ---------------------------------------------------------------------------


def test_csv_answers() -> None:
    text = (
        "Reference,Amount,Status,Reason,Bank note\n"
        "COL_000001,1500.00,successful,,ok\n"
        "COL_000002,\"R 1,299.99\",FAILED,02,\n"
        "COL_000003,50,unpaid,12 Account closed,\n"
        "COL_000004,0.01,Rejected,Account effects not cleared,\n"
        "COL_000005,,failed,99 - Something new,\n"
        "COL_000006,10.00,returned,customer asked us to stop,\n"
        "\n"
        "COL_000007,10.00,Paid,,\n"
    )
    result = parse_answers_csv(text)
    assert result.errors == []
    got = [(a.line, a.reference, a.status, a.amount, a.reason, a.reason_code) for a in result.answers]
    assert got == [
        (2, "COL_000001", "successful", Decimal("1500.00"), None, None),
        (3, "COL_000002", "failed", Decimal("1299.99"), "02", "02"),
        (4, "COL_000003", "failed", Decimal("50.00"), "12 Account closed", "12"),
        (5, "COL_000004", "failed", Decimal("0.01"), "Account effects not cleared", "22"),
        (6, "COL_000005", "failed", None, "99 - Something new", "99"),
        (7, "COL_000006", "failed", Decimal("10.00"), "customer asked us to stop", None),
        (9, "COL_000007", "successful", Decimal("10.00"), None, None),
    ]


def test_csv_answers_report_each_bad_row_and_keep_the_rest() -> None:
    text = (
        "reference;amount;status;reason\n"
        "COL_1;100,00;failed;02\n"
        "COL_2;100.00;pending;\n"
        ";100.00;failed;02\n"
        "COL_3;1.234;failed;02\n"
        "COL_4;-5.00;failed;02\n"
        "COL_5;100.00;successful;\n"
    )
    result = parse_answers_csv(text)
    assert [a.reference for a in result.answers] == ["COL_5"]
    assert [(e.line, e.message) for e in result.errors] == [
        (2, "COL_1: invalid amount '100,00'"),
        (3, "COL_2: unknown status 'pending'"),
        (4, "reference is empty"),
        (5, "COL_3: invalid amount '1.234'"),
        (6, "COL_4: invalid amount '-5.00'"),
    ]


def test_csv_answers_decode_bytes() -> None:
    utf8 = "\ufeffreference,amount,status,reason\nCOL_1,1.00,failed,Authorisation cancelled\n".encode()
    (answer,) = parse_answers_csv(utf8).answers
    assert (answer.reference, answer.reason_code) == ("COL_1", "34")
    cp1252 = "reference\tstatus\treason\nCOL_é\tfailed\tNo such account\n".encode("cp1252")
    (answer,) = parse_answers_csv(cp1252).answers
    assert (answer.reference, answer.amount, answer.reason_code) == ("COL_é", None, "26")


def test_csv_answers_need_reference_and_status_columns() -> None:
    with pytest.raises(AcbFormatError, match="missing column.*status"):
        parse_answers_csv("reference,amount,reason\nCOL_1,1.00,\n")
    with pytest.raises(AcbFormatError, match="empty"):
        parse_answers_csv("")


# --- bank details -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("051001", "051001"), (" 250655 ", "250655"), ("632 005", "632005"), ("580-105", "580105"), (470010, "470010")],
)
def test_valid_branch_codes(raw: str | int, expected: str) -> None:
    assert validate_branch_code(raw) == expected


@pytest.mark.parametrize("raw", ["", "12345", "1234567", "05100A", "000000", "05100１", "051.001", None, True])
def test_invalid_branch_codes(raw: object) -> None:
    with pytest.raises(BankDetailsError) as caught:
        validate_branch_code(raw)  # type: ignore[arg-type]
    assert caught.value.field == "branch_code"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("123456", "123456"), ("1234567890123456", "1234567890123456"), ("62 0123 4567", "6201234567"),
     ("0012345678", "0012345678"), (1234567890, "1234567890")],
)
def test_valid_account_numbers(raw: str | int, expected: str) -> None:
    assert validate_account_number(raw) == expected


@pytest.mark.parametrize("raw", ["12345", "12345678901234567", "12345678x", "0000000", "", "１２３４５６７"])
def test_invalid_account_numbers(raw: str) -> None:
    with pytest.raises(BankDetailsError) as caught:
        validate_account_number(raw)
    assert caught.value.field == "account_number"


def test_account_types_map_to_acb_codes() -> None:
    assert [acb_account_type_code(t) for t in ("current", "savings", "transmission")] == [1, 2, 3]
    assert parse_account_type(" Cheque ") is AccountType.CURRENT
    assert parse_account_type("SAVINGS") is AccountType.SAVINGS
    assert [AccountType.from_acb_code(code) for code in (1, "2", 3)] == list(AccountType)
    for bad in ("bond", "", "1"):
        with pytest.raises(BankDetailsError):
            parse_account_type(bad)
    for bad_code in (0, 4, "x"):
        with pytest.raises(BankDetailsError):
            AccountType.from_acb_code(bad_code)
