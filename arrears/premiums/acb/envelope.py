"""What every ACB file shares: the user's details, the installation and user header/trailer
records around the transactions, money in cents, the hash total, and the structural checks a
parser makes before trusting a file."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from arrears.premiums.acb.errors import AcbFormatError
from arrears.premiums.acb.layout import (
    INSTALLATION_HEADER,
    INSTALLATION_TRAILER,
    RECORD_LENGTH,
    RECORD_SPECS,
    USER_HEADER,
    USER_TRAILER,
    RecordType,
    write_record,
)
from arrears.premiums.acb.layout import parse_record as _parse_record
from arrears.premiums.banking import BankDetailsError, validate_account_number, validate_branch_code

CENT = Decimal("0.01")
#: The amount field is 11 digits of cents.
MAX_AMOUNT = Decimal("999999999.99")
HASH_TOTAL_DIGITS = 12
_HASH_TOTAL_MODULUS = 1_000_000_000_000  # 10**12
_HASH_ACCOUNT_MODULUS = 100_000_000_000  # 10**11: the rightmost 11 digits
BLOCK_LENGTH = 1800
_HASH_ACCOUNT_DIGITS = 11
_USER_CODE = re.compile(r"^[A-Z0-9]{4}$")

#: Records that debit the homing account (counted as debit records in the user trailer).
DEBIT_RECORD_TYPES = frozenset({RecordType.STANDARD_TRANSACTION, RecordType.UNPAID})
TRANSACTION_RECORD_TYPES = frozenset({RecordType.STANDARD_TRANSACTION, RecordType.CONTRA, RecordType.UNPAID})


@dataclass(frozen=True, slots=True)
class UserInfo:
    """The ACB user (the collecting business) as registered with BankservAfrica.

    ``user_code``: the 4-character ACB user code. ``abbreviated_name``: the user abbreviated name
    (at most 10 characters) that starts every user reference and shows on the payer's statement.
    ``nominated_branch``/``nominated_account``: the user's own account, credited by the contra
    record. ``generation_number``: the user generation number, the last one the bank accepted + 1.
    The installation fields default to the user's (``installation_id_from`` = user code,
    ``installation_generation_number`` = user generation number).
    """

    user_code: str
    abbreviated_name: str
    nominated_branch: str
    nominated_account: str
    generation_number: int
    type_of_service: str = "TWO DAY"
    entry_class: str = "44"
    installation_id_from: str | None = None
    installation_id_to: str = "0021"
    installation_generation_number: int | None = None
    volume_number: int = 1
    tape_serial_number: int = 1

    def validated(self) -> UserInfo:
        """Check every field (raising AcbFormatError) and return self."""
        if not _USER_CODE.match(self.user_code):
            raise AcbFormatError(f"user code must be 4 upper-case letters or digits, got {self.user_code!r}",
                                 field="user_code")
        name = self.abbreviated_name
        if not name.strip() or len(name) > 10 or not all(" " <= ch <= "~" for ch in name):
            raise AcbFormatError(f"abbreviated name must be 1-10 printable ASCII characters, got {name!r}",
                                 field="abbreviated_name")
        try:
            validate_branch_code(self.nominated_branch)
            account = validate_account_number(self.nominated_account)
        except BankDetailsError as exc:
            raise AcbFormatError(exc.message, field="nominated_" + exc.field.split("_")[0]) from None
        if len(account) > _HASH_ACCOUNT_DIGITS:
            raise AcbFormatError("the nominated account must fit the 11-digit ACB account field",
                                 field="nominated_account")
        for label, number in (("generation_number", self.generation_number),
                              ("installation_generation_number", self.installation_generation_number)):
            if number is not None and not 1 <= number <= 9999:
                raise AcbFormatError(f"must be 1-9999, got {number}", field=label)
        if not re.fullmatch(r"\d{2}", self.entry_class):
            raise AcbFormatError(f"entry class must be 2 digits, got {self.entry_class!r}", field="entry_class")
        return self


def to_cents(amount: Decimal) -> int:
    """A positive Rand amount as integer cents. Floats and sub-cent amounts are refused, not rounded."""
    if isinstance(amount, float) or not isinstance(amount, Decimal):
        raise AcbFormatError(f"amount must be a Decimal, got {type(amount).__name__}", field="amount")
    if not amount.is_finite():
        raise AcbFormatError(f"invalid amount {amount}", field="amount")
    try:
        cents = amount.quantize(CENT, rounding=ROUND_HALF_UP)
    except InvalidOperation:
        raise AcbFormatError(f"invalid amount {amount}", field="amount") from None
    if cents != amount:
        raise AcbFormatError(f"amount {amount} has more than 2 decimal places", field="amount")
    if not Decimal(0) < cents <= MAX_AMOUNT:
        raise AcbFormatError(f"amount must be more than 0 and at most {MAX_AMOUNT}, got {amount}", field="amount")
    return int(cents * 100)


def from_cents(cents: int) -> Decimal:
    return (Decimal(cents) / 100).quantize(CENT)


def hash_total(account_numbers: Iterable[int | str]) -> int:
    """The ACB hash total of homing account numbers.

    The rule implemented: take each homing account number of every standard transaction, contra
    (and, in unpaid files, unpaid) record as an integer; for a non-standard account (more than 11
    digits) take its rightmost 11 digits; add them all up and keep the rightmost 12 digits of the
    sum (``sum mod 10**12``).
    """
    total = 0
    for number in account_numbers:
        total += int(number) % _HASH_ACCOUNT_MODULUS
    return total % _HASH_TOTAL_MODULUS


def record_account(values: dict[str, Any]) -> int:
    """The account number a transaction record carries, for the hash total."""
    non_standard = values.get("non_standard_homing_account_number", 0)
    return int(non_standard) if non_standard else int(values["homing_account_number"])


# --- writing ------------------------------------------------------------------------------------


def installation_values(user: UserInfo, creation_date: date, purge_date: date) -> dict[str, Any]:
    return {
        "volume_number": user.volume_number,
        "tape_serial_number": user.tape_serial_number,
        "installation_id_from": user.installation_id_from or user.user_code,
        "installation_id_to": user.installation_id_to,
        "creation_date": creation_date,
        "purge_date": purge_date,
        "installation_generation_number": user.installation_generation_number or user.generation_number,
    }


def user_set_records(
    user: UserInfo,
    *,
    creation_date: date,
    purge_date: date,
    first_sequence_number: int,
    transactions: Sequence[tuple[RecordType, dict[str, Any]]],
    type_of_service: str | None = None,
) -> list[str]:
    """User header, the transaction records (already complete value dicts), user trailer."""
    action_dates = [values["action_date"] for _, values in transactions]
    header = write_record(USER_HEADER, {
        "user_code": user.user_code,
        "creation_date": creation_date,
        "purge_date": purge_date,
        "first_action_date": min(action_dates),
        "last_action_date": max(action_dates),
        "first_sequence_number": first_sequence_number,
        "user_generation_number": user.generation_number,
        "type_of_service": type_of_service or user.type_of_service,
    })
    body = [write_record(RECORD_SPECS[record_type], values) for record_type, values in transactions]
    debits = [v for t, v in transactions if t in DEBIT_RECORD_TYPES]
    contras = [v for t, v in transactions if t is RecordType.CONTRA]
    trailer = write_record(USER_TRAILER, {
        "user_code": user.user_code,
        "first_sequence_number": transactions[0][1]["user_sequence_number"],
        "last_sequence_number": transactions[-1][1]["user_sequence_number"],
        "first_action_date": min(action_dates),
        "last_action_date": max(action_dates),
        "no_of_debit_records": len(debits),
        "no_of_credit_records": len(contras),
        "no_of_contra_records": len(contras),
        "total_debit_value": sum(v["amount"] for v in debits),
        "total_credit_value": sum(v["amount"] for v in contras),
        "hash_total_of_homing_account_numbers": hash_total(record_account(v) for _, v in transactions),
    })
    return [header, *body, trailer]


def wrap_installation(user: UserInfo, creation_date: date, purge_date: date,
                      user_sets: Sequence[list[str]], line_ending: str) -> str:
    """Installation header + the user sets + installation trailer, as file text."""
    if line_ending not in ("\r\n", "\n"):
        raise AcbFormatError("line ending must be CRLF or LF")
    common = installation_values(user, creation_date, purge_date)
    records = [write_record(INSTALLATION_HEADER, common)]
    for user_set in user_sets:
        records.extend(user_set)
    record_count = len(records) + 1
    records.append(write_record(INSTALLATION_TRAILER, {
        **common,
        "block_count": math.ceil(record_count / (BLOCK_LENGTH // RECORD_LENGTH)),
        "record_count": record_count,
        "user_header_trailer_count": 2 * len(user_sets),
    }))
    return line_ending.join(records) + line_ending


# --- parsing ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ParsedRecord:
    line: int
    record_type: RecordType
    values: dict[str, Any]


@dataclass(frozen=True, slots=True)
class RawUserSet:
    header: ParsedRecord
    records: tuple[ParsedRecord, ...]
    trailer: ParsedRecord


def split_records(text: str | bytes) -> list[tuple[int, str]]:
    """(line number, record) for each record; CRLF or LF, a final newline and a BOM are fine."""
    if isinstance(text, bytes):
        try:
            text = text.decode("ascii")
        except UnicodeDecodeError as exc:
            raise AcbFormatError(f"the file is not ASCII (byte {exc.start})") from None
    text = text.removeprefix("\ufeff")
    lines = text.split("\n")
    while lines and lines[-1].strip("\r") == "":
        lines.pop()
    if not lines:
        raise AcbFormatError("the file is empty")
    return [(number, raw.removesuffix("\r")) for number, raw in enumerate(lines, start=1)]


def parse_envelope(
    text: str | bytes,
    *,
    allowed: frozenset[RecordType],
    consecutive_sequence: bool,
) -> tuple[ParsedRecord, list[RawUserSet], ParsedRecord]:
    """Parse and check the installation / user set structure and every trailer total."""
    parsed: list[ParsedRecord] = []
    for number, raw in split_records(text):
        if raw == "":
            raise AcbFormatError("empty line", line=number)
        record_type, values = _parse_record(raw, line_number=number)
        parsed.append(ParsedRecord(number, record_type, values))

    first, last = parsed[0], parsed[-1]
    if first.record_type is not RecordType.INSTALLATION_HEADER:
        raise AcbFormatError("the file must start with an installation header (02)", line=first.line)
    if last.record_type is not RecordType.INSTALLATION_TRAILER or len(parsed) < 2:
        raise AcbFormatError("the file must end with an installation trailer (94)", line=last.line)

    sets: list[RawUserSet] = []
    header: ParsedRecord | None = None
    body: list[ParsedRecord] = []
    for record in parsed[1:-1]:
        rtype = record.record_type
        if rtype is RecordType.USER_HEADER:
            if header is not None:
                raise AcbFormatError("user header (04) before the previous user trailer (92)", line=record.line)
            header, body = record, []
        elif rtype is RecordType.USER_TRAILER:
            if header is None:
                raise AcbFormatError("user trailer (92) without a user header (04)", line=record.line)
            sets.append(RawUserSet(header, tuple(body), record))
            header = None
        elif rtype in allowed:
            if header is None:
                raise AcbFormatError(f"{rtype} record outside a user set (04 ... 92)", line=record.line)
            body.append(record)
        else:
            raise AcbFormatError(f"unexpected {rtype} record in this kind of file", line=record.line)
    if header is not None:
        raise AcbFormatError("user set not closed by a user trailer (92)", line=last.line)

    for user_set in sets:
        _check_user_set(user_set, consecutive_sequence=consecutive_sequence)
    _check_installation(first, last, record_count=len(parsed), set_count=len(sets))
    return first, sets, last


def _fail_unless(condition: bool, message: str, record: ParsedRecord, field: str | None = None) -> None:
    if not condition:
        raise AcbFormatError(message, line=record.line, field=field)


def _check_user_set(user_set: RawUserSet, *, consecutive_sequence: bool) -> None:
    header, trailer, records = user_set.header.values, user_set.trailer.values, user_set.records
    h, t = user_set.header, user_set.trailer
    _fail_unless(bool(records), "user set has no transaction records", t)
    _fail_unless(trailer["user_code"] == header["user_code"], "user code differs from the user header", t,
                 "user_code")
    previous: int | None = None
    for record in records:
        v = record.values
        _fail_unless(v["user_code"] == header["user_code"], "user code differs from the user header", record,
                     "user_code")
        if consecutive_sequence and previous is not None:
            _fail_unless(v["user_sequence_number"] == previous + 1,
                         f"sequence number {v['user_sequence_number']} does not follow {previous}", record,
                         "user_sequence_number")
        previous = v["user_sequence_number"]
        _fail_unless(header["first_action_date"] <= v["action_date"] <= header["last_action_date"],
                     "action date outside the user header's first and last action dates", record, "action_date")
    first_seq = records[0].values["user_sequence_number"]
    _fail_unless(header["first_sequence_number"] == first_seq,
                 f"first sequence number {header['first_sequence_number']} but the first record has {first_seq}",
                 h, "first_sequence_number")
    checks: list[tuple[str, Any]] = [
        ("first_sequence_number", first_seq),
        ("last_sequence_number", records[-1].values["user_sequence_number"]),
        ("first_action_date", header["first_action_date"]),
        ("last_action_date", header["last_action_date"]),
        ("no_of_debit_records", sum(r.record_type in DEBIT_RECORD_TYPES for r in records)),
        ("no_of_credit_records", sum(r.record_type is RecordType.CONTRA for r in records)),
        ("no_of_contra_records", sum(r.record_type is RecordType.CONTRA for r in records)),
        ("total_debit_value", sum(r.values["amount"] for r in records if r.record_type in DEBIT_RECORD_TYPES)),
        ("total_credit_value", sum(r.values["amount"] for r in records if r.record_type is RecordType.CONTRA)),
        ("hash_total_of_homing_account_numbers", hash_total(record_account(r.values) for r in records)),
    ]
    for name, expected in checks:
        _fail_unless(trailer[name] == expected, f"user trailer says {trailer[name]}, the records give {expected}",
                     t, name)


def _check_installation(header: ParsedRecord, trailer: ParsedRecord, *, record_count: int, set_count: int) -> None:
    for name, value in header.values.items():
        _fail_unless(trailer.values[name] == value, "installation trailer differs from the installation header",
                     trailer, name)
    _fail_unless(header.values["record_length"] == RECORD_LENGTH, f"record length must be {RECORD_LENGTH}",
                 header, "record_length")
    block_length = header.values["block_length"]
    _fail_unless(block_length > 0 and block_length % RECORD_LENGTH == 0,
                 f"block length must be a multiple of {RECORD_LENGTH}", header, "block_length")
    expected = {
        "record_count": record_count,
        "user_header_trailer_count": 2 * set_count,
        "block_count": math.ceil(record_count / (block_length // RECORD_LENGTH)),
    }
    for name, value in expected.items():
        _fail_unless(trailer.values[name] == value,
                     f"installation trailer says {trailer.values[name]}, the file gives {value}", trailer, name)
